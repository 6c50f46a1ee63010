// The AVX512-BF16 packers of the AMX and AVX512-BF16 kernels: the layouts of kernels_bf16.h
// (bitwise what pack_a_bf16 / pack_b_bf16 write; vcvtne2ps2bf16 rounds as to_bf16 does), 16
// floats per load. Where the values of one 32-bit pair word of the layout lie in two rows of the
// source (B row-major, A transposed: pairs along k) two rows are converted and interleaved; where
// they lie side by side (B transposed, A row-major) 16 rows are converted and the 16 x 16 words
// transposed. Other strides (neither unit) take the portable packers. Compiled with AVX-512 and
// AVX512-BF16 flags, or against SIMDe (cpp/tests/emulated/pack_bf16_avx512_simde.cpp).
#if !defined(FASTMLP_EMULATE_AVX512)
#include <immintrin.h>
#endif

#include <algorithm>

#include "gemm/kernels_bf16.h"

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

// 16 rows of op(A) with contiguous k (row i at src + i * rs, `rows` of them real) times 32 values
// of k from src (`valid` of them real): r[i] = row i's 16 pair words.
inline void convert_rows(const float* src, index_t rs, index_t rows, index_t valid,
                         __m512i (&r)[16]) {
  for (index_t i = 0; i < 16; ++i) {
    r[i] = i < rows ? convert32(src + i * rs, valid) : _mm512_setzero_si512();
  }
}

// A row-major (contiguous k): AMX's 32-value blocks are rows converted in place; vdpbf16ps's pair
// blocks are the transpose of 16 rows' pair words.
void pack_a_rows(const StridedMatrix& a, index_t rows, index_t kc, int mr, int kb, bf16_t* dst) {
  const index_t kp = round_up(kc, kb);
  for (index_t r0 = 0; r0 < rows; r0 += mr, dst += kp * mr) {
    const index_t h = std::min<index_t>(mr, rows - r0);
    const float* src = a.p + r0 * a.rs;
    if (kb == 32) {
      for (index_t q = 0; q < kp; q += 32) {
        bf16_t* out = dst + q * mr;
        if (q + 32 <= kc) {  // whole blocks: unmasked loads (masks cost a third of the time)
          for (index_t i = 0; i < h; ++i) {
            const float* row = src + i * a.rs + q;
            _mm512_storeu_si512(out + i * 32,
                                to_bf16x32(_mm512_loadu_ps(row + 16), _mm512_loadu_ps(row)));
          }
        } else {
          for (index_t i = 0; i < h; ++i) {
            _mm512_storeu_si512(out + i * 32, convert32(src + i * a.rs + q, kc - q));
          }
        }
        for (index_t i = h; i < mr; ++i) _mm512_storeu_si512(out + i * 32, _mm512_setzero_si512());
      }
      continue;
    }
    for (index_t i0 = 0; i0 < mr; i0 += 16) {  // kb == 2: mr rows, 16 at a time
      for (index_t q = 0; q < kp; q += 32) {
        __m512i r[16];
        convert_rows(src + i0 * a.rs + q, a.rs, h - i0, kc - q, r);
        transpose16(r);  // r[t]: pair t of the 16 rows
        const index_t pairs = std::min<index_t>(16, (kp - q) / 2);
        for (index_t t = 0; t < pairs; ++t) {
          store_words(dst + (q + 2 * t) * mr + 2 * i0, r[t], std::min<index_t>(16, mr - i0));
        }
      }
    }
  }
}

// A transposed (op(A)'s rows adjacent floats, k strided): the pairs lie in two rows of memory.
void pack_a_cols(const StridedMatrix& a, index_t rows, index_t kc, int mr, int kb, bf16_t* dst) {
  const index_t kp = round_up(kc, kb);
  const __m512 zero = _mm512_setzero_ps();
  for (index_t r0 = 0; r0 < rows; r0 += mr, dst += kp * mr) {
    for (index_t i0 = 0; i0 < mr; i0 += 16) {
      const index_t h = std::min<index_t>(rows - r0 - i0, 16);  // real rows of these 16
      const index_t width = std::min<index_t>(16, mr - i0);
      const float* src = a.p + (r0 + i0) * a.rs;
      auto pair = [&](index_t p) {
        const __m512 even = p < kc ? load16(src + p * a.cs, h) : zero;
        const __m512 odd = p + 1 < kc ? load16(src + (p + 1) * a.cs, h) : zero;
        return interleave(even, odd);  // word i: row i0 + i's pair at p
      };
      if (kb == 2) {
        for (index_t p = 0; p < kp; p += 2) store_words(dst + p * mr + 2 * i0, pair(p), width);
        continue;
      }
      for (index_t q = 0; q < kp; q += 32) {  // kb == 32: 16 rows x 16 pairs, transposed
        __m512i r[16];
        for (index_t t = 0; t < 16; ++t) r[t] = pair(q + 2 * t);
        transpose16(r);  // r[i]: row i0 + i's 32 values of this block
        for (index_t i = 0; i < width; ++i) _mm512_storeu_si512(dst + q * mr + (i0 + i) * 32, r[i]);
      }
    }
  }
}

}  // namespace

void pack_a_bf16_avx512(const StridedMatrix& a, index_t rows, index_t kc, int mr, int kb,
                        bf16_t* dst) {
  const bool layout_ok = kb == 2 || kb == 32;  // the two the kernels use
  if (layout_ok && a.cs == 1) {
    pack_a_rows(a, rows, kc, mr, kb, dst);
  } else if (layout_ok && a.rs == 1) {
    pack_a_cols(a, rows, kc, mr, kb, dst);
  } else {
    pack_a_bf16(a, rows, kc, mr, kb, dst);
  }
}

void pack_b_bf16_avx512(const StridedMatrix& b, index_t kc, index_t cols, int nr, int kb,
                        bf16_t* dst, index_t strip_stride) {
  if (nr % 16 != 0 || (b.cs != 1 && b.rs != 1)) {
    pack_b_bf16(b, kc, cols, nr, kb, dst, strip_stride);
    return;
  }
  const index_t kp = round_up(kc, kb);
  const __m512 zero = _mm512_setzero_ps();
  for (index_t j0 = 0; j0 < cols; j0 += nr, dst += strip_stride) {
    for (index_t h = 0; h < nr; h += 16) {  // 16 columns at a time: 32 values of a pair row
      const index_t w = std::min<index_t>(cols - j0 - h, 16);
      if (b.cs == 1) {  // row-major: a pair row is two rows of B interleaved
        const float* src = b.p + j0 + h;
        for (index_t p = 0; p < kp; p += 2) {
          const __m512 even = (p < kc && w > 0) ? load16(src + p * b.rs, w) : zero;
          const __m512 odd = (p + 1 < kc && w > 0) ? load16(src + (p + 1) * b.rs, w) : zero;
          _mm512_storeu_si512(dst + p * nr + 2 * h, interleave(even, odd));
        }
        continue;
      }
      // transposed: each column's pairs are adjacent floats; 16 columns x 16 pairs, transposed
      for (index_t q = 0; q < kp; q += 32) {
        __m512i r[16];
        convert_rows(b.p + (j0 + h) * b.cs + q, b.cs, std::max<index_t>(w, 0), kc - q, r);
        transpose16(r);  // r[t]: pair row (q / 2 + t) of the 16 columns
        const index_t pairs = std::min<index_t>(16, (kp - q) / 2);
        for (index_t t = 0; t < pairs; ++t) {
          _mm512_storeu_si512(dst + (q + 2 * t) * nr + 2 * h, r[t]);
        }
      }
    }
  }
}

}  // namespace gemm
}  // namespace fastmlp
