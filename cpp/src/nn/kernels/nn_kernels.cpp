// Run-time choice between the builds of the element-wise kernels (nn_kernels.h) and of the
// simple loops (isa_variants.h).
#include "nn/kernels/isa_variants.h"
#include "nn/kernels/nn_kernels.h"

namespace fastmlp {
namespace detail {
namespace generic {
extern const NnKernels kNnKernels;
}
#if defined(FASTMLP_HAVE_X86_KERNELS)
namespace avx2 {
extern const NnKernels kNnKernels;
}
#endif

const NnKernels* nn_kernels_for(Isa isa) {
  if (isa == Isa::generic) return &generic::kNnKernels;
#if defined(FASTMLP_HAVE_X86_KERNELS)
  for (Isa have : supported_isas()) {
    if (have == Isa::avx2) return &avx2::kNnKernels;
  }
#endif
  return nullptr;
}

bool use_avx2_loops() {
  static const bool avx2 = active_isa() != Isa::generic;
  return avx2;
}

const NnKernels& nn_kernels() {
  // active_isa() honours FASTMLP_ISA, so FASTMLP_ISA=generic also selects these generic kernels.
  static const NnKernels* const chosen = [] {
    const NnKernels* k = nn_kernels_for(active_isa());
    return k ? k : &generic::kNnKernels;
  }();
  return *chosen;
}

}  // namespace detail
}  // namespace fastmlp
