// AVX512-BF16 building blocks of the bf16 packers (pack_bf16_avx512.cpp) and of the AMX kernel's
// fused packing of A: masked 16-float loads, rounding to bf16 (vcvtne2ps2bf16, bitwise to_bf16),
// pair interleaving and the 16 x 16 transpose of 32-bit words. Include after the intrinsics, from
// translation units built with AVX-512 and AVX512-BF16 flags; internal linkage keeps each copy
// its own.
#pragma once
#include "gemm/bf16.h"
#include "gemm/kernels.h"

namespace fastmlp {
namespace gemm {
namespace {

inline __mmask16 first_lanes(index_t valid) {
  if (valid <= 0) return 0;
  if (valid >= 16) return static_cast<__mmask16>(0xFFFF);
  return static_cast<__mmask16>((1u << valid) - 1u);
}

// The `valid` (0..16) floats at p, zero past them (never read).
inline __m512 load16(const float* p, index_t valid) {
  return _mm512_maskz_loadu_ps(first_lanes(valid), p);
}

// lo then hi rounded to 32 bf16 (vcvtne2ps2bf16; SIMDe 0.7 lacks it: to_bf16 is the same).
inline __m512i to_bf16x32(__m512 hi, __m512 lo) {
#if defined(FASTMLP_EMULATE_AVX512)
  alignas(64) float f[32];
  alignas(64) bf16_t h[32];
  _mm512_storeu_ps(f, lo);
  _mm512_storeu_ps(f + 16, hi);
  for (int i = 0; i < 32; ++i) h[i] = to_bf16(f[i]);
  return _mm512_loadu_si512(h);
#else
  return (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
#endif
}

// 32 floats (the first `valid` of them read) as 32 bf16 in order: 16 pair words.
inline __m512i convert32(const float* p, index_t valid) {
  return to_bf16x32(load16(p + 16, valid - 16), load16(p, valid));
}

// Word j = (even[j], odd[j]) as bf16: the pairs of two rows of 16 values.
inline __m512i interleave(__m512 even, __m512 odd) {
  const __m512i both = to_bf16x32(odd, even);  // even in the low half
  const __m512i order = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9,
                                         24, 8, 23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1,
                                         16, 0);
  return _mm512_permutexvar_epi16(order, both);
}

// The shuffles as all-lanes masked forms: the plain ones pass _mm512_undefined_epi32() as the
// merge source, which GCC 12 reports as maybe uninitialized.
constexpr __mmask16 kAll = 0xFFFF;
inline __m512i unpacklo32(__m512i a, __m512i b) {
  return _mm512_mask_unpacklo_epi32(a, kAll, a, b);
}
inline __m512i unpackhi32(__m512i a, __m512i b) {
  return _mm512_mask_unpackhi_epi32(a, kAll, a, b);
}
inline __m512i unpacklo64(__m512i a, __m512i b) {
  return _mm512_mask_unpacklo_epi64(a, 0xFF, a, b);
}
inline __m512i unpackhi64(__m512i a, __m512i b) {
  return _mm512_mask_unpackhi_epi64(a, 0xFF, a, b);
}
template <int kImm>
inline __m512i blocks(__m512i a, __m512i b) {
#if defined(FASTMLP_EMULATE_AVX512)  // SIMDe 0.7 has only the plain form
  return _mm512_shuffle_i32x4(a, b, kImm);
#else
  return _mm512_mask_shuffle_i32x4(a, kAll, a, b, kImm);
#endif
}

// r[i] word j becomes r[j] word i.
inline void transpose16(__m512i (&r)[16]) {
  __m512i t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = unpacklo32(r[i], r[i + 1]);
    t[i + 1] = unpackhi32(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    r[i] = unpacklo64(t[i], t[i + 2]);
    r[i + 1] = unpackhi64(t[i], t[i + 2]);
    r[i + 2] = unpacklo64(t[i + 1], t[i + 3]);
    r[i + 3] = unpackhi64(t[i + 1], t[i + 3]);
  }
  // each 128-bit lane now holds a 4 x 4 block in place; move the blocks
  for (int i = 0; i < 4; ++i) {
    t[i] = blocks<0x88>(r[i], r[i + 4]);
    t[i + 4] = blocks<0xdd>(r[i], r[i + 4]);
    t[i + 8] = blocks<0x88>(r[i + 8], r[i + 12]);
    t[i + 12] = blocks<0xdd>(r[i + 8], r[i + 12]);
  }
  for (int i = 0; i < 8; ++i) {
    r[i] = blocks<0x88>(t[i], t[i + 8]);
    r[i + 8] = blocks<0xdd>(t[i], t[i + 8]);
  }
}

// The first `words` (0..16) 32-bit words of v to p.
inline void store_words(bf16_t* p, __m512i v, index_t words) {
  _mm512_mask_storeu_ps(p, first_lanes(words), _mm512_castsi512_ps(v));
}

}  // namespace
}  // namespace gemm
}  // namespace fastmlp
