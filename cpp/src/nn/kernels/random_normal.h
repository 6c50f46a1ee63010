// Standard normal numbers from Philox for the noise layers (GaussianNoise, GaussianDropout):
// element e of a batch reads word e % 4 of counter e / 4 of stream `step`, as Dropout's mask
// does, so the noise depends only on (seed, step, e), never on the thread count or the ISA.
#pragma once
#include <cstdint>

#include "fastmlp/initializers.h"

namespace fastmlp {
namespace detail {

// z[e - 4 * g0] for the elements of Philox groups [g0, g1) (4 elements each; the caller ignores
// those past its count). Elements 2p and 2p + 1 are one Box-Muller pair: the radius from the even
// word, the angle from the odd one. |z| <= 5.77 (the radius of the smallest uniform, 2^-24).
void normal_groups(const Philox& rng, std::uint64_t step, index_t g0, index_t g1, float* z);

// Groups per block of work: normal_groups runs in blocks of this size, and the noise layers
// draw this many groups at a time into a stack buffer.
constexpr index_t kNormalBlockGroups = 64;

}  // namespace detail
}  // namespace fastmlp
