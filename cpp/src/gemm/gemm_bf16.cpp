// The bf16 GEMM entry points (sgemm_bf16, PackedBBf16, sgemm_bf16_packed) on the active bf16
// kernel (dispatch_bf16.cpp); the work is driver_bf16.cpp's.
#include <algorithm>
#include <new>
#include <stdexcept>

#include "fastmlp/gemm_bf16.h"
#include "gemm/kernels_bf16.h"

namespace fastmlp {

void sgemm_bf16(bool trans_a, bool trans_b, index_t m, index_t n, index_t k, float alpha,
                const float* a, index_t lda, const float* b, index_t ldb, float beta, float* c,
                index_t ldc, const Epilogue& ep) {
  gemm::sgemm_bf16_with(gemm::active_bf16_kernel_info(), 0, trans_a, trans_b, m, n, k, alpha, a,
                        lda, b, ldb, beta, c, ldc, ep);
}

void PackedBBf16::Free::operator()(std::uint16_t* p) const {
  ::operator delete(p, std::align_val_t(64));
}

void PackedBBf16::pack(bool trans_b, index_t k, index_t n, const float* b, index_t ldb) {
  // validated as the B of a 0 x n x k product (A and C are empty)
  gemm::check_args(false, trans_b, 0, n, k, b, std::max<index_t>(k, 1), b, ldb, b,
                   std::max<index_t>(n, 1));
  const gemm::Bf16KernelInfo& kr = gemm::active_bf16_kernel_info();
  const std::size_t need = std::max<std::size_t>(gemm::bf16_packed_b_size(kr, k, n), 1);
  if (need > capacity_) {
    data_.reset(static_cast<std::uint16_t*>(
        ::operator new(need * sizeof(std::uint16_t), std::align_val_t(64))));
    capacity_ = need;
  }
  k_ = k;
  n_ = n;
  kernel_ = &kr;
  const gemm::StridedMatrix src =
      trans_b ? gemm::StridedMatrix{b, 1, ldb} : gemm::StridedMatrix{b, ldb, 1};
  if (k > 0 && n > 0) {
    kr.pack_b(src, k, n, kr.nr, kr.kb, data_.get(), gemm::bf16_strip_stride(kr, k));
  }
}

void sgemm_bf16_packed(bool trans_a, index_t m, float alpha, const float* a, index_t lda,
                       const PackedBBf16& b, float beta, float* c, index_t ldc,
                       const Epilogue& ep) {
  const gemm::Bf16KernelInfo& kr = gemm::active_bf16_kernel_info();
  if (b.kernel_ == nullptr || b.kernel_ != &kr) {
    throw std::invalid_argument(
        "sgemm_bf16_packed: B was not packed (or packed for another kernel)");
  }
  gemm::sgemm_bf16_with(kr, 0, trans_a, false, m, b.n(), b.k(), alpha, a, lda, nullptr,
                        std::max<index_t>(b.n(), 1), beta, c, ldc, ep, b.data_.get());
}

}  // namespace fastmlp
