// Bitwise fingerprint of the GEMM engine, for refactors that must not change a bit: hashes the
// outputs of ~9500 products (m, n, k over 1..40 and MLP sizes, all four layouts, alpha / beta,
// bias / ReLU / post, NaN in C with beta = 0, NaN / Inf operands, 1 and 2 threads, PackedB with
// sparse lone rows) on the kernel FASTMLP_ISA selects, one hash per group. Compare two builds:
//   for isa in generic avx2 avx512; do FASTMLP_ISA=$isa ./gemm_fingerprint; done > a.txt
// (HASH_DUMP=file also writes every output, to find which elements differ.)
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <random>
#include <vector>

#include "fastmlp/gemm.h"
#include "fastmlp/runtime.h"
#include "gemm/kernels.h"

using fastmlp::index_t;
namespace gemm = fastmlp::gemm;

static std::uint64_t fnv(std::uint64_t h, const void* p, std::size_t n) {
  const unsigned char* b = static_cast<const unsigned char*>(p);
  for (std::size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
  return h;
}

static void post_fn(float* c, index_t ldc, index_t rows, index_t cols, index_t col0, const void*) {
  for (index_t i = 0; i < rows; ++i)
    for (index_t j = 0; j < cols; ++j) c[i * ldc + j] = c[i * ldc + j] * 0.5f + float(col0 + j);
}

struct Case {
  index_t m, n, k;
};

static std::mt19937 rng(1234);
static std::vector<float> rv(std::size_t n, bool sparse) {
  std::normal_distribution<float> d;
  std::uniform_int_distribution<int> z(0, 3);
  std::vector<float> v(n);
  for (float& x : v) x = (sparse && z(rng) == 0) ? 0.0f : d(rng);
  return v;
}

static int g_calls = 0;

// One product; returns its hash. variant picks alpha/beta/epilogue.
static std::uint64_t one(const gemm::KernelInfo* kr, int threads, bool packed, Case cs, bool ta,
                         bool tb, int variant) {
  const index_t m = cs.m, n = cs.n, k = cs.k;
  const index_t lda = std::max<index_t>(ta ? m : k, 1) + (variant & 1);
  const index_t ldb = std::max<index_t>(tb ? k : n, 1) + (variant % 3 == 0 ? 0 : 3);
  const index_t ldc = std::max<index_t>(n, 1) + (variant % 2);
  const bool sparse = variant % 4 == 1;
  auto a = rv(std::size_t((ta ? k : m) * lda + 1), sparse);
  auto b = rv(std::size_t((tb ? n : k) * ldb + 1), false);
  auto bias = rv(std::size_t(n + 1), false);
  auto c = rv(std::size_t(m * ldc + 1), false);
  const float alpha = (variant % 5 == 2) ? 1.25f : 1.0f;
  const float beta = (variant % 3 == 1) ? 0.5f : (variant % 7 == 3 ? 1.0f : 0.0f);
  if (beta == 0.0f && m > 0) c[0] = __builtin_nanf("");
  if (variant % 11 == 5) {  // non-finite operands: NaN through the epilogue and ReLU
    a[a.size() / 2] = __builtin_inff();
    b[b.size() / 3] = -__builtin_inff();
    b[b.size() / 5] = __builtin_nanf("");
    for (std::size_t i = 0; i < c.size(); i += 7) c[i] = -__builtin_nanf("");  // read if beta != 0
  }
  fastmlp::Epilogue ep;
  const int e = variant % 4;
  if (e >= 1) ep.bias = bias.data();
  if (e == 2 || (e == 3 && variant % 8 == 3)) ep.relu = true;
  if (e == 3) ep.post = post_fn;
  if (packed) {
    fastmlp::PackedB pb;
    pb.pack(tb, k, n, b.data(), ldb);
    fastmlp::sgemm_packed(ta, m, alpha, a.data(), lda, pb, beta, c.data(), ldc, ep);
  } else {
    gemm::sgemm_with(*kr, threads, ta, tb, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta,
                     c.data(), ldc, ep);
  }
  ++g_calls;
  if (std::getenv("HASH_DUMP")) {
    static FILE* f = std::fopen(std::getenv("HASH_DUMP"), "wb");
    std::fwrite(c.data(), sizeof(float), c.size(), f);
  }
  return fnv(14695981039346656037ull, c.data(), c.size() * sizeof(float));
}

int main() {
  fastmlp::set_thread_adaptation(false);
  const gemm::KernelInfo& kr = gemm::kernel_for(fastmlp::active_isa());
  std::vector<Case> small, mlp;
  for (index_t m = 1; m <= 40; ++m)
    for (index_t n = 1; n <= 40; n += (m % 3) + 1) {
      const index_t ks[] = {1, 2, 3, 5, 7, 8, 9, 16, 17, 31, 33, 40, 64, 129, 300};
      small.push_back({m, n, ks[(m * 7 + n * 3) % 15]});
    }
  mlp = {{128, 128, 784}, {32, 128, 784}, {256, 256, 784}, {784, 128, 128}, {128, 784, 128},
         {784, 32, 128},  {32, 784, 128}, {128, 128, 64},  {128, 64, 128},  {64, 10, 128},
         {128, 64, 10},   {1, 128, 784},  {1, 784, 128},   {2, 300, 100},   {1, 200, 1100},
         {301, 129, 600}, {600, 200, 300}, {1000, 70, 50}, {20, 4200, 30},  {97, 1030, 513},
         {1, 10, 64},     {3, 64, 784},   {7, 256, 256},   {512, 512, 512}, {0, 5, 5},
         {5, 5, 0},       {1, 17, 1}};
  std::uint64_t total = 14695981039346656037ull;
  for (int threads : {1, 2}) {
    for (int group = 0; group < 2; ++group) {
      std::uint64_t h = 14695981039346656037ull;
      const auto& cases = group == 0 ? small : mlp;
      int variant = 0;
      for (const Case& cs : cases)
        for (int t = 0; t < 4; ++t) {
          const int reps = group == 0 ? 1 : 4;
          for (int r = 0; r < reps; ++r) {
            const std::uint64_t x = one(&kr, threads, false, cs, t & 1, t & 2, variant++);
            h = fnv(h, &x, sizeof x);
          }
        }
      std::printf("%s threads=%d %s %016llx\n", kr.name, threads, group ? "mlp" : "small",
                  static_cast<unsigned long long>(h));
      total = fnv(total, &h, sizeof h);
    }
  }
  // PackedB (active kernel, default threads), incl. lone rows and sparse A
  for (int threads : {1, 2}) {
    fastmlp::set_num_threads(threads);
    std::uint64_t h = 14695981039346656037ull;
    int variant = 0;
    const Case pcases[] = {{1, 784, 128}, {1, 128, 784}, {1, 10, 64},  {1, 129, 300},
                           {2, 128, 784}, {5, 45, 300},  {37, 45, 300}, {128, 128, 784},
                           {1, 256, 256}, {1, 512, 33},  {64, 10, 128}, {1, 1, 1}};
    for (const Case& cs : pcases)
      for (int t = 0; t < 4; ++t)
        for (int r = 0; r < 8; ++r) {
          const std::uint64_t x = one(&kr, 0, true, cs, t & 1, t & 2, variant++);
          h = fnv(h, &x, sizeof x);
        }
    std::printf("%s packed threads=%d %016llx\n", kr.name, threads,
                static_cast<unsigned long long>(h));
    total = fnv(total, &h, sizeof h);
  }
  std::printf("%s total %016llx (%d calls)\n", kr.name, static_cast<unsigned long long>(total),
              g_calls);
  return 0;
}
