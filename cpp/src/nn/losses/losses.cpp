// Losses with Keras 3 semantics. Each per-sample loss is computed in double on one row; the batch
// total is summed in fixed 64-row chunks added in order, so it never depends on the thread count.
#include "fastmlp/losses.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "common/checks.h"
#include "common/thread_policy.h"
#include "nn/losses/unchecked.h"
#include "nn/kernels/fastmath.h"
#include "nn/kernels/parallel.h"
#include "nn/kernels/isa_variants.h"
#include "nn/losses/loss_row.h"

namespace fastmlp {
namespace {

using loss_detail::Row;
using loss_detail::TargetMap;

// Keras clips probabilities to [epsilon, 1 - epsilon] in float32; use the same float values.
const double kClipLo = loss_detail::kEpsilon;
const double kClipHi = static_cast<double>(1.0f - 1e-7f);

double mse_row(const Row& r) {
  double s = 0;
  for (index_t j = 0; j < r.k; ++j) {
    const double e = r.p[j] - r.y(j);
    s += e * e;
    if (r.g) {
      r.g[j] = static_cast<float>(2.0 * e / r.k * r.gscale);
    }
  }
  return s / r.k;
}

double mae_row(const Row& r) {
  double s = 0;
  for (index_t j = 0; j < r.k; ++j) {
    const double e = r.p[j] - r.y(j);
    s += std::fabs(e);
    if (r.g) {
      r.g[j] = static_cast<float>(((e > 0) - (e < 0)) / double(r.k) * r.gscale);
    }
  }
  return s / r.k;
}

double huber_row(const Row& r, double delta) {
  double s = 0;
  for (index_t j = 0; j < r.k; ++j) {
    const double e = r.p[j] - r.y(j), a = std::fabs(e), q = std::min(a, delta);
    s += 0.5 * q * q + delta * (a - q);
    if (r.g) {
      r.g[j] = static_cast<float>(std::clamp(e, -delta, delta) / r.k * r.gscale);
    }
  }
  return s / r.k;
}

double bce_row(const Row& r, bool from_logits) {
  double s = 0;
  for (index_t j = 0; j < r.k; ++j) {
    const double x = r.p[j], y = r.y(j);
    double d;
    if (from_logits) {  // max(x,0) - x*y + log1p(exp(-|x|)): finite for any x
      s += std::max(x, 0.0) - x * y + std::log1p(std::exp(-std::fabs(x)));
      d = 1.0 / (1.0 + std::exp(-x)) - y;
    } else {
      const double pc = std::clamp(x, kClipLo, kClipHi);
      s -= y * std::log(pc) + (1.0 - y) * std::log(1.0 - pc);
      d = x >= kClipLo && x <= kClipHi ? (pc - y) / (pc * (1.0 - pc)) : 0.0;  // clip blocks it
    }
    if (r.g) {
      r.g[j] = static_cast<float>(d / r.k * r.gscale);
    }
  }
  return s / r.k;
}

// e[j] = exp(p[j] - shift) for j < m: vectorized, the same bits in both builds (no FMA).
FASTMLP_AVX2_VARIANT(void, exp_shifted, (const float* p, double shift, double* e, index_t m),
                     (p, shift, e, m)) {
#pragma omp simd
  for (index_t j = 0; j < m; ++j) {
    e[j] = fastmath::exp_double(double(p[j]) - shift);
  }
}

// out[i * k + j] = exp(p_ij - max_j p_ij), with the max in maxes[i], for `rows` rows of k: the
// rows' shifted logits first, then all their exponentials in one vectorized loop (one row of ten
// leaves too few independent vectors to hide the polynomial's latency). The same bits as
// exp_shifted row by row.
FASTMLP_AVX2_VARIANT(void, shifted_exps, (const float* p, index_t rows, index_t k, double* out,
                                          double* maxes),
                     (p, rows, k, out, maxes)) {
  for (index_t i = 0; i < rows; ++i) {
    const float* pi = p + i * k;
    double mx = -INFINITY;
    for (index_t j = 0; j < k; ++j) {
      mx = std::max(mx, double(pi[j]));
    }
    maxes[i] = mx;
    for (index_t j = 0; j < k; ++j) {
      out[i * k + j] = double(pi[j]) - mx;
    }
  }
#pragma omp simd
  for (index_t q = 0; q < rows * k; ++q) {
    out[q] = fastmath::exp_double(out[q]);
  }
}

// Categorical cross-entropy, summed over classes. From logits: log-sum-exp, gradient
// softmax * sum(y) - y. From probabilities: Keras renormalizes p by its row sum, then clips.
double cce_row(const Row& r, bool from_logits) {
  double s = 0, ysum = 0;
  for (index_t j = 0; j < r.k; ++j) {
    ysum += r.y(j);
  }
  if (from_logits) {
    // softmax_j = e_j / z with e_j = exp(p_j - max), vectorized kKeep at a time and kept on the
    // stack for the gradient (rows wider than kKeep recompute them as exp(p_j - lse)).
    constexpr index_t kKeep = 64;
    double e[kKeep];
    const bool keep = r.k <= kKeep;
    double mx = r.exps_max, z = 0;
    if (!r.exps) {
      mx = -INFINITY;
      for (index_t j = 0; j < r.k; ++j) {
        mx = std::max(mx, double(r.p[j]));
      }
    }
    const double* ex = r.exps ? r.exps : e;
    for (index_t j0 = 0; j0 < r.k; j0 += kKeep) {
      const index_t m = std::min(kKeep, r.k - j0);
      if (!r.exps) exp_shifted(r.p + j0, mx, e, m);
      for (index_t j = 0; j < m; ++j) {
        z += ex[j];
      }
    }
    const double lse = mx + std::log(z);
    for (index_t j0 = 0; j0 < r.k; j0 += kKeep) {
      const index_t m = std::min(kKeep, r.k - j0);
      for (index_t j = 0; j < m; ++j) {
        s += r.y(j0 + j) * (lse - r.p[j0 + j]);
      }
      if (!r.g) continue;
      // the gradient apart from the loss's running sum, so that its divisions vectorize
      if (keep) {
#pragma omp simd
        for (index_t j = 0; j < m; ++j) {
          r.g[j0 + j] = static_cast<float>((ex[j] / z * ysum - r.y(j0 + j)) * r.gscale);
        }
      } else {
        exp_shifted(r.p + j0, lse, e, m);  // softmax_j itself
#pragma omp simd
        for (index_t j = 0; j < m; ++j) {
          r.g[j0 + j] = static_cast<float>((e[j] * ysum - r.y(j0 + j)) * r.gscale);
        }
      }
    }
    return s;
  }
  double total = 0, qdq = 0;
  for (index_t j = 0; j < r.k; ++j) {
    total += r.p[j];
  }
  for (index_t j = 0; j < r.k; ++j) {
    const double q = r.p[j] / total, qc = std::clamp(q, kClipLo, kClipHi), yj = r.y(j);
    // a zero target adds 0 * log(qc) = -0: only its NaN (from a NaN or infinite p) can show
    if (yj != 0.0 || qc != qc) s -= yj * std::log(qc);
    if (q >= kClipLo && q <= kClipHi) {
      qdq += -r.y(j);  // sum_i dL/dq_i * q_i
    }
  }
  if (!r.g) {
    return s;
  }
  for (index_t j = 0; j < r.k; ++j) {
    const double q = r.p[j] / total;
    const double dq = q >= kClipLo && q <= kClipHi ? -r.y(j) / q : 0.0;
    r.g[j] = static_cast<float>((dq - qdq) / total * r.gscale);
  }
  return s;
}

double row_loss(const LossSpec& spec, const Row& r) {
  using namespace loss_detail;
  switch (spec.kind) {
    case LossKind::mean_squared_error:
      return mse_row(r);
    case LossKind::mean_absolute_error:
      return mae_row(r);
    case LossKind::huber:
      return huber_row(r, spec.delta);
    case LossKind::binary_crossentropy:
      return bce_row(r, spec.from_logits);
    case LossKind::categorical_crossentropy:
    case LossKind::sparse_categorical_crossentropy:
      return cce_row(r, spec.from_logits);
    case LossKind::kl_divergence:
      return kl_divergence_row(r);
    case LossKind::poisson:
      return poisson_row(r);
    case LossKind::log_cosh:
      return log_cosh_row(r);
    case LossKind::mean_squared_logarithmic_error:
      return msle_row(r);
    case LossKind::mean_absolute_percentage_error:
      return mape_row(r);
    case LossKind::cosine_similarity:
      return cosine_similarity_row(r);
    case LossKind::hinge:
    case LossKind::squared_hinge:
      return hinge_row(r, spec.kind == LossKind::squared_hinge);
    case LossKind::categorical_hinge:
      return categorical_hinge_row(r);
  }
  throw std::logic_error("row_loss: unknown loss kind");
}

void check_args(const LossSpec& spec, const float* y_pred, index_t n, index_t k, const Targets& t) {
  auto bad = [](const std::string& what) { throw std::invalid_argument("loss: " + what); };
  if (n < 0 || k < 1) {
    bad("need n >= 0 rows and k >= 1 columns, got n=" + std::to_string(n) +
        " k=" + std::to_string(k));
  }
  const bool sparse = spec.kind == LossKind::sparse_categorical_crossentropy;
  if (n > 0 && (y_pred == nullptr || (sparse ? t.labels == nullptr : t.dense == nullptr))) {
    bad(sparse ? "y_pred and the integer labels must not be null"
               : "y_pred and the dense targets must not be null");
  }
  spec.validate();
  for (index_t i = 0; sparse && i < n; ++i) {
    if (t.labels[i] < 0 || t.labels[i] >= k) {
      bad("label " + std::to_string(t.labels[i]) + " at index " + std::to_string(i) +
          " is out of range [0, " + std::to_string(k) + ")");
    }
  }
}

// Row i of the batch, its targets read through the batch's TargetMap. Labels given to a loss
// that takes dense targets (a metric's) are read as one-hot rows.
Row make_row(const LossSpec& spec, const TargetMap& map, const float* p, index_t n, index_t k,
             const Targets& t, index_t i, float* grad) {
  const bool labels = spec.kind == LossKind::sparse_categorical_crossentropy || !t.dense;
  const double w = t.sample_weight ? t.sample_weight[i] : 1.0;
  return Row{p + i * k,
             labels ? nullptr : t.dense + i * k,
             labels ? t.labels[i] : -1,
             map.a,
             map.b,
             k,
             grad ? grad + i * k : nullptr,
             w / n};
}

}  // namespace

namespace loss_detail {

TargetMap target_map(const LossSpec& spec, index_t n, index_t k, const Targets& t) {
  const double s = spec.label_smoothing;
  switch (spec.kind) {
    case LossKind::categorical_crossentropy:
    case LossKind::sparse_categorical_crossentropy:
      return {1.0 - s, s / k};
    case LossKind::binary_crossentropy:
      return {1.0 - s, 0.5 * s};
    case LossKind::hinge:
    case LossKind::squared_hinge:
      if (!t.dense) return {2.0, -1.0};  // one-hot rows of labels are 0s and 1s
      for (index_t q = 0; q < n * k; ++q) {
        if (t.dense[q] != 0.0f && t.dense[q] != 1.0f) return {};
      }
      return {2.0, -1.0};
    default:
      return {};
  }
}

}  // namespace loss_detail

namespace {

// Rows per partial sum of the batch loss.
constexpr index_t kLossChunk = 64;

// f(b, e) over the rows [b, e) of each kLossChunk-row chunk (rows are independent), the chunks
// split across threads when the batch is worth it; returns the chunks' sums added in chunk order,
// so the bits never depend on the thread count. f must not throw.
template <class F>
double chunked_rows(index_t n, index_t k, F&& f) {
  constexpr index_t kGroup = 64;  // chunks per pass (the partial sums live on the stack)
  double partial[kGroup];
  const index_t chunks = (n + kLossChunk - 1) / kLossChunk;
  const int threads = thread_policy().threads_for(WorkKind::loss, static_cast<double>(n * k),
                                                  static_cast<double>(chunks));
  double total = 0.0;
  for (index_t c0 = 0; c0 < chunks; c0 += kGroup) {
    const index_t count = std::min(kGroup, chunks - c0);
    detail::parallel_for(threads, count, [&](index_t c) {
      const index_t b = (c0 + c) * kLossChunk;
      partial[c] = f(b, std::min(n, b + kLossChunk));
    });
    for (index_t c = 0; c < count; ++c) total += partial[c];
  }
  return total;
}

}  // namespace

void LossSpec::validate() const {
  if (!(label_smoothing >= 0.0f && label_smoothing <= 1.0f)) {
    detail::throw_invalid_value("label_smoothing", "a float in [0, 1]",
                                "label_smoothing=" + detail::number_text(label_smoothing));
  }
  if (!(delta > 0.0f) || !std::isfinite(delta)) {
    detail::throw_invalid_value("delta", "a finite float > 0",
                                "delta=" + detail::number_text(delta));
  }
}

double loss_forward_backward(const LossSpec& spec, const float* y_pred, index_t n, index_t k,
                             const Targets& targets, float* grad) {
  check_args(spec, y_pred, n, k, targets);
  return detail::loss_unchecked(spec, y_pred, n, k, targets, grad);
}

double detail::loss_unchecked(const LossSpec& spec, const float* y_pred, index_t n, index_t k,
                              const Targets& targets, float* grad) {
  if (n == 0) {
    return 0.0;
  }
  // Softmax cross-entropy from logits over few classes: each chunk's exponentials in one pass.
  constexpr index_t kChunkExpCols = 16;
  const bool chunk_exps = spec.from_logits && k <= kChunkExpCols &&
                          (spec.kind == LossKind::categorical_crossentropy ||
                           spec.kind == LossKind::sparse_categorical_crossentropy);
  const TargetMap map = loss_detail::target_map(spec, n, k, targets);
  const double total = chunked_rows(n, k, [&](index_t b, index_t e) {
    double exps[kLossChunk * kChunkExpCols], maxes[kLossChunk];
    if (chunk_exps) shifted_exps(y_pred + b * k, e - b, k, exps, maxes);
    double s = 0.0;
    for (index_t i = b; i < e; ++i) {
      const double w = targets.sample_weight ? targets.sample_weight[i] : 1.0;
      Row row = make_row(spec, map, y_pred, n, k, targets, i, grad);
      if (chunk_exps) {
        row.exps = exps + (i - b) * k;
        row.exps_max = maxes[i - b];
      }
      s += w * row_loss(spec, row);
    }
    return s;
  });
  return total / n;
}

void loss_values(const LossSpec& spec, const float* y_pred, index_t n, index_t k,
                 const Targets& targets, float* out) {
  check_args(spec, y_pred, n, k, targets);
  const Targets unweighted{targets.dense, targets.labels, nullptr};
  const TargetMap map = loss_detail::target_map(spec, n, k, targets);
  for (index_t i = 0; i < n; ++i) {
    out[i] = static_cast<float>(
        row_loss(spec, make_row(spec, map, y_pred, n, k, unweighted, i, nullptr)));
  }
}

bool loss_fuses_with(const LossSpec& spec, const Activation& output_activation) {
  if (spec.from_logits) {
    return false;
  }
  switch (spec.kind) {
    case LossKind::categorical_crossentropy:
    case LossKind::sparse_categorical_crossentropy:
      return output_activation.kind == ActivationKind::softmax;
    case LossKind::binary_crossentropy:
      return output_activation.kind == ActivationKind::sigmoid;
    default:
      return false;
  }
}

double loss_forward_backward_fused(const LossSpec& spec, const float* /*logits*/,
                                   const float* probs, index_t n, index_t k, const Targets& targets,
                                   float* grad_logits) {
  const bool cross_entropy = spec.kind == LossKind::binary_crossentropy ||
                             spec.kind == LossKind::categorical_crossentropy ||
                             spec.kind == LossKind::sparse_categorical_crossentropy;
  if (spec.from_logits || !cross_entropy) {
    throw std::invalid_argument("loss_forward_backward_fused: " + loss_name(spec.kind) +
                                (spec.from_logits ? " with from_logits" : "") + " does not fuse");
  }
  if (probs == nullptr) {
    throw std::invalid_argument(
        "loss_forward_backward_fused: probs (the activated outputs) is null");
  }
  check_args(spec, probs, n, k, targets);
  return detail::loss_fused_unchecked(spec, probs, n, k, targets, grad_logits);
}

double detail::loss_fused_unchecked(const LossSpec& spec, const float* probs, index_t n,
                                    index_t k, const Targets& targets, float* grad_logits) {
  // The reported loss is Keras's, computed on the probabilities (with its clipping) ...
  const double loss = loss_unchecked(spec, probs, n, k, targets, nullptr);
  if (grad_logits == nullptr || n == 0) {
    return loss;
  }
  // ... while the gradient through the activation needs only the probabilities.
  const bool binary = spec.kind == LossKind::binary_crossentropy;
  const TargetMap map = loss_detail::target_map(spec, n, k, targets);
  chunked_rows(n, k, [&](index_t b, index_t e) {
    for (index_t i = b; i < e; ++i) {
      const Row r = make_row(spec, map, probs, n, k, targets, i, grad_logits);
      double ysum = 0.0;
      for (index_t j = 0; j < k; ++j) {
        ysum += r.y(j);
      }
      for (index_t j = 0; j < k; ++j) {
        // sigmoid + BCE: (p - y) / k per element; softmax + CE: p * sum(y) - y per row.
        const double d = binary ? (r.p[j] - r.y(j)) / k : r.p[j] * ysum - r.y(j);
        r.g[j] = static_cast<float>(d * r.gscale);
      }
    }
    return 0.0;
  });
  return loss;
}

}  // namespace fastmlp
