// The blocked GEMM driver (BLIS blocking: KC panels of K, MC x NC blocks of C, MR x NR register
// tiles). C is cut into units that a team of threads (common/thread_team.h) claims dynamically;
// each unit runs over all of K on one thread with that thread's packed A (or A in place). B is
// packed by each unit for its own columns, except on one thread when units share columns: then
// it is packed once, lazily, into one buffer. K is never split, so every element is computed the
// same way for any thread count.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <new>
#include <stdexcept>

#include "common/thread_team.h"
#include "fastmlp/gemm.h"
#include "fastmlp/runtime.h"
#include "gemm/kernels.h"
#include "gemm/team_health.h"

namespace fastmlp {
namespace gemm {
namespace {

// Below this many flops per thread (~3-5 us of work), a second thread costs more than it saves: a
// region costs ~1 us while the team's workers spin (common/thread_team.h), plus sharing C and B.
constexpr double kMinFlopsPerThread = 0.25e6;

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

index_t ceil_div(index_t x, index_t y) { return (x + y - 1) / y; }

// KC panels of near-equal length (784 = 4 x 196, not 3 x 256 + 16): fewer short, inefficient
// panels. Depends only on k and the kernel, so the summation order is fixed.
index_t k_panel(index_t k, index_t kc_max) { return k == 0 ? 0 : ceil_div(k, ceil_div(k, kc_max)); }

index_t padded_n(const Problem& pr) { return ceil_div(pr.n, pr.kr->nr) * pr.kr->nr; }

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

TileStore panel_store(const Problem& pr, bool first, bool last) {
  TileStore st;
  st.alpha = pr.alpha;
  st.beta = first ? pr.beta : 1.0f;
  st.load_c = !first || pr.beta != 0.0f;
  st.bias = nullptr;  // set per tile on the last panel
  st.relu = last && pr.ep->relu;
  st.b_padded = false;  // set by the caller when B comes from packed panels
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

// One thread: MC x NC blocks (the BLIS blocking). More: about 4 units per thread so the dynamic
// claim can even out a slow thread, cut along N first: each unit then packs only its own B strips
// (PrivateB) and keeps its rows in one well-shaped row cut, while A is read in place by all.
// M is cut only as far as N runs out of NR strips. Cut along M first, every thread packed and
// streamed all of B for its share of rows; measured on 2 threads, 128x784x128 went from ~110-140
// to ~120-170 GFLOP/s, 128x64x128 NT from ~100-115 to ~115-150.
Units make_units(const Problem& pr, int threads) {
  const KernelInfo& kr = *pr.kr;
  const index_t mt = ceil_div(pr.m, kr.mr), nt = ceil_div(pr.n, kr.nr);
  const index_t want = threads > 1 ? 4 * static_cast<index_t>(threads) : 1;
  const index_t mu_want = ceil_div(want, std::min(nt, want));  // > 1 only when N has few strips
  const index_t mu = std::max(ceil_div(mt * kr.mr, kr.mc), std::min(mt, mu_want));
  Units u;
  // Even units (128 rows in 8 units of 16, not 7 of 18 and one of 2: a 2-row unit runs its FMA
  // chains at a fraction of the rate); each unit's own row cut makes the register tiles.
  u.rows = mu == 1 ? mt * kr.mr : std::min(mt * kr.mr, ceil_div(ceil_div(pr.m, mu), 2) * 2);
  u.mu = ceil_div(pr.m, u.rows);
  index_t nu = std::max(ceil_div(nt * kr.nr, kr.nc), std::min(nt, ceil_div(want, u.mu)));
  u.cols = ceil_div(nt, nu) * kr.nr;
  u.nu = ceil_div(pr.n, u.cols);
  return u;
}

enum PanelState : int { kEmpty = 0, kReady = 1 };

// What every thread of one call shares: the problem, the unit grid, the claim counter and, when
// one thread packs B for units that share columns, the lazily packed copy of all of op(B) in
// PackedB's layout (K panel pc at pc * n_pad, its NR panels kc * NR apart) with one state flag
// per panel.
struct Team {
  const Problem* pr;
  Units units;
  index_t kc_step, kpanels, npanels;
  bool pack_b;                   // B is packed (shared or per unit); else in place or prepacked
  float* b_packed;               // the shared copy (one thread, units sharing columns), or null
  int* flags;                    // kpanels x npanels PanelStates of b_packed
  std::atomic<index_t> next{0};  // next unclaimed unit
  bool alone = true;             // one thread runs every unit
};

// Units that share columns each pack their own copy of B when they run on several threads:
// sharing one lazily packed copy made a thread wait for the other's packing at every panel
// (two threads ran 128x784x128 1.2x faster than one that way, 1.8x with a copy per unit). On one
// thread the shared copy saves the repeated packing and nobody waits.
void prepare_team(Team& t, const Problem& pr, int threads) {
  const KernelInfo& kr = *pr.kr;
  t.pr = &pr;
  t.units = make_units(pr, threads);
  t.alone = threads == 1 || t.units.mu * t.units.nu == 1;
  t.kc_step = k_panel(pr.k, kr.kc);
  t.kpanels = ceil_div(pr.k, t.kc_step);
  t.npanels = ceil_div(pr.n, kr.nr);
  t.pack_b = !pr.packed_b && should_pack_b(kr, pr.b, pr.m);
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
// at 32 x 784 x 128). Where the kernel can (copies_b and
// row-major op(B)), the first tile of each NR strip reads B in place and writes the strip's packed
// copy as it goes: its FMAs hide the reads of B, which a separate pack left exposed (13% of
// 32 x 784 x 128). Otherwise `chunk` columns are packed at a time, in one sweep over B's rows.
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
  st.b_padded = pr.packed_b != nullptr || t.pack_b;
  const index_t rsb = st.b_padded ? kr.nr : pr.b.rs;
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
  // A lone row over prepacked B (one-row inference) or row-major B read in place: four NR panels
  // per call (RowKernel), each element still one FMA chain in K order, so bitwise the same as the
  // tile kernel, which has too few chains for one row to hide the FMA latency (4x slower).
  const bool b_in_place = !st.b_padded && pr.b.cs == 1;
  const bool rows4 = mc == 1 && kr.row4 && (pr.packed_b != nullptr || b_in_place);
  st.b_finite = pr.b_finite;
  const index_t panel_step = pr.packed_b ? kc * kr.nr : kr.nr;  // between NR panels of B
  PrivateB own_b{&pr, pc, kc, j0, nc, 0, nullptr, false};
  if (t.pack_b && !t.b_packed) own_b.start(kr);
  const bool padded = st.b_padded;
  const RowCut cut(mc, kr.mr);
  const index_t jp_end = ceil_div(j0 + nc, kr.nr);  // the unit's NR panels end here
  for (index_t jr = 0; jr < nc; jr += kr.nr) {
    const int nr = static_cast<int>(std::min<index_t>(kr.nr, nc - jr));
    float* copy = nullptr;
    const float* bp = own_b.buf ? own_b.panel(jr, copy)
                                : b_panel(t, pc, kc, (j0 + jr) / kr.nr, jp_end);
    st.bias = (last && pr.ep->bias) ? pr.ep->bias + j0 + jr : nullptr;
    if (rows4 && jr + 4 * kr.nr <= nc) {
      kr.row4(kc, a, csa, bp, rsb, panel_step, pr.c + i0 * pr.ldc + j0 + jr, st);
      jr += 3 * kr.nr;
      continue;
    }
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

// Claims and computes units until none are left; run by every thread of the team.
void work(Team& t) {
  const Problem& pr = *t.pr;
  const KernelInfo& kr = *pr.kr;
  const Units& u = t.units;
  ThreadBuffers& buf = thread_buffers();
  const bool pack_a = should_pack_a(kr, u.rows, u.cols);
  // sized for the largest unit any thread count makes, so changing the count does not regrow it
  const index_t rows_max = std::min<index_t>(kr.mc, ceil_div(pr.m, kr.mr) * kr.mr);
  float* abuf = pack_a ? buf.a.get(static_cast<std::size_t>(t.kc_step * rows_max) + kPackSlack)
                       : nullptr;
  const index_t total = u.mu * u.nu;
  for (index_t q = t.next.fetch_add(1); q < total; q = t.next.fetch_add(1)) {
    // units that share columns are consecutive, so threads working at once share B panels
    const index_t i0 = (q % u.mu) * u.rows, j0 = (q / u.mu) * u.cols;
    const index_t mc = std::min(u.rows, pr.m - i0), nc = std::min(u.cols, pr.n - j0);
    for (index_t pc = 0; pc < pr.k; pc += t.kc_step) {
      unit_panel(t, i0, mc, j0, nc, pc, std::min(t.kc_step, pr.k - pc), abuf);
    }
    if (pr.ep->post) pr.ep->post(pr.c + i0 * pr.ldc + j0, pr.ldc, mc, nc, j0, pr.ep->post_ctx);
  }
}

// k == 0 or alpha == 0: C = beta * C (+ bias, activation); A and B are not read (BLAS semantics).
void scale_only(const Problem& pr) {
  for (index_t i = 0; i < pr.m; ++i) {
    float* row = pr.c + i * pr.ldc;
    for (index_t j = 0; j < pr.n; ++j) {
      float x = pr.beta == 0.0f ? 0.0f : pr.beta * row[j];
      if (pr.ep->bias) x += pr.ep->bias[j];
      if (pr.ep->relu) x = std::max(x, 0.0f);
      row[j] = x;
    }
  }
  if (pr.ep->post) pr.ep->post(pr.c, pr.ldc, pr.m, pr.n, 0, pr.ep->post_ctx);
}

int choose_threads(const Problem& pr, int cap) {
  const double flops = 2.0 * static_cast<double>(pr.m) * static_cast<double>(pr.n) *
                       static_cast<double>(pr.k);
  const double tiles = static_cast<double>(ceil_div(pr.m, pr.kr->mr) * ceil_div(pr.n, pr.kr->nr));
  const double want = std::min({static_cast<double>(cap), flops / kMinFlopsPerThread, tiles});
  return std::max(1, static_cast<int>(want));
}

// The default cap: threads_available(), asked only when the work deserves more than one thread,
// so small products never wait for its (rare) load sample.
int default_threads(const Problem& pr) {
  const int want = choose_threads(pr, get_num_threads());
  return want > 1 ? choose_threads(pr, threads_available()) : 1;
}

// adaptive: skip the fork while the join is slow (TeamHealth); tests asking for a thread count
// pass false so the team really runs.
void run(const Problem& pr, int threads, bool adaptive = true) {
  TeamHealth& health = team_health();
  const std::int64_t start = threads > 1 ? TeamHealth::now_ns() : 0;
  if (adaptive && threads > 1 && !health.fork_pays(start)) threads = 1;
  Team team;
  prepare_team(team, pr, threads);  // units sized for the threads that will really run
  if (team.alone) {
    work(team);  // no team set-up for single-thread work
    return;
  }
  std::int64_t own_done = start;
  auto body = [&](int id, int) {
    work(team);
    if (id == 0) own_done = TeamHealth::now_ns();
  };
  // A worker that was asleep joins late because it had to be woken (~60 us on a VM), not because
  // another process holds its core: only joins of workers that were awake say something.
  const bool awake = detail::spinning_team_workers() >= threads - 1;
  if (detail::run_team(threads, body) > 1 && awake) {
    health.report(start, own_done, TeamHealth::now_ns());
  }
}

}  // namespace

void sgemm_with(const KernelInfo& kernel, int threads, bool trans_a, bool trans_b, index_t m,
                index_t n, index_t k, float alpha, const float* a, index_t lda, const float* b,
                index_t ldb, float beta, float* c, index_t ldc, const Epilogue& ep) {
  check_args(trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc);
  if (m == 0 || n == 0) return;
  const Problem pr{&kernel, m, n, k,
                   trans_a ? StridedMatrix{a, 1, lda} : StridedMatrix{a, lda, 1},
                   trans_b ? StridedMatrix{b, 1, ldb} : StridedMatrix{b, ldb, 1},
                   alpha, beta, c, ldc, &ep, nullptr};
  if (k == 0 || alpha == 0.0f) {
    scale_only(pr);
    return;
  }
  run(pr, threads > 0 ? choose_threads(pr, threads) : default_threads(pr), threads <= 0);
}

}  // namespace gemm

void PackedB::Free::operator()(float* p) const { ::operator delete(p, std::align_val_t(64)); }

void PackedB::pack(bool trans_b, index_t k, index_t n, const float* b, index_t ldb) {
  // validated as the B of a 0 x n x k product (A and C are empty)
  gemm::check_args(false, trans_b, 0, n, k, b, std::max<index_t>(k, 1), b, ldb, b,
                   std::max<index_t>(n, 1));
  const gemm::KernelInfo& kr = gemm::active_kernel();
  const index_t n_pad = gemm::ceil_div(n, kr.nr) * kr.nr;
  const std::size_t need = static_cast<std::size_t>(k * n_pad);
  if (need > capacity_) {
    data_.reset(static_cast<float*>(::operator new(need * sizeof(float), std::align_val_t(64))));
    capacity_ = need;
  }
  k_ = k;
  n_ = n;
  kc_ = gemm::k_panel(k, kr.kc);
  kernel_ = &kr;
  const gemm::StridedMatrix src =
      trans_b ? gemm::StridedMatrix{b, 1, ldb} : gemm::StridedMatrix{b, ldb, 1};
  for (index_t pc = 0; pc < k; pc += kc_) {
    const index_t kc = std::min(kc_, k - pc);
    gemm::pack_b_for(kr, {src.p + pc * src.rs, src.rs, src.cs}, kc, n, data_.get() + pc * n_pad);
  }
  finite_ = gemm::all_finite(data_.get(), need);  // on the packed copy, hot in cache now
}

void sgemm_packed(bool trans_a, index_t m, float alpha, const float* a, index_t lda,
                  const PackedB& b, float beta, float* c, index_t ldc, const Epilogue& ep) {
  const gemm::KernelInfo& kr = gemm::active_kernel();
  if (b.kernel_ == nullptr || b.kernel_ != &kr) {
    throw std::invalid_argument("sgemm_packed: B was not packed (or packed for another kernel)");
  }
  const index_t n = b.n(), k = b.k();
  gemm::check_args(trans_a, false, m, n, k, a, lda, b.data_.get(), std::max<index_t>(n, 1), c, ldc);
  if (m == 0 || n == 0) return;
  const gemm::Problem pr{&kr, m, n, k,
                         trans_a ? gemm::StridedMatrix{a, 1, lda} : gemm::StridedMatrix{a, lda, 1},
                         gemm::StridedMatrix{nullptr, 0, 1}, alpha, beta, c, ldc, &ep,
                         b.data_.get(), b.finite_};
  if (k == 0 || alpha == 0.0f) {
    gemm::scale_only(pr);
    return;
  }
  gemm::run(pr, gemm::default_threads(pr));
}

void sgemm(bool trans_a, bool trans_b, index_t m, index_t n, index_t k, float alpha,
           const float* a, index_t lda, const float* b, index_t ldb, float beta, float* c,
           index_t ldc, const Epilogue& ep) {
  gemm::sgemm_with(gemm::active_kernel(), 0, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb,
                   beta, c, ldc, ep);
}

}  // namespace fastmlp
