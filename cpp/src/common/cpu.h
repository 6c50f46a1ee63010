// Run-time CPU detection: what the CPU and the OS support, detected once (thread-safe) and
// cached, and the CPUs this process may run on. The public answers (isa_name, active_isa,
// supported_isas, cache_sizes in fastmlp/runtime.h) are defined in cpu.cpp on top of it; the GEMM
// and the network's element-wise kernels choose their builds from those, the thread policy
// (common/thread_policy.h) its default thread count and the CPUs its load feedback divides.
#pragma once

namespace fastmlp {

struct CpuFeatures {
  bool avx2 = false;    // AVX2 + FMA, with the OS saving the ymm state
  bool avx512 = false;  // AVX-512 F/DQ/BW/VL besides, with the OS saving the zmm and mask state
};

// Read from cpuid and XCR0 on the first call. Test builds with FASTMLP_EMULATE_AVX512 report
// AVX-512 wherever AVX2 is there (the AVX-512 GEMM kernel then runs on SIMDe's portable code).
const CpuFeatures& cpu_features();

// The CPUs in the process's affinity mask (at least 1), read on each call.
int cpus_allowed();

}  // namespace fastmlp
