// float32 <-> bfloat16 (the upper half of a float32), as every bf16 packer rounds.
#pragma once
#include <cstdint>
#include <cstring>

namespace fastmlp {
namespace gemm {

using bf16_t = std::uint16_t;

// Round to nearest even. NaN stays NaN (made quiet, as the hardware does, so that no rounding can
// turn it into Inf); Inf stays Inf; a finite value that rounds past the largest bf16 becomes Inf
// (the carry runs into the exponent); subnormal floats become zero of the same sign, as AMX and
// AVX512-BF16 treat subnormal inputs (DAZ), so every kernel multiplies the same operands. Bitwise
// what vcvtne2ps2bf16 gives, so the AVX512-BF16 packers can use it.
// Written with selects rather than branches, so that packing loops vectorize.
inline bf16_t to_bf16(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  const std::uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
  const std::uint32_t nan = (u >> 16) | 0x0040u;
  const std::uint32_t zero = (u >> 16) & 0x8000u;
  std::uint32_t r = (u & 0x7fffffffu) > 0x7f800000u ? nan : rounded;
  r = (u & 0x7f800000u) == 0 ? zero : r;
  return static_cast<bf16_t>(r);
}

inline float from_bf16(bf16_t h) {
  const std::uint32_t u = static_cast<std::uint32_t>(h) << 16;
  float x;
  std::memcpy(&x, &u, sizeof x);
  return x;
}

// x rounded to bf16 and back: the value the kernels multiply.
inline float round_bf16(float x) { return from_bf16(to_bf16(x)); }

}  // namespace gemm
}  // namespace fastmlp
