// Model tests without Python: gradients of a 3-layer model (Dense, BatchNormalization, Dropout,
// softmax output) against central finite differences, thread-count determinism, and no workspace
// allocation once the first batch has run; one-tensor reads match get_weights().
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <vector>

#include "check.h"
#include "fastmlp/model.h"
#include "fastmlp/runtime.h"

using fastmlp::index_t;

namespace {

fastmlp::LayerSpec dense(index_t units, const char* act, std::uint64_t seed, float l2 = 0.0f) {
  fastmlp::LayerSpec s;
  s.units = units;
  s.activation = fastmlp::parse_activation(act);
  s.kernel_initializer.seed = seed;
  s.bias_initializer = {"random_uniform"};
  s.bias_initializer.seed = seed + 100;
  s.kernel_regularizer.l2 = l2;
  s.bias_regularizer.l1 = l2;
  return s;
}

std::vector<float> data(index_t n, std::uint64_t seed) {
  std::vector<float> v(n);
  fastmlp::InitializerSpec s{"random_uniform"};
  s.minval = -1.0, s.maxval = 1.0, s.seed = seed;
  fastmlp::initialize(s, v.data(), n, 1, 1);
  return v;
}

fastmlp::LossSpec sparse_ce(bool from_logits) {
  fastmlp::LossSpec l;
  l.kind = fastmlp::LossKind::sparse_categorical_crossentropy;
  l.from_logits = from_logits;
  return l;
}

fastmlp::OptimizerConfig sgd(double lr, double momentum) {
  fastmlp::OptimizerConfig o;
  o.name = "sgd";
  o.learning_rate.initial_learning_rate = lr;
  o.momentum = momentum;
  return o;
}

// Central differences of the loss (in double from float32 runs, so tolerances are loose) vs the
// analytic gradient, for a sample of every trainable tensor's entries.
void check_gradients(std::vector<fastmlp::LayerSpec> layers, const char* what) {
  const index_t n = 8, in = 5, k = 3;
  fastmlp::Model m(in, layers);
  m.compile(sparse_ce(false), sgd(0.1, 0.0), {});
  std::vector<float> x = data(n * in, 11);
  std::vector<std::int32_t> y(n);
  for (index_t i = 0; i < n; ++i) y[i] = static_cast<std::int32_t>(i % k);
  const fastmlp::InputView xv{x.data(), fastmlp::DType::float32, n, in, in};
  fastmlp::TargetInput yv;
  yv.labels = y.data();
  yv.rows = n;
  const fastmlp::Dataset d(xv, yv, k);
  m.set_training_step(5);
  m.compute_gradients(d);
  const std::vector<float> grads = m.gradients();
  std::vector<std::vector<float>> w = m.get_weights();
  const auto decls = m.weight_decls();
  index_t g = 0;
  int checked = 0, bad = 0;
  for (std::size_t t = 0; t < w.size(); ++t) {
    if (!decls[t].trainable) continue;
    for (index_t i = 0; i < decls[t].size(); i += 3, ++checked) {
      const float orig = w[t][i], h = 1e-2f;
      double lp, lm;
      w[t][i] = orig + h, m.set_weights(w), m.set_training_step(5);
      lp = m.compute_gradients(d);
      w[t][i] = orig - h, m.set_weights(w), m.set_training_step(5);
      lm = m.compute_gradients(d);
      w[t][i] = orig;
      const double fd = (lp - lm) / (2.0 * h), an = grads[g + i];
      if (!(std::fabs(fd - an) <= 2e-3 + 3e-2 * std::fabs(fd))) {
        if (++bad <= 5) std::fprintf(stderr, "  %s: tensor %zu [%ld]: fd %.6g analytic %.6g\n", what, t, (long)i, fd, an);
      }
    }
    g += decls[t].size();
  }
  m.set_weights(w);
  std::printf("%s: %d gradient entries checked, %d off\n", what, checked, bad);
  CHECK(checked > 10);
  CHECK(bad == 0);
}

// Trains the seed's network shape on synthetic data; returns the final weights.
std::vector<std::vector<float>> train(int threads, std::int64_t* allocs_after_first,
                                      std::int64_t* allocs_end) {
  fastmlp::set_num_threads(threads);
  const index_t n = 1000, in = 784;
  fastmlp::Model m(in, {dense(128, "relu", 1), dense(64, "relu", 2), dense(10, "linear", 3)});
  m.compile(sparse_ce(true), sgd(0.05, 0.9), {"sparse_categorical_accuracy"});
  std::vector<float> x = data(n * in, 7);
  std::vector<std::int32_t> y(n);
  for (index_t i = 0; i < n; ++i) y[i] = static_cast<std::int32_t>((x[i * in] > 0) + 2 * (x[i * in + 1] > 0));
  const fastmlp::InputView xv{x.data(), fastmlp::DType::float32, n, in, in};
  fastmlp::TargetInput yv;
  yv.labels = y.data();
  yv.rows = n;
  const fastmlp::Dataset d(xv, yv, 10);
  fastmlp::EpochOptions o;
  o.batch_size = 96;  // leaves a partial last batch
  o.callback_every = 1;
  o.batch_callback = [&](index_t b, const fastmlp::Logs&) {
    if (b == 0) *allocs_after_first = m.workspace_allocations();
    return false;
  };
  for (int e = 0; e < 3; ++e) {
    o.seed = e;
    m.train_epoch(d, o);
  }
  *allocs_end = m.workspace_allocations();
  return m.get_weights();
}

// One tensor at a time (tensor_decl / copy_tensor) gives what get_weights() gives for it.
void check_tensor_access(const std::vector<fastmlp::LayerSpec>& layers) {
  const fastmlp::Model m(5, layers);
  const auto all = m.get_weights();
  const auto decls = m.weight_decls();
  CHECK(m.num_tensors() == static_cast<index_t>(all.size()));
  for (index_t i = 0; i < m.num_tensors(); ++i) {
    CHECK(m.tensor_decl(i).shape == decls[i].shape && m.tensor_decl(i).name == decls[i].name);
    std::vector<float> one(m.tensor_decl(i).size());
    m.copy_tensor(i, one.data());
    CHECK(one == all[i]);
  }
  for (index_t bad : {index_t(-1), m.num_tensors()}) {
    bool threw = false;
    try {
      m.tensor_decl(bad);
    } catch (const std::out_of_range&) {
      threw = true;
    }
    CHECK(threw);
  }
}

}  // namespace

int main() {
  auto bn = fastmlp::LayerSpec{};
  bn.type = fastmlp::LayerSpec::Type::batch_normalization;
  bn.gamma_initializer = {"random_uniform"};
  bn.gamma_initializer.minval = 0.5, bn.gamma_initializer.maxval = 1.5;
  auto drop = fastmlp::LayerSpec{};
  drop.type = fastmlp::LayerSpec::Type::dropout;
  drop.rate = 0.3f;
  drop.seed = 9;
  check_gradients({dense(6, "tanh", 1, 0.01f), dense(4, "sigmoid", 2), dense(3, "softmax", 3)},
                  "dense tanh/sigmoid/softmax + L1/L2");
  check_gradients({dense(6, "elu", 1), bn, dense(5, "gelu", 2), drop, dense(3, "softmax", 3)},
                  "dense elu + batchnorm + gelu + dropout");
  check_tensor_access({dense(6, "elu", 1), bn, dense(5, "gelu", 2), drop, dense(3, "softmax", 3)});

  std::int64_t a1, e1, a2, e2;
  const auto w1 = train(1, &a1, &e1);
  const auto w2 = train(2, &a2, &e2);
  bool same = w1.size() == w2.size();
  for (std::size_t t = 0; same && t < w1.size(); ++t) same = w1[t] == w2[t];
  CHECK(same);
  CHECK(a1 == e1);
  CHECK(a2 == e2);
  std::printf("workspace allocations: %ld after the first batch, %ld at the end\n", (long)a1, (long)e1);
  return check::exit_code("test_model");
}
