// Plain C++ test of the bf16 numerics below test_gemm_bf16.cpp's error bound (ctest):
// - to_bf16: round to nearest even against a float64 reference, ties, NaN stays NaN (also a
//   signalling NaN whose payload rounding would carry into Inf), Inf, overflow to Inf, subnormals;
// - the AVX512-BF16 packers (vcvtne2ps2bf16, interleaves, 16 x 16 transposes) write exactly the
//   portable packers' bytes, padding and special values included, and nothing outside the panels;
// - the AVX512-BF16 kernel equals the portable kernel bit for bit (same pair order);
// - tdpbf16ps (the instruction on an AMX CPU, the emulated tiles elsewhere) equals
//   amx::emulated_dpbf16ps bit for bit on random tiles with special values, and the AMX kernel
//   equals a product computed from emulated_dpbf16ps on the portable packers' panels.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "check.h"
#include "fastmlp/gemm_bf16.h"
#include "gemm/amx_tiles.h"
#include "gemm/kernels_bf16.h"

namespace {

using fastmlp::Bf16Kernel;
using fastmlp::index_t;
namespace gemm = fastmlp::gemm;
using gemm::bf16_t;

float from_bits(std::uint32_t u) {
  float x;
  std::memcpy(&x, &u, sizeof x);
  return x;
}
std::uint32_t bits(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}
bool supported(Bf16Kernel id) {
  for (Bf16Kernel k : fastmlp::supported_bf16_kernels()) {
    if (k == id) return true;
  }
  return false;
}

// The bf16 nearest to x (ties to even) by float64 arithmetic, for finite normal x.
bf16_t nearest_bf16(float x) {
  const std::uint32_t u = bits(x);
  const bf16_t lo = static_cast<bf16_t>(u >> 16), hi = static_cast<bf16_t>(lo + 1);
  const double dlo = std::fabs(static_cast<double>(x) - gemm::from_bf16(lo));
  const double dhi = std::fabs(static_cast<double>(gemm::from_bf16(hi)) - x);
  if (dlo != dhi) return dlo < dhi ? lo : hi;
  return (lo & 1) ? hi : lo;
}

void check_rounding(std::mt19937& rng) {
  const struct {
    std::uint32_t in;
    bf16_t want;
  } table[] = {
      {0x3f800000u, 0x3f80}, {0x3f808000u, 0x3f80},  // tie, even below: down
      {0x3f818000u, 0x3f82}, {0x3f808001u, 0x3f81},  // tie, odd below: up; above the tie: up
      {0x3f807fffu, 0x3f80}, {0xbf818000u, 0xbf82},  // below the tie; negative tie
      {0x7f7f7fffu, 0x7f7f},                         // the largest bf16 stays finite
      {0x7f7fffffu, 0x7f80}, {0x7f7f8000u, 0x7f80},  // FLT_MAX and the last tie overflow to Inf
      {0xff7fffffu, 0xff80},                         // and to -Inf
      {0x7f800000u, 0x7f80}, {0xff800000u, 0xff80},  // Inf
      {0x7fc00000u, 0x7fc0}, {0xffc00001u, 0xffc0},  // quiet NaNs
      {0x7f800001u, 0x7fc0}, {0x7f80ffffu, 0x7fc0},  // signalling NaNs (rounding: Inf)
      {0x00000001u, 0x0000}, {0x807fffffu, 0x8000},  // subnormals: signed zero (DAZ)
      {0x00800000u, 0x0080}, {0x80000000u, 0x8000},  // FLT_MIN, -0
      {0x00ffffffu, 0x0100}, {0x00000000u, 0x0000},
  };
  for (const auto& t : table) {
    const bf16_t got = gemm::to_bf16(from_bits(t.in));
    if (got != t.want) std::fprintf(stderr, "  to_bf16(%08x) = %04x\n", t.in, got);
    CHECK(got == t.want);
  }
  // every bf16 converts back to itself, except subnormals (zero) and NaNs (quiet NaNs)
  bool round_trip = true;
  for (std::uint32_t h = 0; h < 0x10000u; ++h) {
    const float x = gemm::from_bf16(static_cast<bf16_t>(h));
    const bf16_t back = gemm::to_bf16(x);
    if (std::isnan(x)) {
      round_trip = round_trip && std::isnan(gemm::from_bf16(back));
    } else if (x != 0.0f && std::fabs(x) < std::numeric_limits<float>::min()) {
      round_trip = round_trip && back == (h & 0x8000u);
    } else {
      round_trip = round_trip && back == h;
    }
  }
  CHECK(round_trip);
  // random normal floats against the float64 nearest
  std::uniform_int_distribution<std::uint32_t> any;
  bool nearest = true;
  for (int i = 0; i < 1000000; ++i) {
    const float x = from_bits(any(rng));
    if (!std::isnormal(x) || std::fabs(x) > 3.38e38f) continue;  // finite bf16 neighbours
    nearest = nearest && gemm::to_bf16(x) == nearest_bf16(x);
  }
  CHECK(nearest);
}

// Random values with specials mixed in: NaN, Inf, subnormals, exact ties, FLT_MAX.
std::vector<float> mixed_values(std::size_t n, std::mt19937& rng) {
  std::normal_distribution<float> normal;
  const float specials[] = {std::numeric_limits<float>::quiet_NaN(), from_bits(0x7f800001u),
                            std::numeric_limits<float>::infinity(), -1e-40f, 1e-45f,
                            from_bits(0x3f818000u), std::numeric_limits<float>::max(), -0.0f};
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) {
    v[i] = rng() % 9 == 0 ? specials[rng() % 8] : normal(rng);
  }
  return v;
}

// The ISA packers against the portable ones, byte for byte over the whole buffer (sentinels
// past the panels must survive): A and B, row-major, transposed and strided (the fallback).
void check_packers(std::mt19937& rng) {
#if defined(FASTMLP_HAVE_X86_KERNELS)
  if (!supported(Bf16Kernel::avx512_bf16)) return;
  const index_t ld = 83;
  const auto src = mixed_values(static_cast<std::size_t>(90 * ld * 2), rng);
  const struct {
    index_t rs, cs;
  } layouts[] = {{ld, 1}, {1, ld}, {2, 2 * ld}};
  for (int kb : {2, 32}) {
    for (int width : {12, 16, 32}) {  // MR of A, NR of B
      for (const auto& lay : layouts) {
        const gemm::StridedMatrix m{src.data(), lay.rs, lay.cs};
        for (index_t outer : {index_t(1), index_t(5), index_t(16), index_t(17), index_t(40)}) {
          for (index_t kc : {index_t(1), index_t(2), index_t(3), index_t(31), index_t(33),
                             index_t(70)}) {
            const index_t kp = gemm::round_up(kc, kb), panels = (outer + width - 1) / width;
            const std::size_t size = static_cast<std::size_t>(panels * kp * width + 64);
            std::vector<bf16_t> want(size, 0xAAAA), got(size, 0xAAAA);
            gemm::pack_a_bf16(m, outer, kc, width, kb, want.data());
            gemm::pack_a_bf16_avx512(m, outer, kc, width, kb, got.data());
            CHECK(want == got);
            if (width == 12) continue;  // B strips are 16 or 32 wide
            const index_t stride = kp * width + 8;  // a gap between strips must stay untouched
            std::vector<bf16_t> wb(size + panels * 8, 0x5555), gb(size + panels * 8, 0x5555);
            gemm::pack_b_bf16(m, kc, outer, width, kb, wb.data(), stride);
            gemm::pack_b_bf16_avx512(m, kc, outer, width, kb, gb.data(), stride);
            CHECK(wb == gb);
          }
        }
      }
    }
  }
#else
  (void)rng;
#endif
}

// The portable and AVX512-BF16 kernels sum in the same order: equal bits (alpha, bias and ReLU
// are the same float operations in both; beta's FMA is not, so beta is 0 here).
void check_generic_equals_avx512(std::mt19937& rng) {
  if (!supported(Bf16Kernel::avx512_bf16)) return;
  const auto& generic = gemm::bf16_kernel_for(Bf16Kernel::generic);
  const auto& avx512 = gemm::bf16_kernel_for(Bf16Kernel::avx512_bf16);
  for (index_t m : {index_t(1), index_t(13), index_t(70)}) {
    for (index_t n : {index_t(1), index_t(17), index_t(45)}) {
      for (index_t k : {index_t(1), index_t(3), index_t(64), index_t(900)}) {
        for (int tr = 0; tr < 4; ++tr) {
          std::normal_distribution<float> normal;
          std::vector<float> a(m * k), b(k * n), bias(n), want(m * n), got(m * n);
          for (float& x : a) x = normal(rng);
          for (float& x : b) x = normal(rng);
          for (float& x : bias) x = normal(rng);
          fastmlp::Epilogue ep;
          ep.bias = bias.data();
          ep.relu = true;
          const bool ta = tr & 1, tb = tr & 2;
          gemm::sgemm_bf16_with(generic, 1, ta, tb, m, n, k, 1.5f, a.data(), ta ? m : k,
                                b.data(), tb ? k : n, 0.0f, want.data(), n, ep);
          gemm::sgemm_bf16_with(avx512, 1, ta, tb, m, n, k, 1.5f, a.data(), ta ? m : k,
                                b.data(), tb ? k : n, 0.0f, got.data(), n, ep);
          CHECK(want == got);
        }
      }
    }
  }
}

bool same_bits_or_nan(float x, float y) {
  return bits(x) == bits(y) || (std::isnan(x) && std::isnan(y));
}

// A bf16 of every kind: normal over a wide exponent range (products that overflow or underflow),
// subnormal, zero, Inf, NaN.
bf16_t random_bf16(std::mt19937& rng, int spread) {
  const int kind = static_cast<int>(rng() % 64);
  if (kind == 0) return 0x7fc0;
  if (kind == 1) return static_cast<bf16_t>(rng() & 1 ? 0x7f80 : 0xff80);
  if (kind < 5) return static_cast<bf16_t>(rng() & 0x807f);  // subnormal or zero
  std::normal_distribution<float> normal;
  std::uniform_int_distribution<int> e(-spread, spread);
  return static_cast<bf16_t>(bits(std::ldexp(normal(rng), e(rng))) >> 16);
}

#if defined(FASTMLP_HAVE_X86_KERNELS)
void check_tile_product(std::mt19937& rng) {
  long mismatches = 0;
  for (int trial = 0; trial < 400; ++trial) {
    const int spread = trial % 4 == 0 ? 70 : 12;  // under- and overflowing products now and then
    alignas(64) bf16_t a[16 * 32], b[16 * 32];
    alignas(64) float c[256], want[256];
    for (bf16_t& x : a) x = random_bf16(rng, spread);
    for (bf16_t& x : b) x = random_bf16(rng, spread);
    for (int i = 0; i < 256; ++i) {
      const bool subnormal = rng() % 16 == 0;
      c[i] = subnormal ? from_bits(rng() & 0x807fffffu) : gemm::from_bf16(random_bf16(rng, 12));
      want[i] = c[i];
    }
    gemm::amx::emulated_dpbf16ps(reinterpret_cast<unsigned char*>(want),
                                 reinterpret_cast<const unsigned char*>(a),
                                 reinterpret_cast<const unsigned char*>(b));
    gemm::bf16_amx_tile_product(c, a, b);
    for (int i = 0; i < 256; ++i) mismatches += !same_bits_or_nan(c[i], want[i]);
  }
  if (mismatches) std::fprintf(stderr, "  tdpbf16ps: %ld elements differ\n", mismatches);
  CHECK(mismatches == 0);
}

// C = alpha * A B + bias, ReLU through the AMX kernel, against the same product formed tile by
// tile from emulated_dpbf16ps on the portable packers' panels, then the store's float steps.
void check_amx_kernel_against_emulation(std::mt19937& rng) {
  const auto& kr = gemm::bf16_kernel_for(Bf16Kernel::amx);
  for (index_t m : {index_t(5), index_t(40)}) {
    for (index_t n : {index_t(9), index_t(50)}) {
      for (index_t k : {index_t(1), index_t(45), index_t(kr.kc + 70)}) {
        const auto a = mixed_values(static_cast<std::size_t>(m * k), rng);
        const auto b = mixed_values(static_cast<std::size_t>(k * n), rng);
        std::vector<float> bias(n, 0.25f), got(m * n);
        fastmlp::Epilogue ep;
        ep.bias = bias.data();
        ep.relu = true;
        gemm::sgemm_bf16_with(kr, 1, false, false, m, n, k, 0.5f, a.data(), k, b.data(), n,
                              0.0f, got.data(), n, ep);
        const index_t kp = gemm::round_up(k, 32), mp = gemm::round_up(m, 32);
        const index_t np = gemm::round_up(n, 32);
        std::vector<bf16_t> pa(mp * kp), pb(np * kp);
        gemm::pack_a_bf16({a.data(), k, 1}, m, k, 32, 32, pa.data());
        gemm::pack_b_bf16({b.data(), n, 1}, k, n, 32, 32, pb.data(), kp * 32);
        bool ok = true;
        for (index_t i0 = 0; i0 < m; i0 += 16) {
          for (index_t j0 = 0; j0 < n; j0 += 16) {
            alignas(64) float acc[256] = {};
            alignas(64) bf16_t ta[512], tb[512];
            for (index_t q = 0; q < kp; q += 32) {
              const bf16_t* ablock = pa.data() + (i0 / 32) * 32 * kp + q * 32 + (i0 % 32) * 32;
              std::memcpy(ta, ablock, sizeof ta);  // 16 rows x 32 values
              const bf16_t* bstrip = pb.data() + (j0 / 32) * 32 * kp + q * 32;
              for (int r = 0; r < 16; ++r) {  // 16 pair rows, this tile's 16 columns
                std::memcpy(tb + r * 32, bstrip + r * 64 + (j0 % 32) * 2, 64);
              }
              gemm::amx::emulated_dpbf16ps(reinterpret_cast<unsigned char*>(acc),
                                           reinterpret_cast<unsigned char*>(ta),
                                           reinterpret_cast<unsigned char*>(tb));
            }
            for (index_t i = i0; i < std::min(m, i0 + 16); ++i) {
              for (index_t j = j0; j < std::min(n, j0 + 16); ++j) {
                float x = 0.5f * acc[(i - i0) * 16 + (j - j0)] + 0.25f;
                x = x < 0.0f ? 0.0f : x;  // NaN stays
                ok = ok && same_bits_or_nan(got[i * n + j], x);
              }
            }
          }
        }
        CHECK(ok);
      }
    }
  }
}
#endif

}  // namespace

int main() {
  std::mt19937 rng(11);
  check_rounding(rng);
  check_packers(rng);
  check_generic_equals_avx512(rng);
#if defined(FASTMLP_HAVE_X86_KERNELS)
  if (supported(Bf16Kernel::amx)) {
    check_tile_product(rng);
    check_amx_kernel_against_emulation(rng);
#if defined(FASTMLP_EMULATE_AMX)
    std::printf("AMX: emulated tiles\n");
#else
    std::printf("AMX: tdpbf16ps checked against the emulation\n");
#endif
  } else {
    std::printf("AMX: not available here (CPU, OS or permission)\n");
  }
#endif
  return check::exit_code("test_bf16_kernels");
}
