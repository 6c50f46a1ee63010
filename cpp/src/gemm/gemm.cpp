// The GEMM entry points (sgemm, PackedB, sgemm_packed) and what a call decides before any
// arithmetic: the thread count (the thread policy's answer), the grid of units the team claims,
// what is packed, and so which driver runs the units (gemm/driver.h). K is never split, so every
// element is computed the same way for any thread count.
#include <algorithm>
#include <cstdint>
#include <new>
#include <stdexcept>

#include "common/thread_policy.h"
#include "common/thread_team.h"
#include "fastmlp/gemm.h"
#include "gemm/driver.h"
#include "gemm/kernels.h"

namespace fastmlp {
namespace gemm {
namespace {

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

// The unit grid for the threads that will really run and what the call packs: the packed
// driver runs it if anything is packed, the small one otherwise.
void prepare_team(Team& t, const Problem& pr, int threads) {
  const KernelInfo& kr = *pr.kr;
  t.pr = &pr;
  t.units = make_units(pr, threads);
  t.alone = threads == 1 || t.units.mu * t.units.nu == 1;
  t.kc_step = k_panel(pr.k, kr.kc);
  t.kpanels = ceil_div(pr.k, t.kc_step);
  t.npanels = ceil_div(pr.n, kr.nr);
  t.pack_a = should_pack_a(kr, t.units.rows, t.units.cols);
  t.pack_b = !pr.packed_b && should_pack_b(kr, pr.b, pr.m);
  prepare_shared_b(t);
}

}  // namespace

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

namespace {

double flops(const Problem& pr) {
  return 2.0 * static_cast<double>(pr.m) * static_cast<double>(pr.n) * static_cast<double>(pr.k);
}
double tiles(const Problem& pr) {
  return static_cast<double>(ceil_div(pr.m, pr.kr->mr) * ceil_div(pr.n, pr.kr->nr));
}

}  // namespace

// The thread policy's answer (common/thread_policy.h); `cap` > 0 (tests) is the table's answer
// for that many threads, with no load feedback, so the team really runs.
int choose_threads(const Problem& pr, int cap) {
  return cap > 0 ? ThreadPolicy::table(WorkKind::gemm, flops(pr), tiles(pr), cap)
                 : thread_policy().threads_for(WorkKind::gemm, flops(pr), tiles(pr));
}

namespace {

void run(const Problem& pr, int threads) {
  Team team;
  prepare_team(team, pr, threads);  // units sized for the threads that will run
  void (*const work)(Team&) = team.pack_a || team.pack_b ? work_packed : work_small;
  if (team.alone) {
    work(team);  // no team set-up for single-thread work
    return;
  }
  auto body = [&](int, int) { work(team); };
  detail::run_team(threads, body);
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
  run(pr, choose_threads(pr, threads));
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
  gemm::run(pr, gemm::choose_threads(pr, 0));
}

void sgemm(bool trans_a, bool trans_b, index_t m, index_t n, index_t k, float alpha,
           const float* a, index_t lda, const float* b, index_t ldb, float beta, float* c,
           index_t ldc, const Epilogue& ep) {
  gemm::sgemm_with(gemm::active_kernel(), 0, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb,
                   beta, c, ldc, ep);
}

}  // namespace fastmlp
