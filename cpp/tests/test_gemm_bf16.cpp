// Plain C++ test of the bf16 GEMM (ctest): every bf16 kernel this CPU (or build) has against a
// float64 reference of the bf16-rounded operands, within the float32 accumulation bound, on edge
// shapes (0, 1, odd K, K not a multiple of 32, M/N edges of every tile, several K panels and
// units), all transposes, alpha/beta, beta == 0 with NaN in C, the epilogue (bias, ReLU, post);
// 1, 2 and 3 threads bitwise equal; PackedBBf16 bitwise equal to sgemm_bf16; argument checks.
// Numerics below the bound (rounding, packers, kernel against kernel) are test_bf16_kernels.cpp's.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

#include "check.h"
#include "fastmlp/gemm_bf16.h"
#include "gemm/kernels_bf16.h"

namespace {

using fastmlp::index_t;
namespace gemm = fastmlp::gemm;

std::vector<float> random_vec(std::size_t size, std::mt19937& rng) {
  std::normal_distribution<float> dist;
  std::vector<float> v(size);
  for (float& x : v) x = dist(rng);
  return v;
}

// Post-op: every finished element gets its column index added, once.
void add_column_index(float* c, index_t ldc, index_t rows, index_t cols, index_t col0,
                      const void*) {
  for (index_t i = 0; i < rows; ++i)
    for (index_t j = 0; j < cols; ++j) c[i * ldc + j] += static_cast<float>(col0 + j);
}

struct Case {
  index_t m, n, k;
  bool ta, tb;
  float alpha, beta;
  bool epilogue;
};

// The float64 value of op(A) op(B) on bf16-rounded operands, and the float32 accumulation bound
// of the kernels: k additions of relative error 2^-24 on sums no larger than sum |a||b|, plus the
// roundings of the store (alpha, beta * C, bias) on values no larger than theirs.
void check_case(const gemm::Bf16KernelInfo& kr, const Case& t, std::mt19937& rng) {
  const index_t lda = (t.ta ? t.m : t.k) + 3, ldb = (t.tb ? t.k : t.n) + 1, ldc = t.n + 2;
  const auto a = random_vec((t.ta ? t.k : t.m) * lda + 1, rng);
  const auto b = random_vec((t.tb ? t.n : t.k) * ldb + 1, rng);
  const auto bias = random_vec(t.n + 1, rng);
  auto c0 = random_vec(t.m * ldc + 1, rng);
  if (t.beta == 0.0f) {  // beta == 0 must not read C: NaN there must not reach the result
    for (index_t i = 0; i < t.m; ++i) c0[i * ldc] = std::numeric_limits<float>::quiet_NaN();
  }
  fastmlp::Epilogue ep;
  if (t.epilogue) {
    ep.bias = bias.data();
    ep.relu = true;
    ep.post = add_column_index;
  }
  std::vector<float> got = c0;
  gemm::sgemm_bf16_with(kr, 0, t.ta, t.tb, t.m, t.n, t.k, t.alpha, a.data(), lda, b.data(), ldb,
                        t.beta, got.data(), ldc, ep);
  const double u = std::ldexp(1.0, -24);
  bool ok = true;
  for (index_t i = 0; i < t.m && ok; ++i) {
    for (index_t j = 0; j < ldc; ++j) {
      const float g = got[i * ldc + j];
      if (j >= t.n) {  // padding of C is never written
        ok = ok && (g == c0[i * ldc + j] || (std::isnan(g) && std::isnan(c0[i * ldc + j])));
        continue;
      }
      double acc = 0.0, mag = 0.0;
      for (index_t p = 0; p < t.k; ++p) {
        const double x = gemm::round_bf16(t.ta ? a[p * lda + i] : a[i * lda + p]);
        const double y = gemm::round_bf16(t.tb ? b[j * ldb + p] : b[p * ldb + j]);
        acc += x * y;
        mag += std::fabs(x * y);
      }
      double want = t.alpha * acc, size = std::fabs(t.alpha) * mag;
      if (t.beta != 0.0f) {
        want += t.beta * static_cast<double>(c0[i * ldc + j]);
        size += std::fabs(t.beta * c0[i * ldc + j]);
      }
      if (t.epilogue) {
        want = std::max(want + bias[j], 0.0) + static_cast<double>(j);
        size += std::fabs(bias[j]) + static_cast<double>(j);
      }
      const double bound = (static_cast<double>(t.k) + 8.0) * u * size + 1e-30;
      ok = ok && std::fabs(g - want) <= bound;  // false for NaN
    }
  }
  if (!ok) {
    std::fprintf(stderr, "%s: m=%lld n=%lld k=%lld ta=%d tb=%d alpha=%g beta=%g ep=%d\n",
                 kr.name, static_cast<long long>(t.m), static_cast<long long>(t.n),
                 static_cast<long long>(t.k), t.ta, t.tb, t.alpha, t.beta, t.epilogue);
  }
  CHECK(ok);
}

void check_shapes(const gemm::Bf16KernelInfo& kr, std::mt19937& rng) {
  // rows and columns around every tile edge (MR 4, 12, 32; NR 16, 32) and K around the k steps
  // (2, 32) and past one K panel
  const index_t ms[] = {1, 4, 5, 12, 13, 16, 17, 33};
  const index_t ns[] = {1, 15, 16, 17, 33};
  const index_t ks[] = {0, 1, 2, 3, 31, 32, 33, 65, kr.kc + 1};
  for (index_t m : ms) {
    for (index_t n : ns) {
      for (index_t k : ks) {
        for (int tr = 0; tr < 4; ++tr) {
          const bool ta = tr & 1, tb = tr & 2;
          check_case(kr, {m, n, k, ta, tb, 1.0f, 0.0f, false}, rng);
          check_case(kr, {m, n, k, ta, tb, -1.25f, 0.5f, true}, rng);
        }
      }
    }
  }
  // alpha == 0 never reads A or B; several units and K panels; 2 x KC
  check_case(kr, {7, 9, 5, false, false, 0.0f, 0.5f, true}, rng);
  const index_t kc_max = std::max(kr.kc, kr.kc_big_units);  // units of either size of sums
  check_case(kr, {2 * kr.mc + 5, kr.nc + 17, 2 * kc_max + 3, false, true, 0.75f, 0.0f, true}, rng);
  check_case(kr, {kr.mc + 1, 2 * kr.nc + 1, kr.kc + 33, true, false, 1.0f, 1.0f, false}, rng);
}

// K is never split across threads and the partial sums pass between K panels unrounded: 1, 2
// and 3 threads (different unit grids, and so for AMX different K panels: one thread's units hold
// more than kBigUnitBytes of sums) give the same bits; a repeated call does not allocate.
void check_threads_bitwise(const gemm::Bf16KernelInfo& kr, std::mt19937& rng) {
  const index_t m = 600, n = 300, k = std::max(kr.kc, kr.kc_big_units) + 300;
  const auto a = random_vec(m * k, rng), b = random_vec(k * n, rng), bias = random_vec(n, rng);
  fastmlp::Epilogue ep;
  ep.bias = bias.data();
  ep.relu = true;
  auto run = [&](int threads) {
    std::vector<float> c(m * n, 1.0f);
    gemm::sgemm_bf16_with(kr, threads, false, true, m, n, k, 1.0f, a.data(), k, b.data(), k,
                          0.5f, c.data(), n, ep);
    return c;
  };
  const auto one = run(1);
  CHECK(run(2) == one);
  CHECK(run(3) == one);
  const long growths = gemm::buffer_growths();
  CHECK(run(1) == one);
  CHECK(gemm::buffer_growths() == growths);
}

// PackedBBf16 + sgemm_bf16_packed: bitwise what sgemm_bf16 gives, refillable with another shape.
void check_packed_b(std::mt19937& rng) {
  fastmlp::PackedBBf16 packed;
  for (bool tb : {false, true}) {
    for (index_t k : {index_t(1), index_t(33), index_t(700)}) {
      const index_t m = 37, n = 45;
      const auto a = random_vec(k * m, rng), b = random_vec(k * n, rng), bias = random_vec(n, rng);
      fastmlp::Epilogue ep;
      ep.bias = bias.data();
      ep.relu = true;
      for (bool ta : {false, true}) {
        std::vector<float> want(m * n), got(m * n, 3.0f);
        fastmlp::sgemm_bf16(ta, tb, m, n, k, 1.5f, a.data(), ta ? m : k, b.data(), tb ? k : n,
                            0.0f, want.data(), n, ep);
        packed.pack(tb, k, n, b.data(), tb ? k : n);
        fastmlp::sgemm_bf16_packed(ta, m, 1.5f, a.data(), ta ? m : k, packed, 0.0f, got.data(),
                                   n, ep);
        CHECK(want == got);
        CHECK(packed.k() == k && packed.n() == n);
      }
    }
  }
  fastmlp::PackedBBf16 empty;
  std::vector<float> x(4);
  CHECK_THROWS(fastmlp::sgemm_bf16_packed(false, 1, 1.0f, x.data(), 1, empty, 0.0f, x.data(), 1),
               std::invalid_argument);
}

void check_bad_arguments() {
  std::vector<float> x(16);
  CHECK_THROWS(fastmlp::sgemm_bf16(false, false, 2, 2, 4, 1.0f, x.data(), 3, x.data(), 2, 0.0f,
                                   x.data(), 2),
               std::invalid_argument);
  CHECK_THROWS(fastmlp::sgemm_bf16(false, false, -1, 2, 4, 1.0f, x.data(), 4, x.data(), 2, 0.0f,
                                   x.data(), 2),
               std::invalid_argument);
  fastmlp::PackedBBf16 packed;
  CHECK_THROWS(packed.pack(false, 4, 4, x.data(), 3), std::invalid_argument);
  // empty shapes touch nothing
  fastmlp::sgemm_bf16(false, false, 0, 3, 4, 1.0f, nullptr, 4, x.data(), 3, 0.0f, nullptr, 3);
  fastmlp::sgemm_bf16(false, false, 3, 0, 4, 1.0f, x.data(), 4, nullptr, 1, 0.0f, nullptr, 1);
}

}  // namespace

int main() {
  std::mt19937 rng(7);
  for (fastmlp::Bf16Kernel id : fastmlp::supported_bf16_kernels()) {
    const gemm::Bf16KernelInfo& kr = gemm::bf16_kernel_for(id);
    check_shapes(kr, rng);
    check_threads_bitwise(kr, rng);
    std::printf("%s (%s): checked\n", kr.name, fastmlp::bf16_kernel_name(id));
  }
  std::printf("active bf16 kernel: %s\n", fastmlp::bf16_kernel_name(fastmlp::active_bf16_kernel()));
  check_packed_b(rng);
  check_bad_arguments();
  return check::exit_code("test_gemm_bf16");
}
