// Activations: names, argument checks, the GEMM epilogue hook and the split of rows over threads;
// the element-wise maps themselves are the per-ISA kernels of nn_kernels.h.
#include "fastmlp/activations.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "nn/kernels/nn_kernels.h"
#include "nn/kernels/parallel.h"

namespace fastmlp {
namespace {

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


void check_block(const char* fn, const void* p, index_t rows, index_t cols, index_t ld) {
  if (rows < 0 || cols < 0 || ld < cols) {
    throw std::invalid_argument(std::string(fn) + ": bad block rows=" + std::to_string(rows) +
                                " cols=" + std::to_string(cols) + " ld=" + std::to_string(ld));
  }
  if (p == nullptr && rows > 0 && cols > 0) {
    throw std::invalid_argument(std::string(fn) + ": null data pointer");
  }
}

// fn(r0, r1) over one contiguous block of rows per thread, as many as the thread policy gives the
// block (one inside a parallel region: a GEMM epilogue, a caller's own loop). Every element's
// value is independent of the split, so results never depend on the thread count.
template <class F>
void split_rows(index_t rows, index_t cols, F fn) {
  detail::parallel_chunks(WorkKind::activation, rows, static_cast<double>(cols), fn);
}

void forward_impl(const Activation& act, const float* x, float* y, index_t rows, index_t cols,
                  index_t ld) {
  if (act.kind == ActivationKind::linear && x == y) return;
  const auto& k = detail::nn_kernels();
  split_rows(rows, cols, [&](index_t r0, index_t r1) {
    k.activation_forward(act, x, y, r0, r1, cols, ld);
  });
}

void backward_impl(const Activation& act, const float* pre, const float* post, const float* dy,
                   float* dx, index_t rows, index_t cols, index_t ld) {
  if (act.kind == ActivationKind::linear && dx == dy) return;
  const bool from_input = needs_preactivation(act);
  const float* src = from_input ? pre : post;
  check_block(from_input ? "activation_backward (pre-activation)" : "activation_backward (output)",
              src, rows, cols, ld);
  const auto& k = detail::nn_kernels();
  split_rows(rows, cols, [&](index_t r0, index_t r1) {
    k.activation_backward(act, src, dy, dx, r0, r1, cols, ld);
  });
}

// GEMM epilogue callback: the tile already holds alpha*AB + beta*C + bias. Runs on the calling
// GEMM thread (the thread policy keeps work inside a region on its thread).
void epilogue_post(float* c, index_t ldc, index_t rows, index_t cols, index_t /*col0*/,
                   const void* ctx) {
  forward_impl(*static_cast<const Activation*>(ctx), c, c, rows, cols, ldc);
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
  forward_impl(act, x, x, rows, cols, ld);
}

void activation_backward(const Activation& act, const float* pre, const float* post, float* grad,
                         index_t rows, index_t cols, index_t ld) {
  check_block("activation_backward", grad, rows, cols, ld);
  if (act.kind == ActivationKind::linear) {
    return;
  }
  backward_impl(act, pre, post, grad, grad, rows, cols, ld);
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

namespace detail {

void activation_forward_to(const Activation& act, const float* x, float* y, index_t rows,
                           index_t cols) {
  check_block("activation_forward", x, rows, cols, cols);
  check_block("activation_forward (output)", y, rows, cols, cols);
  forward_impl(act, x, y, rows, cols, cols);
}

void activation_backward_to(const Activation& act, const float* pre, const float* post,
                            const float* dy, float* dx, index_t rows, index_t cols) {
  check_block("activation_backward", dy, rows, cols, cols);
  check_block("activation_backward (dx)", dx, rows, cols, cols);
  backward_impl(act, pre, post, dy, dx, rows, cols, cols);
}

}  // namespace detail

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
