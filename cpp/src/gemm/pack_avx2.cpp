// The AVX2 packing routines (kernels.h PackBTrans, PackBRows, PackARows): B into NR-wide panels
// for the AVX2 and the AVX-512 kernels (AVX-512 CPUs all have AVX2), A into the 6 x 16 kernel's
// 6-row panels. Compiled with -mavx2 -mfma, beside kernel_avx2.cpp.
#include <immintrin.h>

#include <algorithm>

#include "gemm/kernels.h"
#include "gemm/vec_avx2.h"

namespace fastmlp {
namespace gemm {
namespace {

constexpr int kMR = 6;  // the AVX2 tile's MR (kernel_avx2.cpp), the height of its A panels

// In-register transpose of eight 8-float rows (the classic unpack / shuffle / permute sequence).
inline void transpose8(__m256 (&r)[8]) {
  __m256 t[8], u[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    u[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
    r[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
  }
}

// Eight columns of op(B) (each contiguous in memory, `cs` apart) into 8 lanes of each packed row.
void pack_b_trans_group(const float* src, index_t cs, index_t kc, int nr, float* dst) {
  index_t p = 0;
  for (; p + 8 <= kc; p += 8) {
    __m256 r[8];
    for (int t = 0; t < 8; ++t) r[t] = _mm256_loadu_ps(src + t * cs + p);
    transpose8(r);
    for (int q = 0; q < 8; ++q) _mm256_storeu_ps(dst + (p + q) * nr, r[q]);
  }
  for (; p < kc; ++p) {
    for (int t = 0; t < 8; ++t) dst[p * nr + t] = src[t * cs + p];
  }
}

}  // namespace

// op(B) stored transposed (column j of op(B) at src + j * cs, contiguous along k) into NR-wide
// zero-padded panels, 8 x 8 blocks at a time: the scalar loop cost ~15% of a dX = dY W^T product.
void pack_b_trans_avx2(const float* src, index_t cs, index_t kc, index_t cols, int nr,
                       float* dst) {
  for (index_t j0 = 0; j0 < cols; j0 += nr, dst += kc * nr) {
    const index_t w = std::min<index_t>(nr, cols - j0);
    for (index_t jj = 0; jj < nr; jj += 8) {
      if (w - jj >= 8) {
        pack_b_trans_group(src + (j0 + jj) * cs, cs, kc, nr, dst + jj);
        continue;
      }
      for (index_t p = 0; p < kc; ++p) {
        for (index_t t = 0; t < 8; ++t) {
          dst[p * nr + jj + t] = jj + t < w ? src[(j0 + jj + t) * cs + p] : 0.0f;
        }
      }
    }
  }
}

// Row-major op(B) (row p at src + p * rs) into NR-wide zero-padded panels. Each source row is
// read in one sweep across all panels, so B streams through memory in address order; the masked
// loads of the last, partial panel read nothing past `cols` and give the zero padding. The
// portable pack (no AVX in its TU) ran at ~3 bytes per cycle, a third of a small product's time.
void pack_b_rows_avx2(const float* src, index_t rs, index_t kc, index_t cols, int nr,
                      float* dst) {
  const index_t full = cols / nr, w = cols - full * nr, panel = kc * nr;
  for (index_t p = 0; p < kc; ++p) {
    const float* s = src + p * rs;
    float* d = dst + p * nr;
    for (index_t q = 0; q < full; ++q, s += nr, d += panel) {
      for (int v = 0; v < nr; v += 8) _mm256_storeu_ps(d + v, _mm256_loadu_ps(s + v));
    }
    if (w == 0) continue;
    for (int v = 0; v < nr; v += 8) {
      const __m256i m = Avx2::mask_first(static_cast<int>(w) - v).lanes;
      _mm256_storeu_ps(d + v, _mm256_maskload_ps(s + v, m));
    }
  }
}

// Row-major op(A) (row i at src + i * rs, contiguous along k) into one zero-padded kc x 6 panel.
// Two duplicate rows make an 8 x 8 transpose; each 8-float store spills 2 floats into the next
// k step, which the next store overwrites (the caller leaves 8 floats of slack after the buffer).
void pack_a_rows_avx2(const float* src, index_t rs, index_t kc, int rows, float* dst) {
  if (rows != kMR) {
    for (index_t p = 0; p < kc; ++p) {
      for (int i = 0; i < kMR; ++i) dst[p * kMR + i] = i < rows ? src[i * rs + p] : 0.0f;
    }
    return;
  }
  const float* row[8];
  for (int i = 0; i < 8; ++i) row[i] = src + std::min(i, kMR - 1) * rs;
  index_t p = 0;
  for (; p + 8 <= kc; p += 8) {
    __m256 r[8];
    for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(row[i] + p);
    transpose8(r);
    for (int q = 0; q < 8; ++q) _mm256_storeu_ps(dst + (p + q) * kMR, r[q]);
  }
  for (; p < kc; ++p) {
    for (int i = 0; i < kMR; ++i) dst[p * kMR + i] = row[i][p];
  }
}

}  // namespace gemm
}  // namespace fastmlp
