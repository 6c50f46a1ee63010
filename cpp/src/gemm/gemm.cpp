// The blocked GEMM driver (BLIS loop order): jc over NC columns, pc over KC panels of K, ic over MC
// rows, then the jr / ir macro-kernel over NR x MR register tiles. OpenMP splits C into a grid of
// thread regions along M and N only; each thread runs the whole loop nest on its region with its
// own packing buffers, so K is never split and every element is computed the same way for any
// thread count.
#include <omp.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "fastmlp/gemm.h"
#include "fastmlp/runtime.h"
#include "gemm/kernels.h"

namespace fastmlp {
namespace gemm {
namespace {

// Below this many flops per thread, a second thread costs more than it saves (~20 us of work).
constexpr double kMinFlopsPerThread = 2.0e6;

struct Problem {
  const KernelInfo* kr;
  index_t m, n, k;
  StridedMatrix a, b;  // op(A) is m x k, op(B) is k x n
  float alpha, beta;
  float* c;
  index_t ldc;
  const Epilogue* ep;
  const float* packed_b;  // prepacked op(B) (PackedB layout) or null
};

// An operand as the macro-kernel walks it: panel q starts at p + q * panel_step.
struct PanelView {
  const float* p;
  index_t rs, cs;      // element strides inside a panel (kernel's rsa/csa, or rsb)
  index_t panel_step;  // distance between consecutive MR (NR) panels
};

struct ThreadBuffers {
  PackBuffer a, b;
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

// The jr / ir loops over one packed (or in-place) mc x kc block of A and kc x nc block of B.
void macro_kernel(const Problem& pr, index_t ic, index_t jc, index_t mc, index_t nc, index_t kc,
                  const PanelView& a, const PanelView& b, TileStore st, bool last) {
  const KernelInfo& kr = *pr.kr;
  // A lone row over packed B: four full panels per call (see RowKernel), bitwise the same.
  const bool rows4 = mc == 1 && kr.row4 && st.b_padded && b.rs == kr.nr;
  for (index_t jr = 0; jr < nc; jr += kr.nr) {
    const int nr = static_cast<int>(std::min<index_t>(kr.nr, nc - jr));
    const float* bp = b.p + (jr / kr.nr) * b.panel_step;
    st.bias = (last && pr.ep->bias) ? pr.ep->bias + jc + jr : nullptr;
    if (rows4 && jr + 4 * kr.nr <= nc) {
      kr.row4(kc, a.p, a.cs, bp, b.rs, b.panel_step, pr.c + ic * pr.ldc + jc + jr, st);
      jr += 3 * kr.nr;
      continue;
    }
    for (index_t ir = 0; ir < mc; ir += kr.mr) {
      const int mr = static_cast<int>(std::min<index_t>(kr.mr, mc - ir));
      const float* ap = a.p + (ir / kr.mr) * a.panel_step;
      kr.kernel(kc, ap, a.rs, a.cs, bp, b.rs, mr, nr, pr.c + (ic + ir) * pr.ldc + jc + jr, pr.ldc,
                st);
    }
  }
}

// The whole loop nest on rows [i0, i1) and columns [j0, j1) of C, on the calling thread.
void run_region(const Problem& pr, index_t i0, index_t i1, index_t j0, index_t j1) {
  const KernelInfo& kr = *pr.kr;
  ThreadBuffers& buf = thread_buffers();
  const index_t kc_step = k_panel(pr.k, kr.kc);
  const bool do_pack_a = should_pack_a(kr, i1 - i0, j1 - j0);
  const bool do_pack_b = !pr.packed_b && should_pack_b(kr, pr.b, i1 - i0);
  const index_t nc_max = std::min<index_t>(kr.nc, ceil_div(j1 - j0, kr.nr) * kr.nr);
  const index_t mc_max = std::min<index_t>(kr.mc, ceil_div(i1 - i0, kr.mr) * kr.mr);
  float* bbuf = do_pack_b ? buf.b.get(static_cast<std::size_t>(kc_step * nc_max)) : nullptr;
  float* abuf =
      do_pack_a ? buf.a.get(static_cast<std::size_t>(kc_step * mc_max) + kPackSlack) : nullptr;
  for (index_t jc = j0; jc < j1; jc += kr.nc) {
    const index_t nc = std::min<index_t>(kr.nc, j1 - jc);
    for (index_t pc = 0; pc < pr.k; pc += kc_step) {
      const index_t kc = std::min<index_t>(kc_step, pr.k - pc);
      const bool last = pc + kc == pr.k;
      TileStore st = panel_store(pr, pc == 0, last);
      st.b_padded = pr.packed_b != nullptr || do_pack_b;
      const StridedMatrix bsub{pr.b.p + pc * pr.b.rs + jc * pr.b.cs, pr.b.rs, pr.b.cs};
      PanelView bv{bsub.p, bsub.rs, 1, kr.nr};
      if (pr.packed_b) {
        // PackedB layout: K panel pc starts at pc * n_pad; its NR panels are kc * NR apart
        bv = {pr.packed_b + pc * padded_n(pr) + jc * kc, kr.nr, 1, kc * kr.nr};
      } else if (do_pack_b) {
        pack_b_for(kr, bsub, kc, nc, bbuf);
        bv = {bbuf, kr.nr, 1, kc * kr.nr};
      }
      for (index_t ic = i0; ic < i1; ic += kr.mc) {
        const index_t mc = std::min<index_t>(kr.mc, i1 - ic);
        const StridedMatrix asub{pr.a.p + ic * pr.a.rs + pc * pr.a.cs, pr.a.rs, pr.a.cs};
        PanelView av{asub.p, asub.rs, asub.cs, kr.mr * asub.rs};
        if (do_pack_a) {
          pack_a_for(kr, asub, mc, kc, abuf);
          av = {abuf, 1, kr.mr, kc * kr.mr};
        }
        macro_kernel(pr, ic, jc, mc, nc, kc, av, bv, st, last);
        if (last && pr.ep->post) {
          pr.ep->post(pr.c + ic * pr.ldc + jc, pr.ldc, mc, nc, jc, pr.ep->post_ctx);
        }
      }
    }
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

// A thread grid tm x tn = threads, choosing the split that makes each thread touch the least of
// A and B (e.g. 32 x 784 x 128 splits N: both threads share the 32 rows of A, each packs half
// of B). Ties split M.
void thread_grid(const Problem& pr, int threads, int* tm, int* tn) {
  const index_t mt = ceil_div(pr.m, pr.kr->mr), nt = ceil_div(pr.n, pr.kr->nr);
  double best = -1.0;
  *tm = *tn = 1;
  for (int x = threads; x >= 1; --x) {
    if (threads % x) continue;
    const int y = threads / x;
    if (x > mt || y > nt) continue;
    const double cost =
        static_cast<double>(ceil_div(mt, x) * pr.kr->mr + ceil_div(nt, y) * pr.kr->nr);
    if (best < 0.0 || cost < best) {
      best = cost;
      *tm = x;
      *tn = y;
    }
  }
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

// Start of part `part` of `parts` near-equal runs of whole tiles of size `tile` covering `total`.
index_t split(index_t total, index_t tile, int parts, int part) {
  const index_t tiles = ceil_div(total, tile);
  return std::min(total, tiles * part / parts * tile);
}

void run(const Problem& pr, int threads) {
  int tm = 1, tn = 1;
  thread_grid(pr, threads, &tm, &tn);
  const int regions = tm * tn;
  if (regions == 1) {
    run_region(pr, 0, pr.m, 0, pr.n);
    return;
  }
#pragma omp parallel num_threads(regions)
  {
    // The runtime may give fewer threads (nested regions): each takes every team-th region.
    const int team = omp_get_num_threads();
    for (int r = omp_get_thread_num(); r < regions; r += team) {
      const int ti = r / tn, tj = r % tn;
      run_region(pr, split(pr.m, pr.kr->mr, tm, ti), split(pr.m, pr.kr->mr, tm, ti + 1),
                 split(pr.n, pr.kr->nr, tn, tj), split(pr.n, pr.kr->nr, tn, tj + 1));
    }
  }
}

void check_args(bool trans_a, bool trans_b, index_t m, index_t n, index_t k, const float* a,
                index_t lda, const float* b, index_t ldb, const float* c, index_t ldc) {
  auto fail = [](const std::string& what) { throw std::invalid_argument("sgemm: " + what); };
  if (m < 0 || n < 0 || k < 0) {
    fail("m, n, k must be >= 0, got m=" + std::to_string(m) + " n=" + std::to_string(n) +
         " k=" + std::to_string(k));
  }
  auto check_ld = [&](const char* name, index_t ld, index_t rows, index_t cols, const float* p) {
    if (ld < std::max<index_t>(cols, 1)) {
      fail(std::string(name) + " must be >= max(1, " + std::to_string(cols) + "), got " +
           std::to_string(ld));
    }
    if (rows > 0 && cols > 0 && p == nullptr) fail(std::string("null pointer for ") + name);
  };
  check_ld("lda", lda, trans_a ? k : m, trans_a ? m : k, a);
  check_ld("ldb", ldb, trans_b ? n : k, trans_b ? k : n, b);
  check_ld("ldc", ldc, m, n, c);
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
  run(pr, threads > 0 ? choose_threads(pr, threads) : default_threads(pr));
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
                         b.data_.get()};
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
