// Google Benchmark microbenchmarks of the GEMM engine: the FMA peak of this core (a register-only
// FMA loop), each supported micro-kernel on L1-resident packed panels, and whole sgemm calls on
// the shapes an MLP uses. Built only when CMake finds Google Benchmark (-DFASTMLP_BUILD_BENCH=ON).
#include <benchmark/benchmark.h>

#include <vector>

#include "fastmlp/gemm.h"
#include "fastmlp/runtime.h"
#include "gemm/kernels.h"

namespace {

using fastmlp::index_t;
namespace gemm = fastmlp::gemm;

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
// 10 independent 8-wide FMA chains: enough to cover FMA latency (4-5) x 2 ports. The asm keeps
// every accumulator in a register. flops = 2 * 8 * 10 per step.
__attribute__((target("avx2,fma"))) float fma_loop(long steps) {
  typedef float v8 __attribute__((vector_size(32)));
  v8 a0 = {}, a1 = {}, a2 = {}, a3 = {}, a4 = {}, a5 = {}, a6 = {}, a7 = {}, a8 = {}, a9 = {};
  const v8 x = {1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f};
  for (long s = 0; s < steps; ++s) {
    __asm__ volatile(
        "vfmadd231ps %[x], %[x], %[a0]\n\tvfmadd231ps %[x], %[x], %[a1]\n\t"
        "vfmadd231ps %[x], %[x], %[a2]\n\tvfmadd231ps %[x], %[x], %[a3]\n\t"
        "vfmadd231ps %[x], %[x], %[a4]\n\tvfmadd231ps %[x], %[x], %[a5]\n\t"
        "vfmadd231ps %[x], %[x], %[a6]\n\tvfmadd231ps %[x], %[x], %[a7]\n\t"
        "vfmadd231ps %[x], %[x], %[a8]\n\tvfmadd231ps %[x], %[x], %[a9]"
        : [a0] "+x"(a0), [a1] "+x"(a1), [a2] "+x"(a2), [a3] "+x"(a3), [a4] "+x"(a4),
          [a5] "+x"(a5), [a6] "+x"(a6), [a7] "+x"(a7), [a8] "+x"(a8), [a9] "+x"(a9)
        : [x] "x"(x));
  }
  const v8 sum = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9;
  return sum[0];
}

bool cpu_has_avx2() {
  for (auto isa : fastmlp::supported_isas()) {
    if (isa == fastmlp::Isa::avx2) return true;
  }
  return false;
}

void BM_Avx2FmaPeak(benchmark::State& state) {
  if (!cpu_has_avx2()) {
    state.SkipWithError("no AVX2 on this CPU");
    return;
  }
  const long steps = 100000;
  for (auto _ : state) benchmark::DoNotOptimize(fma_loop(steps));
  state.counters["GFLOPS"] = benchmark::Counter(2.0 * 8 * 10 * steps * state.iterations(),
                                                benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Avx2FmaPeak);

// The 6x16 micro-kernel's instruction mix with nothing else: per k step two 32-byte loads of B,
// six broadcasts of A and twelve FMAs, all from one L1-resident line pair. The micro-kernel can
// at best match this; on a shared core it has measured anywhere from ~78% to 100% of
// BM_Avx2FmaPeak (the 32-byte loads compete with whatever runs beside it), so compare
// BM_MicroKernel with both. flops = 2 * 8 * 12 per step.
__attribute__((target("avx2,fma"))) void mix_loop(long steps, const float* a, const float* b) {
  __asm__ volatile(
      "vxorps %%ymm4, %%ymm4, %%ymm4\n\tvmovaps %%ymm4, %%ymm5\n\tvmovaps %%ymm4, %%ymm6\n\t"
      "vmovaps %%ymm4, %%ymm7\n\tvmovaps %%ymm4, %%ymm8\n\tvmovaps %%ymm4, %%ymm9\n\t"
      "vmovaps %%ymm4, %%ymm10\n\tvmovaps %%ymm4, %%ymm11\n\tvmovaps %%ymm4, %%ymm12\n\t"
      "vmovaps %%ymm4, %%ymm13\n\tvmovaps %%ymm4, %%ymm14\n\tvmovaps %%ymm4, %%ymm15\n"
      "1:\n\t"
      "vmovaps (%[b]), %%ymm0\n\tvmovaps 32(%[b]), %%ymm1\n\t"
      "vbroadcastss (%[a]), %%ymm2\n\t"
      "vfmadd231ps %%ymm0, %%ymm2, %%ymm4\n\tvfmadd231ps %%ymm1, %%ymm2, %%ymm5\n\t"
      "vbroadcastss 4(%[a]), %%ymm3\n\t"
      "vfmadd231ps %%ymm0, %%ymm3, %%ymm6\n\tvfmadd231ps %%ymm1, %%ymm3, %%ymm7\n\t"
      "vbroadcastss 8(%[a]), %%ymm2\n\t"
      "vfmadd231ps %%ymm0, %%ymm2, %%ymm8\n\tvfmadd231ps %%ymm1, %%ymm2, %%ymm9\n\t"
      "vbroadcastss 12(%[a]), %%ymm3\n\t"
      "vfmadd231ps %%ymm0, %%ymm3, %%ymm10\n\tvfmadd231ps %%ymm1, %%ymm3, %%ymm11\n\t"
      "vbroadcastss 16(%[a]), %%ymm2\n\t"
      "vfmadd231ps %%ymm0, %%ymm2, %%ymm12\n\tvfmadd231ps %%ymm1, %%ymm2, %%ymm13\n\t"
      "vbroadcastss 20(%[a]), %%ymm3\n\t"
      "vfmadd231ps %%ymm0, %%ymm3, %%ymm14\n\tvfmadd231ps %%ymm1, %%ymm3, %%ymm15\n\t"
      "dec %[n]\n\tjnz 1b"
      : [n] "+r"(steps)
      : [a] "r"(a), [b] "r"(b)
      : "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
        "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
}

void BM_Avx2KernelMix(benchmark::State& state) {
  if (!cpu_has_avx2()) {
    state.SkipWithError("no AVX2 on this CPU");
    return;
  }
  alignas(64) static const float a[16] = {}, b[16] = {};
  const long steps = 100000;
  for (auto _ : state) mix_loop(steps, a, b);
  state.counters["GFLOPS"] = benchmark::Counter(2.0 * 8 * 12 * steps * state.iterations(),
                                                benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Avx2KernelMix);
#endif

// One MR x NR micro-kernel call on packed, L1-resident panels (kc = the kernel's KC).
void BM_MicroKernel(benchmark::State& state) {
  const auto isa = static_cast<fastmlp::Isa>(state.range(0));
  bool ok = false;
  for (auto have : fastmlp::supported_isas()) ok = ok || have == isa;
  if (!ok) {
    state.SkipWithError("ISA not supported on this CPU");
    return;
  }
  const gemm::KernelInfo& kr = gemm::kernel_for(isa);
  const index_t kc = kr.kc;
  std::vector<float> a(kc * kr.mr, 0.5f), b(kc * kr.nr, 0.25f), c(kr.mr * kr.nr, 0.0f);
  const gemm::TileStore st{1.0f, 1.0f, true, nullptr, false, true};
  for (auto _ : state) {
    kr.kernel(kc, a.data(), 1, kr.mr, b.data(), kr.nr, kr.mr, kr.nr, c.data(), kr.nr, st);
    benchmark::DoNotOptimize(c.data());
  }
  state.SetLabel(kr.name);
  state.counters["GFLOPS"] = benchmark::Counter(2.0 * kr.mr * kr.nr * kc * state.iterations(),
                                                benchmark::Counter::kIsRate);
}
BENCHMARK(BM_MicroKernel)->Arg(0)->Arg(1)->Arg(2);

// A whole sgemm call, M x K x N with args (m, k, n, threads, trans_a, trans_b).
void BM_Sgemm(benchmark::State& state) {
  const index_t m = state.range(0), k = state.range(1), n = state.range(2);
  const int threads = static_cast<int>(state.range(3));
  const bool ta = state.range(4) != 0, tb = state.range(5) != 0;
  std::vector<float> a(m * k, 0.5f), b(k * n, 0.25f), c(m * n, 0.0f);
  const gemm::KernelInfo& kr = gemm::active_kernel();
  for (auto _ : state) {
    gemm::sgemm_with(kr, threads, ta, tb, m, n, k, 1.0f, a.data(), ta ? m : k, b.data(),
                     tb ? k : n, 0.0f, c.data(), n, fastmlp::Epilogue{});
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOPS"] = benchmark::Counter(2.0 * m * n * k * state.iterations(),
                                                benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Sgemm)
    ->ArgNames({"m", "k", "n", "thr", "ta", "tb"})
    ->Args({1, 784, 128, 1, 0, 0})
    ->Args({32, 784, 128, 1, 0, 0})
    ->Args({128, 784, 128, 1, 0, 0})
    ->Args({256, 784, 256, 1, 0, 0})
    ->Args({784, 128, 128, 1, 1, 0})
    ->Args({128, 128, 784, 1, 0, 1})
    ->Args({512, 512, 512, 1, 0, 0})
    ->Args({1024, 1024, 1024, 1, 0, 0})
    ->Args({8, 64, 16, 1, 0, 0})
    ->Args({128, 784, 128, 2, 0, 0})
    ->Args({512, 512, 512, 2, 0, 0});

// sgemm_packed with B (k x n) packed once outside the timed loop: the inference case.
void BM_SgemmPackedB(benchmark::State& state) {
  const index_t m = state.range(0), k = state.range(1), n = state.range(2);
  std::vector<float> a(m * k, 0.5f), b(k * n, 0.25f), c(m * n, 0.0f);
  fastmlp::PackedB packed;
  packed.pack(false, k, n, b.data(), n);
  const int threads = fastmlp::get_num_threads();
  fastmlp::set_num_threads(1);  // compare with BM_Sgemm's one-thread cases
  for (auto _ : state) {
    fastmlp::sgemm_packed(false, m, 1.0f, a.data(), k, packed, 0.0f, c.data(), n);
    benchmark::DoNotOptimize(c.data());
  }
  fastmlp::set_num_threads(threads);
  state.counters["GFLOPS"] = benchmark::Counter(2.0 * m * n * k * state.iterations(),
                                                benchmark::Counter::kIsRate);
}
BENCHMARK(BM_SgemmPackedB)->ArgNames({"m", "k", "n"})->Args({1, 784, 128})->Args({32, 784, 128});

}  // namespace

BENCHMARK_MAIN();
