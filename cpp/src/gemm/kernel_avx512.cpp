// AVX-512 kernels: the 12 x 32 tile (24 zmm accumulators, two B vectors and one broadcast of A
// per step: 27 of 32 registers), the 1 x 128 row kernel, and this ISA's entry of the kernel table.
// Compiled alone with -mavx512f/bw/dq/vl; only called when cpuid and XCR0 say so.
#if !defined(FASTMLP_EMULATE_AVX512)  // test builds get the intrinsics from SIMDe instead:
#include <immintrin.h>                  // cpp/tests/emulated/kernel_avx512_simde.cpp
#endif

#include "gemm/kernels.h"
#include "gemm/row_kernel.h"
#include "gemm/tile_kernel.h"

namespace fastmlp {
namespace gemm {
namespace {

// The 16-lane zmm vector (tile_kernel.h's V), with k-masks for the edge columns.
struct Avx512 {
  using Vec = __m512;
  using Mask = __mmask16;
  static constexpr int kLanes = 16;
  // A 12-row tile has more rows than the general registers left free for row pointers.
  static constexpr bool kAdjacentA = true;
  static constexpr bool kCopiesB = false;

  static Mask mask_first(int valid) {
    if (valid <= 0) return 0;
    if (valid >= 16) return static_cast<Mask>(0xFFFF);
    return static_cast<Mask>((1u << valid) - 1u);
  }
  static Mask mask_all() { return static_cast<Mask>(0xFFFF); }
  static Vec zero() { return _mm512_setzero_ps(); }
  static Vec set1(float x) { return _mm512_set1_ps(x); }
  static Vec bcast(const float* p) { return _mm512_set1_ps(*p); }
  static Vec load(const float* p) { return _mm512_loadu_ps(p); }
  static Vec load_masked(const float* p, Mask m) { return _mm512_maskz_loadu_ps(m, p); }
  static void store(float* p, Vec v) { _mm512_storeu_ps(p, v); }
  static void store_masked(float* p, Vec v, Mask m) { _mm512_mask_storeu_ps(p, m, v); }
  static Vec fmadd(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
  static Vec mul(Vec a, Vec b) { return _mm512_mul_ps(a, b); }
  static Vec add(Vec a, Vec b) { return _mm512_add_ps(a, b); }
  // max(0, x) returns its second operand when x is NaN, so NaN propagates. The all-lanes masked
  // form avoids GCC 12's false "uninitialized" warning on _mm512_max_ps.
  static Vec max0(Vec x) {
    const Vec zero = _mm512_setzero_ps();
    return _mm512_mask_max_ps(zero, static_cast<Mask>(0xFFFF), zero, x);
  }
};

}  // namespace

KernelInfo avx512_kernel_info() {
  KernelInfo k;
  k.isa = Isa::avx512;
  k.name = "avx512_12x32";
  k.mr = 12;
  k.nr = 2 * Avx512::kLanes;
  k.kernel = tile_kernel<Avx512, 12>;
  k.row4 = row_kernel<Avx512>;
  k.copies_b = Avx512::kCopiesB;
  // AVX-512 CPUs all have AVX2: the AVX2 B packs serve both (its A pack is 6 rows high only)
  k.pack_b_rows = pack_b_rows_avx2;
  k.pack_b_trans = pack_b_trans_avx2;
  return k;
}

}  // namespace gemm
}  // namespace fastmlp
