// The AVX-512 store of one row of an int8 tile's sums (32 columns as two zmm): subtract the
// correction, then the raw int32 or float(sum) * (row_deq * col_deq) + bias and ReLU, masked to
// the tile's nr columns. The operations and their order are the portable store's
// (kernel_int8_generic.cpp), so the bits are the same. Included by AVX-512 sources only.
#pragma once
#include "gemm/kernels_int8.h"

namespace fastmlp {
namespace gemm {
namespace {  // each including source compiles its own copy with its own flags

struct Int8StoreAvx512 {
  const Int8Tile& t;
  __mmask16 m0, m1;
  __m512i comp0, comp1;
  __m512 deq0, deq1, bias0, bias1;

  Int8StoreAvx512(const Int8Tile& tile, int nr) : t(tile) {
    m0 = nr >= 16 ? __mmask16(0xffff) : __mmask16((1u << nr) - 1);
    m1 = nr >= 32 ? __mmask16(0xffff) : nr > 16 ? __mmask16((1u << (nr - 16)) - 1) : 0;
    comp0 = _mm512_loadu_si512(t.col_comp);
    comp1 = _mm512_loadu_si512(t.col_comp + 16);
    if (!t.c32) {
      deq0 = _mm512_loadu_ps(t.col_deq);
      deq1 = _mm512_loadu_ps(t.col_deq + 16);
      bias0 = bias1 = _mm512_setzero_ps();
      if (t.bias) {  // the bias has only the layer's n values
        bias0 = _mm512_maskz_loadu_ps(m0, t.bias);
        bias1 = _mm512_maskz_loadu_ps(m1, t.bias + 16);
      }
    }
  }

  void row(int i, __m512i s0, __m512i s1) const {
    s0 = _mm512_sub_epi32(s0, comp0);
    s1 = _mm512_sub_epi32(s1, comp1);
    if (t.c32) {
      _mm512_mask_storeu_epi32(t.c32 + i * t.ldc, m0, s0);
      if (m1) _mm512_mask_storeu_epi32(t.c32 + i * t.ldc + 16, m1, s1);
      return;
    }
    const __m512 rd = _mm512_set1_ps(t.row_deq[i]);
    __m512 y0 = _mm512_mul_ps(_mm512_cvtepi32_ps(s0), _mm512_mul_ps(rd, deq0));
    __m512 y1 = _mm512_mul_ps(_mm512_cvtepi32_ps(s1), _mm512_mul_ps(rd, deq1));
    if (t.bias) {
      y0 = _mm512_add_ps(y0, bias0);
      y1 = _mm512_add_ps(y1, bias1);
    }
    if (t.relu) {  // y > 0 ? y : +0, as the portable store
      y0 = _mm512_max_ps(y0, _mm512_setzero_ps());
      y1 = _mm512_max_ps(y1, _mm512_setzero_ps());
    }
    _mm512_mask_storeu_ps(t.c + i * t.ldc, m0, y0);
    if (m1) _mm512_mask_storeu_ps(t.c + i * t.ldc + 16, m1, y1);
  }
};

}  // namespace
}  // namespace gemm
}  // namespace fastmlp
