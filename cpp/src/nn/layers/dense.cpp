// Dense: y = act(x W + b) with W stored (in, out). Forward is one GEMM with bias and activation in
// its epilogue; backward is dW = x^T dZ and dX = dZ W^T through transposed GEMM operands. Under
// mixed_bfloat16 (spec.bf16) all three products run on sgemm_bf16: each call rounds its operands
// to bf16 as it packs them, so the weights are converted once per product, i.e. once per
// optimizer step for the forward and once for dX; inference packs them once per weights version.
// Quantized to int8 (spec.int8, Keras's "int8_from_float32"), the layer holds Keras's int8 kernel
// (as integral floats) and kernel_scale, packs them once per weights version for
// gemm_int8_packed (inputs quantized per row, dequantization, bias and activation in its
// write-back) and cannot be trained.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#include "common/thread_policy.h"
#include "common/thread_team.h"
#include "fastmlp/gemm_bf16.h"
#include "fastmlp/gemm_int8.h"
#include "nn/layers/layer_factories.h"
#include "nn/kernels/nn_kernels.h"

namespace fastmlp {
namespace {

void add_regularizer_grad(const Regularizer& r, const float* w, float* g, index_t count) {
  const float l1 = r.l1, l2x2 = 2.0f * r.l2;
  for (index_t i = 0; i < count; ++i) {
    const float sign = w[i] > 0.0f ? 1.0f : (w[i] < 0.0f ? -1.0f : 0.0f);
    g[i] += l1 * sign + l2x2 * w[i];
  }
}

double regularizer_penalty(const Regularizer& r, const float* w, index_t count) {
  double a = 0.0, s = 0.0;
  for (index_t i = 0; i < count; ++i) {
    a += std::fabs(w[i]);
    s += double(w[i]) * w[i];
  }
  return r.l1 * a + r.l2 * s;
}

class Dense final : public Layer {
 public:
  Dense(const LayerSpec& spec, index_t in_dim)
      : Layer(in_dim, spec.units), spec_(spec), act_(spec.activation) {
    keep_pre_ = needs_preactivation(act_) || act_.kind == ActivationKind::softmax;
    if (spec.int8 && in_dim > kInt8MaxExactK) {
      throw std::invalid_argument(
          "dense layer: an int8 layer's input width must be at most " +
          std::to_string(kInt8MaxExactK) + " (int32 sums stay exact). Received: input width=" +
          std::to_string(in_dim));
    }
    if (spec.int8 && spec.bf16) {
      throw std::invalid_argument("dense layer: quantization_mode='int8' computes in float32; "
                                  "received compute_dtype='bfloat16' with it");
    }
  }

  std::vector<TensorDecl> tensors() const override {
    std::vector<TensorDecl> t{{"kernel", {in_dim_, out_dim_}, !spec_.int8}};
    if (spec_.use_bias) t.push_back({"bias", {out_dim_}, true});
    if (spec_.int8) t.push_back({"kernel_scale", {out_dim_}, false});  // Keras's order
    return t;
  }
  void bind(const std::vector<float*>& values, const std::vector<float*>& grads) override {
    w_ = values[0];
    gw_ = grads[0];
    if (spec_.use_bias) {
      b_ = values[1];
      gb_ = grads[1];
    }
    if (spec_.int8) scale_ = values.back();
  }
  void initialize() override {
    if (spec_.int8) {  // Keras's quantized build: zeros and ones until weights are given
      std::fill(w_, w_ + in_dim_ * out_dim_, 0.0f);
      std::fill(scale_, scale_ + out_dim_, 1.0f);
    } else {
      fastmlp::initialize(spec_.kernel_initializer, w_, in_dim_ * out_dim_, in_dim_, out_dim_);
    }
    if (b_) fastmlp::initialize(spec_.bias_initializer, b_, out_dim_, in_dim_, out_dim_);
  }
  index_t scratch_floats(index_t n) const override { return keep_pre_ ? n * out_dim_ : 0; }
  bool has_trainable() const override { return true; }
  const Activation* output_activation() const override { return &act_; }
  const float* logits(const float*, const float* scratch) const override {
    return keep_pre_ ? scratch : nullptr;
  }

  void prepare_inference(std::uint64_t version) override {
    if (packed_version_ == version) return;
    if (spec_.int8) {
      pack_int8(packed_int8_);
    } else if (spec_.bf16) {
      packed_bf16_.pack(false, in_dim_, out_dim_, w_, out_dim_);
    } else {
      packed_.pack(false, in_dim_, out_dim_, w_, out_dim_);
    }
    packed_version_ = version;
  }

  void forward(const float* x, float* y, index_t n, float* scratch, const Pass& pass) override {
    Epilogue ep;
    if (keep_pre_) {
      ep.bias = b_;
    } else {
      ep = make_epilogue(act_, b_);
    }
    float* z = keep_pre_ ? scratch : y;
    if (spec_.int8) {
      if (pass.prepared) {
        gemm_int8_packed(n, x, in_dim_, packed_int8_, z, out_dim_, ep);
      } else {  // a training-mode call (model(x, training=True)): the same product
        PackedBInt8 local;
        pack_int8(local);
        gemm_int8_packed(n, x, in_dim_, local, z, out_dim_, ep);
      }
    } else if (pass.prepared && spec_.bf16) {
      sgemm_bf16_packed(false, n, 1.0f, x, in_dim_, packed_bf16_, 0.0f, z, out_dim_, ep);
    } else if (pass.prepared) {
      sgemm_packed(false, n, 1.0f, x, in_dim_, packed_, 0.0f, z, out_dim_, ep);
    } else {
      gemm(false, false, n, out_dim_, in_dim_, x, in_dim_, w_, out_dim_, z, out_dim_, ep);
    }
    if (!keep_pre_) return;
    detail::activation_forward_to(act_, scratch, y, n, out_dim_);
  }

  void backward(const float* x, const float* y, float* dy, float* dx, index_t n, float* scratch,
                const Pass& pass) override {
    if (spec_.int8) {
      throw std::invalid_argument("A Dense layer quantized to int8 cannot be trained: train the "
                                  "float32 model, then quantize it");
    }
    if (!pass.grad_is_preactivation && act_.kind != ActivationKind::linear) {
      activation_backward(act_, keep_pre_ ? scratch : nullptr, y, dy, n, out_dim_, out_dim_);
    }
    // dy now holds dZ = d(loss)/d(x W + b).
    if (pass.frozen) {  // the optimizer leaves W and b alone: only dX is needed
      if (dx) input_gradient(dy, dx, n);
      return;
    }
    if (dx && overlap_products(n)) {
      // each product whole on its thread (the policy gives work inside a region one thread)
      auto task = [&](int id, int threads) {
        if (id == 0) weight_gradients(x, dy, n);
        // one share only when the team is busy with another caller's region: then both here
        if (id == 1 || threads == 1) input_gradient(dy, dx, n);
      };
      detail::run_team(2, task);
      return;
    }
    weight_gradients(x, dy, n);
    if (dx) input_gradient(dy, dx, n);
  }

  // dW and db (with their regularizers) from dZ.
  void weight_gradients(const float* x, const float* dy, index_t n) {
    gemm(true, false, in_dim_, out_dim_, n, x, in_dim_, dy, out_dim_, gw_, out_dim_);
    if (spec_.kernel_regularizer.active()) {
      add_regularizer_grad(spec_.kernel_regularizer, w_, gw_, in_dim_ * out_dim_);
    }
    if (b_) {
      column_sums(dy, n, out_dim_, out_dim_, gb_);
      if (spec_.bias_regularizer.active()) {
        add_regularizer_grad(spec_.bias_regularizer, b_, gb_, out_dim_);
      }
    }
  }

  void input_gradient(const float* dy, float* dx, index_t n) const {
    gemm(false, true, n, in_dim_, out_dim_, dy, out_dim_, w_, out_dim_, dx, in_dim_);
  }

  // C = op(A) op(B) in the layer's precision.
  void gemm(bool ta, bool tb, index_t m, index_t n, index_t k, const float* a, index_t lda,
            const float* b, index_t ldb, float* c, index_t ldc,
            const Epilogue& ep = Epilogue{}) const {
    if (spec_.bf16) {
      sgemm_bf16(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc, ep);
    } else {
      sgemm(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc, ep);
    }
  }

  // dW = x^T dZ and dX = dZ W^T are independent products of the same size: the thread policy
  // says whether they run one whole product per thread (WorkKind::gemm_pair) or each its own way.
  bool overlap_products(index_t n) const {
    const double flops = 2.0 * double(n) * double(in_dim_) * double(out_dim_);
    return thread_policy().threads_for(WorkKind::gemm_pair, flops, 2) >= 2;
  }

  double penalty() const override {
    double p = 0.0;
    if (spec_.kernel_regularizer.active() && !spec_.int8) {  // Keras: none on the int8 kernel
      p += regularizer_penalty(spec_.kernel_regularizer, w_, in_dim_ * out_dim_);
    }
    if (b_ && spec_.bias_regularizer.active()) {
      p += regularizer_penalty(spec_.bias_regularizer, b_, out_dim_);
    }
    return p;
  }

  // The kernel's integral floats as int8 (Python checks them; clamped here all the same) packed
  // with kernel_scale for the int8 kernel.
  void pack_int8(PackedBInt8& into) const {
    std::vector<std::int8_t> q(static_cast<std::size_t>(in_dim_ * out_dim_));
    for (std::size_t i = 0; i < q.size(); ++i) {
      const float v = std::nearbyint(w_[i]);
      q[i] = std::isnan(v) ? 0 : static_cast<std::int8_t>(std::min(127.0f, std::max(-128.0f, v)));
    }
    into.pack(in_dim_, out_dim_, q.data(), out_dim_, scale_);
  }

 private:
  LayerSpec spec_;
  Activation act_;
  bool keep_pre_ = false;
  float *w_ = nullptr, *gw_ = nullptr, *b_ = nullptr, *gb_ = nullptr, *scale_ = nullptr;
  PackedB packed_;  // W packed for inference, valid for weights version packed_version_
  PackedBBf16 packed_bf16_;  // the same under mixed_bfloat16
  PackedBInt8 packed_int8_;  // the int8 kernel and its scales, quantized layers
  std::uint64_t packed_version_ = 0;
};

}  // namespace

namespace detail {
std::unique_ptr<Layer> make_dense(const LayerSpec& spec, index_t in_dim) {
  return std::make_unique<Dense>(spec, in_dim);
}
}  // namespace detail

}  // namespace fastmlp
