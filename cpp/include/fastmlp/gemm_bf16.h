// fastmlp bf16 GEMM: C = alpha * op(A) @ op(B) + beta * C with A and B rounded to bfloat16 and
// products summed in float32 (mixed precision). Operands and C are float32 in memory, row-major.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "fastmlp/gemm.h"

namespace fastmlp {

// The bf16 kernels, fastest first: AMX tiles (tdpbf16ps), AVX512-BF16 (vdpbf16ps), portable C++.
// All round A and B to bf16 the same way and sum in float32; they differ only in the order of the
// sums (AMX adds 32 products at a time as two interleaved chains; the others one pair at a time).
enum class Bf16Kernel { generic = 0, avx512_bf16 = 1, amx = 2 };

// "generic", "avx512_bf16" or "amx".
const char* bf16_kernel_name(Bf16Kernel kernel);
// The kernel sgemm_bf16 uses: FASTMLP_BF16_KERNEL (read once) if set, else the fastest one this
// CPU, the OS and FASTMLP_ISA allow (AVX512-BF16 and AMX need FASTMLP_ISA to allow avx512; AMX
// also Linux's permission to use the tile state). Throws std::invalid_argument if
// FASTMLP_BF16_KERNEL names an unknown kernel or one not supported here.
Bf16Kernel active_bf16_kernel();
std::vector<Bf16Kernel> supported_bf16_kernels();

// sgemm's signature and semantics (shapes of 0, beta == 0 never reads C, the Epilogue, threads
// that split M and N but never K, so results are bitwise the same for any thread count), with
// op(A) and op(B) rounded to bf16 (round to nearest even; NaN and Inf kept, finite values beyond
// the bf16 range become Inf, subnormals become zero) as they are packed, and the products summed
// in float32 (about 2^-24 relative error per addition, on top of bf16's 2^-9 per operand).
void sgemm_bf16(bool trans_a, bool trans_b, index_t m, index_t n, index_t k, float alpha,
                const float* a, index_t lda, const float* b, index_t ldb, float beta, float* c,
                index_t ldc, const Epilogue& epilogue = Epilogue{});

// op(B) (k x n) rounded to bf16 and packed once for the active bf16 kernel, for many products
// with the same right-hand side: a layer's weights, re-packed after each optimizer step. Holds a
// copy; pack() again to refill (the storage only grows). Packing needs exclusive access;
// sgemm_bf16_packed only reads it.
class PackedBBf16 {
 public:
  PackedBBf16() = default;
  void pack(bool trans_b, index_t k, index_t n, const float* b, index_t ldb);
  index_t k() const { return k_; }
  index_t n() const { return n_; }

 private:
  friend void sgemm_bf16_packed(bool, index_t, float, const float*, index_t, const PackedBBf16&,
                                float, float*, index_t, const Epilogue&);
  struct Free {
    void operator()(std::uint16_t* p) const;
  };
  std::unique_ptr<std::uint16_t[], Free> data_;
  std::size_t capacity_ = 0;
  index_t k_ = 0, n_ = 0;
  const void* kernel_ = nullptr;  // the kernel whose layout the data has
};

// C = alpha * op(A) @ B + beta * C with B prepacked; the same result, bit for bit, as sgemm_bf16
// on the B that was packed. The active kernel must be the one the data was packed for.
void sgemm_bf16_packed(bool trans_a, index_t m, float alpha, const float* a, index_t lda,
                       const PackedBBf16& b, float beta, float* c, index_t ldc,
                       const Epilogue& epilogue = Epilogue{});

}  // namespace fastmlp
