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
  bool avx512_bf16 = false;  // AVX512-BF16 (vdpbf16ps, vcvtne2ps2bf16) besides
  bool amx_bf16 = false;     // AMX-TILE + AMX-BF16 with the OS managing the tile state (XCR0)
  bool avx_vnni = false;     // AVX-VNNI (256-bit vpdpbusd) besides AVX2
  bool avx512_vnni = false;  // AVX512-VNNI besides AVX-512
  bool amx_int8 = false;     // AMX-TILE + AMX-INT8 (tdpbusd) besides AVX512-VNNI, OS-managed
};

// Read from cpuid and XCR0 on the first call. Test builds with FASTMLP_EMULATE_AVX512 report
// AVX-512 and AVX512-BF16 wherever AVX2 is there (the AVX-512 kernels then run on SIMDe's portable
// code); builds with FASTMLP_EMULATE_AMX report AMX wherever AVX512-BF16 is (the AMX kernel then
// runs on emulated tiles, gemm/amx_tiles.h); the int8 features likewise (AVX-VNNI and
// AVX512-VNNI with AVX2, AMX-INT8 with AVX512-VNNI).
const CpuFeatures& cpu_features();

// The CPUs in the process's affinity mask (at least 1), read on each call.
int cpus_allowed();

// Whether this process may use the AMX tile data: Linux grants it only on request
// (arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)), asked on the first call and never again;
// the answer is the permission mask ARCH_GET_XCOMP_PERM then reports. False without AMX, and on
// a refusal (an old kernel, a seccomp filter, a too small signal stack): the bf16 GEMM then uses
// the next kernel. True in FASTMLP_EMULATE_AMX builds (no tile state is used).
bool amx_tiles_permitted();

}  // namespace fastmlp
