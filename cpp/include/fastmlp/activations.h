// Element-wise activations (and softmax along the last axis), forward and backward, vectorized.
#pragma once
#include <string>
#include <vector>

#include "fastmlp/gemm.h"

namespace fastmlp {

enum class ActivationKind {
  linear, relu, leaky_relu, elu, selu, gelu, gelu_tanh, sigmoid, hard_sigmoid, tanh, softplus,
  silu, softmax
};

struct Activation {
  ActivationKind kind = ActivationKind::linear;
  // leaky_relu: negative_slope (Keras default 0.2); elu: alpha (default 1.0); unused otherwise.
  // parse_activation maps param 0 to those defaults (a zero slope / alpha is plain relu).
  float param = 0.0f;
};

// Keras names: "linear", "relu", "leaky_relu", "elu", "selu", "gelu" (exact), "gelu_tanh"
// (tanh approximation), "sigmoid", "hard_sigmoid", "tanh", "softplus", "silu" / "swish", "softmax".
// Throws std::invalid_argument naming the valid names, or for a non-finite parameter or a negative
// leaky_relu slope. param 0 selects the Keras default for leaky_relu (0.2) and elu (1.0).
Activation parse_activation(const std::string& name, float param = 0.0f);
std::string activation_name(const Activation& act);
std::vector<std::string> activation_names();

// In place over a rows x cols block with row stride ld; softmax normalizes each row.
void activation_forward(const Activation& act, float* x, index_t rows, index_t cols, index_t ld);

// grad <- grad * f'(.), in place. `pre` is the pre-activation input, `post` the output; either may
// be null when needs_preactivation() says the derivative can do without it. For softmax this is
// the full Jacobian-vector product per row (uses post).
void activation_backward(const Activation& act, const float* pre, const float* post, float* grad,
                         index_t rows, index_t cols, index_t ld);

// True if the derivative needs the pre-activation (gelu, silu, ...); false if the output suffices
// (relu, sigmoid, tanh, ...), so a dense layer can fuse the activation into its GEMM and keep only
// the output.
bool needs_preactivation(const Activation& act);

// The GEMM epilogue that adds `bias` (may be null) and applies `act` (not softmax: throws) as C is
// stored: relu is fused in the kernel, other activations run as `post` on each finished tile.
// The Epilogue keeps a pointer to `act`, which must outlive it.
Epilogue make_epilogue(const Activation& act, const float* bias);

}  // namespace fastmlp
