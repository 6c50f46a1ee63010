// What the two GEMM drivers share: the problem, the grid of units a team of threads claims, the
// cut of a unit's rows into register tiles and the store settings of a K panel. gemm.cpp sets up
// a call and picks the driver: driver_small.cpp when nothing needs packing (A and B read in place
// or B prepacked; the row kernels), driver_packed.cpp otherwise (the BLIS loops over packed
// panels). Both compute every element as one FMA chain over K in order, in the same K panels, so
// which driver, unit or thread computes an element never changes its bits.
#pragma once
#include <algorithm>
#include <atomic>

#include "fastmlp/gemm.h"
#include "gemm/kernels.h"

namespace fastmlp {
namespace gemm {

struct Problem {
  const KernelInfo* kr;
  index_t m, n, k;
  StridedMatrix a, b;  // op(A) is m x k, op(B) is k x n
  float alpha, beta;
  float* c;
  index_t ldc;
  const Epilogue* ep;
  const float* packed_b;  // prepacked op(B) (PackedB layout) or null
  bool b_finite = false;  // every element of op(B) is known to be finite (TileStore::b_finite)
};

inline index_t ceil_div(index_t x, index_t y) { return (x + y - 1) / y; }

// KC panels of near-equal length (784 = 4 x 196, not 3 x 256 + 16): fewer short, inefficient
// panels. Depends only on k and the kernel, so the summation order is fixed.
inline index_t k_panel(index_t k, index_t kc_max) {
  return k == 0 ? 0 : ceil_div(k, ceil_div(k, kc_max));
}

inline index_t padded_n(const Problem& pr) { return ceil_div(pr.n, pr.kr->nr) * pr.kr->nr; }

// beta (and the read of C) only on the first K panel, 1 * C afterwards; ReLU only on the last
// (the driver sets the bias per tile there), so the epilogue sees the finished value.
inline TileStore panel_store(const Problem& pr, bool first, bool last) {
  TileStore st;
  st.alpha = pr.alpha;
  st.beta = first ? pr.beta : 1.0f;
  st.load_c = !first || pr.beta != 0.0f;
  st.bias = nullptr;
  st.relu = last && pr.ep->relu;
  st.b_padded = false;
  st.b_finite = pr.b_finite;
  return st;
}

// C is cut into units of whole MR x NR tiles, each computed over all of K by one thread (the
// team claims units from a counter, so a thread that is running takes whatever is left; a
// descheduled one holds up nothing but its current unit). Units never change which tiles exist
// or how a tile is summed, so the bits do not depend on the thread count.
struct Units {
  index_t rows, cols;  // unit height (multiple of MR) and width (multiple of NR)
  index_t mu, nu;      // units along M and N
};

// What every thread of one call shares: the problem, the unit grid, the claim counter, the
// packing decisions and, when one thread packs B for units that share columns, the lazily packed
// copy of all of op(B) in PackedB's layout (K panel pc at pc * n_pad, its NR panels kc * NR
// apart) with one state flag per panel (driver_packed.cpp).
struct Team {
  const Problem* pr;
  Units units;
  index_t kc_step, kpanels, npanels;
  bool pack_a;                   // each thread packs its unit's rows of A
  bool pack_b;                   // B is packed (shared or per unit); else in place or prepacked
  float* b_packed;               // the shared copy (one thread, units sharing columns), or null
  int* flags;                    // kpanels x npanels PanelStates of b_packed
  std::atomic<index_t> next{0};  // next unclaimed unit
  bool alone = true;             // one thread runs every unit
};

// An mc-row block is cut into MR-row register tiles, except that a short last tile (under
// kMinTileRows rows: too few FMA chains to hide the FMA latency, so it takes as long as a 4-row
// tile) is merged with the tile before it and the pair split evenly: 32 rows as 6,6,6,6,4,4
// rather than 6,6,6,6,6,2 saves 6% of the time. Every element is still one FMA chain in K order,
// so the cut never changes a bit. Computed once per block (no division per tile).
constexpr index_t kMinTileRows = 4;
struct RowCut {
  index_t mr, at, first;  // tiles before row `at` are MR high, the one at `at` `first` high
  RowCut(index_t mc, index_t mr_) : mr(mr_) {
    const index_t rem = mc % mr;
    at = mc - rem;
    first = rem;
    // (with MR < 6, as the generic 4-row kernel, the halves would be short tiles themselves)
    if (rem != 0 && rem < kMinTileRows && mc > mr && mr >= 6) {
      at -= mr;
      first = (mr + rem + 1) / 2;
    }
  }
  // height of the tile starting at row ir (the tile after `at` takes the rest)
  index_t height(index_t mc, index_t ir) const {
    return ir < at ? mr : (ir == at ? first : mc - ir);
  }
};

// Claims units until none are left, running unit(i0, mc, j0, nc) on each, then the `post`
// epilogue on the finished block; run by every thread of the team.
template <class F>
void claim_units(Team& t, F&& unit) {
  const Problem& pr = *t.pr;
  const Units& u = t.units;
  const index_t total = u.mu * u.nu;
  for (index_t q = t.next.fetch_add(1); q < total; q = t.next.fetch_add(1)) {
    // units that share columns are consecutive, so threads working at once share B panels
    const index_t i0 = (q % u.mu) * u.rows, j0 = (q / u.mu) * u.cols;
    const index_t mc = std::min(u.rows, pr.m - i0), nc = std::min(u.cols, pr.n - j0);
    unit(i0, mc, j0, nc);
    if (pr.ep->post) pr.ep->post(pr.c + i0 * pr.ldc + j0, pr.ldc, mc, nc, j0, pr.ep->post_ctx);
  }
}

// The packing decisions of a call (driver_packed.cpp).
bool should_pack_a(const KernelInfo& kr, index_t rows, index_t cols);
bool should_pack_b(const KernelInfo& kr, const StridedMatrix& b, index_t rows);
// Sets up the shared packed copy of B where the packed driver uses one (t.b_packed, t.flags).
void prepare_shared_b(Team& t);

// What a call decides before any arithmetic (gemm.cpp), shared with the bf16 GEMM, which builds a
// Problem of its own shape (pr.kr giving its MR x NR tile) for them:
// k == 0 or alpha == 0: C = beta * C (+ bias, activation), A and B unread (BLAS semantics).
void scale_only(const Problem& pr);
// Threads for the product: the thread policy's answer, or with cap > 0 the table's for cap threads.
int choose_threads(const Problem& pr, int cap);

// The drivers, run by every thread of the team: work_small when neither A nor B is packed by the
// call (!t.pack_a && !t.pack_b), work_packed otherwise.
void work_small(Team& t);
void work_packed(Team& t);

}  // namespace gemm
}  // namespace fastmlp
