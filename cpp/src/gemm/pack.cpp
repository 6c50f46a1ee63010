// Packing of A and B blocks into the panel layout the micro-kernels stream through, and the
// per-thread scratch buffers that hold them.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <new>

#include "gemm/kernels.h"

namespace fastmlp {
namespace gemm {
namespace {

std::atomic<long> g_growths{0};
constexpr std::size_t kAlign = 64;  // a cache line, and a full zmm vector

// kc rows of `panels` * W floats at stride rs into `panels` dense kc x W panels. Each source row
// is read in one sweep, so the whole block streams through memory in address order (reading one
// W-wide column strip at a time left the prefetchers a 64-byte read per row to follow).
template <int W>
void copy_rows(const float* src, index_t rs, index_t kc, index_t panels, float* dst) {
  for (index_t p = 0; p < kc; ++p) {
    for (index_t q = 0; q < panels; ++q) {
      for (int j = 0; j < W; ++j) dst[q * kc * W + p * W + j] = src[p * rs + q * W + j];
    }
  }
}

}  // namespace

// Panel q holds rows [q*mr, q*mr + mr) as kc steps of mr consecutive values; rows past `rows`
// are zero so the kernel can treat every panel as full.
void pack_a(const StridedMatrix& a, index_t rows, index_t kc, int mr, float* dst) {
  for (index_t r0 = 0; r0 < rows; r0 += mr) {
    const index_t h = std::min<index_t>(mr, rows - r0);
    if (a.cs == 1) {
      // rows of op(A) are contiguous: read each row once, scatter with stride mr
      for (index_t i = 0; i < h; ++i) {
        const float* src = a.p + (r0 + i) * a.rs;
        for (index_t p = 0; p < kc; ++p) dst[p * mr + i] = src[p];
      }
    } else {
      for (index_t p = 0; p < kc; ++p) {
        for (index_t i = 0; i < h; ++i) dst[p * mr + i] = a.at(r0 + i, p);
      }
    }
    for (index_t i = h; i < mr; ++i) {
      for (index_t p = 0; p < kc; ++p) dst[p * mr + i] = 0.0f;
    }
    dst += kc * mr;
  }
}

// Panel q holds columns [q*nr, q*nr + nr) as kc rows of nr values, zero-padded past `cols`.
void pack_b(const StridedMatrix& b, index_t kc, index_t cols, int nr, float* dst) {
  index_t j0 = 0;
  if (b.cs == 1 && (nr == 16 || nr == 32)) {
    // the common case: whole rows of a known width, copied as vectors (a memcpy call per
    // 64-byte row cost 10% of a 128 x 784 x 128 product)
    const index_t full = cols / nr;
    if (nr == 16) {
      copy_rows<16>(b.p, b.rs, kc, full, dst);
    } else {
      copy_rows<32>(b.p, b.rs, kc, full, dst);
    }
    j0 = full * nr;
    dst += full * kc * nr;
  }
  for (; j0 < cols; j0 += nr) {
    const index_t w = std::min<index_t>(nr, cols - j0);
    if (b.cs == 1) {
      for (index_t p = 0; p < kc; ++p) {
        for (index_t j = 0; j < w; ++j) dst[p * nr + j] = b.p[p * b.rs + j0 + j];
        for (index_t j = w; j < nr; ++j) dst[p * nr + j] = 0.0f;
      }
    } else {
      // op(B) = stored B transposed: columns of op(B) are contiguous in memory
      for (index_t j = 0; j < w; ++j) {
        const float* src = b.p + (j0 + j) * b.cs;
        for (index_t p = 0; p < kc; ++p) dst[p * nr + j] = src[p * b.rs];
      }
      for (index_t p = 0; p < kc; ++p) {
        for (index_t j = w; j < nr; ++j) dst[p * nr + j] = 0.0f;
      }
    }
    dst += kc * nr;
  }
}

void pack_a_for(const KernelInfo& kr, const StridedMatrix& a, index_t rows, index_t kc,
                float* dst) {
  if (!kr.pack_a_rows || a.cs != 1) {
    pack_a(a, rows, kc, kr.mr, dst);
    return;
  }
  for (index_t r0 = 0; r0 < rows; r0 += kr.mr, dst += kc * kr.mr) {
    const int h = static_cast<int>(std::min<index_t>(kr.mr, rows - r0));
    kr.pack_a_rows(a.p + r0 * a.rs, a.rs, kc, h, dst);
  }
}

bool all_finite(const float* p, std::size_t n) {
  std::uint32_t special = 0;  // Inf and NaN have all exponent bits set; branch-free, vectorizes
  for (std::size_t i = 0; i < n; ++i) {
    std::uint32_t u;
    std::memcpy(&u, p + i, sizeof u);
    special |= (u & 0x7f800000u) == 0x7f800000u;
  }
  return special == 0;
}

void pack_b_for(const KernelInfo& kr, const StridedMatrix& b, index_t kc, index_t cols,
                float* dst) {
  if (kr.pack_b_trans && b.rs == 1 && b.cs != 1) {
    kr.pack_b_trans(b.p, b.cs, kc, cols, kr.nr, dst);
  } else if (kr.pack_b_rows && b.cs == 1) {
    kr.pack_b_rows(b.p, b.rs, kc, cols, kr.nr, dst);
  } else {
    pack_b(b, kc, cols, kr.nr, dst);
  }
}

PackBuffer::~PackBuffer() {
  if (data_) ::operator delete(data_, std::align_val_t(kAlign));
}

float* PackBuffer::get(std::size_t floats) {
  if (floats > capacity_) {
    if (data_) ::operator delete(data_, std::align_val_t(kAlign));
    data_ = nullptr;
    capacity_ = 0;
    data_ = static_cast<float*>(::operator new(floats * sizeof(float), std::align_val_t(kAlign)));
    capacity_ = floats;
    g_growths.fetch_add(1, std::memory_order_relaxed);
  }
  return data_;
}

long buffer_growths() { return g_growths.load(std::memory_order_relaxed); }

}  // namespace gemm
}  // namespace fastmlp
