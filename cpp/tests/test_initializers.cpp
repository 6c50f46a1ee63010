// Initializers: Philox-4x32-10 known answers (Random123's kat_vectors), the moments and bounds of
// every Keras initializer, and determinism across calls and thread counts.
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "check.h"
#include "fastmlp/initializers.h"
#include "fastmlp/runtime.h"

using namespace fastmlp;

namespace {

// counter words c0..c3 and key words k0, k1 as in Random123's test file.
void kat(std::uint32_t c0, std::uint32_t c1, std::uint32_t c2, std::uint32_t c3, std::uint32_t k0,
         std::uint32_t k1, const std::uint32_t expect[4]) {
  const Philox rng((std::uint64_t{k1} << 32) | k0);
  std::uint32_t out[4];
  rng.generate((std::uint64_t{c1} << 32) | c0, (std::uint64_t{c3} << 32) | c2, out);
  for (int i = 0; i < 4; ++i) CHECK(out[i] == expect[i]);
}

void check_philox() {
  const std::uint32_t e0[4] = {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8};
  const std::uint32_t e1[4] = {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd};
  const std::uint32_t e2[4] = {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1};
  kat(0, 0, 0, 0, 0, 0, e0);
  const std::uint32_t f = 0xffffffffu;
  kat(f, f, f, f, f, f, e1);
  kat(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, e2);
}

struct Moments {
  double mean = 0, var = 0, lo = 1e300, hi = -1e300;
};

Moments moments(const std::vector<float>& w) {
  Moments m;
  for (float v : w) {
    m.mean += v;
    m.lo = std::min(m.lo, double(v));
    m.hi = std::max(m.hi, double(v));
  }
  m.mean /= w.size();
  for (float v : w) m.var += (v - m.mean) * (v - m.mean);
  m.var /= w.size();
  return m;
}

std::vector<float> draw(const InitializerSpec& spec, index_t count, index_t fi, index_t fo) {
  std::vector<float> w(count);
  initialize(spec, w.data(), count, fi, fo);
  return w;
}

void check_distributions() {
  const index_t n = 200000, fi = 300, fo = 100;
  InitializerSpec s;
  s.seed = 42;
  // Variance scaling: (name, expected variance, limit)
  struct Case {
    const char* name;
    double var;
    double bound;
  };
  const double avg = 0.5 * (fi + fo);
  const Case cases[] = {
      {"glorot_uniform", 1.0 / avg, std::sqrt(3.0 / avg)},
      {"he_uniform", 2.0 / fi, std::sqrt(6.0 / fi)},
      {"lecun_uniform", 1.0 / fi, std::sqrt(3.0 / fi)},
      {"glorot_normal", 1.0 / avg, 2 * std::sqrt(1.0 / avg) / 0.87962566103423978},
      {"he_normal", 2.0 / fi, 2 * std::sqrt(2.0 / fi) / 0.87962566103423978},
      {"lecun_normal", 1.0 / fi, 2 * std::sqrt(1.0 / fi) / 0.87962566103423978}};
  for (const Case& c : cases) {
    s.name = c.name;
    const Moments m = moments(draw(s, n, fi, fo));
    CHECK_CLOSE(m.var, c.var, 0.02, 0);
    CHECK(std::fabs(m.mean) < 4 * std::sqrt(c.var / n));
    CHECK(m.lo >= -c.bound * (1 + 1e-6) && m.hi <= c.bound * (1 + 1e-6));
    CHECK(m.hi > 0.9 * c.bound);  // the support is used up to (near) the bound
  }
  s.name = "random_uniform";  // Keras default +-0.05
  Moments m = moments(draw(s, n, fi, fo));
  CHECK(m.lo >= -0.05 && m.hi < 0.05);
  CHECK_CLOSE(m.var, 0.01 / 12, 0.02, 0);
  s.name = "random_normal";
  s.mean = 1.0;
  m = moments(draw(s, n, fi, fo));
  CHECK_CLOSE(m.mean, 1.0, 0, 1e-3);
  CHECK_CLOSE(m.var, 0.0025, 0.02, 0);
  CHECK(m.hi > 1.0 + 0.05 * 3.5);  // untruncated tails
  s.name = "truncated_normal";
  m = moments(draw(s, n, fi, fo));
  CHECK(m.lo >= 1.0 - 0.1 - 1e-6 && m.hi <= 1.0 + 0.1 + 1e-6);
  CHECK_CLOSE(std::sqrt(m.var), 0.05 * 0.87962566103423978, 0.02, 0);
  s.name = "constant";
  s.value = 0.25;
  m = moments(draw(s, 10, fi, fo));
  CHECK(m.lo == 0.25 && m.hi == 0.25);
  s.name = "ones";
  CHECK(moments(draw(s, 10, fi, fo)).lo == 1.0);
  s.name = "zeros";
  CHECK(moments(draw(s, 10, fi, fo)).hi == 0.0);
}

void check_determinism_and_errors() {
  InitializerSpec s;
  s.name = "he_normal";
  s.seed = 7;
  const index_t n = 100003;
  set_num_threads(1);
  const std::vector<float> a = draw(s, n, 64, 32);
  set_num_threads(2);
  const std::vector<float> b = draw(s, n, 64, 32);
  CHECK(std::memcmp(a.data(), b.data(), n * sizeof(float)) == 0);
  // A prefix of a longer tensor equals the shorter tensor: element i depends on (seed, i) only.
  const std::vector<float> c = draw(s, 17, 64, 32);
  CHECK(std::memcmp(a.data(), c.data(), 17 * sizeof(float)) == 0);
  s.seed = 8;
  const std::vector<float> d = draw(s, 17, 64, 32);
  CHECK(std::memcmp(d.data(), c.data(), 17 * sizeof(float)) != 0);
  s.name = "glorot_uniformm";
  CHECK_THROWS(draw(s, 4, 2, 2), std::invalid_argument);
  try {
    draw(s, 4, 2, 2);
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()).find("truncated_normal") != std::string::npos);
  }
  s.name = "random_normal";
  s.stddev = -1;
  CHECK_THROWS(draw(s, 4, 2, 2), std::invalid_argument);
  s.name = "random_uniform";
  s.stddev = 0.05;
  s.minval = 1;
  s.maxval = 0;
  CHECK_THROWS(draw(s, 4, 2, 2), std::invalid_argument);
}

}  // namespace

int main() {
  check_philox();
  check_distributions();
  check_determinism_and_errors();
  return check::exit_code("test_initializers");
}
