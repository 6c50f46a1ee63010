// Losses: values against hand-written Keras formulas, gradients against central finite
// differences, extreme logits, fused == unfused gradients, and checked sparse labels.
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "check.h"
#include "fastmlp/losses.h"

using namespace fastmlp;

namespace {

constexpr index_t kN = 4, kK = 3;
const float kH = 1.0f / 4096;  // exact in float around 1, so x +- h is exact

// Predictions on a 2^-12 grid (probabilities in (0, 1) with row sums != 1 for the CE
// renormalization).
std::vector<float> preds(bool probs) {
  std::vector<float> p(kN * kK);
  for (index_t i = 0; i < kN * kK; ++i) {
    const float v =
        std::round(4096.0f * (probs ? 0.1f + 0.07f * ((i * 5) % 11) : 1.3f * std::sin(1.7f * i))) /
        4096.0f;
    p[i] = v;
  }
  return p;
}

double loss_at(const LossSpec& s, const std::vector<float>& p, const Targets& t,
               float* g = nullptr) {
  return loss_forward_backward(s, p.data(), kN, kK, t, g);
}

void check_gradient(const LossSpec& s, bool probs, const Targets& t, const char* what) {
  std::vector<float> p = preds(probs), g(p.size());
  loss_at(s, p, t, g.data());
  for (size_t i = 0; i < p.size(); ++i) {
    std::vector<float> pp = p, pm = p;
    pp[i] += kH;
    pm[i] -= kH;
    const double fd = (loss_at(s, pp, t) - loss_at(s, pm, t)) / (2.0 * kH);
    if (!check::close(g[i], fd, 1e-4, 1e-6)) {
      std::fprintf(stderr, "  gradient of %s, element %zu\n", what, i);
    }
    CHECK_CLOSE(g[i], fd, 1e-4, 1e-6);
  }
}

void check_values() {
  const std::vector<float> y = {0.f, 1.f, 0.f, 1.f, 0.f, 0.f, 0.f, 0.f, 1.f, 0.5f, 0.25f, 0.25f};
  const std::vector<float> w = {1.f, 0.5f, 2.f, 0.f};
  const Targets t{y.data(), nullptr, w.data()};
  const std::vector<float> x = preds(false), p = preds(true);
  auto keras_mean = [&](auto per_elem, const std::vector<float>& v) {
    double tot = 0;
    for (index_t i = 0; i < kN; ++i) {
      double s = 0;
      for (index_t j = 0; j < kK; ++j) {
        s += per_elem(v[i * kK + j], y[i * kK + j]);
      }
      tot += w[i] * s / kK;
    }
    return tot / kN;
  };
  LossSpec s;
  s.kind = LossKind::mean_squared_error;
  CHECK_CLOSE(loss_at(s, x, t), keras_mean([](double a, double b) { return (a - b) * (a - b); }, x),
              1e-12, 0);
  s.kind = LossKind::mean_absolute_error;
  CHECK_CLOSE(loss_at(s, x, t), keras_mean([](double a, double b) { return std::fabs(a - b); }, x),
              1e-12, 0);
  s.kind = LossKind::huber;
  s.delta = 0.7f;
  CHECK_CLOSE(loss_at(s, x, t),
              keras_mean(
                  [](double a, double b) {
                    const double e = std::fabs(a - b);
                    return e <= 0.7 ? 0.5 * e * e : 0.7 * e - 0.5 * 0.49;
                  },
                  x),
              1e-6, 0);
  s.kind = LossKind::binary_crossentropy;
  s.label_smoothing = 0.2f;
  CHECK_CLOSE(loss_at(s, p, t),
              keras_mean(
                  [](double a, double b) {
                    const double ys = b * 0.8 + 0.1;
                    return -(ys * std::log(a) + (1 - ys) * std::log(1 - a));
                  },
                  p),
              1e-7, 0);
  s.from_logits = true;
  CHECK_CLOSE(loss_at(s, x, t),
              keras_mean(
                  [](double a, double b) {
                    const double ys = b * 0.8 + 0.1, sg = 1 / (1 + std::exp(-a));
                    return -(ys * std::log(sg) + (1 - ys) * std::log(1 - sg));
                  },
                  x),
              1e-6, 0);
  // categorical from logits with smoothing 0.3: sum_j y'_j * -log softmax_j
  s.kind = LossKind::categorical_crossentropy;
  s.label_smoothing = 0.3f;
  double tot = 0;
  for (index_t i = 0; i < kN; ++i) {
    double z = 0, l = 0;
    for (index_t j = 0; j < kK; ++j) {
      z += std::exp(double(x[i * kK + j]));
    }
    for (index_t j = 0; j < kK; ++j) {
      l -= (y[i * kK + j] * 0.7 + 0.1) * std::log(std::exp(double(x[i * kK + j])) / z);
    }
    tot += w[i] * l;
  }
  CHECK_CLOSE(loss_at(s, x, t), tot / kN, 1e-6, 0);
  // sparse == categorical on one-hot rows; probabilities are renormalized per row (Keras).
  const std::vector<std::int32_t> labels = {1, 0, 2, 1};
  std::vector<float> onehot(kN * kK, 0.f);
  for (index_t i = 0; i < kN; ++i) {
    onehot[i * kK + labels[i]] = 1.f;
  }
  LossSpec sp;
  sp.kind = LossKind::sparse_categorical_crossentropy;
  const Targets ts{nullptr, labels.data(), w.data()}, td{onehot.data(), nullptr, w.data()};
  LossSpec cp = sp;
  cp.kind = LossKind::categorical_crossentropy;
  CHECK_CLOSE(loss_at(sp, p, ts), loss_at(cp, p, td), 1e-12, 0);
  double expect = 0;
  for (index_t i = 0; i < kN; ++i) {
    double rs = 0;
    for (index_t j = 0; j < kK; ++j) {
      rs += p[i * kK + j];
    }
    expect -= w[i] * std::log(p[i * kK + labels[i]] / rs);
  }
  CHECK_CLOSE(loss_at(sp, p, ts), expect / kN, 1e-7, 0);
}

void check_gradients() {
  const std::vector<float> y = {0.f, 1.f, 0.f, 1.f, 0.f, 0.f, 0.f, 0.f, 1.f, 0.5f, 0.25f, 0.25f};
  const std::vector<float> w = {1.f, 0.5f, 2.f, 1.5f};
  const std::vector<std::int32_t> labels = {1, 0, 2, 1};
  const Targets t{y.data(), nullptr, w.data()}, ts{nullptr, labels.data(), nullptr};
  for (LossKind kind :
       {LossKind::mean_squared_error, LossKind::mean_absolute_error, LossKind::huber}) {
    LossSpec s;
    s.kind = kind;
    check_gradient(s, false, t, loss_name(kind).c_str());
  }
  for (LossKind kind : {LossKind::binary_crossentropy, LossKind::categorical_crossentropy,
                        LossKind::sparse_categorical_crossentropy}) {
    for (bool logits : {false, true}) {
      LossSpec s;
      s.kind = kind;
      s.from_logits = logits;
      s.label_smoothing = 0.1f;
      check_gradient(s, !logits, kind == LossKind::sparse_categorical_crossentropy ? ts : t,
                     (loss_name(kind) + (logits ? " (logits)" : "")).c_str());
    }
  }
  // Keras 3's other losses: probabilities for those that clip or take logs (and MAPE, whose
  // kink at p = y lies on the signed grid), signed values else.
  for (LossKind kind : {LossKind::kl_divergence, LossKind::poisson,
                        LossKind::mean_squared_logarithmic_error, LossKind::log_cosh,
                        LossKind::mean_absolute_percentage_error, LossKind::cosine_similarity,
                        LossKind::hinge, LossKind::squared_hinge, LossKind::categorical_hinge}) {
    LossSpec s;
    s.kind = kind;
    const bool probs = kind == LossKind::kl_divergence || kind == LossKind::poisson ||
                       kind == LossKind::mean_squared_logarithmic_error ||
                       kind == LossKind::mean_absolute_percentage_error;
    check_gradient(s, probs, t, loss_name(kind).c_str());
  }
}

// hinge maps a batch of {0, 1} targets to {-1, 1}; one other value anywhere keeps them all.
void check_hinge_targets() {
  LossSpec s;
  s.kind = LossKind::hinge;
  const float p[2] = {0.5f, -0.25f}, binary[2] = {1.f, 0.f}, signed_y[2] = {1.f, -1.f},
              mixed[2] = {1.f, 0.5f};
  auto at = [&](const float* y) { return loss_forward_backward(s, p, 2, 1, Targets{y}, nullptr); };
  CHECK_CLOSE(at(binary), (0.5 + 0.75) / 2, 1e-12, 0);
  CHECK(at(binary) == at(signed_y));
  CHECK_CLOSE(at(mixed), (0.5 + (1.0 + 0.125)) / 2, 1e-12, 0);
  float probs[2] = {0.5f, 0.5f}, g[2];
  CHECK_THROWS(loss_forward_backward_fused(s, p, probs, 1, 2, Targets{binary}, g),
               std::invalid_argument);
}

void check_extremes_fused_errors() {
  const float x[4] = {1e4f, -1e4f, 0.f, 1e4f};
  const float yb[4] = {0.f, 1.f, 1.f, 1.f};
  const std::int32_t lab[2] = {1, 0};
  float g[4];
  LossSpec s;
  s.from_logits = true;
  for (LossKind kind : {LossKind::binary_crossentropy, LossKind::categorical_crossentropy,
                        LossKind::sparse_categorical_crossentropy}) {
    s.kind = kind;
    const Targets t{yb, lab, nullptr};
    const double l = loss_forward_backward(s, x, 2, 2, t, g);
    CHECK(std::isfinite(l) && l > 1e3);
    for (float v : g) {
      CHECK(std::isfinite(v));
    }
  }
  // Fused softmax/sigmoid gradients equal the unfused chain rule through the activation.
  const float logits[6] = {0.3f, -1.2f, 2.0f, 0.1f, 0.4f, -0.6f};
  const float yc[6] = {0.f, 0.f, 1.f, 0.2f, 0.5f, 0.3f};
  const float w[2] = {0.7f, 1.9f};
  for (LossKind kind : {LossKind::categorical_crossentropy, LossKind::binary_crossentropy}) {
    LossSpec f;
    f.kind = kind;
    f.label_smoothing = 0.05f;
    const Activation act =
        parse_activation(kind == LossKind::binary_crossentropy ? "sigmoid" : "softmax");
    CHECK(loss_fuses_with(f, act));
    float probs[6], gu[6], gf[6];
    std::copy(logits, logits + 6, probs);
    activation_forward(act, probs, 2, 3, 3);
    const Targets t{yc, nullptr, w};
    const double lu = loss_forward_backward(f, probs, 2, 3, t, gu);
    activation_backward(act, logits, probs, gu, 2, 3, 3);
    const double lf = loss_forward_backward_fused(f, logits, probs, 2, 3, t, gf);
    CHECK_CLOSE(lf, lu, 1e-12, 0);
    for (int i = 0; i < 6; ++i) {
      CHECK_CLOSE(gf[i], gu[i], 1e-5, 1e-7);
    }
  }
  LossSpec mse;
  CHECK(!loss_fuses_with(mse, parse_activation("softmax")));
  // Out-of-range sparse labels are reported, never read out of bounds.
  LossSpec sp;
  sp.kind = LossKind::sparse_categorical_crossentropy;
  const std::int32_t bad[2] = {1, 7};
  const Targets tb{nullptr, bad, nullptr};
  try {
    loss_forward_backward(sp, x, 2, 2, tb, g);
    CHECK(false);
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()).find("label 7 at index 1") != std::string::npos);
  }
  CHECK_THROWS(parse_loss("cross_entropy"), std::invalid_argument);
  CHECK(parse_loss("mse") == LossKind::mean_squared_error);
}

// Softmax cross-entropy from logits computes the exponentials of narrow rows (up to 16 classes) a
// whole chunk at a time and those of wider rows one row at a time: four more columns of logit
// -1e30 (probability 0) take a 16-class batch to the row path without changing a bit.
void check_chunk_and_row_exps_agree() {
  const index_t n = 70, k = 16, wide = k + 4;  // 70 rows: a full 64-row chunk and a partial one
  std::vector<float> narrow(n * k), widened(n * wide, -1e30f), g1(n * k), g2(n * wide);
  std::vector<std::int32_t> labels(n);
  for (index_t i = 0; i < n; ++i) {
    labels[i] = static_cast<std::int32_t>((i * 7) % k);
    for (index_t j = 0; j < k; ++j) {
      narrow[i * k + j] = widened[i * wide + j] = 6.0f * std::sin(0.37f * (i * k + j));
    }
  }
  LossSpec spec;
  spec.kind = LossKind::sparse_categorical_crossentropy;
  spec.from_logits = true;
  Targets t;
  t.labels = labels.data();
  const double a = loss_forward_backward(spec, narrow.data(), n, k, t, g1.data());
  const double b = loss_forward_backward(spec, widened.data(), n, wide, t, g2.data());
  CHECK(a == b);
  CHECK(std::isfinite(a) && a > 0.0);
  bool same = true;
  for (index_t i = 0; i < n; ++i) {
    for (index_t j = 0; j < k; ++j) same = same && g1[i * k + j] == g2[i * wide + j];
    for (index_t j = k; j < wide; ++j) same = same && g2[i * wide + j] == 0.0f;
  }
  CHECK(same);
}

}  // namespace

int main() {
  check_chunk_and_row_exps_agree();
  check_values();
  check_gradients();
  check_hinge_targets();
  check_extremes_fused_errors();
  return check::exit_code("test_losses");
}
