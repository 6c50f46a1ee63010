// The element-wise kernels for any CPU (baseline flags; SSE2 on x86-64).
#define FASTMLP_NN_ISA generic
#include "nn/kernels/nn_kernels_impl.h"
