// The int8 GEMM entry points (PackedBInt8, gemm_int8_packed, gemm_s8s8s32) and their driver: C is
// cut into units of up to MC rows x a run of B strips; a unit quantizes its rows once into packed
// A (the kernel's quantizer), then runs the strips outer and the MR-row tiles inner, so one strip
// of B stays in L1 while the unit's tiles pass over it. K is never split: each tile's sums are
// the kernel's exact int32 sums over all of K, so threads, units and kernels change no bit.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>

#include "common/thread_policy.h"
#include "common/thread_team.h"
#include "gemm/kernels.h"
#include "gemm/kernels_int8.h"

namespace fastmlp {
namespace gemm {
namespace {

index_t ceil_div(index_t x, index_t y) { return (x + y - 1) / y; }

struct Int8Team {
  const Int8KernelInfo* kr;
  const Int8Call* call;
  index_t k, n, kp, strips;
  const std::int8_t* b;
  const float* col_deq;
  const std::int32_t* col_comp;
  index_t rows, strips_per_unit, mu, nu;
  std::atomic<index_t> next{0};
};

struct Int8Buffers {
  PackBuffer a;       // the unit's quantized rows
  PackBuffer row_deq;
};
Int8Buffers& buffers() {
  thread_local Int8Buffers b;
  return b;
}

void run_unit(const Int8Team& t, index_t i0, index_t rows, index_t s0, index_t s1) {
  const Int8KernelInfo& kr = *t.kr;
  const Int8Call& call = *t.call;
  const index_t tiles = ceil_div(rows, kr.mr);
  Int8Buffers& buf = buffers();
  const std::size_t a_bytes = static_cast<std::size_t>(tiles * kr.mr * t.kp);
  auto* a = reinterpret_cast<std::uint8_t*>(buf.a.get((a_bytes + 3) / 4 + 1));
  float* row_deq = buf.row_deq.get(static_cast<std::size_t>(tiles * kr.mr));
  if (call.a) {
    kr.quantize_rows(call.a + i0 * call.lda, call.lda, static_cast<int>(rows), t.k, t.kp,
                     kr.a_offset, a, t.kp, row_deq);
  } else {
    for (index_t i = 0; i < rows; ++i) {
      const std::int8_t* src = call.a8 + (i0 + i) * call.lda;
      std::uint8_t* d = a + i * t.kp;
      for (index_t p = 0; p < t.k; ++p) d[p] = static_cast<std::uint8_t>(src[p] + kr.a_offset);
      std::memset(d + t.k, kr.a_offset, static_cast<std::size_t>(t.kp - t.k));
    }
  }
  // rows past the data in the last tile are read (AMX loads 16) but never stored
  std::memset(a + rows * t.kp, kr.a_offset, a_bytes - static_cast<std::size_t>(rows * t.kp));
  const Epilogue& ep = *call.ep;
  for (index_t s = s0; s < s1; ++s) {
    const index_t j0 = s * kr.nr;
    const int nr = static_cast<int>(std::min<index_t>(kr.nr, t.n - j0));
    const std::int8_t* strip = t.b + s * t.kp * kr.nr;
    Int8Tile tile;
    tile.col_deq = t.col_deq + j0;
    tile.col_comp = t.col_comp + j0;
    tile.bias = ep.bias ? ep.bias + j0 : nullptr;
    tile.relu = ep.relu;
    tile.ldc = call.ldc;
    for (index_t it = 0; it < tiles; ++it) {
      const index_t r0 = it * kr.mr;
      const int mr = static_cast<int>(std::min<index_t>(kr.mr, rows - r0));
      if (call.c32) {
        tile.c32 = call.c32 + (i0 + r0) * call.ldc + j0;
      } else {
        tile.c = call.c + (i0 + r0) * call.ldc + j0;
      }
      tile.row_deq = row_deq + r0;
      const Int8MicroKernel kernel = mr < kr.small_rows ? kr.small_kernel : kr.kernel;
      kernel(t.kp, a + r0 * t.kp, t.kp, strip, mr, nr, tile);
    }
  }
  if (ep.post && call.c) {
    const index_t j0 = s0 * kr.nr, cols = std::min(s1 * kr.nr, t.n) - j0;
    ep.post(call.c + i0 * call.ldc + j0, call.ldc, rows, cols, j0, ep.post_ctx);
  }
}

void work(Int8Team& t) {
  if (t.kr->prepare_thread) t.kr->prepare_thread();
  const index_t total = t.mu * t.nu;
  for (index_t q = t.next.fetch_add(1); q < total; q = t.next.fetch_add(1)) {
    const index_t i0 = (q % t.mu) * t.rows, s0 = (q / t.mu) * t.strips_per_unit;
    run_unit(t, i0, std::min(t.rows, t.call->m - i0), s0,
             std::min(t.strips, s0 + t.strips_per_unit));
  }
}

}  // namespace

std::size_t int8_packed_strip_bytes(const Int8KernelInfo& kr, index_t k, index_t n) {
  const std::size_t bytes = static_cast<std::size_t>(int8_strips(kr, n) * int8_kp(kr, k) * kr.nr);
  return (bytes + 63) / 64 * 64;
}

std::size_t int8_packed_bytes(const Int8KernelInfo& kr, index_t k, index_t n) {
  const std::size_t cols = static_cast<std::size_t>(int8_strips(kr, n) * kr.nr);
  return int8_packed_strip_bytes(kr, k, n) + cols * (sizeof(float) + sizeof(std::int32_t));
}

void gemm_int8_run(const Int8KernelInfo& kr, int threads, const Int8Call& call,
                   const unsigned char* packed_b, index_t k, index_t n) {
  if (call.m == 0 || n == 0) return;
  Int8Team t;
  t.kr = &kr;
  t.call = &call;
  t.k = k;
  t.n = n;
  t.kp = int8_kp(kr, k);
  t.strips = int8_strips(kr, n);
  t.b = reinterpret_cast<const std::int8_t*>(packed_b);
  t.col_deq = reinterpret_cast<const float*>(packed_b + int8_packed_strip_bytes(kr, k, n));
  t.col_comp = reinterpret_cast<const std::int32_t*>(t.col_deq + t.strips * kr.nr);
  t.rows = std::min(kr.mc, ceil_div(call.m, kr.mr) * kr.mr);
  t.mu = ceil_div(call.m, t.rows);
  // int8 products run at about 4x (VNNI) to 16x (AMX) the fp32 rate: the policy is asked about
  // the fp32 work they are worth, a quarter of their multiply-adds
  const double flops = 0.5 * double(call.m) * double(n) * double(k);
  const double parts = double(t.mu * t.strips);
  const int want = threads > 0 ? ThreadPolicy::table(WorkKind::gemm, flops, parts, threads)
                               : thread_policy().threads_for(WorkKind::gemm, flops, parts);
  // more threads than row units: cut the strips too, about 4 units per thread
  t.nu = want > 1 && t.mu < 4 * want ? std::min(t.strips, ceil_div(4 * want, t.mu)) : 1;
  t.strips_per_unit = ceil_div(t.strips, t.nu);
  t.nu = ceil_div(t.strips, t.strips_per_unit);
  if (want > 1 && t.mu * t.nu > 1) {
    auto body = [&](int, int) { work(t); };
    detail::run_team(want, body);
    return;
  }
  work(t);
}

}  // namespace gemm

void PackedBInt8::Free::operator()(unsigned char* p) const {
  ::operator delete(p, std::align_val_t(64));
}

void PackedBInt8::pack(index_t k, index_t n, const std::int8_t* b, index_t ldb,
                       const float* scale) {
  pack(k, n, b, ldb, scale, active_int8_kernel());
}

void PackedBInt8::pack(index_t k, index_t n, const std::int8_t* b, index_t ldb,
                       const float* scale, Int8Kernel kernel) {
  if (k < 0 || n < 0 || (k > 0 && n > 0 && (b == nullptr || ldb < n)) ||
      (n > 0 && scale == nullptr)) {
    throw std::invalid_argument("PackedBInt8::pack: invalid sizes (k=" + std::to_string(k) +
                                ", n=" + std::to_string(n) + ", ldb=" + std::to_string(ldb) +
                                ") or a null pointer");
  }
  for (index_t j = 0; j < n; ++j) {
    if (!(scale[j] > 0.0f) || !(scale[j] < 3.4e38f)) {
      throw std::invalid_argument("PackedBInt8::pack: scale[" + std::to_string(j) + "] = " +
                                  std::to_string(scale[j]) +
                                  " is not a positive finite float32");
    }
  }
  const gemm::Int8KernelInfo& kr = gemm::int8_kernel_for(kernel);
  const std::size_t need = gemm::int8_packed_bytes(kr, k, n) + 64;
  if (need > capacity_) {
    data_.reset(static_cast<unsigned char*>(::operator new(need, std::align_val_t(64))));
    capacity_ = need;
  }
  k_ = k;
  n_ = n;
  kernel_ = kernel;
  auto* strips = reinterpret_cast<std::int8_t*>(data_.get());
  if (k > 0 && n > 0) gemm::pack_b_int8(kr, k, n, b, ldb, strips);
  const index_t cols = gemm::int8_strips(kr, n) * kr.nr;
  auto* deq = reinterpret_cast<float*>(data_.get() + gemm::int8_packed_strip_bytes(kr, k, n));
  auto* comp = reinterpret_cast<std::int32_t*>(deq + cols);
  for (index_t j = 0; j < cols; ++j) {
    deq[j] = j < n ? 1.0f / scale[j] : 0.0f;
    std::int32_t sum = 0;
    for (index_t p = 0; j < n && p < k; ++p) sum += b[p * ldb + j];
    // |sum| <= 128 K: with K <= kInt8MaxExactK this fits; beyond, it wraps as the sums do
    comp[j] = static_cast<std::int32_t>(static_cast<std::uint32_t>(sum) *
                                        static_cast<std::uint32_t>(kr.a_offset));
  }
}

void gemm_int8_packed(index_t m, const float* a, index_t lda, const PackedBInt8& b, float* c,
                      index_t ldc, const Epilogue& ep) {
  if (b.empty()) throw std::invalid_argument("gemm_int8_packed: B was not packed");
  if (m < 0 || (m > 0 && b.k() > 0 && (a == nullptr || lda < b.k())) ||
      (m > 0 && b.n() > 0 && (c == nullptr || ldc < b.n()))) {
    throw std::invalid_argument("gemm_int8_packed: invalid sizes (m=" + std::to_string(m) +
                                ", lda=" + std::to_string(lda) + ", ldc=" +
                                std::to_string(ldc) + ") or a null pointer");
  }
  gemm::Int8Call call;
  call.m = m;
  call.a = a;
  call.lda = lda;
  call.c = c;
  call.ldc = ldc;
  call.ep = &ep;
  gemm::gemm_int8_run(gemm::int8_kernel_for(b.kernel()), 0, call, b.data(), b.k(), b.n());
}

void gemm_s8s8s32(index_t m, index_t n, index_t k, const std::int8_t* a, index_t lda,
                  const std::int8_t* b, index_t ldb, std::int32_t* c, index_t ldc) {
  if (m < 0 || n < 0 || k < 0 || (m > 0 && k > 0 && lda < k) || (k > 0 && n > 0 && ldb < n) ||
      (m > 0 && n > 0 && ldc < n)) {
    throw std::invalid_argument("gemm_s8s8s32: invalid sizes or leading dimensions");
  }
  for (index_t i = 0; i < m; ++i) {
    for (index_t p = 0; p < k; ++p) {
      if (a[i * lda + p] == -128) {
        throw std::invalid_argument("gemm_s8s8s32: A(" + std::to_string(i) + ", " +
                                    std::to_string(p) + ") = -128; A must lie in [-127, 127] "
                                    "(what quantize_rows_int8 gives)");
      }
    }
  }
  std::vector<float> ones(static_cast<std::size_t>(n), 1.0f);
  PackedBInt8 packed;
  packed.pack(k, n, b, ldb, ones.data());
  const Epilogue ep;
  gemm::Int8Call call;
  call.m = m;
  call.a8 = a;
  call.lda = lda;
  call.c32 = c;
  call.ldc = ldc;
  call.ep = &ep;
  gemm::gemm_int8_run(gemm::int8_kernel_for(packed.kernel()), 0, call, packed.data(), k, n);
}

}  // namespace fastmlp
