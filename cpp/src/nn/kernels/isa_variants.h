// FASTMLP_AVX2_VARIANT: defines a simple loop function twice, for the baseline x86-64 target and
// for AVX2 (8 floats per instruction instead of 4), and a dispatcher that picks one by
// active_isa() on every call, so FASTMLP_ISA governs these loops like every other kernel and
// FASTMLP_ISA=generic runs (and tests) the baseline build. For the element-wise and column loops
// of the optimizers, BatchNormalization, the bias gradient and the softmax exponentials. "avx2"
// without "fma": no contraction of a * b + c, so both builds round every operation alike and give
// bitwise identical results on any CPU (the heavier kernels with transcendental functions are
// per-ISA builds with FMA instead: nn_kernels.h).
//
//   FASTMLP_AVX2_VARIANT(void, column_sums, (const float* x, index_t n), (x, n)) { ...body... }
//
// defines column_sums(x, n) (external unless the macro is used inside an anonymous namespace);
// the body is an always-inline function, so each build compiles it for its own target.
#pragma once
#include "fastmlp/runtime.h"

#if defined(__GNUC__)
#define FASTMLP_INLINE inline __attribute__((always_inline))
#else
#define FASTMLP_INLINE inline
#endif

namespace fastmlp {
namespace detail {
// True when active_isa() is AVX2 or better (read once: active_isa() itself is fixed per process).
bool use_avx2_loops();
}  // namespace detail
}  // namespace fastmlp

#if defined(FASTMLP_HAVE_X86_KERNELS) && defined(__GNUC__)
#define FASTMLP_AVX2_VARIANT(ret, name, params, args)                                      \
  FASTMLP_INLINE ret name##_body params;                                                   \
  __attribute__((target("avx2"), noinline)) ret name##_avx2 params { return name##_body args; } \
  __attribute__((noinline)) ret name##_baseline params { return name##_body args; }        \
  ret name params {                                                                        \
    return ::fastmlp::detail::use_avx2_loops() ? name##_avx2 args : name##_baseline args;  \
  }                                                                                        \
  FASTMLP_INLINE ret name##_body params
#else
#define FASTMLP_AVX2_VARIANT(ret, name, params, args) ret name params
#endif
