// Private interface of the bf16 GEMM: the packed layouts, the micro-kernel contract, the kernel
// table and the packers (the fp32 engine's kernels.h holds TileStore and StridedMatrix).
//
// Packed A (pack_a): a rows x kc block of op(A) as ceil(rows / MR) panels, each kp / KB blocks of
// MR rows x KB values (row-major inside a block), kp = kc rounded up to KB, zero-padded in rows
// and in k. KB is the kernel's k step: 32 for AMX (a block of 16 rows is one A tile), 2 for the
// others (a block is one bf16 pair per row, what vdpbf16ps broadcasts).
// Packed B (pack_b): a kc x cols block of op(B) as ceil(cols / NR) strips, each kp / 2 pair rows
// of NR x 2 values: B(2q, j) and B(2q + 1, j) side by side (the VNNI layout that tdpbf16ps and
// vdpbf16ps read), zero-padded in columns and in k. Strips are `strip_stride` values apart, so a
// strip can hold all of K (PackedBBf16: the K panel at pc starts pc * NR values in). (The portable
// kernel's pair rows are planar instead: pack_b_bf16_planar.)
#pragma once
#include <cstddef>

#include "fastmlp/gemm.h"
#include "fastmlp/gemm_bf16.h"
#include "gemm/bf16.h"
#include "gemm/kernels.h"

namespace fastmlp {
namespace gemm {

inline index_t round_up(index_t x, index_t to) { return (x + to - 1) / to * to; }

// A unit of C (driver_bf16.cpp) with more partial sums than this takes KC kc_big_units: storing
// and reloading them between K panels then costs more than B strips in L1 save.
constexpr index_t kBigUnitBytes = 256 * 1024;

// One MR x NR tile of C over one K panel of kp values (a multiple of KB): acc = (first ? 0 :
// the partial sums at `partial`) + A panel x B panel (a: the tile's packed A panel, b: its B strip
// at this K panel). Not the last panel: acc is stored raw to `partial` (MR x NR floats, row stride
// NR), where the next panel continues it, so how K is cut into panels never changes a bit. The
// last panel: C = store(acc) through TileStore (alpha, beta, load_c, bias, relu) on the mr x nr
// corner (1 <= mr <= MR, 1 <= nr <= NR). A panel with one K panel never touches `partial`.
using Bf16MicroKernel = void (*)(index_t kp, const bf16_t* a, const bf16_t* b, float* partial,
                                 bool first, bool last, int mr, int nr, float* c, index_t ldc,
                                 const TileStore& st);

using PackABf16 = void (*)(const StridedMatrix& a, index_t rows, index_t kc, int mr, int kb,
                           bf16_t* dst);
using PackBBf16 = void (*)(const StridedMatrix& b, index_t kc, index_t cols, int nr, int kb,
                           bf16_t* dst, index_t strip_stride);

// One bf16 kernel: its micro-kernel, packers and blocksizes (MC a multiple of MR, KC of KB, NC
// of NR), and what a thread must do before its first micro-kernel call of a product (AMX: load
// the tile configuration if this thread's differs; null: nothing).
struct Bf16KernelInfo {
  Bf16Kernel id = Bf16Kernel::generic;
  const char* name = "";
  int mr = 0, nr = 0, kb = 2;
  index_t mc = 0, kc = 0, nc = 0;
  // KC for units whose partial sums exceed kBigUnitBytes (0: kc): the K panels may depend on
  // anything, since the partial sums pass between them unrounded
  index_t kc_big_units = 0;
  Bf16MicroKernel kernel = nullptr;
  PackABf16 pack_a = nullptr;
  PackBBf16 pack_b = nullptr;
  void (*prepare_thread)() = nullptr;
};

// The portable packers (pack_bf16.cpp); ISA packers must lay out exactly the same values.
void pack_a_bf16(const StridedMatrix& a, index_t rows, index_t kc, int mr, int kb, bf16_t* dst);
void pack_b_bf16(const StridedMatrix& b, index_t kc, index_t cols, int nr, int kb, bf16_t* dst,
                 index_t strip_stride);
// The portable kernel's own B layout: the same strips and pair rows, but each pair row holds the
// NR even-k values and then the NR odd-k ones (plain loops widen them to float32 in vectors, where
// the interleaved pairs defeated the vectorizer).
void pack_b_bf16_planar(const StridedMatrix& b, index_t kc, index_t cols, int nr, int kb,
                        bf16_t* dst, index_t strip_stride);

// Each kernel's table entry (kernel_bf16_<isa>.cpp), blocksizes included.
Bf16KernelInfo bf16_generic_kernel_info();
#if defined(FASTMLP_HAVE_X86_KERNELS)
Bf16KernelInfo bf16_avx512_kernel_info();
Bf16KernelInfo bf16_amx_kernel_info();
// The AVX512-BF16 packers (vcvtne2ps2bf16), which the AMX entry uses too.
void pack_a_bf16_avx512(const StridedMatrix& a, index_t rows, index_t kc, int mr, int kb,
                        bf16_t* dst);
void pack_b_bf16_avx512(const StridedMatrix& b, index_t kc, index_t cols, int nr, int kb,
                        bf16_t* dst, index_t strip_stride);
// Test hook: one tdpbf16ps through the AMX kernel's tile layer (the instruction, or the emulated
// tiles): c (16 x 16 floats) += a (16 rows x 32 bf16) times b (16 pair rows x 16 pairs), all
// three 64 bytes per row. Only where the AMX kernel is supported.
void bf16_amx_tile_product(float* c, const bf16_t* a, const bf16_t* b);
#endif

// The kernel of the given id (which must be in supported_bf16_kernels()), and the active one.
const Bf16KernelInfo& bf16_kernel_for(Bf16Kernel id);
const Bf16KernelInfo& active_bf16_kernel_info();

// sgemm_bf16 with an explicit kernel and thread cap (threads <= 0: the thread policy; > 0: the
// policy table's answer for that many threads, as sgemm_with); the public entry points call it.
// `packed_b`: op(B) prepacked by PackedBBf16 for this kernel (b and ldb are then ignored).
void sgemm_bf16_with(const Bf16KernelInfo& kernel, int threads, bool trans_a, bool trans_b,
                     index_t m, index_t n, index_t k, float alpha, const float* a, index_t lda,
                     const float* b, index_t ldb, float beta, float* c, index_t ldc,
                     const Epilogue& ep, const bf16_t* packed_b = nullptr);

// Values of a PackedBBf16 / a call's shared copy of op(B) for this kernel: every strip holds all
// of K (padded to KB), strips k_padded * NR apart.
inline index_t bf16_strip_stride(const Bf16KernelInfo& kr, index_t k) {
  return round_up(k, kr.kb) * kr.nr;
}
inline std::size_t bf16_packed_b_size(const Bf16KernelInfo& kr, index_t k, index_t n) {
  return static_cast<std::size_t>(bf16_strip_stride(kr, k) * ((n + kr.nr - 1) / kr.nr));
}

}  // namespace gemm
}  // namespace fastmlp
