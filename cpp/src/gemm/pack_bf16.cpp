// The portable bf16 packers (layouts in kernels_bf16.h): float32 op(A) / op(B) rounded to bf16
// (to_bf16) into zero-padded panels. The ISA packers are tested against these.
#include <algorithm>

#include "gemm/kernels_bf16.h"

namespace fastmlp {
namespace gemm {

void pack_a_bf16(const StridedMatrix& a, index_t rows, index_t kc, int mr, int kb, bf16_t* dst) {
  const index_t kp = round_up(kc, kb);
  for (index_t r0 = 0; r0 < rows; r0 += mr, dst += kp * mr) {
    const index_t h = std::min<index_t>(mr, rows - r0);
    std::fill(dst, dst + kp * mr, bf16_t{0});  // padding rows and k
    for (index_t q = 0; q < kc; q += kb) {
      const index_t w = std::min<index_t>(kb, kc - q);  // real k values of this block
      bf16_t* out = dst + (q / kb) * mr * kb;
      for (index_t i = 0; i < h; ++i) {
        for (index_t t = 0; t < w; ++t) out[i * kb + t] = to_bf16(a.at(r0 + i, q + t));
      }
    }
  }
}

void pack_b_bf16(const StridedMatrix& b, index_t kc, index_t cols, int nr, int kb, bf16_t* dst,
                 index_t strip_stride) {
  const index_t kp = round_up(kc, kb);
  for (index_t j0 = 0; j0 < cols; j0 += nr, dst += strip_stride) {
    const index_t w = std::min<index_t>(nr, cols - j0);
    for (index_t p = 0; p < kp; p += 2) {
      bf16_t* out = dst + p * nr;  // pair row p / 2: NR x 2 values
      for (index_t j = 0; j < nr; ++j) {
        for (index_t s = 0; s < 2; ++s) {
          out[2 * j + s] = (j < w && p + s < kc) ? to_bf16(b.at(p + s, j0 + j)) : bf16_t{0};
        }
      }
    }
  }
}

void pack_b_bf16_planar(const StridedMatrix& b, index_t kc, index_t cols, int nr, int kb,
                        bf16_t* dst, index_t strip_stride) {
  const index_t kp = round_up(kc, kb);
  for (index_t j0 = 0; j0 < cols; j0 += nr, dst += strip_stride) {
    const index_t w = std::min<index_t>(nr, cols - j0);
    for (index_t p = 0; p < kp; p += 2) {
      bf16_t* out = dst + p * nr;  // pair row p / 2: the NR even values, then the NR odd ones
      for (index_t s = 0; s < 2; ++s) {
        for (index_t j = 0; j < nr; ++j) {
          out[s * nr + j] = (j < w && p + s < kc) ? to_bf16(b.at(p + s, j0 + j)) : bf16_t{0};
        }
      }
    }
  }
}

}  // namespace gemm
}  // namespace fastmlp
