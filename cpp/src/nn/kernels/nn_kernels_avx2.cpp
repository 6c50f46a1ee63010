// The element-wise kernels built with -mavx2 -mfma (CMakeLists.txt); run only where active_isa()
// reports AVX2 or better.
#if defined(FASTMLP_HAVE_X86_KERNELS)
#define FASTMLP_NN_ISA avx2
#include "nn/kernels/nn_kernels_impl.h"
#endif
