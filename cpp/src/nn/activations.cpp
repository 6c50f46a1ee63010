// Activations: element-wise maps written as lambdas over `#pragma omp simd` loops so GCC -O3
// vectorizes them with whatever ISA the TU is built for; transcendental functions come from
// fastmath.h because libm calls would keep the loops scalar.
#include "fastmlp/activations.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "fastmlp/runtime.h"
#include "nn/fastmath.h"
#include "nn/parallel.h"

namespace fastmlp {
namespace {

namespace fm = fastmath;

// SELU constants (Klambauer et al. 2017), as in Keras.
constexpr float kSeluAlpha = 1.67326324235437728481704299f;
constexpr float kSeluScale = 1.05070098735548049341933498f;
constexpr float kSqrt2OverPi = 0.79788456080286535587989211f;
constexpr float kGeluCubic = 0.044715f;
constexpr float kInvSqrt2 = 0.70710678118654752440f;
constexpr float kInvSqrt2Pi = 0.39894228040143267794f;

struct NameKind {
  const char* name;
  ActivationKind kind;
};
constexpr NameKind kNames[] = {{"linear", ActivationKind::linear},
                               {"relu", ActivationKind::relu},
                               {"leaky_relu", ActivationKind::leaky_relu},
                               {"elu", ActivationKind::elu},
                               {"selu", ActivationKind::selu},
                               {"gelu", ActivationKind::gelu},
                               {"gelu_tanh", ActivationKind::gelu_tanh},
                               {"sigmoid", ActivationKind::sigmoid},
                               {"hard_sigmoid", ActivationKind::hard_sigmoid},
                               {"tanh", ActivationKind::tanh},
                               {"softplus", ActivationKind::softplus},
                               {"silu", ActivationKind::silu},
                               {"softmax", ActivationKind::softmax}};

// Rows are split across threads only when the block is big enough to pay for the fork, and never
// from inside a parallel region (a GEMM epilogue, a caller's own loop). Every element's value is
// independent of the split, so results never depend on the thread count.
int threads_for(index_t rows, index_t cols) {
  const index_t work = rows * cols;
  if (work < (index_t{1} << 16) || rows < 2 || omp_in_parallel()) {
    return 1;
  }
  return static_cast<int>(std::min<index_t>(threads_available(), rows));
}

template <class F>
void map_rows(float* x, index_t rows, index_t cols, index_t ld, F f) {
  detail::parallel_for(threads_for(rows, cols), rows, [&](index_t r) {
    float* row = x + r * ld;
#pragma omp simd
    for (index_t c = 0; c < cols; ++c) {
      row[c] = f(row[c]);
    }
  });
}

// grad[i] *= d(src[i]) where src is the pre-activation or the output, whichever d needs.
template <class D>
void scale_rows(const float* src, float* grad, index_t rows, index_t cols, index_t ld, D d) {
  detail::parallel_for(threads_for(rows, cols), rows, [&](index_t r) {
    const float* s = src + r * ld;
    float* g = grad + r * ld;
#pragma omp simd
    for (index_t c = 0; c < cols; ++c) {
      g[c] *= d(s[c]);
    }
  });
}

void softmax_rows(float* x, index_t rows, index_t cols, index_t ld) {
  detail::parallel_for(threads_for(rows, cols), rows, [&](index_t r) {
    float* row = x + r * ld;
    float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
    for (index_t c = 0; c < cols; ++c) {
      mx = std::max(mx, row[c]);
    }
    if (!std::isfinite(mx)) {
      mx = 0.0f;  // all -inf (or an inf) row: let inf/nan propagate
    }
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (index_t c = 0; c < cols; ++c) {
      row[c] = fm::exp(row[c] - mx);
      sum += row[c];
    }
    const float inv = 1.0f / sum;
#pragma omp simd
    for (index_t c = 0; c < cols; ++c) {
      row[c] *= inv;
    }
  });
}

// Jacobian-vector product of softmax per row: g <- y * (g - <g, y>).
void softmax_backward_rows(const float* y, float* grad, index_t rows, index_t cols, index_t ld) {
  detail::parallel_for(threads_for(rows, cols), rows, [&](index_t r) {
    const float* yr = y + r * ld;
    float* g = grad + r * ld;
    float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
    for (index_t c = 0; c < cols; ++c) {
      dot += g[c] * yr[c];
    }
#pragma omp simd
    for (index_t c = 0; c < cols; ++c) {
      g[c] = yr[c] * (g[c] - dot);
    }
  });
}

// Phi(x), the standard normal CDF, with relative accuracy in the lower tail.
inline float normal_cdf(float x) {
  const float ax = x < 0.0f ? -x : x;
  const float tail = 0.5f * fm::erfc_nonneg(ax * kInvSqrt2);
  return x < 0.0f ? tail : 1.0f - tail;
}

void forward_impl(const Activation& act, float* x, index_t rows, index_t cols, index_t ld) {
  const float a = act.param;
  switch (act.kind) {
    case ActivationKind::linear:
      return;
    case ActivationKind::relu:
      return map_rows(x, rows, cols, ld, [](float v) { return v > 0.0f ? v : 0.0f; });
    case ActivationKind::leaky_relu:
      return map_rows(x, rows, cols, ld, [a](float v) { return v > 0.0f ? v : a * v; });
    case ActivationKind::elu:
      return map_rows(x, rows, cols, ld, [a](float v) { return v > 0.0f ? v : a * fm::expm1(v); });
    case ActivationKind::selu:
      return map_rows(x, rows, cols, ld, [](float v) {
        return kSeluScale * (v > 0.0f ? v : kSeluAlpha * fm::expm1(v));
      });
    case ActivationKind::gelu:
      return map_rows(x, rows, cols, ld, [](float v) { return v * normal_cdf(v); });
    case ActivationKind::gelu_tanh:
      // 0.5 * (1 + tanh(u)) == sigmoid(2u): no cancellation for large negative inputs.
      return map_rows(x, rows, cols, ld, [](float v) {
        return v * fm::sigmoid(2.0f * kSqrt2OverPi * (v + kGeluCubic * v * v * v));
      });
    case ActivationKind::sigmoid:
      return map_rows(x, rows, cols, ld, [](float v) { return fm::sigmoid(v); });
    case ActivationKind::hard_sigmoid:
      return map_rows(x, rows, cols, ld,
                      [](float v) { return std::min(std::max(v + 3.0f, 0.0f), 6.0f) / 6.0f; });
    case ActivationKind::tanh:
      return map_rows(x, rows, cols, ld, [](float v) { return fm::tanh(v); });
    case ActivationKind::softplus:
      return map_rows(x, rows, cols, ld, [](float v) {
        const float av = v < 0.0f ? -v : v;
        return (v > 0.0f ? v : 0.0f) + fm::log1p_unit(fm::exp(-av));
      });
    case ActivationKind::silu:
      return map_rows(x, rows, cols, ld, [](float v) { return v * fm::sigmoid(v); });
    case ActivationKind::softmax:
      return softmax_rows(x, rows, cols, ld);
  }
}

// Derivatives from the output y = f(x) (needs_preactivation() == false).
void backward_from_output(const Activation& act, const float* y, float* g, index_t rows,
                          index_t cols, index_t ld) {
  const float a = act.param;
  switch (act.kind) {
    case ActivationKind::linear:
      return;
    case ActivationKind::relu:
      return scale_rows(y, g, rows, cols, ld, [](float v) { return v > 0.0f ? 1.0f : 0.0f; });
    case ActivationKind::leaky_relu:
      return scale_rows(y, g, rows, cols, ld, [a](float v) { return v > 0.0f ? 1.0f : a; });
    case ActivationKind::elu:  // y = a*(e^x - 1) for x <= 0, so f'(x) = a*e^x = y + a
      return scale_rows(y, g, rows, cols, ld, [a](float v) { return v > 0.0f ? 1.0f : v + a; });
    case ActivationKind::selu:
      return scale_rows(y, g, rows, cols, ld, [](float v) {
        return v > 0.0f ? kSeluScale : v + kSeluScale * kSeluAlpha;
      });
    case ActivationKind::sigmoid:
      return scale_rows(y, g, rows, cols, ld, [](float v) { return v * (1.0f - v); });
    case ActivationKind::hard_sigmoid:
      return scale_rows(y, g, rows, cols, ld,
                        [](float v) { return v > 0.0f && v < 1.0f ? 1.0f / 6.0f : 0.0f; });
    case ActivationKind::tanh:
      return scale_rows(y, g, rows, cols, ld, [](float v) { return 1.0f - v * v; });
    case ActivationKind::softmax:
      return softmax_backward_rows(y, g, rows, cols, ld);
    default:
      throw std::logic_error("activation_backward: no output-based derivative");
  }
}

// Derivatives from the pre-activation x (gelu, silu, softplus, and elu with alpha <= 0).
void backward_from_input(const Activation& act, const float* x, float* g, index_t rows,
                         index_t cols, index_t ld) {
  const float a = act.param;
  switch (act.kind) {
    case ActivationKind::elu:
      return scale_rows(x, g, rows, cols, ld,
                        [a](float v) { return v > 0.0f ? 1.0f : a * fm::exp(v); });
    case ActivationKind::gelu:
      return scale_rows(x, g, rows, cols, ld, [](float v) {
        return normal_cdf(v) + v * kInvSqrt2Pi * fm::exp(-0.5f * v * v);
      });
    case ActivationKind::gelu_tanh:
      return scale_rows(x, g, rows, cols, ld, [](float v) {
        const float v2 = v * v;
        const float s = fm::sigmoid(2.0f * kSqrt2OverPi * (v + kGeluCubic * v2 * v));
        const float du = kSqrt2OverPi * (1.0f + 3.0f * kGeluCubic * v2);
        return s + v * 2.0f * du * s * (1.0f - s);
      });
    case ActivationKind::softplus:
      return scale_rows(x, g, rows, cols, ld, [](float v) { return fm::sigmoid(v); });
    case ActivationKind::silu:
      return scale_rows(x, g, rows, cols, ld, [](float v) {
        const float s = fm::sigmoid(v);
        return s * (1.0f + v * (1.0f - s));
      });
    default:
      throw std::logic_error("activation_backward: no input-based derivative");
  }
}

void check_block(const char* fn, const void* p, index_t rows, index_t cols, index_t ld) {
  if (rows < 0 || cols < 0 || ld < cols) {
    throw std::invalid_argument(std::string(fn) + ": bad block rows=" + std::to_string(rows) +
                                " cols=" + std::to_string(cols) + " ld=" + std::to_string(ld));
  }
  if (p == nullptr && rows > 0 && cols > 0) {
    throw std::invalid_argument(std::string(fn) + ": null data pointer");
  }
}

// GEMM epilogue callback: the tile already holds alpha*AB + beta*C + bias. Runs on the calling
// GEMM thread (threads_for keeps small tiles serial, and nested regions are inactive anyway).
void epilogue_post(float* c, index_t ldc, index_t rows, index_t cols, index_t /*col0*/,
                   const void* ctx) {
  forward_impl(*static_cast<const Activation*>(ctx), c, rows, cols, ldc);
}

}  // namespace

Activation parse_activation(const std::string& name, float param) {
  const std::string key = name == "swish" ? "silu" : name;
  for (const auto& nk : kNames) {
    if (key != nk.name) {
      continue;
    }
    Activation act{nk.kind, param};
    if (nk.kind == ActivationKind::leaky_relu || nk.kind == ActivationKind::elu) {
      if (!std::isfinite(param) || (nk.kind == ActivationKind::leaky_relu && param < 0.0f)) {
        throw std::invalid_argument("activation '" + name + "': parameter must be finite" +
                                    (nk.kind == ActivationKind::leaky_relu ? " and >= 0" : "") +
                                    ", got " + std::to_string(param));
      }
      // 0 selects the Keras default (negative_slope 0.2, alpha 1.0); use relu for a zero slope.
      if (param == 0.0f) {
        act.param = nk.kind == ActivationKind::leaky_relu ? 0.2f : 1.0f;
      }
    }
    return act;
  }
  std::string valid;
  for (const auto& n : activation_names()) {
    valid += (valid.empty() ? "" : ", ") + n;
  }
  throw std::invalid_argument("unknown activation '" + name + "'; valid names: " + valid);
}

std::string activation_name(const Activation& act) {
  for (const auto& nk : kNames) {
    if (nk.kind == act.kind) {
      return nk.name;
    }
  }
  throw std::logic_error("activation_name: unknown kind");
}

std::vector<std::string> activation_names() {
  std::vector<std::string> out;
  for (const auto& nk : kNames) {
    out.emplace_back(nk.name);
  }
  out.emplace_back("swish");
  return out;
}

void activation_forward(const Activation& act, float* x, index_t rows, index_t cols, index_t ld) {
  check_block("activation_forward", x, rows, cols, ld);
  forward_impl(act, x, rows, cols, ld);
}

void activation_backward(const Activation& act, const float* pre, const float* post, float* grad,
                         index_t rows, index_t cols, index_t ld) {
  check_block("activation_backward", grad, rows, cols, ld);
  if (act.kind == ActivationKind::linear) {
    return;
  }
  if (needs_preactivation(act)) {
    check_block("activation_backward (pre-activation)", pre, rows, cols, ld);
    backward_from_input(act, pre, grad, rows, cols, ld);
  } else {
    check_block("activation_backward (output)", post, rows, cols, ld);
    backward_from_output(act, post, grad, rows, cols, ld);
  }
}

bool needs_preactivation(const Activation& act) {
  switch (act.kind) {
    case ActivationKind::gelu:
    case ActivationKind::gelu_tanh:
    case ActivationKind::softplus:
    case ActivationKind::silu:
      return true;
    // y + alpha recovers alpha*e^x only when the sign of y tells the branch apart (alpha > 0).
    case ActivationKind::elu:
      return !(act.param > 0.0f);
    default:
      return false;
  }
}

Epilogue make_epilogue(const Activation& act, const float* bias) {
  Epilogue ep;
  ep.bias = bias;
  switch (act.kind) {
    case ActivationKind::linear:
      break;
    case ActivationKind::relu:
      ep.relu = true;
      break;
    case ActivationKind::softmax:
      throw std::invalid_argument(
          "make_epilogue: softmax normalizes whole rows; apply it after the GEMM");
    default:
      ep.post = &epilogue_post;
      ep.post_ctx = &act;  // the caller's Activation must outlive the Epilogue
  }
  return ep;
}

}  // namespace fastmlp
