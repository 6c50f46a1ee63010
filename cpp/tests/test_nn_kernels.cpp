// The per-ISA builds of the element-wise kernels: Dropout masks and Philox words bit-identical
// to the scalar Philox::generate definition in every build and for any split into group ranges,
// the noise layers' normals against a double-precision Box-Muller of the same words, and the
// activations of each build agreeing with the generic build to float rounding.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "check.h"
#include "fastmlp/initializers.h"
#include "nn/kernels/fastmath.h"
#include "nn/kernels/nn_kernels.h"
#include "nn/kernels/random_normal.h"

using namespace fastmlp;
using detail::DropoutMask;
using detail::NnKernels;

namespace {

std::vector<const NnKernels*> builds() {
  std::vector<const NnKernels*> b{detail::nn_kernels_for(Isa::generic)};
  if (const NnKernels* k = detail::nn_kernels_for(Isa::avx2)) b.push_back(k);
  return b;
}

// The mask exactly as the original scalar Dropout defined it.
float reference_mask(std::uint64_t key, std::uint64_t step, float rate, index_t e) {
  std::uint32_t w[4];
  Philox(key).generate(static_cast<std::uint64_t>(e / 4), step, w);
  return Philox::to_unit_float(w[e % 4]) >= rate ? 1.0f / (1.0f - rate) : 0.0f;
}

void check_dropout(const NnKernels& k, index_t count, float rate, std::uint64_t key,
                   std::uint64_t step) {
  const auto threshold = static_cast<std::uint32_t>(std::ceil(double(rate) * 16777216.0));
  const DropoutMask m{Philox(key), step, threshold, 1.0f / (1.0f - rate)};
  std::vector<float> x(count), y(count, -1.0f), mask(count, -1.0f);
  for (index_t i = 0; i < count; ++i) x[i] = 0.25f * static_cast<float>(i % 13) - 1.0f;
  // Uneven ranges: every build must give the same bits whatever the split.
  const index_t groups = (count + 3) / 4;
  for (index_t g0 = 0; g0 < groups;) {
    const index_t g1 = std::min<index_t>(groups, g0 + 1 + (g0 * 7) % 23);
    k.dropout_forward(m, g0, g1, count, x.data(), y.data(), mask.data());
    g0 = g1;
  }
  int bad = 0;
  for (index_t e = 0; e < count; ++e) {
    const float r = reference_mask(key, step, rate, e);
    bad += mask[e] != r || y[e] != x[e] * r;
  }
  CHECK(bad == 0);
}

void check_dropout_builds() {
  for (const NnKernels* k : builds()) {
    for (index_t count : {1, 3, 4, 31, 32, 33, 257, 4099}) {
      check_dropout(*k, count, 0.25f, 3, 7);
    }
    check_dropout(*k, 1000, 0.5f, 0xFFFFFFFF12345678ull, 0x123456789ull);
    check_dropout(*k, 1000, 0.1f, 42, 0);
    check_dropout(*k, 1000, 1.0f / 3.0f, 9, 1);  // rate * 2^24 not an integer
  }
}

void check_philox_words_builds() {
  for (const NnKernels* k : builds()) {
    // Ranges of every length around the 16-counter blocks, and counters that carry into the
    // high word (the vector path must hand those to the scalar one).
    for (index_t first : {index_t{0}, index_t{5}, index_t{0xFFFFFFF0}, index_t{0xFFFFFFFB}}) {
      for (index_t len : {1, 15, 16, 17, 33, 64}) {
        std::vector<std::uint32_t> got(4 * len);
        const Philox rng(0x9E3779B97F4A7C15ull);
        const index_t g0 = first;
        k->philox_words(rng, 77, g0, g0 + len, got.data());
        int bad = 0;
        for (index_t g = 0; g < len; ++g) {
          std::uint32_t w[4];
          rng.generate(static_cast<std::uint64_t>(g0 + g), 77, w);
          for (int t = 0; t < 4; ++t) bad += got[4 * g + t] != w[t];
        }
        CHECK(bad == 0);
      }
    }
  }
}

// Box-Muller in double from the words Philox::generate gives: the radius from the even word, the
// angle (quadrant from the top 2 bits, then 22 bits of a quarter turn) from the odd one.
double reference_normal(const Philox& rng, std::uint64_t step, index_t e) {
  std::uint32_t w[4];
  rng.generate(static_cast<std::uint64_t>(e / 4), step, w);
  const int pair = static_cast<int>(e % 4) / 2 * 2;
  const double u = ((w[pair] >> 8) + 1) / 16777216.0;
  const std::uint32_t b = w[pair + 1];
  const double angle = (b >> 30) * (M_PI / 2) + ((b >> 8) & 0x3FFFFF) * (M_PI / 2) / 4194304.0;
  const double r = std::sqrt(-2.0 * std::log(u));
  return e % 2 == 0 ? r * std::cos(angle) : r * std::sin(angle);
}

void check_normals() {
  const Philox rng(12345);
  const index_t groups = 3000;  // 12000 normals
  std::vector<float> z(4 * groups);
  detail::normal_groups(rng, 9, 0, groups, z.data());
  double worst = 0.0, sum = 0.0, sq = 0.0, top = 0.0;
  for (index_t e = 0; e < 4 * groups; ++e) {
    const double ref = reference_normal(rng, 9, e);
    worst = std::max(worst, std::fabs(z[e] - ref) / std::max(1.0, std::fabs(ref)));
    sum += z[e], sq += double(z[e]) * z[e], top = std::max(top, std::fabs(double(z[e])));
  }
  CHECK(worst < 2e-6);
  CHECK(std::fabs(sum / (4 * groups)) < 0.03 && std::fabs(sq / (4 * groups) - 1.0) < 0.05);
  CHECK(top <= 5.78);
  // A sub-range from an offset: the same values as the whole range (counter = position).
  std::vector<float> part(4 * 70);
  detail::normal_groups(rng, 9, 1000, 1070, part.data());
  CHECK(std::equal(part.begin(), part.end(), z.begin() + 4000));
}

void check_activation_builds() {
  const auto all = builds();
  const index_t rows = 7, cols = 19, ld = 21;
  std::vector<float> base(rows * ld);
  for (index_t i = 0; i < rows * ld; ++i) base[i] = 0.37f * static_cast<float>(i % 41) - 7.0f;
  for (const char* name : {"relu", "leaky_relu", "elu", "selu", "gelu", "gelu_tanh", "sigmoid",
                           "hard_sigmoid", "tanh", "softplus", "silu", "softmax"}) {
    const Activation act = parse_activation(name);
    std::vector<float> ref_y = base, ref_g(rows * ld, 0.5f);
    all[0]->activation_forward(act, ref_y.data(), ref_y.data(), 0, rows, cols, ld);
    const float* ref_src = needs_preactivation(act) ? base.data() : ref_y.data();
    all[0]->activation_backward(act, ref_src, ref_g.data(), ref_g.data(), 0, rows, cols, ld);
    for (const NnKernels* k : all) {
      // In place on two row ranges, and out of place.
      std::vector<float> y = base, y2(rows * ld, -9.0f), g(rows * ld, 0.5f), g2(rows * ld, -9.0f);
      k->activation_forward(act, y.data(), y.data(), 0, 3, cols, ld);
      k->activation_forward(act, y.data(), y.data(), 3, rows, cols, ld);
      k->activation_forward(act, base.data(), y2.data(), 0, rows, cols, ld);
      const float* src = needs_preactivation(act) ? base.data() : y.data();
      k->activation_backward(act, src, g.data(), g2.data(), 0, rows, cols, ld);
      k->activation_backward(act, src, g.data(), g.data(), 0, rows, cols, ld);
      for (index_t r = 0; r < rows; ++r) {
        for (index_t c = 0; c < cols; ++c) {
          const index_t i = r * ld + c;
          CHECK_CLOSE(y[i], ref_y[i], 2e-6, 1e-30);
          CHECK(y2[i] == y[i]);
          CHECK_CLOSE(g[i], ref_g[i], 2e-5, 1e-7);
          CHECK(g2[i] == g[i]);
        }
        CHECK(y[r * ld + cols] == base[r * ld + cols]);  // padding untouched
        CHECK(y2[r * ld + cols] == -9.0f);
      }
    }
  }
}

// The losses' double exp: within 2 ulp of libm's over the range softmax shifts reach, 0 below
// its documented cut-off, and the special values.
void check_exp_double() {
  double worst = 0.0;
  for (int i = 0; i <= 200000; ++i) {
    const double x = -708.0 + 709.0 * i / 200000.0;  // [-708, 1]
    const double want = std::exp(x), got = fastmath::exp_double(x);
    const double ulp = std::nextafter(want, INFINITY) - want;
    worst = std::max(worst, std::fabs(got - want) / ulp);
  }
  CHECK(worst <= 2.0);
  CHECK(fastmath::exp_double(0.0) == 1.0);
  CHECK(fastmath::exp_double(-709.0) == 0.0);
  CHECK(fastmath::exp_double(-INFINITY) == 0.0);
  CHECK(std::isnan(fastmath::exp_double(NAN)));
}

}  // namespace

int main() {
  check_exp_double();
  check_dropout_builds();
  check_philox_words_builds();
  check_normals();
  check_activation_builds();
  return check::exit_code("test_nn_kernels");
}
