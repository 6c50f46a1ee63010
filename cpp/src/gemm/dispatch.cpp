// Run-time CPU detection: which micro-kernel this process uses. Detected once, thread-safe.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "fastmlp/runtime.h"
#include "gemm/kernels.h"

#if defined(FASTMLP_HAVE_X86_KERNELS)
#include <cpuid.h>
#endif

namespace fastmlp {
namespace {

struct CpuFeatures {
  bool avx2 = false;
  bool avx512 = false;
};

#if defined(FASTMLP_HAVE_X86_KERNELS)
unsigned long long read_xcr0() {
  unsigned int eax = 0, edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<unsigned long long>(edx) << 32) | eax;
}
#endif

CpuFeatures detect() {
  CpuFeatures f;
#if defined(FASTMLP_HAVE_X86_KERNELS)
  unsigned int eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return f;
  const bool osxsave = ecx & (1u << 27);
  const bool fma = ecx & (1u << 12);
  if (!osxsave) return f;
  // The OS must save the wider registers on context switch (XCR0), not just the CPU support them.
  const unsigned long long xcr0 = read_xcr0();
  const bool os_avx = (xcr0 & 0x6) == 0x6;
  const bool os_avx512 = (xcr0 & 0xE6) == 0xE6;
  if (__get_cpuid_max(0, nullptr) < 7) return f;
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  const bool avx2 = ebx & (1u << 5);
  const bool avx512f = ebx & (1u << 16), avx512dq = ebx & (1u << 17);
  const bool avx512bw = ebx & (1u << 30), avx512vl = ebx & (1u << 31);
  f.avx2 = os_avx && avx2 && fma;
  f.avx512 = f.avx2 && os_avx512 && avx512f && avx512dq && avx512bw && avx512vl;
#if defined(FASTMLP_EMULATE_AVX512)
  f.avx512 = f.avx2;  // test builds: the AVX-512 kernel's intrinsics are SIMDe's portable code
#endif
#endif
  return f;
}

const CpuFeatures& features() {
  static const CpuFeatures f = detect();
  return f;
}

Isa choose_isa() {
  std::vector<Isa> ok = supported_isas();
  const char* env = std::getenv("FASTMLP_ISA");
  if (env == nullptr || *env == '\0') return ok.back();
  std::string want(env);
  for (Isa isa : {Isa::generic, Isa::avx2, Isa::avx512}) {
    if (want != isa_name(isa)) continue;
    for (Isa have : ok) {
      if (have == isa) return isa;
    }
    throw std::invalid_argument("FASTMLP_ISA=" + want + " asks for an instruction set this CPU " +
                                "does not support; supported here: " + [&] {
                                  std::string s;
                                  for (Isa h : ok) s += std::string(s.empty() ? "" : ", ") + isa_name(h);
                                  return s;
                                }());
  }
  throw std::invalid_argument("FASTMLP_ISA=" + want +
                              " is not a known instruction set; valid values: generic, avx2, avx512");
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::avx512: return "avx512";
    case Isa::avx2: return "avx2";
    default: return "generic";
  }
}

std::vector<Isa> supported_isas() {
  std::vector<Isa> out{Isa::generic};
  if (features().avx2) out.push_back(Isa::avx2);
  if (features().avx512) out.push_back(Isa::avx512);
  return out;
}

Isa active_isa() {
  // A function-local static initialised by a throwing call retries on the next call, so a bad
  // FASTMLP_ISA raises every time rather than once.
  static const Isa isa = choose_isa();
  return isa;
}

CacheSizes cache_sizes() {
  CacheSizes c;
  auto read = [](int name, long fallback) {
    long v = -1;
#if defined(_SC_LEVEL1_DCACHE_SIZE)
    v = sysconf(name);
#else
    (void)name;
#endif
    return v > 0 ? v : fallback;
  };
#if defined(_SC_LEVEL1_DCACHE_SIZE)
  c.l1d = read(_SC_LEVEL1_DCACHE_SIZE, c.l1d);
  c.l2 = read(_SC_LEVEL2_CACHE_SIZE, c.l2);
  c.l3 = read(_SC_LEVEL3_CACHE_SIZE, c.l3);
#else
  (void)read;
#endif
  return c;
}

// ---- kernel table ---------------------------------------------------------------------------
namespace gemm {
namespace {

// KC keeps one B micro-panel (KC x NR floats, reused by every row tile) in half of L1; MC lets
// the A block (MC x KC) take about half of L2; NC bounds the packed B panel (KC x NC) for L3.
// The blocking depends only on the CPU, never on the thread count (bitwise reproducibility).
KernelInfo with_blocksizes(KernelInfo k) {
  const CacheSizes caches = cache_sizes();
  const index_t f = static_cast<index_t>(sizeof(float));
  // A 32-wide (AVX-512) micro-panel may fill all of L1: fewer K panels mean C is read and
  // written fewer times, which costs more than B's lines falling back to L2 now and then.
  const index_t l1_share = k.nr >= 32 ? caches.l1d : caches.l1d / 2;
  k.kc = std::max<index_t>(128, std::min<index_t>(512, l1_share / (k.nr * f)) / 8 * 8);
  const index_t mc = caches.l2 / 2 / (k.kc * f);
  k.mc = std::max<index_t>(4 * k.mr, std::min<index_t>(mc, 480)) / k.mr * k.mr;
  k.nc = 4096 / k.nr * k.nr;
  return k;
}

const KernelInfo* build_table() {
  static KernelInfo table[3];
  table[0] = with_blocksizes(
      {Isa::generic, "generic_4x16", 4, 16, 0, 0, 0, kernel_generic_4x16, nullptr, nullptr});
#if defined(FASTMLP_HAVE_X86_KERNELS)
  // AVX-512 CPUs all have AVX2: the AVX2 B packs serve both (the A pack is 6-wide).
  table[1] = with_blocksizes(
      {Isa::avx2, "avx2_6x16", 6, 16, 0, 0, 0, kernel_avx2_6x16, pack_b_trans_avx2,
       pack_a_rows_avx2, kernel_avx2_row_1x64, pack_b_rows_avx2, true});
  table[2] = with_blocksizes(
      {Isa::avx512, "avx512_12x32", 12, 32, 0, 0, 0, kernel_avx512_12x32, pack_b_trans_avx2,
       nullptr, kernel_avx512_row_1x128, pack_b_rows_avx2});
#else
  table[1] = table[2] = table[0];
#endif
  return table;
}

}  // namespace

const KernelInfo& kernel_for(Isa isa) {
  static const KernelInfo* table = build_table();
  for (Isa have : supported_isas()) {
    if (have == isa) return table[static_cast<int>(isa)];
  }
  throw std::invalid_argument(std::string("GEMM kernel for ISA ") + isa_name(isa) +
                              " requested, but this CPU does not support it");
}

const KernelInfo& active_kernel() {
  static const KernelInfo& k = kernel_for(active_isa());
  return k;
}

}  // namespace gemm
}  // namespace fastmlp
