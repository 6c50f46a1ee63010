// The portable int8 kernel (4 x 16 tiles of signed-by-signed products summed in uint32, which
// wraps as the instructions' int32 sums do), the portable row quantizer every ISA version must
// match byte for byte, the B packer, and Keras's quantizers (fastmlp/gemm_int8.h).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "gemm/kernels_int8.h"

namespace fastmlp {
namespace gemm {
namespace {

constexpr int kMR = 4, kNR = 16;

// The quantizer's arithmetic, as the vector versions do it: a NaN never wins the max (max_ps
// keeps its second operand), min/max clamps send NaN to 127, rounding is to nearest even.
inline float abs_max(const float* x, index_t k) {
  float m = 0.0f;
  for (index_t p = 0; p < k; ++p) {
    const float ax = std::fabs(x[p]);
    m = ax > m ? ax : m;
  }
  return m;
}
inline float row_scale(float amax) { return 127.0f / (amax + 1e-7f); }
inline int quantize_one(float x, float scale) {
  float v = x * scale;
  v = v < 127.0f ? v : 127.0f;
  v = v > -127.0f ? v : -127.0f;
  return static_cast<int>(std::nearbyint(v));
}

// Stores the mr x nr corner of sums (row stride kNR) through the tile's store settings.
void store_tile(const std::uint32_t* sum, int mr, int nr, const Int8Tile& t) {
  for (int i = 0; i < mr; ++i) {
    for (int j = 0; j < nr; ++j) {
      const std::int32_t s = static_cast<std::int32_t>(
          sum[i * kNR + j] - static_cast<std::uint32_t>(t.col_comp[j]));
      if (t.c32) {
        t.c32[i * t.ldc + j] = s;
        continue;
      }
      float y = static_cast<float>(s) * (t.row_deq[i] * t.col_deq[j]);
      if (t.bias) y = y + t.bias[j];
      if (t.relu) y = y > 0.0f ? y : 0.0f;
      t.c[i * t.ldc + j] = y;
    }
  }
}

void kernel_int8_generic_4x16(index_t kp, const std::uint8_t* a, index_t lda,
                              const std::int8_t* b, int mr, int nr, const Int8Tile& t) {
  std::uint32_t sum[kMR * kNR] = {};
  for (int i = 0; i < mr; ++i) {
    const std::int8_t* ai = reinterpret_cast<const std::int8_t*>(a + i * lda);
    for (index_t g = 0; g < kp / 4; ++g) {
      const std::int8_t* bg = b + g * kNR * 4;
      for (int j = 0; j < kNR; ++j) {
        std::int32_t d = 0;
        for (int q = 0; q < 4; ++q) d += int(ai[4 * g + q]) * int(bg[4 * j + q]);
        sum[i * kNR + j] += static_cast<std::uint32_t>(d);
      }
    }
  }
  store_tile(sum, mr, nr, t);
}

}  // namespace

void quantize_rows_generic(const float* x, index_t ldx, int rows, index_t k, index_t kp,
                           int offset, std::uint8_t* dst, index_t ldd, float* row_deq) {
  for (int i = 0; i < rows; ++i) {
    const float* xi = x + i * ldx;
    const float scale = row_scale(abs_max(xi, k));
    std::uint8_t* d = dst + i * ldd;
    for (index_t p = 0; p < k; ++p) {
      d[p] = static_cast<std::uint8_t>(quantize_one(xi[p], scale) + offset);
    }
    std::memset(d + k, offset, static_cast<std::size_t>(kp - k));
    row_deq[i] = 1.0f / scale;
  }
}

void pack_b_int8(const Int8KernelInfo& kr, index_t k, index_t n, const std::int8_t* b,
                 index_t ldb, std::int8_t* dst) {
  const index_t kp = int8_kp(kr, k), nr = kr.nr;
  for (index_t s = 0; s < int8_strips(kr, n); ++s) {
    std::int8_t* strip = dst + s * kp * nr;
    std::memset(strip, 0, static_cast<std::size_t>(kp * nr));
    const index_t cols = std::min(nr, n - s * nr);
    for (index_t p = 0; p < k; ++p) {
      const std::int8_t* row = b + p * ldb + s * nr;
      std::int8_t* g = strip + (p / 4) * nr * 4 + p % 4;
      for (index_t j = 0; j < cols; ++j) g[4 * j] = row[j];
    }
  }
}

Int8KernelInfo int8_generic_kernel_info() {
  Int8KernelInfo k;
  k.id = Int8Kernel::generic;
  k.name = "int8_generic_4x16";
  k.mr = kMR;
  k.nr = kNR;
  k.kb = 4;
  k.a_offset = 0;
  k.mc = 64;
  k.kernel = kernel_int8_generic_4x16;
  k.quantize_rows = quantize_rows_generic;
  return k;
}

}  // namespace gemm

void quantize_rows_int8(index_t m, index_t k, const float* x, index_t ldx, std::int8_t* q,
                        index_t ldq, float* scale) {
  for (index_t i = 0; i < m; ++i) {
    const float s = gemm::row_scale(gemm::abs_max(x + i * ldx, k));
    for (index_t p = 0; p < k; ++p) {
      q[i * ldq + p] = static_cast<std::int8_t>(gemm::quantize_one(x[i * ldx + p], s));
    }
    scale[i] = s;
  }
}

void quantize_columns_int8(index_t k, index_t n, const float* w, index_t ldw, std::int8_t* q,
                           float* scale) {
  std::vector<float> amax(static_cast<std::size_t>(n), 0.0f);
  for (index_t p = 0; p < k; ++p) {
    for (index_t j = 0; j < n; ++j) {
      const float ax = std::fabs(w[p * ldw + j]);
      amax[j] = ax > amax[j] ? ax : amax[j];
    }
  }
  for (index_t j = 0; j < n; ++j) scale[j] = gemm::row_scale(amax[j]);
  for (index_t p = 0; p < k; ++p) {
    for (index_t j = 0; j < n; ++j) {
      q[p * n + j] = static_cast<std::int8_t>(gemm::quantize_one(w[p * ldw + j], scale[j]));
    }
  }
}

}  // namespace fastmlp
