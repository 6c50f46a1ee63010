// CPU detection (common/cpu.h) and the public answers built on it: the instruction sets this
// process may use, the one it uses (FASTMLP_ISA), the cache sizes the GEMM blocks for, the CPUs
// it may run on.
#include <sched.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/syscall.h>
#endif

#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/cpu.h"
#include "fastmlp/runtime.h"

#if defined(FASTMLP_HAVE_X86_KERNELS)
#include <cpuid.h>
#endif

namespace fastmlp {
namespace {

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
  const unsigned int leaf7_subleaves = eax;
  const bool avx2 = ebx & (1u << 5);
  const bool avx512f = ebx & (1u << 16), avx512dq = ebx & (1u << 17);
  const bool avx512bw = ebx & (1u << 30), avx512vl = ebx & (1u << 31);
  f.avx2 = os_avx && avx2 && fma;
  f.avx512 = f.avx2 && os_avx512 && avx512f && avx512dq && avx512bw && avx512vl;
  const bool amx_tile = edx & (1u << 24), amx_bf16 = edx & (1u << 22);
  const bool amx_int8 = edx & (1u << 25), avx512_vnni = ecx & (1u << 11);
  const bool os_amx = ((xcr0 >> 17) & 3) == 3;  // XTILECFG and XTILEDATA
  if (leaf7_subleaves >= 1) {
    __cpuid_count(7, 1, eax, ebx, ecx, edx);
    f.avx512_bf16 = f.avx512 && (eax & (1u << 5));
    f.avx_vnni = f.avx2 && (eax & (1u << 4));
  }
  f.amx_bf16 = f.avx512_bf16 && os_amx && amx_tile && amx_bf16;
  f.avx512_vnni = f.avx512 && avx512_vnni;
  f.amx_int8 = f.avx512_vnni && os_amx && amx_tile && amx_int8;
#if defined(FASTMLP_EMULATE_AVX512)
  f.avx512 = f.avx2;  // test builds: the AVX-512 kernel's intrinsics are SIMDe's portable code
  f.avx512_bf16 = f.avx2;
  f.avx512_vnni = f.avx2;
  f.avx_vnni = f.avx2;
#endif
#if defined(FASTMLP_EMULATE_AMX)
  f.amx_bf16 = f.avx512_bf16;  // test builds: the AMX kernel's tiles are plain arrays
  f.amx_int8 = f.avx512_vnni;
#endif
#endif
  return f;
}

#if defined(FASTMLP_EMULATE_AMX)
// no tile state is used: nothing to ask for
#elif defined(__linux__) && defined(SYS_arch_prctl) && defined(FASTMLP_HAVE_X86_KERNELS)
bool request_amx_permission() {
  constexpr int kGetPerm = 0x1022, kReqPerm = 0x1023;  // ARCH_GET/REQ_XCOMP_PERM
  constexpr unsigned long kTileData = 18;              // XFEATURE_XTILEDATA
  if (syscall(SYS_arch_prctl, kReqPerm, kTileData) != 0) return false;
  unsigned long mask = 0;
  if (syscall(SYS_arch_prctl, kGetPerm, &mask) != 0) return false;
  return (mask >> kTileData) & 1u;
}
#else
bool request_amx_permission() { return false; }
#endif

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
    std::string have;
    for (Isa h : ok) have += std::string(have.empty() ? "" : ", ") + isa_name(h);
    throw std::invalid_argument("FASTMLP_ISA=" + want + " asks for an instruction set this CPU " +
                                "does not support; supported here: " + have);
  }
  throw std::invalid_argument("FASTMLP_ISA=" + want + " is not a known instruction set; " +
                              "valid values: generic, avx2, avx512");
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

int cpus_allowed() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
  const int n = CPU_COUNT(&set);
  return n > 0 ? n : 1;
}

bool amx_tiles_permitted() {
#if defined(FASTMLP_EMULATE_AMX)
  return cpu_features().amx_bf16 || cpu_features().amx_int8;
#else
  static const bool permitted =
      (cpu_features().amx_bf16 || cpu_features().amx_int8) && request_amx_permission();
  return permitted;
#endif
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::avx512: return "avx512";
    case Isa::avx2: return "avx2";
    default: return "generic";
  }
}

std::vector<Isa> supported_isas() {
  std::vector<Isa> out{Isa::generic};
  if (cpu_features().avx2) out.push_back(Isa::avx2);
  if (cpu_features().avx512) out.push_back(Isa::avx512);
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

}  // namespace fastmlp
