// Private interface of the int8 GEMM: the packed layouts, the micro-kernel contract, the kernel
// table and the driver entry the public functions and the tests share.
//
// Packed A (the quantized inputs, made per call by the kernel's quantize_rows): row-major bytes,
// row stride kp = K rounded up to the kernel's KB (4, or 64 for AMX: one A tile row), each value
// q + a_offset (a_offset 128 turns the signed q into the unsigned operand of vpdpbusd/tdpbusd),
// k past K holding a_offset; buffers hold whole MR-row tiles.
// Packed B: ceil(n / NR) strips kp * NR bytes apart; in a strip, k group g (4 values of k) at
// g * NR * 4, column j's 4 values at + 4 j (the VNNI layout vpdpbusd and tdpbusd read: an AMX B
// tile is 16 groups of a strip's 16-column half, row stride NR * 4). Zero past K and past n.
// After the strips: per padded column the dequantization factor 1 / scale (float) and the
// correction a_offset * (column sum of B) (int32) that the kernels subtract.
#pragma once
#include <cstddef>
#include <cstdint>

#include "fastmlp/gemm.h"
#include "fastmlp/gemm_int8.h"

namespace fastmlp {
namespace gemm {

// Where one MR x NR tile's sums go. c32 non-null: the exact int32 sums (minus col_comp) are
// stored there (the integer product). Else C = float(sum - col_comp) * (row_deq[i] * col_deq[j])
// + bias[j], then max(., 0) when relu, computed as separate multiplies and adds (the int8
// sources are compiled without FP contraction), so every kernel writes the same bits.
struct Int8Tile {
  std::int32_t* c32 = nullptr;
  float* c = nullptr;
  index_t ldc = 0;               // of c32 or c
  const float* row_deq = nullptr;     // the tile's rows: 1 / (their input scale)
  const float* col_deq = nullptr;     // the strip's NR columns: 1 / (their weight scale)
  const std::int32_t* col_comp = nullptr;  // the strip's NR corrections
  const float* bias = nullptr;        // the strip's NR biases, or null
  bool relu = false;
};

// sum(i, j) = sum over p < kp of A(i, p) * B(p, j) for the tile's mr x nr corner (1 <= mr <= MR,
// 1 <= nr <= NR), stored through Int8Tile. a: the tile's first row of packed A (row stride lda;
// rows mr..MR-1 exist but hold no data); b: the strip.
using Int8MicroKernel = void (*)(index_t kp, const std::uint8_t* a, index_t lda,
                                 const std::int8_t* b, int mr, int nr, const Int8Tile& t);

// Quantizes `rows` rows of x (row stride ldx, k floats each) as quantize_rows_int8 does and
// writes them as packed A (q + offset, then offset up to kp; row stride ldd) and row_deq[i] =
// 1 / scale. Every kernel's version writes the same bytes and floats.
using Int8QuantizeRows = void (*)(const float* x, index_t ldx, int rows, index_t k, index_t kp,
                                  int offset, std::uint8_t* dst, index_t ldd, float* row_deq);

struct Int8KernelInfo {
  Int8Kernel id = Int8Kernel::generic;
  const char* name = "";
  int mr = 0, nr = 0, kb = 4;
  int a_offset = 0;  // 128 for the unsigned-by-signed instructions
  index_t mc = 0;    // rows of A one unit quantizes and computes (a multiple of MR)
  Int8MicroKernel kernel = nullptr;
  Int8QuantizeRows quantize_rows = nullptr;
  void (*prepare_thread)() = nullptr;  // AMX: this thread's tile configuration
  // Tiles of fewer than small_rows rows go to small_kernel (AMX: the VNNI kernel, which reads the
  // same layouts and is faster for a few rows).
  int small_rows = 0;
  Int8MicroKernel small_kernel = nullptr;
};

inline index_t int8_kp(const Int8KernelInfo& kr, index_t k) {
  return (k + kr.kb - 1) / kr.kb * kr.kb;
}
inline index_t int8_strips(const Int8KernelInfo& kr, index_t n) { return (n + kr.nr - 1) / kr.nr; }

// The portable row quantizer and micro-kernel pieces ISA files reuse for their edges.
void quantize_rows_generic(const float* x, index_t ldx, int rows, index_t k, index_t kp,
                           int offset, std::uint8_t* dst, index_t ldd, float* row_deq);
// Packs B (k x n int8, row stride ldb) into the strips at dst (kernel layout, zero-padded).
void pack_b_int8(const Int8KernelInfo& kr, index_t k, index_t n, const std::int8_t* b,
                 index_t ldb, std::int8_t* dst);

Int8KernelInfo int8_generic_kernel_info();
#if defined(FASTMLP_HAVE_X86_KERNELS)
Int8KernelInfo int8_avx2_kernel_info();
Int8KernelInfo int8_avxvnni_kernel_info();
Int8KernelInfo int8_avx512_kernel_info();
Int8KernelInfo int8_amx_kernel_info();
// The AVX-512 row quantizer and store path (kernel_int8_avx512.cpp), which the AMX kernel uses:
// sums of an mr x nr corner (row stride ld, 32 columns readable) through the tile settings.
void quantize_rows_avx512(const float* x, index_t ldx, int rows, index_t k, index_t kp,
                          int offset, std::uint8_t* dst, index_t ldd, float* row_deq);
void store_int8_sums_avx512(const std::int32_t* sum, index_t ld, int mr, int nr,
                            const Int8Tile& t);
#endif
// Test hook: one tdpbusd through the AMX kernel's tile layer (the instruction or the emulated
// tiles): c (16 x 16 int32) += a (16 rows x 64 u8) times b (16 rows x 16 groups of 4 s8). Only
// where the AMX kernel is supported (elsewhere it throws std::invalid_argument).
void int8_amx_tile_product(std::int32_t* c, const std::uint8_t* a, const std::int8_t* b);

// The kernel of the given id (which must be in supported_int8_kernels()), and the active one.
const Int8KernelInfo& int8_kernel_for(Int8Kernel id);
const Int8KernelInfo& active_int8_kernel_info();

// The bytes a PackedBInt8 of k x n needs for this kernel, and where its per-column data starts.
std::size_t int8_packed_strip_bytes(const Int8KernelInfo& kr, index_t k, index_t n);
std::size_t int8_packed_bytes(const Int8KernelInfo& kr, index_t k, index_t n);

// The driver: C = the int8 product of A and the packed B (packed for kr) as gemm_int8_packed
// does (a: float rows, quantized per unit) or, with a8 (int8 A, values in [-127, 127]) and c32,
// the exact int32 product as gemm_s8s8s32. threads <= 0: the thread policy; > 0: the policy
// table's answer for that many threads.
struct Int8Call {
  index_t m = 0;
  const float* a = nullptr;
  const std::int8_t* a8 = nullptr;
  index_t lda = 0;
  float* c = nullptr;
  std::int32_t* c32 = nullptr;
  index_t ldc = 0;
  const Epilogue* ep = nullptr;
};
void gemm_int8_run(const Int8KernelInfo& kr, int threads, const Int8Call& call,
                   const unsigned char* packed_b, index_t k, index_t n);

}  // namespace gemm
}  // namespace fastmlp
