// Model construction, weights, workspaces, and the training step split into "gradients into one
// flat buffer" and "apply the optimizer".
#include "fastmlp/model.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

#include "common/checks.h"
#include "common/fp_mode.h"
#include "nn/losses/unchecked.h"
#include "nn/training/input.h"

namespace fastmlp {

namespace {
index_t padded(index_t floats) { return (floats + 15) / 16 * 16; }  // 64-byte boundaries
}  // namespace

Model::Model(index_t input_dim, std::vector<LayerSpec> specs)
    : input_dim_(input_dim), specs_(std::move(specs)) {
  if (input_dim_ < 1) {
    throw std::invalid_argument("Model: input_dim must be a positive integer, got " +
                                std::to_string(input_dim_));
  }
  if (specs_.empty()) throw std::invalid_argument("Model: `layers` must not be empty");
  index_t dim = input_dim_;
  index_t n_params = 0, n_state = 0;
  for (std::size_t i = 0; i < specs_.size(); ++i) {
    try {
      layers_.push_back(make_layer(specs_[i], dim));
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument("layer " + std::to_string(i) + ": " + e.what());
    }
    dim = layers_.back()->out_dim();
    for (const TensorDecl& t : layers_.back()->tensors()) (t.trainable ? n_params : n_state) += t.size();
  }
  output_dim_ = dim;
  fused_rescaling_ = specs_[0].type == LayerSpec::Type::rescaling && specs_.size() > 1;
  if (fused_rescaling_) in_scale_ = specs_[0].scale_factor, in_offset_ = specs_[0].offset;

  params_.assign(n_params, 0.0f);
  grads_.assign(n_params, 0.0f);
  state_.assign(n_state, 0.0f);
  index_t p = 0, s = 0;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    std::vector<float*> values, grads;
    for (const TensorDecl& t : layers_[i]->tensors()) {
      float* v = t.trainable ? params_.data() + p : state_.data() + s;
      float* g = t.trainable ? grads_.data() + p : nullptr;
      (t.trainable ? p : s) += t.size();
      values.push_back(v);
      grads.push_back(g);
      slots_.push_back({t, v, g, static_cast<index_t>(i)});
    }
    layers_[i]->bind(values, grads);
    try {
      layers_[i]->initialize();
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument("layer " + std::to_string(i) + ": " + e.what());
    }
  }
  frozen_.assign(layers_.size(), 0);
  select_trainable();
}

Model::~Model() = default;

void Model::select_trainable() {
  param_refs_.clear();
  for (const TensorSlot& t : slots_) {
    if (t.grad && !frozen_[static_cast<std::size_t>(t.layer)]) {
      param_refs_.push_back({t.value, t.grad, t.decl.size()});
    }
  }
  lowest_trainable_ = num_layers();
  for (index_t l = num_layers() - 1; l >= first_layer(); --l) {
    if (layers_[l]->has_trainable() && !frozen(l)) lowest_trainable_ = l;
  }
}

double Model::penalties() const {
  double p = 0.0;
  for (index_t l = 0; l < num_layers(); ++l) {
    if (!frozen(l)) p += layers_[l]->penalty();
  }
  return p;
}

std::vector<index_t> Model::layer_output_dims() const {
  std::vector<index_t> d;
  for (const auto& l : layers_) d.push_back(l->out_dim());
  return d;
}

std::vector<TensorDecl> Model::weight_decls() const {
  std::vector<TensorDecl> d;
  for (const TensorSlot& t : slots_) d.push_back(t.decl);
  return d;
}

std::vector<TensorDecl> Model::trainable_decls() const {
  std::vector<TensorDecl> d;
  for (const TensorSlot& t : slots_) {
    if (t.grad) d.push_back(t.decl);
  }
  return d;
}

std::vector<std::vector<float>> Model::get_weights() const {
  std::vector<std::vector<float>> w;
  for (const TensorSlot& t : slots_) w.emplace_back(t.value, t.value + t.decl.size());
  return w;
}

const TensorDecl& Model::tensor_decl(index_t i) const {
  if (i < 0 || i >= num_tensors()) {
    throw std::out_of_range("tensor index " + std::to_string(i) + " out of range: the model has " +
                            std::to_string(num_tensors()) + " tensors");
  }
  return slots_[static_cast<std::size_t>(i)].decl;
}

void Model::copy_tensor(index_t i, float* out) const {
  const index_t n = tensor_decl(i).size();  // checks i
  const float* value = slots_[static_cast<std::size_t>(i)].value;
  std::copy(value, value + n, out);
}

void Model::set_weights(const std::vector<std::vector<float>>& values) {
  if (values.size() != slots_.size()) {
    throw std::invalid_argument("set_weights: expected " + std::to_string(slots_.size()) +
                                " arrays, got " + std::to_string(values.size()));
  }
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (static_cast<index_t>(values[i].size()) != slots_[i].decl.size()) {
      throw std::invalid_argument("set_weights: array " + std::to_string(i) + " (" +
                                  slots_[i].decl.name + ") has " + std::to_string(values[i].size()) +
                                  " values, expected " + std::to_string(slots_[i].decl.size()));
    }
  }
  for (std::size_t i = 0; i < values.size(); ++i) {
    std::copy(values[i].begin(), values[i].end(), slots_[i].value);
  }
  ++weights_version_;
}

void Model::prepare_inference() {
  std::lock_guard<std::mutex> lock(prepare_mutex_);
  for (auto& l : layers_) l->prepare_inference(weights_version_);
}

void Model::check_compiled(const char* what) const {
  if (!optimizer_) {
    throw std::invalid_argument(std::string(what) + ": the model must be compiled first");
  }
}

double Model::learning_rate() const {
  check_compiled("learning_rate");
  return optimizer_->current_learning_rate();
}
void Model::set_learning_rate(double lr) {
  check_compiled("learning_rate");
  optimizer_->set_learning_rate(lr);
}
std::int64_t Model::iterations() const { return optimizer_ ? optimizer_->iterations() : 0; }
std::vector<std::vector<float>> Model::get_optimizer_state() const {
  check_compiled("get_optimizer_state");
  return optimizer_->get_state();
}
void Model::set_optimizer_state(const std::vector<std::vector<float>>& slots, std::int64_t it) {
  check_compiled("set_optimizer_state");
  optimizer_->set_state(slots, it);
}

void Model::layout(Workspace& ws, index_t rows, bool training) {
  if (ws.rows >= rows && (ws.training || !training)) return;
  rows = std::max(rows, ws.rows);
  training = training || ws.training;
  const index_t L = num_layers();
  index_t widest = input_dim_, total = padded(rows * input_dim_);
  std::vector<index_t> out_off(L), scratch_off(L);
  for (index_t l = 0; l < L; ++l) {
    widest = std::max(widest, layers_[l]->out_dim());
    out_off[l] = total;
    total += padded(rows * layers_[l]->out_dim());
    scratch_off[l] = total;
    total += padded(layers_[l]->scratch_floats(rows));
  }
  const index_t grad_off = total;
  if (training) total += 2 * padded(rows * widest) + padded(rows * output_dim_) + padded(rows);
  float* base = ws.memory.ensure(static_cast<std::size_t>(total), &alloc_count_);
  ws.input = base;
  ws.outputs.resize(L);
  ws.scratch.resize(L);
  for (index_t l = 0; l < L; ++l) {
    ws.outputs[l] = base + out_off[l];
    ws.scratch[l] = base + scratch_off[l];
  }
  if (training) {
    ws.grad_a = base + grad_off;
    ws.grad_b = ws.grad_a + padded(rows * widest);
    ws.targets = ws.grad_b + padded(rows * widest);
    ws.sample_weight = ws.targets + padded(rows * output_dim_);
    if (ws.labels.size() < static_cast<std::size_t>(rows)) {
      ws.labels.resize(rows);
      ++alloc_count_;
    }
  }
  ws.rows = rows;
  ws.training = training;
}

index_t Model::load_input(const InputView& x, const index_t* idx, index_t first, index_t n,
                          Workspace& ws, bool check) {
  return detail::convert_rows(x, idx, first, n, fused_rescaling_, in_scale_, in_offset_, check,
                              ws.input);
}

void Model::throw_nonfinite_input(const InputView& x, index_t row,
                                  const DatasetNames& names) const {
  detail::throw_nonfinite(x, row, fused_rescaling_, in_scale_, in_offset_, names.x,
                          names.first_row);
}

bool Model::rescaling_may_overflow(const Dataset& data) const {
  if (!fused_rescaling_) return false;
  // v * scale + offset is monotonic in v, so the range's ends bound every converted value; the
  // margin covers rounding differences between this double arithmetic and the float one.
  const auto image = [&](double v) { return double(float(v)) * in_scale_ + in_offset_; };
  const double bound = 0.999 * std::numeric_limits<float>::max();
  return !(std::fabs(image(data.x_min())) <= bound && std::fabs(image(data.x_max())) <= bound);
}

void Model::load_rows(const Dataset& data, const index_t* idx, index_t first, index_t n,
                      bool check) {
  const index_t bad = load_input(data.x(), idx, first, n, train_ws_, check);
  if (bad >= 0) throw_nonfinite_input(data.x(), idx ? idx[bad] : first + bad, data.names());
}

void Model::check_dataset(const Dataset& data, const char* what) const {
  check_compiled(what);
  const DatasetNames& names = data.names();
  if (data.cols() != input_dim_) {
    detail::throw_invalid_value(names.x, std::to_string(input_dim_) +
                                             " values per sample (the model's input_dim)",
                                names.x + ".shape[1]=" + std::to_string(data.cols()));
  }
  const bool sparse = loss_.kind == LossKind::sparse_categorical_crossentropy;
  if (data.outputs() != output_dim_ || data.sparse_labels() != sparse) {
    detail::throw_invalid_value(
        names.y,
        sparse ? "class labels for " + std::to_string(output_dim_) + " outputs (the loss is "
                     "sparse_categorical_crossentropy)"
               : "targets of " + std::to_string(output_dim_) + " values per sample (the loss is " +
                     loss_name(loss_.kind) + ")",
        std::string(data.sparse_labels() ? "class labels for " : "targets of ") +
            std::to_string(data.outputs()) + (data.sparse_labels() ? " outputs" : " values"));
  }
}

const float* Model::run_forward(Workspace& ws, const float* input, index_t n, const Pass& pass,
                                float* final_out) {
  const float* cur = input;
  const index_t L = num_layers();
  for (index_t l = first_layer(); l < L; ++l) {
    float* y = (l == L - 1 && final_out) ? final_out : ws.outputs[l];
    Pass p = pass;
    p.frozen = frozen(l);
    layers_[l]->forward(cur, y, n, ws.scratch[l], p);
    cur = y;
  }
  return cur;
}

void Model::run_backward(Workspace& ws, const float* input, index_t n, const Pass& pass) {
  float *dy = ws.grad_a, *other = ws.grad_b;
  const index_t L = num_layers();
  for (index_t l = L - 1; l >= lowest_trainable_; --l) {
    const float* x = l == first_layer() ? input : ws.outputs[l - 1];
    float* dx = l == lowest_trainable_ ? nullptr : other;
    Pass p = pass;
    p.grad_is_preactivation = fused_loss_ && l == L - 1;
    p.frozen = frozen(l);
    layers_[l]->backward(x, ws.outputs[l], dy, dx, n, ws.scratch[l], p);
    std::swap(dy, other);
  }
}

double Model::loss_and_gradients(Workspace& ws, const float* input, index_t n, const Targets& t,
                                 const Pass& pass) {
  if (n == 0) {  // a data-parallel rank with no rows in this batch adds nothing to the sum
    std::fill(grads_.begin(), grads_.end(), 0.0f);
    return 0.0;
  }
  const float* out = run_forward(ws, input, n, pass, nullptr);
  // Fused: the gradient through softmax / sigmoid, which needs only the probabilities.
  double loss = fused_loss_
                    ? detail::loss_fused_unchecked(loss_, out, n, output_dim_, t, ws.grad_a)
                    : detail::loss_unchecked(loss_, out, n, output_dim_, t, ws.grad_a);
  run_backward(ws, input, n, pass);
  return loss + penalties();
}

void Model::apply_gradients() {
  check_compiled("apply_gradients");
  const detail::FlushDenormalsScope fp_mode;
  step_optimizer();
}

void Model::step_optimizer() {
  FASTMLP_DEBUG_CHECK(optimizer_ != nullptr);
  if (param_refs_.empty()) return;  // all frozen: a no-op that counts no iteration (as Keras)
  optimizer_->step(param_refs_);
  ++weights_version_;
}

double Model::compute_gradients(const Dataset& data) {
  check_dataset(data, "compute_gradients");
  const detail::FlushDenormalsScope fp_mode;
  const index_t n = data.rows();
  layout(train_ws_, n, true);
  load_rows(data, nullptr, 0, n, rescaling_may_overflow(data));
  const TargetView& y = data.y();
  const Targets t{y.dense, y.labels, y.sample_weight};
  Pass pass{true, training_step_++, false};
  return loss_and_gradients(train_ws_, train_ws_.input, n, t, pass);
}

}  // namespace fastmlp
