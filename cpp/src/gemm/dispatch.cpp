// The kernel table: each ISA's micro-kernel with blocksizes derived from this CPU's caches, and
// the choice of the one this process uses (active_isa(), common/cpu.cpp).
#include <algorithm>
#include <stdexcept>
#include <string>

#include "fastmlp/runtime.h"
#include "gemm/kernels.h"

namespace fastmlp {
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
  table[0] = with_blocksizes(generic_kernel_info());
#if defined(FASTMLP_HAVE_X86_KERNELS)
  table[1] = with_blocksizes(avx2_kernel_info());
  table[2] = with_blocksizes(avx512_kernel_info());
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
