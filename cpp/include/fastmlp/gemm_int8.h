// fastmlp int8 GEMM: Keras 3's int8 Dense product. The weights are int8 with one float scale per
// output column (q = round(w * scale)); the inputs are quantized per row at run time the same way
// (abs-max, symmetric, [-127, 127]); products are summed exactly in int32 and the write-back
// dequantizes, adds the bias and applies the activation in one pass over C.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "fastmlp/gemm.h"

namespace fastmlp {

// The int8 kernels, fastest first: AMX tiles (tdpbusd), AVX512-VNNI and AVX-VNNI (vpdpbusd),
// AVX2 (vpmaddubsw + vpmaddwd), portable C++. Integer sums are exact, so every kernel gives the
// same bits.
enum class Int8Kernel { generic = 0, avx2 = 1, avx_vnni = 2, avx512_vnni = 3, amx = 4 };

// "generic", "avx2", "avx_vnni", "avx512_vnni" or "amx".
const char* int8_kernel_name(Int8Kernel kernel);
// The kernel the int8 products use: FASTMLP_INT8_KERNEL (read once) if set, else the fastest one
// this CPU, the OS and FASTMLP_ISA allow (avx2 and avx_vnni need FASTMLP_ISA >= avx2,
// avx512_vnni and amx avx512; amx also Linux's permission to use the tile state). Throws
// std::invalid_argument if FASTMLP_INT8_KERNEL names an unknown or unsupported kernel.
Int8Kernel active_int8_kernel();
std::vector<Int8Kernel> supported_int8_kernels();

// The largest K for which every int32 sum is exact whatever the int8 values (K * 127 * 128 <
// 2^31); beyond it sums wrap modulo 2^32 (the same on every kernel).
constexpr index_t kInt8MaxExactK = 132104;

// Keras's AbsMaxQuantizer (value_range (-127, 127), epsilon 1e-7) on each column of the k x n
// matrix w (row stride ldw), in float32: scale[j] = 127 / (max_i |w(i, j)| + 1e-7) and
// q(i, j) = clip(round_half_even(w(i, j) * scale[j]), -127, 127) (row stride n).
void quantize_columns_int8(index_t k, index_t n, const float* w, index_t ldw, std::int8_t* q,
                           float* scale);
// The same on each row of the m x k matrix x (what the products do to their inputs): q row
// stride ldq, one scale per row.
void quantize_rows_int8(index_t m, index_t k, const float* x, index_t ldx, std::int8_t* q,
                        index_t ldq, float* scale);

// Exact integer product on the active kernel: C (int32, m x n) = A (int8, m x k, values in
// [-127, 127], checked) @ B (int8, k x n), row-major with leading dimensions.
void gemm_s8s8s32(index_t m, index_t n, index_t k, const std::int8_t* a, index_t lda,
                  const std::int8_t* b, index_t ldb, std::int32_t* c, index_t ldc);

// An int8 weight matrix B (k x n, a Dense kernel (in, out)) and its per-column scales, packed once
// for the active int8 kernel with its column sums (the unsigned-by-signed kernels shift the
// inputs by 128 and take 128 * colsum back). Holds a copy; pack() again to refill. Packing needs
// exclusive access; gemm_int8_packed only reads it.
class PackedBInt8 {
 public:
  PackedBInt8() = default;
  // scale: n values, > 0 (the quantizer's); their reciprocals dequantize the sums. `kernel`
  // must be one of supported_int8_kernels(); the products run on the kernel the data is for.
  void pack(index_t k, index_t n, const std::int8_t* b, index_t ldb, const float* scale);
  void pack(index_t k, index_t n, const std::int8_t* b, index_t ldb, const float* scale,
            Int8Kernel kernel);
  index_t k() const { return k_; }
  index_t n() const { return n_; }
  Int8Kernel kernel() const { return kernel_; }
  bool empty() const { return data_ == nullptr; }
  const unsigned char* data() const { return data_.get(); }  // the kernel's layout

 private:
  struct Free {
    void operator()(unsigned char* p) const;
  };
  std::unique_ptr<unsigned char[], Free> data_;
  std::size_t capacity_ = 0;
  index_t k_ = 0, n_ = 0;
  Int8Kernel kernel_ = Int8Kernel::generic;
};

// C (m x n, row stride ldc) = dequantized (quantize_rows(A) @ B) + bias, then ReLU / `post`
// (the Epilogue): C(i, j) = float(sum) * (1 / xscale[i]) * (1 / bscale[j]) + bias[j]. Keras
// divides by xscale[i] * bscale[j]; the reciprocals differ from that by a few ulp. A is float32
// (m x k, row stride lda). Rows are split across threads by the thread policy; any thread count
// gives the same bits.
void gemm_int8_packed(index_t m, const float* a, index_t lda, const PackedBInt8& b, float* c,
                      index_t ldc, const Epilogue& epilogue = Epilogue{});

}  // namespace fastmlp
