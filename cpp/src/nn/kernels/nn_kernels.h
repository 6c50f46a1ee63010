// The element-wise kernels of the network layers (activations, Dropout masks), compiled once per
// instruction set from nn_kernels_impl.h (nn_kernels_generic.cpp for baseline x86-64 / any CPU,
// nn_kernels_avx2.cpp with -mavx2 -mfma) and chosen at run time from active_isa(), as the GEMM
// micro-kernels are. A kernel handles a range of rows or of Philox groups; splitting the work
// across threads stays with the callers, in baseline code. Dropout masks are bitwise the same in
// every build; activations may differ in the last bits (the AVX2 build contracts a * b + c into
// FMAs), within fastmath.h's documented accuracy. FASTMLP_ISA=generic selects the generic build.
#pragma once
#include <cstdint>

#include "fastmlp/activations.h"
#include "fastmlp/initializers.h"
#include "fastmlp/runtime.h"

namespace fastmlp {
namespace detail {

// One Dropout mask: rng (Philox keyed by the layer seed) with `step` as the stream; element e
// uses word e % 4 of counter e / 4 and is kept when to_unit_float(word) >= rate, i.e. when
// (word >> 8) >= threshold with threshold = ceil(rate * 2^24) (the same test in integers, exact).
struct DropoutMask {
  Philox rng;  // built in baseline code: the kernels call no inline member of it
  std::uint64_t step;
  std::uint32_t threshold;
  float keep_scale;  // 1 / (1 - rate)
};

struct NnKernels {
  // y = f(x) on rows [r0, r1) of two blocks with leading dimension ld (softmax: along each row);
  // y == x is allowed (in place), other overlaps are not.
  void (*activation_forward)(const Activation& act, const float* x, float* y, index_t r0,
                             index_t r1, index_t cols, index_t ld);
  // out = grad * f'(.) on rows [r0, r1); src is the pre-activation when needs_preactivation(act),
  // the output otherwise (softmax: the Jacobian-vector product with the output). out == grad is
  // allowed.
  void (*activation_backward)(const Activation& act, const float* src, const float* grad,
                              float* out, index_t r0, index_t r1, index_t cols, index_t ld);
  // Philox groups [g0, g1) of a mask over `count` elements: mask[e] = 0 or keep_scale and
  // y[e] = x[e] * mask[e] for the elements 4g .. 4g+3 below count.
  void (*dropout_forward)(const DropoutMask& m, index_t g0, index_t g1, index_t count,
                          const float* x, float* y, float* mask);
  // The words of Philox counters [g0, g1) of stream `stream`, in element order: word t of
  // counter g at out[4 * (g - g0) + t] (what Dropout's element 4g + t reads). Bitwise the same
  // in every build.
  void (*philox_words)(const Philox& rng, std::uint64_t stream, index_t g0, index_t g1,
                       std::uint32_t* out);
};

// Out-of-place forms of activation_forward / activation_backward (activations.h) for contiguous
// rows, saving the layers a copy: y = f(x), and dx = dy * f'(.) from pre (the pre-activation) or
// post (the output). y may be x and dx may be dy.
void activation_forward_to(const Activation& act, const float* x, float* y, index_t rows,
                           index_t cols);
void activation_backward_to(const Activation& act, const float* pre, const float* post,
                            const float* dy, float* dx, index_t rows, index_t cols);

// The kernels for active_isa() (the AVX2 build also serves AVX-512 CPUs), chosen once.
const NnKernels& nn_kernels();

// The build for `isa` (avx512 maps to the AVX2 build), or null when that build is not part of
// this library or the CPU cannot run it; for tests comparing the builds.
const NnKernels* nn_kernels_for(Isa isa);

}  // namespace detail
}  // namespace fastmlp
