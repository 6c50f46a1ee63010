// The bf16 kernel table and the choice of the kernel this process uses: the fastest one the CPU,
// the OS (XCR0; for AMX also Linux's permission, common/cpu.cpp) and FASTMLP_ISA allow, or the one
// FASTMLP_BF16_KERNEL names.
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "common/cpu.h"
#include "fastmlp/gemm_bf16.h"
#include "fastmlp/runtime.h"
#include "gemm/kernels_bf16.h"

namespace fastmlp {
namespace {

const gemm::Bf16KernelInfo* build_table() {
  static gemm::Bf16KernelInfo table[3];
  table[0] = gemm::bf16_generic_kernel_info();
#if defined(FASTMLP_HAVE_X86_KERNELS)
  table[1] = gemm::bf16_avx512_kernel_info();
  table[2] = gemm::bf16_amx_kernel_info();
#else
  table[1] = table[2] = table[0];
#endif
  return table;
}

std::string names(const std::vector<Bf16Kernel>& kernels) {
  std::string out;
  for (Bf16Kernel k : kernels) out += std::string(out.empty() ? "" : ", ") + bf16_kernel_name(k);
  return out;
}

Bf16Kernel choose() {
  const std::vector<Bf16Kernel> ok = supported_bf16_kernels();
  const char* env = std::getenv("FASTMLP_BF16_KERNEL");
  if (env == nullptr || *env == '\0') {
    // FASTMLP_ISA below avx512 forces the portable kernel: both fast ones need AVX-512
    return active_isa() == Isa::avx512 ? ok.back() : Bf16Kernel::generic;
  }
  const std::string want(env);
  for (Bf16Kernel k : {Bf16Kernel::generic, Bf16Kernel::avx512_bf16, Bf16Kernel::amx}) {
    if (want != bf16_kernel_name(k)) continue;
    for (Bf16Kernel have : ok) {
      if (have == k) return k;
    }
    throw std::invalid_argument("FASTMLP_BF16_KERNEL=" + want + " asks for a bf16 kernel this " +
                                "CPU (or OS) does not support; supported here: " + names(ok));
  }
  throw std::invalid_argument("FASTMLP_BF16_KERNEL=" + want + " is not a known bf16 kernel; " +
                              "valid values: generic, avx512_bf16, amx");
}

}  // namespace

const char* bf16_kernel_name(Bf16Kernel kernel) {
  switch (kernel) {
    case Bf16Kernel::amx: return "amx";
    case Bf16Kernel::avx512_bf16: return "avx512_bf16";
    default: return "generic";
  }
}

std::vector<Bf16Kernel> supported_bf16_kernels() {
  std::vector<Bf16Kernel> out{Bf16Kernel::generic};
  const CpuFeatures& f = cpu_features();
  if (f.avx512_bf16) out.push_back(Bf16Kernel::avx512_bf16);
  if (f.amx_bf16 && amx_tiles_permitted()) out.push_back(Bf16Kernel::amx);
  return out;
}

Bf16Kernel active_bf16_kernel() {
  // a throwing initialiser is retried on the next call, so a bad value raises every time
  static const Bf16Kernel k = choose();
  return k;
}

namespace gemm {

const Bf16KernelInfo& bf16_kernel_for(Bf16Kernel id) {
  static const Bf16KernelInfo* table = build_table();
  for (Bf16Kernel have : supported_bf16_kernels()) {
    if (have == id) return table[static_cast<int>(id)];
  }
  throw std::invalid_argument(std::string("bf16 GEMM kernel ") + bf16_kernel_name(id) +
                              " requested, but this CPU (or OS) does not support it");
}

const Bf16KernelInfo& active_bf16_kernel_info() {
  static const Bf16KernelInfo& k = bf16_kernel_for(active_bf16_kernel());
  return k;
}

}  // namespace gemm
}  // namespace fastmlp
