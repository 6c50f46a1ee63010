// Times the bf16 GEMM on the MLP shapes (forward X*W, dX = dY*W^T, dW = X^T*dY) and 1024^3 for
// each bf16 kernel this CPU has, beside fastmlp's fp32 sgemm, on one thread by the thread's CPU
// time: other processes taking the core (the machine is shared) do not count. Prints kernel,
// shape (M x K x N, op(A) op(B)), us per call (best and median of batches) and GFLOP/s of the best.
// "packed" rows take B from a PackedBBf16 (the weights, packed once per optimizer step).
// Arguments: seconds per batch (0.02), batches (9), a substring of the shape names.
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "fastmlp/gemm.h"
#include "fastmlp/gemm_bf16.h"
#include "fastmlp/runtime.h"
#include "gemm/kernels_bf16.h"

using fastmlp::index_t;

struct Shape {
  const char* name;
  index_t m, k, n;
  bool ta, tb;
};

static double cpu_now() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

// best and median us per call over `batches` batches of ~target seconds
static std::pair<double, double> time_call(const std::function<void()>& call, double target,
                                           int batches) {
  long calls = 1;
  for (;;) {
    const double t0 = cpu_now();
    for (long i = 0; i < calls; ++i) call();
    const double dt = cpu_now() - t0;
    if (dt >= target / 4 || calls > (1 << 24)) {
      calls = std::max<long>(1, static_cast<long>(calls * target / std::max(dt, 1e-9)));
      break;
    }
    calls *= 4;
  }
  std::vector<double> us;
  for (int r = 0; r < batches; ++r) {
    const double t0 = cpu_now();
    for (long i = 0; i < calls; ++i) call();
    us.push_back((cpu_now() - t0) / calls * 1e6);
  }
  std::sort(us.begin(), us.end());
  return {us.front(), us[us.size() / 2]};
}

int main(int argc, char** argv) {
  const double target = argc > 1 ? std::atof(argv[1]) : 0.02;
  const int batches = argc > 2 ? std::atoi(argv[2]) : 9;
  const char* filter = argc > 3 ? argv[3] : "";
  fastmlp::set_num_threads(1);
  const Shape shapes[] = {
      {"128x784x128 NN", 128, 784, 128, false, false},
      {"128x128x784 NT", 128, 128, 784, false, true},
      {"784x128x128 TN", 784, 128, 128, true, false},
      {"256x784x256 NN", 256, 784, 256, false, false},
      {"1024^3 NN", 1024, 1024, 1024, false, false},
  };
  for (const Shape& s : shapes) {
    if (!std::strstr(s.name, filter)) continue;
    const index_t lda = s.ta ? s.m : s.k, ldb = s.tb ? s.k : s.n;
    std::vector<float> a(s.m * s.k), b(s.k * s.n), c(s.m * s.n);
    for (std::size_t i = 0; i < a.size(); ++i) a[i] = float((i * 7) % 13) * 0.1f - 0.6f;
    for (std::size_t i = 0; i < b.size(); ++i) b[i] = float((i * 5) % 11) * 0.1f - 0.5f;
    const double flop = 2.0 * s.m * s.n * s.k;
    auto report = [&](const std::string& what, const std::function<void()>& call) {
      const auto t = time_call(call, target, batches);
      std::printf("%-20s %-16s %9.2f %9.2f %8.0f\n", what.c_str(), s.name, t.first, t.second,
                  flop / (t.first * 1e3));
    };
    report("fp32", [&] {
      fastmlp::sgemm(s.ta, s.tb, s.m, s.n, s.k, 1.0f, a.data(), lda, b.data(), ldb, 0.0f,
                     c.data(), s.n);
    });
    for (fastmlp::Bf16Kernel id : fastmlp::supported_bf16_kernels()) {
      const auto& kr = fastmlp::gemm::bf16_kernel_for(id);
      if (id == fastmlp::Bf16Kernel::generic && s.m * s.n * s.k > (1 << 24)) continue;  // slow
      report(std::string("bf16 ") + fastmlp::bf16_kernel_name(id), [&] {
        fastmlp::gemm::sgemm_bf16_with(kr, 1, s.ta, s.tb, s.m, s.n, s.k, 1.0f, a.data(), lda,
                                       b.data(), ldb, 0.0f, c.data(), s.n, {});
      });
    }
    fastmlp::PackedBBf16 packed;  // the active kernel's layout
    packed.pack(s.tb, s.k, s.n, b.data(), ldb);
    report(std::string("bf16 ") + fastmlp::bf16_kernel_name(fastmlp::active_bf16_kernel()) +
               " packed",
           [&] {
             fastmlp::sgemm_bf16_packed(s.ta, s.m, 1.0f, a.data(), lda, packed, 0.0f, c.data(),
                                        s.n);
           });
  }
  return 0;
}
