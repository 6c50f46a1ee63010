// The int8 kernel table and the choice of the kernel this process uses: the fastest one the CPU,
// the OS (XCR0; for AMX also Linux's permission, common/cpu.cpp) and FASTMLP_ISA allow, or the one
// FASTMLP_INT8_KERNEL names.
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "common/cpu.h"
#include "fastmlp/gemm_int8.h"
#include "fastmlp/runtime.h"
#include "gemm/kernels_int8.h"

namespace fastmlp {
namespace {

constexpr Int8Kernel kAll[] = {Int8Kernel::generic, Int8Kernel::avx2, Int8Kernel::avx_vnni,
                               Int8Kernel::avx512_vnni, Int8Kernel::amx};

const gemm::Int8KernelInfo* build_table() {
  static gemm::Int8KernelInfo table[5];
  table[0] = gemm::int8_generic_kernel_info();
#if defined(FASTMLP_HAVE_X86_KERNELS)
  table[1] = gemm::int8_avx2_kernel_info();
  table[2] = gemm::int8_avxvnni_kernel_info();
  table[3] = gemm::int8_avx512_kernel_info();
  table[4] = gemm::int8_amx_kernel_info();
#else
  table[1] = table[2] = table[3] = table[4] = table[0];
#endif
  return table;
}

std::string names(const std::vector<Int8Kernel>& kernels) {
  std::string out;
  for (Int8Kernel k : kernels) out += std::string(out.empty() ? "" : ", ") + int8_kernel_name(k);
  return out;
}

// The ISA a kernel needs from FASTMLP_ISA.
Isa needs(Int8Kernel k) {
  if (k == Int8Kernel::generic) return Isa::generic;
  return k == Int8Kernel::avx2 || k == Int8Kernel::avx_vnni ? Isa::avx2 : Isa::avx512;
}

Int8Kernel choose() {
  const std::vector<Int8Kernel> ok = supported_int8_kernels();
  const char* env = std::getenv("FASTMLP_INT8_KERNEL");
  if (env == nullptr || *env == '\0') {
    const Isa isa = active_isa();
    Int8Kernel best = Int8Kernel::generic;
    for (Int8Kernel k : ok) {
      if (static_cast<int>(needs(k)) <= static_cast<int>(isa)) best = k;
    }
    return best;
  }
  const std::string want(env);
  for (Int8Kernel k : kAll) {
    if (want != int8_kernel_name(k)) continue;
    for (Int8Kernel have : ok) {
      if (have == k) return k;
    }
    throw std::invalid_argument("FASTMLP_INT8_KERNEL=" + want + " asks for an int8 kernel this " +
                                "CPU (or OS) does not support; supported here: " + names(ok));
  }
  throw std::invalid_argument("FASTMLP_INT8_KERNEL=" + want + " is not a known int8 kernel; " +
                              "valid values: generic, avx2, avx_vnni, avx512_vnni, amx");
}

}  // namespace

const char* int8_kernel_name(Int8Kernel kernel) {
  switch (kernel) {
    case Int8Kernel::amx: return "amx";
    case Int8Kernel::avx512_vnni: return "avx512_vnni";
    case Int8Kernel::avx_vnni: return "avx_vnni";
    case Int8Kernel::avx2: return "avx2";
    default: return "generic";
  }
}

std::vector<Int8Kernel> supported_int8_kernels() {
  std::vector<Int8Kernel> out{Int8Kernel::generic};
#if defined(FASTMLP_HAVE_X86_KERNELS)
  const CpuFeatures& f = cpu_features();
  if (f.avx2) out.push_back(Int8Kernel::avx2);
  if (f.avx_vnni) out.push_back(Int8Kernel::avx_vnni);
  if (f.avx512_vnni) out.push_back(Int8Kernel::avx512_vnni);
  if (f.amx_int8 && amx_tiles_permitted()) out.push_back(Int8Kernel::amx);
#endif
  return out;
}

Int8Kernel active_int8_kernel() {
  // a throwing initialiser is retried on the next call, so a bad value raises every time
  static const Int8Kernel k = choose();
  return k;
}

namespace gemm {

const Int8KernelInfo& int8_kernel_for(Int8Kernel id) {
  static const Int8KernelInfo* table = build_table();
  for (Int8Kernel have : supported_int8_kernels()) {
    if (have == id) return table[static_cast<int>(id)];
  }
  throw std::invalid_argument(std::string("int8 GEMM kernel ") + int8_kernel_name(id) +
                              " requested, but this CPU (or OS) does not support it");
}

#if !defined(FASTMLP_HAVE_X86_KERNELS)
void int8_amx_tile_product(std::int32_t*, const std::uint8_t*, const std::int8_t*) {
  throw std::invalid_argument("int8_amx_tile_product: no AMX kernel in this build");
}
#endif

const Int8KernelInfo& active_int8_kernel_info() {
  static const Int8KernelInfo& k = int8_kernel_for(active_int8_kernel());
  return k;
}

}  // namespace gemm
}  // namespace fastmlp
