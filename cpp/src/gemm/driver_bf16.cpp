// The bf16 GEMM driver (BLIS loops over packed bf16 panels, layouts in kernels_bf16.h): C is cut
// into units of whole MR x NR tiles, each computed over all of K by one thread, which packs its
// rows of A per K panel and reads B from one packed copy of all of op(B) (prepacked, or packed by
// the call when one thread runs several units that share it) or packs its own columns of B per K
// panel. The partial sums of a tile pass from one K panel to the next unrounded (kernels_bf16.h),
// so neither the units nor the K panels change a bit: the result depends only on the kernel.
#include <algorithm>
#include <atomic>
#include <cstdint>

#include "common/thread_team.h"
#include "fastmlp/runtime.h"
#include "gemm/driver.h"
#include "gemm/kernels_bf16.h"

namespace fastmlp {
namespace gemm {
namespace {

struct Bf16Problem {
  const Bf16KernelInfo* kr;
  index_t m, n, k;
  StridedMatrix a, b;  // op(A) is m x k, op(B) is k x n
  float alpha, beta;
  float* c;
  index_t ldc;
  const Epilogue* ep;
  const bf16_t* packed_b;  // all of op(B), strips bf16_strip_stride apart, or null
};

struct Bf16Team {
  const Bf16Problem* pr;
  Units units;
  index_t kc_step;
  std::atomic<index_t> next{0};
};

struct ThreadBuffers {
  PackBuffer a;         // the unit's rows of A, one K panel
  PackBuffer b;         // the unit's columns of B, one K panel (when B has no packed copy)
  PackBuffer partial;   // the unit's partial sums between K panels
  PackBuffer shared_b;  // the call's packed copy of op(B) (one thread, units sharing columns)
};

ThreadBuffers& thread_buffers() {
  thread_local ThreadBuffers buffers;
  return buffers;
}

bf16_t* bf16_buffer(PackBuffer& buf, std::size_t values) {
  return reinterpret_cast<bf16_t*>(buf.get((values + 1) / 2));
}

// KC panels of near-equal length in whole KB steps (784 = 416 + 384 at KC 512, not 512 + 272),
// longer for units with large partial sums (Bf16KernelInfo::kc_big_units).
index_t bf16_k_panel(const Bf16KernelInfo& kr, const Units& u, index_t k) {
  const bool big = u.rows * u.cols * static_cast<index_t>(sizeof(float)) > kBigUnitBytes;
  const index_t kc = big && kr.kc_big_units > 0 ? kr.kc_big_units : kr.kc;
  return round_up(k_panel(k, kc), kr.kb);
}

// One thread: MC x NC blocks. More: about 4 units per thread (the claim loop evens out a slow
// thread), cut along N first, so each unit packs only its own columns of B, as sgemm's grid.
Units make_units(const Bf16Problem& pr, int threads) {
  const Bf16KernelInfo& kr = *pr.kr;
  const index_t mt = ceil_div(pr.m, kr.mr), nt = ceil_div(pr.n, kr.nr);
  const index_t want = threads > 1 ? 4 * static_cast<index_t>(threads) : 1;
  const index_t mu_want = ceil_div(want, std::min(nt, want));
  const index_t mu = std::max(ceil_div(mt * kr.mr, kr.mc), std::min(mt, mu_want));
  Units u;
  u.rows = ceil_div(mt, mu) * kr.mr;
  u.mu = ceil_div(pr.m, u.rows);
  const index_t nu = std::max(ceil_div(nt * kr.nr, kr.nc), std::min(nt, ceil_div(want, u.mu)));
  u.cols = ceil_div(nt, nu) * kr.nr;
  u.nu = ceil_div(pr.n, u.cols);
  return u;
}

// One unit (rows i0 .. i0 + mc, columns j0 .. j0 + nc) over all of K.
void run_unit(const Bf16Team& t, index_t i0, index_t mc, index_t j0, index_t nc) {
  const Bf16Problem& pr = *t.pr;
  const Bf16KernelInfo& kr = *pr.kr;
  ThreadBuffers& buf = thread_buffers();
  const index_t mtiles = ceil_div(mc, kr.mr), ntiles = ceil_div(nc, kr.nr);
  const index_t kp_max = round_up(t.kc_step, kr.kb);
  bf16_t* abuf = bf16_buffer(buf.a, static_cast<std::size_t>(mtiles * kr.mr * kp_max));
  const std::size_t b_size = static_cast<std::size_t>(ntiles * kr.nr * kp_max);
  bf16_t* bbuf = pr.packed_b ? nullptr : bf16_buffer(buf.b, b_size);
  const index_t tile_size = static_cast<index_t>(kr.mr) * kr.nr;
  float* partial = pr.k > t.kc_step ? buf.partial.get(static_cast<std::size_t>(
                                          mtiles * ntiles * tile_size))
                                    : nullptr;
  TileStore st{};
  st.alpha = pr.alpha;
  st.beta = pr.beta;
  st.load_c = pr.beta != 0.0f;
  for (index_t pc = 0; pc < pr.k; pc += t.kc_step) {
    const index_t kc = std::min(t.kc_step, pr.k - pc), kp = round_up(kc, kr.kb);
    const bool first = pc == 0, last = pc + kc == pr.k;
    st.relu = last && pr.ep->relu;
    kr.pack_a({pr.a.p + i0 * pr.a.rs + pc * pr.a.cs, pr.a.rs, pr.a.cs}, mc, kc, kr.mr, kr.kb,
              abuf);
    const bf16_t* bstrips;
    index_t bstep;
    if (pr.packed_b) {
      bstep = bf16_strip_stride(kr, pr.k);
      bstrips = pr.packed_b + (j0 / kr.nr) * bstep + pc * kr.nr;
    } else {
      bstep = kp * kr.nr;
      kr.pack_b({pr.b.p + pc * pr.b.rs + j0 * pr.b.cs, pr.b.rs, pr.b.cs}, kc, nc, kr.nr, kr.kb,
                bbuf, bstep);
      bstrips = bbuf;
    }
    // strips outer, tiles inner: one B strip stays in L1 while the unit's A panels stream by
    for (index_t jt = 0; jt < ntiles; ++jt) {
      const int nr = static_cast<int>(std::min<index_t>(kr.nr, nc - jt * kr.nr));
      st.bias = (last && pr.ep->bias) ? pr.ep->bias + j0 + jt * kr.nr : nullptr;
      for (index_t it = 0; it < mtiles; ++it) {
        const int mr = static_cast<int>(std::min<index_t>(kr.mr, mc - it * kr.mr));
        float* part = partial ? partial + (it * ntiles + jt) * tile_size : nullptr;
        kr.kernel(kp, abuf + it * kr.mr * kp, bstrips + jt * bstep, part, first, last, mr, nr,
                  pr.c + (i0 + it * kr.mr) * pr.ldc + j0 + jt * kr.nr, pr.ldc, st);
      }
    }
  }
}

void work(Bf16Team& t) {
  const Bf16Problem& pr = *t.pr;
  if (pr.kr->prepare_thread) pr.kr->prepare_thread();
  const Units& u = t.units;
  const index_t total = u.mu * u.nu;
  for (index_t q = t.next.fetch_add(1); q < total; q = t.next.fetch_add(1)) {
    // units that share columns are consecutive, so threads working at once share B's columns
    const index_t i0 = (q % u.mu) * u.rows, j0 = (q / u.mu) * u.cols;
    const index_t mc = std::min(u.rows, pr.m - i0), nc = std::min(u.cols, pr.n - j0);
    run_unit(t, i0, mc, j0, nc);
    if (pr.ep->post) pr.ep->post(pr.c + i0 * pr.ldc + j0, pr.ldc, mc, nc, j0, pr.ep->post_ctx);
  }
}

void run(Bf16Problem& pr, int threads) {
  Bf16Team team;
  team.pr = &pr;
  team.units = make_units(pr, threads);
  team.kc_step = bf16_k_panel(*pr.kr, team.units, pr.k);
  if (threads > 1 && team.units.mu * team.units.nu > 1) {
    auto body = [&](int, int) { work(team); };
    detail::run_team(threads, body);
    return;
  }
  if (!pr.packed_b && team.units.mu > 1) {  // one thread: pack B once for the units sharing it
    const Bf16KernelInfo& kr = *pr.kr;
    bf16_t* shared = bf16_buffer(thread_buffers().shared_b, bf16_packed_b_size(kr, pr.k, pr.n));
    kr.pack_b(pr.b, pr.k, pr.n, kr.nr, kr.kb, shared, bf16_strip_stride(kr, pr.k));
    pr.packed_b = shared;
  }
  work(team);
}

}  // namespace

void sgemm_bf16_with(const Bf16KernelInfo& kernel, int threads, bool trans_a, bool trans_b,
                     index_t m, index_t n, index_t k, float alpha, const float* a, index_t lda,
                     const float* b, index_t ldb, float beta, float* c, index_t ldc,
                     const Epilogue& ep, const bf16_t* packed_b) {
  if (packed_b) {  // validated as a product whose B is the packed copy (k x n, row-major)
    check_args(trans_a, false, m, n, k, a, lda, reinterpret_cast<const float*>(packed_b),
               std::max<index_t>(n, 1), c, ldc);
  } else {
    check_args(trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc);
  }
  if (m == 0 || n == 0) return;
  // The fp32 driver's Problem with this kernel's tile shape: the thread count (the thread
  // policy's gemm row) and the scaling path are sgemm's own.
  KernelInfo shape;
  shape.mr = kernel.mr;
  shape.nr = kernel.nr;
  const StridedMatrix sa = trans_a ? StridedMatrix{a, 1, lda} : StridedMatrix{a, lda, 1};
  const StridedMatrix sb = trans_b ? StridedMatrix{b, 1, ldb} : StridedMatrix{b, ldb, 1};
  const Problem fp32{&shape, m, n, k, sa, sb, alpha, beta, c, ldc, &ep, nullptr};
  if (k == 0 || alpha == 0.0f) {
    scale_only(fp32);
    return;
  }
  Bf16Problem pr{&kernel, m, n, k, sa, sb, alpha, beta, c, ldc, &ep, packed_b};
  run(pr, choose_threads(fp32, threads));
}

}  // namespace gemm
}  // namespace fastmlp
