// Times fastmlp::sgemm on the shapes an MLP's training and inference run: 1 thread by the thread's
// CPU time (other processes taking the core do not count), 2 threads by wall time, so run it as
// `chrt -f 50 ./gemm_shapes` on a shared machine (other processes then cannot preempt the team).
// Prints threads, shape (M x K x N, op(A) op(B)), us per call (median of batches) and GFLOP/s.
// Arguments: seconds per batch (0.02), batches (7), a substring of the shape names, threads (1|2).
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "fastmlp/gemm.h"
#include "fastmlp/runtime.h"

using fastmlp::index_t;

struct Shape {
  const char* name;
  index_t m, k, n;
  bool ta, tb, packed;
};

static double now(clockid_t clk) {
  timespec ts;
  clock_gettime(clk, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

int main(int argc, char** argv) {
  const double target = argc > 1 ? std::atof(argv[1]) : 0.02;  // seconds per batch
  const int batches = argc > 2 ? std::atoi(argv[2]) : 7;
  const char* filter = argc > 3 ? argv[3] : "";
  const int only_threads = argc > 4 ? std::atoi(argv[4]) : 0;
  fastmlp::set_thread_adaptation(false);
  const Shape shapes[] = {
      {"128x784x128 NN", 128, 784, 128, false, false, false},
      {"32x784x128 NN", 32, 784, 128, false, false, false},
      {"256x784x256 NN", 256, 784, 256, false, false, false},
      {"784x128x128 TN", 784, 128, 128, true, false, false},
      {"128x128x784 NT", 128, 128, 784, false, true, false},
      {"784x32x128 TN", 784, 32, 128, true, false, false},
      {"32x128x784 NT", 32, 128, 784, false, true, false},
      {"128x128x64 TN", 128, 128, 64, true, false, false},
      {"128x64x128 NT", 128, 64, 128, false, true, false},
      {"64x128x10 TN", 64, 128, 10, true, false, false},
      {"128x10x64 NT", 128, 10, 64, false, true, false},
      {"1x784x128 PackedB", 1, 784, 128, false, false, true},
      {"1024^3 NN", 1024, 1024, 1024, false, false, false},
  };
  for (int threads : {1, 2}) {
    if (only_threads && threads != only_threads) continue;
    fastmlp::set_num_threads(threads);
    const clockid_t clk = threads == 1 ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC;
    for (const Shape& s : shapes) {
      if (!std::strstr(s.name, filter)) continue;
      const index_t lda = s.ta ? s.m : s.k, ldb = s.tb ? s.k : s.n;
      std::vector<float> a(s.m * s.k), b(s.k * s.n), c(s.m * s.n);
      for (std::size_t i = 0; i < a.size(); ++i) a[i] = float((i * 7) % 13) * 0.1f - 0.6f;
      for (std::size_t i = 0; i < b.size(); ++i) b[i] = float((i * 5) % 11) * 0.1f - 0.5f;
      fastmlp::PackedB pb;
      if (s.packed) pb.pack(s.tb, s.k, s.n, b.data(), ldb);
      auto call = [&] {
        if (s.packed) {
          fastmlp::sgemm_packed(s.ta, s.m, 1.0f, a.data(), lda, pb, 0.0f, c.data(), s.n);
        } else {
          fastmlp::sgemm(s.ta, s.tb, s.m, s.n, s.k, 1.0f, a.data(), lda, b.data(), ldb, 0.0f,
                         c.data(), s.n);
        }
      };
      // calibrate calls per batch
      long calls = 1;
      for (;;) {
        const double t0 = now(clk);
        for (long i = 0; i < calls; ++i) call();
        const double dt = now(clk) - t0;
        if (dt >= target / 4 || calls > (1 << 24)) {
          calls = std::max<long>(1, static_cast<long>(calls * target / std::max(dt, 1e-9)));
          break;
        }
        calls *= 4;
      }
      std::vector<double> us;
      for (int r = 0; r < batches; ++r) {
        const double t0 = now(clk);
        for (long i = 0; i < calls; ++i) call();
        us.push_back((now(clk) - t0) / calls * 1e6);
      }
      std::sort(us.begin(), us.end());
      const double med = us[us.size() / 2];
      std::printf("t%d\t%s\t%.3f\t%.1f\n", threads, s.name, med,
                  2.0 * s.m * s.n * s.k / (med * 1e3));
    }
  }
  return 0;
}
