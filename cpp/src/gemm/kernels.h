// Private interface of the GEMM engine: the micro-kernel contract, the per-ISA kernel table,
// packing routines and the per-thread packing buffers.
#pragma once
#include <cstddef>

#include "fastmlp/gemm.h"
#include "fastmlp/runtime.h"

namespace fastmlp {
namespace gemm {

// What a micro-kernel does with its MR x NR accumulator tile when it writes C. The driver sets it
// per K panel: beta (and the read of C) only on the first panel, 1 * C afterwards; bias and ReLU
// only on the last, so the epilogue is applied once to the finished value.
struct TileStore {
  float alpha;
  float beta;          // multiplies the old C when load_c is true
  bool load_c;         // false on the first panel when beta == 0: C is never read (NaN-safe)
  const float* bias;   // bias of the tile's first column, or null
  bool relu;
  bool b_padded;       // B rows have NR readable floats even in an edge tile (packed panels)
  // Non-null only for kernels with KernelInfo::copies_b: the kernel also writes the NR-wide rows
  // of B it reads (zero past nr) to b_copy as one packed kc x NR panel, 32-byte aligned. The
  // driver packs B this way in the first tile of a column strip, where the FMAs hide the reads.
  float* b_copy = nullptr;
  // Every element of B is finite, so a zero A element adds exactly +-0 to each FMA chain and a
  // row kernel may skip it: a chain starts at +0 and so never holds -0, where x + (+-0) == x.
  bool b_finite = false;
};

// acc[i][j] = sum_p A(i, p) * B(p, j) for p < k, then C = store(acc) on the mr x nr corner
// (1 <= mr <= MR, 1 <= nr <= NR). A(i, p) = a[i * rsa + p * csa] (a packed panel has rsa = 1,
// csa = MR; an unpacked row-major A has rsa = lda, csa = 1). B(p, j) = b[p * rsb + j] with NR
// columns available in every row, or only nr of them when nr < NR and !st.b_padded (the kernel
// then masks its loads).
// Rows i >= mr of A are never read. k may be 0.
using MicroKernel = void (*)(index_t k, const float* a, index_t rsa, index_t csa, const float* b,
                             index_t rsb, int mr, int nr, float* c, index_t ldc,
                             const TileStore& st);

// Optional ISA-specific packing of an op(B) stored transposed (column j of op(B) at src + j * cs,
// contiguous along k) into kc x nr panels, as pack_b would; nr must be a multiple of 8.
using PackBTrans = void (*)(const float* src, index_t cs, index_t kc, index_t cols, int nr,
                            float* dst);

// Optional ISA-specific packing of a row-major op(B) (row p at src + p * rs, contiguous along n)
// into kc x nr panels, as pack_b would; nr must be a multiple of 8.
using PackBRows = void (*)(const float* src, index_t rs, index_t kc, index_t cols, int nr,
                           float* dst);

// Optional ISA-specific packing of `rows` (<= MR) rows of a row-major op(A) (row i at src + i * rs)
// into one zero-padded kc x MR panel. May write up to 8 floats past the panel.
using PackARows = void (*)(const float* src, index_t rs, index_t kc, int rows, float* dst);
constexpr std::size_t kPackSlack = 8;

// One row of A times four full NR-wide B panels (packed, or B read in place; panel q at
// b + q * panel_step, row p at + p * rsb), stored as four 1 x NR tiles would be (st.bias is the
// first panel's). Each element is one K-ordered FMA chain, exactly as in the MR x NR kernel, so
// the results are bitwise the same; the four panels give the lone row enough independent chains
// to hide the FMA latency.
using RowKernel = void (*)(index_t k, const float* a, index_t csa, const float* b, index_t rsb,
                           index_t panel_step, float* c, const TileStore& st);

// One ISA's kernels and its blocksizes (BLIS naming: MR x NR register tile, MC/KC/NC cache
// blocks; MC is a multiple of MR and NC a multiple of NR).
struct KernelInfo {
  Isa isa = Isa::generic;
  const char* name = "";
  int mr = 0, nr = 0;
  index_t mc = 0, kc = 0, nc = 0;
  MicroKernel kernel = nullptr;
  PackBTrans pack_b_trans = nullptr;  // null: the portable pack_b
  PackARows pack_a_rows = nullptr;    // null: the portable pack_a
  RowKernel row4 = nullptr;           // null: single rows go through `kernel`
  PackBRows pack_b_rows = nullptr;    // null: the portable pack_b
  bool copies_b = false;              // the kernel honours TileStore::b_copy
};

// The kernel of the given ISA (which must be in supported_isas()), and of active_isa().
const KernelInfo& kernel_for(Isa isa);
const KernelInfo& active_kernel();

// Throws std::invalid_argument naming the bad argument (negative sizes, short leading dimensions,
// null pointers of non-empty operands) of C = op(A) op(B) with m x k op(A) and k x n op(B).
void check_args(bool trans_a, bool trans_b, index_t m, index_t n, index_t k, const float* a,
                index_t lda, const float* b, index_t ldb, const float* c, index_t ldc);

// No Inf or NaN among the n floats at p.
bool all_finite(const float* p, std::size_t n);

// Each ISA's table entry (kernel_<isa>.cpp, compiled with that ISA's flags): its kernels and
// packers, the blocksizes left 0 for dispatch.cpp to derive from this CPU's caches.
KernelInfo generic_kernel_info();
#if defined(FASTMLP_HAVE_X86_KERNELS)
KernelInfo avx2_kernel_info();
KernelInfo avx512_kernel_info();
// The AVX2 packers (pack_avx2.cpp), which the AVX-512 entry uses too; nr a multiple of 8.
void pack_b_trans_avx2(const float* src, index_t cs, index_t kc, index_t cols, int nr,
                       float* dst);
void pack_b_rows_avx2(const float* src, index_t rs, index_t kc, index_t cols, int nr,
                      float* dst);
void pack_a_rows_avx2(const float* src, index_t rs, index_t kc, int rows, float* dst);
#endif

// Packing. A source matrix is given as (pointer, row stride, column stride) of op(X), so the
// transposed and plain cases share one routine. Panels are zero-padded to a full MR / NR.
struct StridedMatrix {
  const float* p;
  index_t rs, cs;  // element (i, j) is p[i * rs + j * cs]
  float at(index_t i, index_t j) const { return p[i * rs + j * cs]; }
};
// rows x kc block of op(A) starting at (0, 0) into ceil(rows / mr) panels of kc x mr.
void pack_a(const StridedMatrix& a, index_t rows, index_t kc, int mr, float* dst);
// kc x cols block of op(B) starting at (0, 0) into ceil(cols / nr) panels of kc x nr.
void pack_b(const StridedMatrix& b, index_t kc, index_t cols, int nr, float* dst);
// pack_a through the kernel's own packing routine where it has one for this layout.
void pack_a_for(const KernelInfo& kr, const StridedMatrix& a, index_t rows, index_t kc,
                float* dst);
// pack_b through the kernel's own packing routine where it has one for this layout.
void pack_b_for(const KernelInfo& kr, const StridedMatrix& b, index_t kc, index_t cols,
                float* dst);

// A 64-byte aligned scratch buffer that only grows; every growth is counted process-wide so tests
// can check that repeated calls of one size do not allocate.
class PackBuffer {
 public:
  PackBuffer() = default;
  PackBuffer(const PackBuffer&) = delete;
  PackBuffer& operator=(const PackBuffer&) = delete;
  ~PackBuffer();
  float* get(std::size_t floats);

 private:
  float* data_ = nullptr;
  std::size_t capacity_ = 0;
};
long buffer_growths();

// sgemm with an explicit kernel and thread cap (threads <= 0: the thread policy's answer; a cap
// > 0 is the policy's table for that many threads, without the load feedback, so tests see the
// team); the public sgemm calls it with active_kernel(). Tests use it to run every supported ISA
// in one process.
void sgemm_with(const KernelInfo& kernel, int threads, bool trans_a, bool trans_b, index_t m,
                index_t n, index_t k, float alpha, const float* a, index_t lda, const float* b,
                index_t ldb, float beta, float* c, index_t ldc, const Epilogue& ep);

}  // namespace gemm
}  // namespace fastmlp
