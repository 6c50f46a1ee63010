// The packed driver (BLIS blocking: KC panels of K, MC x NC blocks of C, MR x NR register tiles),
// for calls where packing pays. Each unit runs over all of K on one thread with that thread's
// packed A (or A in place). B is packed by each unit for its own columns, except on one thread
// when units share columns: then it is packed once, lazily, into one shared buffer. B is read as
// it is (in place or prepacked) only when A alone needs packing.
#include <algorithm>
#include <cstdint>

#include "fastmlp/runtime.h"
#include "gemm/driver.h"

namespace fastmlp {
namespace gemm {
namespace {

struct ThreadBuffers {
  PackBuffer a;       // this thread's packed A block
  PackBuffer b_team;  // packed op(B) shared by the team of a call this thread leads
  PackBuffer flags;   // one PanelState per (K panel, NR panel) of b_team
  PackBuffer b_unit;  // packed B strips of the unit this thread runs (PrivateB)
};

ThreadBuffers& thread_buffers() {
  thread_local ThreadBuffers buffers;
  return buffers;
}

enum PanelState : int { kEmpty = 0, kReady = 1 };

// How many kc x NR strips of packed B to pack in one sweep: a quarter of L2, so they are still
// cached when used. All of a 196 x 128 block (32 x 784 x 128) in one sweep measured best, but a
// 128 x 784 one (128 x 128 x 784) would push A and C out of L2.
index_t b_chunk_strips(const KernelInfo& kr, index_t kc) {
  static const index_t budget = static_cast<index_t>(cache_sizes().l2 / 4);
  return std::max<index_t>(1, budget / (kc * kr.nr * static_cast<index_t>(sizeof(float))));
}

// NR panel jp of K panel pc (length kc): B as the micro-kernel reads it (pointer; row stride NR
// when packed). The caller's unit uses the panels up to jp_end. Only one thread packs into the
// shared copy, so a panel is either ready or still to be packed.
const float* b_panel(const Team& t, index_t pc, index_t kc, index_t jp, index_t jp_end) {
  const Problem& pr = *t.pr;
  const KernelInfo& kr = *pr.kr;
  const index_t j = jp * kr.nr;
  if (pr.packed_b) return pr.packed_b + pc * padded_n(pr) + j * kc;
  if (!t.b_packed) return pr.b.p + pc * pr.b.rs + j;
  float* dst = t.b_packed + pc * padded_n(pr) + j * kc;
  int* flags = t.flags + (pc / t.kc_step) * t.npanels;
  if (flags[jp] == kReady) return dst;
  // Pack the unit's next panels too (up to a quarter of L2, so that they are still cached when
  // used) in one sweep over B's rows: a 64-byte read per row and panel left the prefetchers
  // little to follow.
  const index_t group_end = std::min(jp_end, jp + b_chunk_strips(kr, kc));
  index_t end = jp + 1;
  while (end < group_end && flags[end] == kEmpty) ++end;
  const StridedMatrix src{pr.b.p + pc * pr.b.rs + j * pr.b.cs, pr.b.rs, pr.b.cs};
  pack_b_for(kr, src, kc, std::min<index_t>((end - jp) * kr.nr, pr.n - j), dst);
  std::fill(flags + jp, flags + end, static_cast<int>(kReady));
  return dst;
}

// One zero-padded kc x MR panel per register tile of the mc-row block (RowCut's cut).
void pack_a_tiles(const KernelInfo& kr, const StridedMatrix& a, index_t mc, index_t kc,
                  float* dst) {
  const RowCut cut(mc, kr.mr);
  for (index_t ir = 0; ir < mc; dst += kc * kr.mr) {
    const index_t h = cut.height(mc, ir);
    pack_a_for(kr, {a.p + ir * a.rs, a.rs, a.cs}, h, kc, dst);
    ir += h;
  }
}

// B of one unit (K panel pc, columns j0 .. j0 + nc), packed privately into a buffer that stays in
// cache, rather than into a shared buffer of all of op(B) (which doubled the memory traffic of B
// at 32 x 784 x 128). Where the kernel can (copies_b and row-major op(B)), the first tile of each
// NR strip reads B in place and writes the strip's packed copy as it goes: its FMAs hide the
// reads of B, which a separate pack left exposed (13% of 32 x 784 x 128). Otherwise `chunk`
// columns are packed at a time, in one sweep over B's rows.
struct PrivateB {
  const Problem* pr;
  index_t pc, kc, j0, nc, chunk;
  float* buf;
  bool fused;
  void start(const KernelInfo& kr) {
    fused = kr.copies_b && pr->b.cs == 1;
    const index_t strips = fused ? 1 : b_chunk_strips(kr, kc);
    chunk = std::min(ceil_div(nc, kr.nr), strips) * kr.nr;
    buf = thread_buffers().b_unit.get(static_cast<std::size_t>(kc * chunk));
  }
  // The strip at column jr (a multiple of NR, in increasing order): its packed panel, or when
  // fused, B in place and in `copy` the buffer its first tile packs the strip into.
  const float* panel(index_t jr, float*& copy) {
    const float* src = pr->b.p + pc * pr->b.rs + (j0 + jr) * pr->b.cs;
    if (fused) {
      copy = buf;
      return src;
    }
    const index_t off = jr % chunk;
    if (off == 0) pack_b_for(*pr->kr, {src, pr->b.rs, pr->b.cs}, kc, std::min(chunk, nc - jr), buf);
    copy = nullptr;
    return buf + off * kc;
  }
};

// One K panel of one unit: the jr / ir loops over its register tiles.
void unit_panel(const Team& t, index_t i0, index_t mc, index_t j0, index_t nc, index_t pc,
                index_t kc, float* abuf) {
  const Problem& pr = *t.pr;
  const KernelInfo& kr = *pr.kr;
  const bool last = pc + kc == pr.k;
  TileStore st = panel_store(pr, pc == 0, last);
  const bool padded = pr.packed_b != nullptr || t.pack_b;
  const index_t rsb = padded ? kr.nr : pr.b.rs;
  const StridedMatrix asub{pr.a.p + i0 * pr.a.rs + pc * pr.a.cs, pr.a.rs, pr.a.cs};
  // A as the kernel walks it: one packed MR-row panel per tile, or the rows in place
  const float* a = asub.p;
  index_t rsa = asub.rs, csa = asub.cs;
  if (abuf) {
    pack_a_tiles(kr, asub, mc, kc, abuf);
    a = abuf;
    rsa = 1;
    csa = kr.mr;
  }
  PrivateB own_b{&pr, pc, kc, j0, nc, 0, nullptr, false};
  if (t.pack_b && !t.b_packed) own_b.start(kr);
  const RowCut cut(mc, kr.mr);
  const index_t jp_end = ceil_div(j0 + nc, kr.nr);  // the unit's NR panels end here
  for (index_t jr = 0; jr < nc; jr += kr.nr) {
    const int nr = static_cast<int>(std::min<index_t>(kr.nr, nc - jr));
    float* copy = nullptr;
    const float* bp = own_b.buf ? own_b.panel(jr, copy)
                                : b_panel(t, pc, kc, (j0 + jr) / kr.nr, jp_end);
    st.bias = (last && pr.ep->bias) ? pr.ep->bias + j0 + jr : nullptr;
    const float* ap = a;
    for (index_t ir = 0, mr = 0; ir < mc; ir += mr) {
      mr = cut.height(mc, ir);
      st.b_copy = copy;  // the strip's first tile reads B in place and packs it
      st.b_padded = copy ? false : padded;
      kr.kernel(kc, ap, rsa, csa, bp, copy ? pr.b.rs : rsb, static_cast<int>(mr), nr,
                pr.c + (i0 + ir) * pr.ldc + j0 + jr, pr.ldc, st);
      if (copy) bp = copy;
      copy = nullptr;
      ap += abuf ? kc * kr.mr : mr * rsa;
    }
  }
}

}  // namespace

// Packing pays when a panel is reused by many tiles. Reading A in place (six row or column
// streams) measured as fast as packing it unless many column tiles reuse the block (where packing
// also avoids 4 KiB aliasing of long rows); B is packed once a few row tiles share it, and always
// when op(B) has no contiguous rows.
bool should_pack_a(const KernelInfo& kr, index_t rows, index_t cols) {
  return rows > 2 * kr.mr && cols > 16 * kr.nr;
}
bool should_pack_b(const KernelInfo& kr, const StridedMatrix& b, index_t rows) {
  return b.cs != 1 || rows > 4 * kr.mr;
}

// Units that share columns each pack their own copy of B when they run on several threads:
// sharing one lazily packed copy made a thread wait for the other's packing at every panel
// (two threads ran 128x784x128 1.2x faster than one that way, 1.8x with a copy per unit). On one
// thread the shared copy saves the repeated packing and nobody waits.
void prepare_shared_b(Team& t) {
  const Problem& pr = *t.pr;
  t.b_packed = nullptr;
  t.flags = nullptr;
  if (!t.pack_b || !t.alone || t.units.mu == 1) return;
  ThreadBuffers& buf = thread_buffers();
  t.b_packed = buf.b_team.get(static_cast<std::size_t>(pr.k * padded_n(pr)));
  const std::size_t nflags = static_cast<std::size_t>(t.kpanels * t.npanels);
  static_assert(sizeof(int) == sizeof(float), "flags live in a float buffer");
  t.flags = reinterpret_cast<int*>(buf.flags.get(nflags));
  std::fill(t.flags, t.flags + nflags, static_cast<int>(kEmpty));
}

void work_packed(Team& t) {
  const Problem& pr = *t.pr;
  const KernelInfo& kr = *pr.kr;
  // sized for the largest unit any thread count makes, so changing the count does not regrow it
  const index_t rows_max = std::min<index_t>(kr.mc, ceil_div(pr.m, kr.mr) * kr.mr);
  float* abuf = t.pack_a ? thread_buffers().a.get(static_cast<std::size_t>(t.kc_step * rows_max) +
                                                  kPackSlack)
                         : nullptr;
  claim_units(t, [&](index_t i0, index_t mc, index_t j0, index_t nc) {
    for (index_t pc = 0; pc < pr.k; pc += t.kc_step) {
      unit_panel(t, i0, mc, j0, nc, pc, std::min(t.kc_step, pr.k - pc), abuf);
    }
  });
}

}  // namespace gemm
}  // namespace fastmlp
