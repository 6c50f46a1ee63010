// Plain C++ test of the GEMM engine (run by ctest; exits non-zero on failure): every supported
// kernel against sgemm_reference on edge shapes, all transposes, the fused epilogue and `post`,
// NaN-safety of beta == 0, thread-count reproducibility, buffer reuse, the ISA-specific B
// packers, the row kernels against the tile kernels and argument checks.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

#include "fastmlp/gemm.h"
#include "fastmlp/runtime.h"
#include "gemm/kernels.h"

namespace {

using fastmlp::index_t;
namespace gemm = fastmlp::gemm;

int g_failures = 0;

void expect(bool ok, const char* what, index_t m, index_t n, index_t k) {
  if (!ok) {
    std::printf("FAIL %s (m=%lld n=%lld k=%lld)\n", what, static_cast<long long>(m),
                static_cast<long long>(n), static_cast<long long>(k));
    ++g_failures;
  }
}

std::vector<float> random_vec(std::size_t size, std::mt19937& rng) {
  std::normal_distribution<float> dist;
  std::vector<float> v(size);
  for (float& x : v) x = dist(rng);
  return v;
}

// Post-op used to check that `post` sees every finished element exactly once, with its column.
void add_column_index(float* c, index_t ldc, index_t rows, index_t cols, index_t col0,
                      const void*) {
  for (index_t i = 0; i < rows; ++i)
    for (index_t j = 0; j < cols; ++j) c[i * ldc + j] += static_cast<float>(col0 + j);
}

void check_shape(const gemm::KernelInfo& kr, index_t m, index_t n, index_t k, bool ta, bool tb,
                 std::mt19937& rng) {
  const index_t lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 1, ldc = n + 2;
  const auto a = random_vec((ta ? k : m) * lda + 1, rng);
  const auto b = random_vec((tb ? n : k) * ldb + 1, rng);
  const auto bias = random_vec(n + 1, rng);
  const auto c0 = random_vec(m * ldc + 1, rng);
  const float alpha = 1.25f;
  for (float beta : {0.0f, 0.5f}) {
    fastmlp::Epilogue ep;
    ep.bias = bias.data();
    ep.relu = true;
    ep.post = add_column_index;
    std::vector<float> want = c0, got = c0;
    if (beta == 0.0f) {
      for (index_t i = 0; i < m; ++i) got[i * ldc] = std::numeric_limits<float>::quiet_NaN();
    }
    fastmlp::sgemm_reference(ta, tb, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta,
                             want.data(), ldc, ep);
    gemm::sgemm_with(kr, 0, ta, tb, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta,
                     got.data(), ldc, ep);
    bool ok = true;
    for (index_t i = 0; i < m; ++i) {
      for (index_t j = 0; j < ldc; ++j) {
        const float w = want[i * ldc + j], g = got[i * ldc + j];
        const float tol = j < n ? 1e-5f * static_cast<float>(k + 2) * (1.0f + std::fabs(w)) : 0.0f;
        ok = ok && std::fabs(w - g) <= tol;  // also false for NaN, and padding must be untouched
      }
    }
    expect(ok, kr.name, m, n, k);
  }
}

void check_threads_bitwise(const gemm::KernelInfo& kr, std::mt19937& rng) {
  const index_t m = 301, n = 129, k = 600;
  const auto a = random_vec(m * k, rng), b = random_vec(k * n, rng);
  std::vector<float> c1(m * n), c2(m * n);
  auto run = [&](int threads, std::vector<float>& c) {
    gemm::sgemm_with(kr, threads, false, false, m, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f,
                     c.data(), n, {});
  };
  run(1, c1);
  run(2, c2);
  expect(c1 == c2, "1 vs 2 threads bitwise", m, n, k);
  const long growths = gemm::buffer_growths();
  run(1, c1);
  expect(gemm::buffer_growths() == growths, "no buffer growth on a repeated call", m, n, k);
}

// PackedB + sgemm_packed must give exactly what sgemm gives (same kernel, same K panels).
void check_packed_b(std::mt19937& rng) {
  for (bool tb : {false, true}) {
    const index_t m = 37, n = 45, k = 300;
    const auto a = random_vec(m * k, rng), b = random_vec(k * n, rng), bias = random_vec(n, rng);
    fastmlp::Epilogue ep;
    ep.bias = bias.data();
    ep.relu = true;
    std::vector<float> want(m * n), got(m * n);
    fastmlp::sgemm(false, tb, m, n, k, 1.0f, a.data(), k, b.data(), tb ? k : n, 0.0f,
                   want.data(), n, ep);
    fastmlp::PackedB packed;
    packed.pack(tb, k, n, b.data(), tb ? k : n);
    fastmlp::sgemm_packed(false, m, 1.0f, a.data(), k, packed, 0.0f, got.data(), n, ep);
    expect(want == got && packed.k() == k && packed.n() == n, "PackedB equals sgemm", m, n, k);
  }
}

// Each kernel's own B packers must lay out exactly what the portable pack_b does, for every NR
// they serve (the AVX2 packers also pack the AVX-512 kernel's 32-wide panels, which this CPU may
// not be able to run), including a partial last panel and a row stride wider than the block.
void check_b_packers(std::mt19937& rng) {
  const index_t kc = 37, ld = 83, max_cols = 64;
  // rows of src are k (kc rows) for B, or columns of op(B) (max_cols rows) for the transpose
  const auto src = random_vec((std::max(kc, max_cols) + 1) * ld, rng);
  for (fastmlp::Isa isa : fastmlp::supported_isas()) {
    const gemm::KernelInfo& kr = gemm::kernel_for(isa);
    for (int nr : {16, 32}) {
      for (index_t cols : {index_t(1), index_t(8), index_t(16), index_t(45), max_cols}) {
        const std::size_t size = static_cast<std::size_t>(kc * ((cols + nr - 1) / nr) * nr);
        std::vector<float> want(size, -1.0f), got(size, -2.0f), got_t(size, -3.0f);
        gemm::pack_b({src.data(), ld, 1}, kc, cols, nr, want.data());
        if (kr.pack_b_rows) {
          kr.pack_b_rows(src.data(), ld, kc, cols, nr, got.data());
          expect(got == want, "pack_b_rows equals pack_b", nr, cols, kc);
        }
        if (kr.pack_b_trans) {  // op(B) = src^T: column j of op(B) is row j of src
          std::vector<float> want_t(size, -4.0f);
          gemm::pack_b({src.data(), 1, ld}, kc, cols, nr, want_t.data());
          kr.pack_b_trans(src.data(), ld, kc, cols, nr, got_t.data());
          expect(got_t == want_t, "pack_b_trans equals pack_b", nr, cols, kc);
        }
      }
    }
  }
}

// The small driver runs a lone row through the row kernel and a row of a block through the tile
// kernel: both must give the same bits, also when the row kernel skips A's zeros (B finite) and
// for a row of zeros only (the sum's sign), over packed panels and over B read in place.
void check_row_kernel_equals_tiles(std::mt19937& rng) {
  for (fastmlp::Isa isa : fastmlp::supported_isas()) {
    const gemm::KernelInfo& kr = gemm::kernel_for(isa);
    if (!kr.row4) continue;
    const index_t width = 4 * kr.nr;
    for (index_t k : {index_t(1), index_t(7), index_t(300)}) {
      for (int zeros : {0, 1, 2}) {  // none, every 3rd (or -0.0), all
        auto a = random_vec(static_cast<std::size_t>(k), rng);
        for (index_t p = 0; p < k; ++p) {
          if (zeros == 2 || (zeros == 1 && p % 3 == 0)) a[p] = p % 2 ? -0.0f : 0.0f;
        }
        const auto b = random_vec(static_cast<std::size_t>(k * width), rng);  // k x width, in place
        std::vector<float> packed(b.size());
        gemm::pack_b({b.data(), width, 1}, k, width, kr.nr, packed.data());
        const auto bias = random_vec(static_cast<std::size_t>(width), rng);
        const auto c0 = random_vec(static_cast<std::size_t>(width), rng);
        for (bool in_place : {false, true}) {
          gemm::TileStore st{-1.5f, 0.5f, true, bias.data(), true, !in_place};
          st.b_finite = true;
          const float* bp = in_place ? b.data() : packed.data();
          const index_t rsb = in_place ? width : kr.nr, step = in_place ? kr.nr : k * kr.nr;
          std::vector<float> row = c0, tiles = c0;
          kr.row4(k, a.data(), 1, bp, rsb, step, row.data(), st);
          for (index_t q = 0; q < 4; ++q) {
            gemm::TileStore tq = st;
            tq.bias = bias.data() + q * kr.nr;
            kr.kernel(k, a.data(), k, 1, bp + q * step, rsb, 1, kr.nr, tiles.data() + q * kr.nr,
                      width, tq);
          }
          bool same = true;
          for (index_t j = 0; j < width; ++j) {
            same = same && std::signbit(row[j]) == std::signbit(tiles[j]) &&
                   (row[j] == tiles[j] || (std::isnan(row[j]) && std::isnan(tiles[j])));
          }
          expect(same, "row kernel equals the tile kernel bitwise", 1, width, k);
        }
      }
    }
  }
}

void check_bad_arguments() {
  std::vector<float> x(16);
  bool threw = false;
  try {
    fastmlp::sgemm(false, false, 2, 2, 4, 1.0f, x.data(), 3, x.data(), 2, 0.0f, x.data(), 2);
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  expect(threw, "lda < k must throw invalid_argument", 2, 2, 4);
}

}  // namespace

int main() {
  std::mt19937 rng(42);
  const index_t sizes[] = {1, 2, 5, 6, 7, 12, 13, 16, 17, 31, 33, 61};
  for (fastmlp::Isa isa : fastmlp::supported_isas()) {
    const gemm::KernelInfo& kr = gemm::kernel_for(isa);
    for (index_t m : sizes) {
      // every count of 1-8 valid lanes in an edge tile's halves (the stores write them piecewise)
      for (index_t n : {1, 3, 10, 12, 13, 15, 16, 17, 22, 40}) {
        for (index_t k : {index_t(0), index_t(1), index_t(7), kr.kc + 1}) {
          for (int t = 0; t < 4; ++t) check_shape(kr, m, n, k, t & 1, t & 2, rng);
        }
      }
    }
    check_threads_bitwise(kr, rng);
    std::printf("%s: checked\n", kr.name);
  }
  check_packed_b(rng);
  check_b_packers(rng);
  check_row_kernel_equals_tiles(rng);
  check_bad_arguments();
  if (g_failures) std::printf("%d failures\n", g_failures);
  return g_failures ? 1 : 0;
}
