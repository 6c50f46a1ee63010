// The AVX512-VNNI int8 kernel: tiles of up to 8 rows x 32 columns as 2 zmm accumulators per row,
// vpdpbusd of each row's 4 broadcast input bytes (unsigned: q + 128) against a 4 x 32 group of the
// B strip (signed), the correction 128 * colsum taken off at the store. Few rows (one-row
// predict) split K into independent chains so that the 5-cycle vpdpbusd latency is hidden; the
// sums are exact, so chains change no bit. Also the AVX-512 row quantizer and the store path the
// AMX kernel shares. Compiled with AVX-512 (+VNNI) flags, or on SIMDe (FASTMLP_EMULATE_AVX512).
// GCC 12 takes the _mm512_undefined_* pass-through operands of the unmasked intrinsics
// (max_ps, cvtepi32_epi8, ...) for uninitialized reads when inlining them.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#if !defined(FASTMLP_EMULATE_AVX512)  // test builds get the intrinsics from SIMDe instead:
#include <immintrin.h>                  // cpp/tests/emulated/kernel_int8_avx512_simde.cpp
#endif

#include <cstring>

#include "gemm/kernels_int8.h"
#include "gemm/kernel_int8_avx512.h"

namespace fastmlp {
namespace gemm {
namespace {

constexpr int kMR = 8, kNR = 32;
constexpr index_t kGroup = kNR * 4;  // bytes per k group of a strip

// acc[s][r][v]: chain s (k groups s, s + S, ...), row r, column half v.
template <int R, int S>
inline void vnni_rows(index_t kp, const std::uint8_t* a, index_t lda, const std::int8_t* b,
                      int nr, const Int8Tile& t) {
  __m512i acc[S][R][2];
  for (int s = 0; s < S; ++s) {
    for (int r = 0; r < R; ++r) acc[s][r][0] = acc[s][r][1] = _mm512_setzero_si512();
  }
  const index_t groups = kp / 4;
  auto step = [&](int s, index_t g) {
    const __m512i b0 = _mm512_loadu_si512(b + g * kGroup);
    const __m512i b1 = _mm512_loadu_si512(b + g * kGroup + 64);
    for (int r = 0; r < R; ++r) {
      std::int32_t word;
      std::memcpy(&word, a + r * lda + 4 * g, sizeof word);
      const __m512i x = _mm512_set1_epi32(word);
      acc[s][r][0] = _mm512_dpbusd_epi32(acc[s][r][0], x, b0);
      acc[s][r][1] = _mm512_dpbusd_epi32(acc[s][r][1], x, b1);
    }
  };
  index_t g = 0;
  for (; g + S <= groups; g += S) {
    for (int s = 0; s < S; ++s) step(s, g + s);
  }
  for (; g < groups; ++g) step(0, g);
  const Int8StoreAvx512 st(t, nr);
  for (int r = 0; r < R; ++r) {
    __m512i s0 = acc[0][r][0], s1 = acc[0][r][1];
    for (int s = 1; s < S; ++s) {
      s0 = _mm512_add_epi32(s0, acc[s][r][0]);
      s1 = _mm512_add_epi32(s1, acc[s][r][1]);
    }
    st.row(r, s0, s1);
  }
}

void kernel_int8_avx512_8x32(index_t kp, const std::uint8_t* a, index_t lda,
                             const std::int8_t* b, int mr, int nr, const Int8Tile& t) {
  switch (mr) {
    case 1: vnni_rows<1, 4>(kp, a, lda, b, nr, t); break;
    case 2: vnni_rows<2, 3>(kp, a, lda, b, nr, t); break;
    case 3: vnni_rows<3, 2>(kp, a, lda, b, nr, t); break;
    case 4: vnni_rows<4, 2>(kp, a, lda, b, nr, t); break;
    case 5: vnni_rows<5, 1>(kp, a, lda, b, nr, t); break;
    case 6: vnni_rows<6, 1>(kp, a, lda, b, nr, t); break;
    case 7: vnni_rows<7, 1>(kp, a, lda, b, nr, t); break;
    default: vnni_rows<8, 1>(kp, a, lda, b, nr, t); break;
  }
}

}  // namespace

void quantize_rows_avx512(const float* x, index_t ldx, int rows, index_t k, index_t kp,
                          int offset, std::uint8_t* dst, index_t ldd, float* row_deq) {
  const __m512 hi = _mm512_set1_ps(127.0f), lo = _mm512_set1_ps(-127.0f);
  const __m512i off = _mm512_set1_epi32(offset);
  const __m512i abs_mask = _mm512_set1_epi32(0x7fffffff);
  for (int i = 0; i < rows; ++i) {
    const float* xi = x + i * ldx;
    std::uint8_t* d = dst + i * ldd;
    __m512 m = _mm512_setzero_ps();
    index_t p = 0;
    for (; p + 16 <= k; p += 16) {
      const __m512 ax = _mm512_castsi512_ps(
          _mm512_and_si512(_mm512_castps_si512(_mm512_loadu_ps(xi + p)), abs_mask));
      m = _mm512_max_ps(ax, m);  // ax > m ? ax : m: a NaN never wins, as in the portable code
    }
    alignas(64) float lanes[16];
    _mm512_store_ps(lanes, m);
    float amax = 0.0f;
    for (float v : lanes) amax = v > amax ? v : amax;
    for (; p < k; ++p) {
      const float ax = xi[p] < 0.0f ? -xi[p] : xi[p];
      amax = ax > amax ? ax : amax;
    }
    const float scale = 127.0f / (amax + 1e-7f);
    const __m512 vs = _mm512_set1_ps(scale);
    for (p = 0; p + 16 <= k; p += 16) {
      __m512 v = _mm512_mul_ps(_mm512_loadu_ps(xi + p), vs);
      v = _mm512_max_ps(_mm512_min_ps(v, hi), lo);
      const __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(v), off);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(d + p), _mm512_cvtepi32_epi8(q));
    }
    if (p < k) {  // the tail one by one, with the same arithmetic
      std::uint8_t tail[16];
      alignas(64) float part[16];
      const index_t rest = k - p;
      std::memcpy(part, xi + p, static_cast<std::size_t>(rest) * sizeof(float));
      for (index_t j = 0; j < rest; ++j) {
        float v = part[j] * scale;
        v = v < 127.0f ? v : 127.0f;
        v = v > -127.0f ? v : -127.0f;
        tail[j] = static_cast<std::uint8_t>(_mm_cvtss_si32(_mm_set_ss(v)) + offset);
      }
      std::memcpy(d + p, tail, static_cast<std::size_t>(rest));
    }
    std::memset(d + k, offset, static_cast<std::size_t>(kp - k));
    row_deq[i] = 1.0f / scale;
  }
}

void store_int8_sums_avx512(const std::int32_t* sum, index_t ld, int mr, int nr,
                            const Int8Tile& t) {
  const Int8StoreAvx512 st(t, nr);
  for (int i = 0; i < mr; ++i) {
    st.row(i, _mm512_loadu_si512(sum + i * ld), _mm512_loadu_si512(sum + i * ld + 16));
  }
}

Int8KernelInfo int8_avx512_kernel_info() {
  Int8KernelInfo k;
  k.id = Int8Kernel::avx512_vnni;
  k.name = "int8_avx512vnni_8x32";
  k.mr = kMR;
  k.nr = kNR;
  k.kb = 4;
  k.a_offset = 128;
  k.mc = 64;
  k.kernel = kernel_int8_avx512_8x32;
  k.quantize_rows = quantize_rows_avx512;
  return k;
}

}  // namespace gemm
}  // namespace fastmlp
