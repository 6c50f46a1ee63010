// The AMX tile operations the bf16 and int8 AMX kernels are written against: the intrinsics, or, in builds
// with FASTMLP_EMULATE_AMX, plain arrays with the same results bit for bit, so that the kernel
// (its tile indices, strides, edges and store path) is tested on any CPU. On a CPU with AMX the
// tests compare tdpbf16ps and tdpbusd themselves against emulated_dpbf16ps and emulated_dpbusd.
//
// Every tile this engine uses is full size, 16 rows of 64 bytes (16 floats, or 16 bf16 pairs):
// edges are zero-padded by the packers, so one configuration (palette 1) serves every product.
// Tile numbers are template arguments because the instructions encode them as immediates.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#include "fastmlp/gemm.h"

#if !defined(FASTMLP_EMULATE_AMX)
#include <immintrin.h>
#endif

namespace fastmlp {
namespace gemm {
namespace amx {

constexpr int kRows = 16;       // rows of every tile
constexpr int kRowBytes = 64;   // bytes per row: 16 floats or 32 bf16
constexpr int kTiles = 8;

// The LDTILECFG / STTILECFG memory operand.
struct alignas(64) TileConfig {
  std::uint8_t palette = 0;
  std::uint8_t start_row = 0;
  std::uint8_t reserved[14] = {};
  std::uint16_t colsb[16] = {};
  std::uint8_t rows[16] = {};
};
static_assert(sizeof(TileConfig) == 64, "LDTILECFG reads 64 bytes");

inline TileConfig full_tiles() {
  TileConfig c;
  c.palette = 1;
  for (int t = 0; t < kTiles; ++t) {
    c.rows[t] = kRows;
    c.colsb[t] = kRowBytes;
  }
  return c;
}

// What tdpbf16ps computes, given as plain C++ (the emulation runs it; the tests hold the hardware
// to it). c: 16 x 16 floats; a: 16 rows x 32 bf16; b: 16 rows x 16 pairs. Measured on Sapphire
// Rapids (and as the SDM's current pseudocode reads): each element sums the even and the odd
// products of its 16 pairs in two float32 chains that start at zero (each step an FMA, rounded to
// nearest even, subnormal results flushed to zero, subnormal inputs read as zero), then adds
// (even + odd) to C, flushing again. Sequential one-chain sums miss 20-40% of the bits.
namespace detail {
inline float daz(float x) { return std::fabs(x) < 1.17549435e-38f ? std::copysign(0.0f, x) : x; }
inline float bf16_in(const unsigned char* p) {
  std::uint16_t h;
  std::memcpy(&h, p, sizeof h);
  const std::uint32_t u = static_cast<std::uint32_t>(h) << 16;
  float x;
  std::memcpy(&x, &u, sizeof x);
  return daz(x);
}
}  // namespace detail

inline void emulated_dpbf16ps(unsigned char* c, const unsigned char* a, const unsigned char* b) {
  using detail::bf16_in;
  using detail::daz;
  for (int m = 0; m < kRows; ++m) {
    for (int n = 0; n < kRows; ++n) {
      float even = 0.0f, odd = 0.0f;
      for (int k = 0; k < kRows; ++k) {
        const unsigned char* ap = a + m * kRowBytes + 4 * k;
        const unsigned char* bp = b + k * kRowBytes + 4 * n;
        even = daz(std::fma(bf16_in(ap), bf16_in(bp), even));
        odd = daz(std::fma(bf16_in(ap + 2), bf16_in(bp + 2), odd));
      }
      float acc;
      std::memcpy(&acc, c + m * kRowBytes + 4 * n, sizeof acc);
      acc = daz(daz(acc) + daz(even + odd));
      std::memcpy(c + m * kRowBytes + 4 * n, &acc, sizeof acc);
    }
  }
}

// What tdpbusd computes: c (16 x 16 int32) += a (16 rows x 64 unsigned bytes) times b (16 rows
// of 16 groups of 4 signed bytes), each element the sum of its 64 products added to C with
// wraparound (no saturation). Integer sums are exact, so their order does not matter.
inline void emulated_dpbusd(unsigned char* c, const unsigned char* a, const unsigned char* b) {
  for (int m = 0; m < kRows; ++m) {
    for (int n = 0; n < kRows; ++n) {
      std::uint32_t sum;
      std::memcpy(&sum, c + m * kRowBytes + 4 * n, sizeof sum);
      for (int k = 0; k < kRowBytes; ++k) {
        const int x = a[m * kRowBytes + k];
        const int w = static_cast<signed char>(b[(k / 4) * kRowBytes + 4 * n + k % 4]);
        sum += static_cast<std::uint32_t>(x * w);
      }
      std::memcpy(c + m * kRowBytes + 4 * n, &sum, sizeof sum);
    }
  }
}

#if defined(FASTMLP_EMULATE_AMX)

// The emulated tile registers and configuration of the calling thread.
struct EmulatedTiles {
  alignas(64) unsigned char data[kTiles][kRows * kRowBytes] = {};
  TileConfig config;  // palette 0: not configured, as after TILERELEASE
};
inline EmulatedTiles& emulated_tiles() {
  thread_local EmulatedTiles t;
  return t;
}

inline void load_config(const TileConfig& c) { emulated_tiles().config = c; }
inline void store_config(TileConfig* c) { *c = emulated_tiles().config; }
template <int T>
inline void zero() {
  std::memset(emulated_tiles().data[T], 0, sizeof emulated_tiles().data[T]);
}
template <int T>
inline void load(const void* p, index_t stride) {
  for (int r = 0; r < kRows; ++r) {
    std::memcpy(emulated_tiles().data[T] + r * kRowBytes,
                static_cast<const unsigned char*>(p) + r * stride, kRowBytes);
  }
}
template <int T>
inline void store(void* p, index_t stride) {
  for (int r = 0; r < kRows; ++r) {
    std::memcpy(static_cast<unsigned char*>(p) + r * stride,
                emulated_tiles().data[T] + r * kRowBytes, kRowBytes);
  }
}
template <int C, int A, int B>
inline void dpbf16ps() {
  EmulatedTiles& t = emulated_tiles();
  emulated_dpbf16ps(t.data[C], t.data[A], t.data[B]);
}

template <int C, int A, int B>
inline void dpbusd() {
  EmulatedTiles& t = emulated_tiles();
  emulated_dpbusd(t.data[C], t.data[A], t.data[B]);
}

#else

inline void load_config(const TileConfig& c) { _tile_loadconfig(&c); }
inline void store_config(TileConfig* c) { _tile_storeconfig(c); }

// The intrinsics paste their tile numbers into the instruction text, so each needs a literal.
#define FASTMLP_AMX_EACH_TILE(T, op) \
  if constexpr (T == 0) op(0);       \
  if constexpr (T == 1) op(1);       \
  if constexpr (T == 2) op(2);       \
  if constexpr (T == 3) op(3);       \
  if constexpr (T == 4) op(4);       \
  if constexpr (T == 5) op(5);       \
  if constexpr (T == 6) op(6);       \
  if constexpr (T == 7) op(7)

template <int T>
inline void zero() {
  static_assert(T >= 0 && T < kTiles, "tile registers are 0..7");
#define FASTMLP_AMX_OP(t) _tile_zero(t)
  FASTMLP_AMX_EACH_TILE(T, FASTMLP_AMX_OP);
#undef FASTMLP_AMX_OP
}
template <int T>
inline void load(const void* p, index_t stride) {
  static_assert(T >= 0 && T < kTiles, "tile registers are 0..7");
#define FASTMLP_AMX_OP(t) _tile_loadd(t, p, stride)
  FASTMLP_AMX_EACH_TILE(T, FASTMLP_AMX_OP);
#undef FASTMLP_AMX_OP
}
template <int T>
inline void store(void* p, index_t stride) {
  static_assert(T >= 0 && T < kTiles, "tile registers are 0..7");
#define FASTMLP_AMX_OP(t) _tile_stored(t, p, stride)
  FASTMLP_AMX_EACH_TILE(T, FASTMLP_AMX_OP);
#undef FASTMLP_AMX_OP
}
#undef FASTMLP_AMX_EACH_TILE

// The four products of the 2 x 2 blocking (C0..C3 from A 4, 5 and B 6, 7), the only ones used.
template <int C, int A, int B>
inline void dpbf16ps() {
  constexpr int code = C * 100 + A * 10 + B;
  static_assert(code == 46 || code == 147 || code == 256 || code == 357,
                "only C0 = A4 B6, C1 = A4 B7, C2 = A5 B6, C3 = A5 B7 are spelled out");
  if constexpr (code == 46) _tile_dpbf16ps(0, 4, 6);
  if constexpr (code == 147) _tile_dpbf16ps(1, 4, 7);
  if constexpr (code == 256) _tile_dpbf16ps(2, 5, 6);
  if constexpr (code == 357) _tile_dpbf16ps(3, 5, 7);
}


#if defined(__AMX_INT8__)
// The same four products on int8 tiles (sources compiled with -mamx-int8 only).
template <int C, int A, int B>
inline void dpbusd() {
  constexpr int code = C * 100 + A * 10 + B;
  static_assert(code == 46 || code == 147 || code == 256 || code == 357,
                "only C0 = A4 B6, C1 = A4 B7, C2 = A5 B6, C3 = A5 B7 are spelled out");
  if constexpr (code == 46) _tile_dpbusd(0, 4, 6);
  if constexpr (code == 147) _tile_dpbusd(1, 4, 7);
  if constexpr (code == 256) _tile_dpbusd(2, 5, 6);
  if constexpr (code == 357) _tile_dpbusd(3, 5, 7);
}
#endif
#endif

// Loads full_tiles() unless this thread's configuration already is it. Another library in the
// same thread (oneDNN under PyTorch, for one) may have loaded its own since our last product, so
// the check reads the live configuration (STTILECFG, ~30 cycles) rather than trusting a flag;
// LDTILECFG costs ~300 cycles, and is issued only when the configuration differs.
inline void ensure_config() {
  static const TileConfig want = full_tiles();
  TileConfig have;
  store_config(&have);
  if (std::memcmp(&have, &want, sizeof want) != 0) load_config(want);
}

}  // namespace amx
}  // namespace gemm
}  // namespace fastmlp
