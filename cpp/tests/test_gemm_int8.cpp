// The int8 GEMM (fastmlp/gemm_int8.h): every supported kernel's integer sums against a 64-bit
// reference (edges of every tile size, the saturation extremes, the longest exact K), every
// kernel's quantized float product bitwise against the portable kernel's, with the epilogue
// (bias, ReLU, post), thread counts, the quantizers, and the argument checks.
#include <cstdint>
#include <cstdio>
#include <random>
#include <stdexcept>
#include <vector>

#include "check.h"
#include "fastmlp/gemm_int8.h"
#include "gemm/kernels_int8.h"

namespace {

using fastmlp::index_t;
namespace gemm = fastmlp::gemm;

std::vector<std::int8_t> random_i8(std::size_t n, int lo, std::mt19937& rng) {
  std::uniform_int_distribution<int> d(lo, 127);
  std::vector<std::int8_t> v(n);
  for (auto& x : v) x = static_cast<std::int8_t>(d(rng));
  return v;
}

// C = A B (int32) on kernel id through a PackedBInt8 packed for it.
std::vector<std::int32_t> product(fastmlp::Int8Kernel id, int threads, index_t m, index_t n,
                                  index_t k, const std::vector<std::int8_t>& a,
                                  const std::vector<std::int8_t>& b) {
  std::vector<float> ones(static_cast<std::size_t>(n), 1.0f);
  fastmlp::PackedBInt8 packed;
  packed.pack(k, n, b.data(), n, ones.data(), id);
  std::vector<std::int32_t> c(static_cast<std::size_t>(m * n), -7);
  const fastmlp::Epilogue ep;
  gemm::Int8Call call;
  call.m = m;
  call.a8 = a.data();
  call.lda = k;
  call.c32 = c.data();
  call.ldc = n;
  call.ep = &ep;
  gemm::gemm_int8_run(gemm::int8_kernel_for(id), threads, call, packed.data(), k, n);
  return c;
}

bool exact(index_t m, index_t n, index_t k, const std::vector<std::int8_t>& a,
           const std::vector<std::int8_t>& b, const std::vector<std::int32_t>& c) {
  for (index_t i = 0; i < m; ++i) {
    for (index_t j = 0; j < n; ++j) {
      std::int64_t s = 0;
      for (index_t p = 0; p < k; ++p) s += std::int64_t(a[i * k + p]) * b[p * n + j];
      if (s != c[i * n + j]) return false;
    }
  }
  return true;
}

void check_integer_sums(fastmlp::Int8Kernel id, std::mt19937& rng) {
  const index_t shapes[][3] = {{1, 1, 1},   {1, 784, 128}, {2, 5, 3},    {3, 17, 63},
                               {4, 33, 64}, {7, 31, 65},   {8, 32, 130}, {15, 16, 4},
                               {16, 48, 1}, {17, 47, 9},   {31, 33, 200}, {33, 65, 128},
                               {65, 10, 300}, {130, 64, 40}, {5, 4, 0}};
  for (const auto& s : shapes) {
    const index_t m = s[0], n = s[1], k = s[2];
    const auto a = random_i8(static_cast<std::size_t>(m * k), -127, rng);
    const auto b = random_i8(static_cast<std::size_t>(k * n), -128, rng);
    CHECK(exact(m, n, k, a, b, product(id, 0, m, n, k, a, b)));
    CHECK(product(id, 1, m, n, k, a, b) == product(id, 2, m, n, k, a, b));
  }
  // extremes: 127 x -128 pairs (vpmaddubsw's worst pair sum), and the longest exact K
  const index_t k = fastmlp::kInt8MaxExactK, n = 17;
  std::vector<std::int8_t> a(static_cast<std::size_t>(2 * k), 127), b(static_cast<std::size_t>(k * n), -128);
  for (index_t p = 0; p < k; p += 2) a[k + p] = -127;
  const auto c = product(id, 0, 2, n, k, a, b);
  CHECK(c[0] == -127 * 128 * k);
  CHECK(exact(2, n, k, a, b, c));
}

void add_one(float* c, index_t ldc, index_t rows, index_t cols, index_t, const void*) {
  for (index_t i = 0; i < rows; ++i)
    for (index_t j = 0; j < cols; ++j) c[i * ldc + j] += 1.0f;
}

// The float product on kernel id, ldc wider than n (columns past n must stay untouched).
std::vector<float> float_product(fastmlp::Int8Kernel id, index_t m, index_t n, index_t k,
                                 const std::vector<float>& x, const std::vector<std::int8_t>& q,
                                 const std::vector<float>& scale, const fastmlp::Epilogue& ep) {
  fastmlp::PackedBInt8 packed;
  packed.pack(k, n, q.data(), n, scale.data(), id);
  std::vector<float> c(static_cast<std::size_t>(m * (n + 3)), 42.0f);
  fastmlp::gemm_int8_packed(m, x.data(), k, packed, c.data(), n + 3, ep);
  return c;
}

void check_float_products(std::mt19937& rng) {
  std::normal_distribution<float> d;
  for (const index_t m : {1, 3, 40, 300}) {
    const index_t n = 45, k = 77;
    std::vector<float> x(static_cast<std::size_t>(m * k)), w(static_cast<std::size_t>(k * n)),
        bias(static_cast<std::size_t>(n)), scale(static_cast<std::size_t>(n));
    for (float& v : x) v = d(rng);
    for (float& v : w) v = d(rng);
    for (float& v : bias) v = d(rng);
    std::vector<std::int8_t> q(w.size());
    fastmlp::quantize_columns_int8(k, n, w.data(), n, q.data(), scale.data());
    fastmlp::Epilogue ep;
    ep.bias = bias.data();
    ep.relu = true;
    ep.post = add_one;
    const auto want = float_product(fastmlp::Int8Kernel::generic, m, n, k, x, q, scale, ep);
    for (fastmlp::Int8Kernel id : fastmlp::supported_int8_kernels()) {
      CHECK(float_product(id, m, n, k, x, q, scale, ep) == want);
    }
    // against the definition: quantized rows, exact sums, dequantized, bias, ReLU, +1
    std::vector<std::int8_t> xq(x.size());
    std::vector<float> xs(static_cast<std::size_t>(m));
    fastmlp::quantize_rows_int8(m, k, x.data(), k, xq.data(), k, xs.data());
    bool ok = true;
    for (index_t i = 0; i < m; ++i) {
      for (index_t j = 0; j < n + 3; ++j) {
        const float got = want[i * (n + 3) + j];
        if (j >= n) {
          ok = ok && got == 42.0f;
          continue;
        }
        std::int64_t s = 0;
        for (index_t p = 0; p < k; ++p) s += std::int64_t(xq[i * k + p]) * q[p * n + j];
        float y = float(s) * ((1.0f / xs[i]) * (1.0f / scale[j])) + bias[j];
        y = (y > 0.0f ? y : 0.0f) + 1.0f;
        ok = ok && got == y;
      }
    }
    CHECK(ok);
  }
}

void check_quantizers() {
  const float x[] = {0.5f, -2.0f, 1.0f, 0.0f, 0.0f, 0.0f, 3.0f, -3.0f, 1.5f};
  std::int8_t q[9];
  float s[3];
  fastmlp::quantize_rows_int8(3, 3, x, 3, q, 3, s);
  CHECK(s[0] == 127.0f / (2.0f + 1e-7f));
  CHECK(q[0] == 32 && q[1] == -127 && q[2] == 64);  // 31.75 -> 32, 63.5 -> 64 (even)
  CHECK(q[3] == 0 && s[1] == 127.0f / 1e-7f);
  CHECK(q[6] == 127 && q[7] == -127 && q[8] == 64);  // 63.5 -> 64
  fastmlp::quantize_columns_int8(3, 3, x, 3, q, s);
  CHECK(s[1] == 127.0f / (3.0f + 1e-7f) && q[7] == -127 && q[1] == -85);
}

template <class F>
bool throws(F f) {
  try {
    f();
  } catch (const std::invalid_argument&) {
    return true;
  }
  return false;
}

void check_bad_arguments() {
  const std::int8_t a[] = {-128, 0}, b[] = {1, 1};
  std::int32_t c[1];
  CHECK(throws([&] { fastmlp::gemm_s8s8s32(1, 1, 2, a, 2, b, 1, c, 1); }));
  const std::int8_t ok[] = {-127, 3};
  fastmlp::gemm_s8s8s32(1, 1, 2, ok, 2, b, 1, c, 1);
  CHECK(c[0] == -124);
  fastmlp::PackedBInt8 p;
  const float zero = 0.0f;
  CHECK(throws([&] { p.pack(1, 1, b, 1, &zero); }));
  CHECK(throws([&] { p.pack(-1, 1, b, 1, &zero); }));
  float out = 0.0f;
  CHECK(throws([&] { fastmlp::gemm_int8_packed(1, &out, 1, fastmlp::PackedBInt8{}, &out, 1); }));
}

}  // namespace

int main() {
  std::mt19937 rng(11);
  for (fastmlp::Int8Kernel id : fastmlp::supported_int8_kernels()) {
    check_integer_sums(id, rng);
    std::printf("%s (%s): checked\n", gemm::int8_kernel_for(id).name, fastmlp::int8_kernel_name(id));
  }
  std::printf("active int8 kernel: %s\n", fastmlp::int8_kernel_name(fastmlp::active_int8_kernel()));
  check_float_products(rng);
  check_quantizers();
  check_bad_arguments();
  return check::exit_code("test_gemm_int8");
}
