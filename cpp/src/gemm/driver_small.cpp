// The small-size driver: nothing is packed by the call. A is read in place, and B too (row-major,
// too few rows of A share it for packing to pay) or it was prepacked (PackedB), so B's NR strips
// are found by pointer arithmetic alone. A lone row goes through the row kernel, four NR strips
// per call: the tile kernel has too few FMA chains for one row to hide the FMA latency (4x
// slower). Each element is still one FMA chain in K order (zero elements of A skipped only where
// that adds exactly zero), so the row kernel gives the tile kernel's bits.
#include <algorithm>

#include "gemm/driver.h"

namespace fastmlp {
namespace gemm {
namespace {

// B as the kernels read it in one K panel: the NR strip at column j starts at base + j * col_step,
// its rows rs apart. Prepacked: kc x NR panels one after another; in place: B's own rows.
struct BView {
  const float* base;
  index_t col_step, rs;
};

// One K panel (pc, length kc) of the unit at rows i0.., columns j0..: the jr / ir loops.
void unit_panel(const Problem& pr, index_t i0, index_t mc, index_t j0, index_t nc, index_t pc,
                index_t kc) {
  const KernelInfo& kr = *pr.kr;
  const bool last = pc + kc == pr.k;
  TileStore st = panel_store(pr, pc == 0, last);
  st.b_padded = pr.packed_b != nullptr;
  const BView b = pr.packed_b ? BView{pr.packed_b + pc * padded_n(pr), kc, kr.nr}
                              : BView{pr.b.p + pc * pr.b.rs, 1, pr.b.rs};
  const float* a = pr.a.p + i0 * pr.a.rs + pc * pr.a.cs;
  const bool row4 = mc == 1 && kr.row4;
  const RowCut cut(mc, kr.mr);
  for (index_t jr = 0; jr < nc; jr += kr.nr) {
    const int nr = static_cast<int>(std::min<index_t>(kr.nr, nc - jr));
    const float* bp = b.base + (j0 + jr) * b.col_step;
    float* c = pr.c + i0 * pr.ldc + j0 + jr;
    st.bias = (last && pr.ep->bias) ? pr.ep->bias + j0 + jr : nullptr;
    if (row4 && jr + 4 * kr.nr <= nc) {
      kr.row4(kc, a, pr.a.cs, bp, b.rs, kr.nr * b.col_step, c, st);
      jr += 3 * kr.nr;
      continue;
    }
    const float* ap = a;
    for (index_t ir = 0, mr = 0; ir < mc; ir += mr, ap += mr * pr.a.rs) {
      mr = cut.height(mc, ir);
      kr.kernel(kc, ap, pr.a.rs, pr.a.cs, bp, b.rs, static_cast<int>(mr), nr, c + ir * pr.ldc,
                pr.ldc, st);
    }
  }
}

}  // namespace

void work_small(Team& t) {
  const Problem& pr = *t.pr;
  claim_units(t, [&](index_t i0, index_t mc, index_t j0, index_t nc) {
    for (index_t pc = 0; pc < pr.k; pc += t.kc_step) {
      unit_panel(pr, i0, mc, j0, nc, pc, std::min(t.kc_step, pr.k - pc));
    }
  });
}

}  // namespace gemm
}  // namespace fastmlp
