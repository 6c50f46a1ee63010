// The order in which a shuffled epoch visits the rows, exposed so that callers feeding the loop
// in blocks of rows (the Python side's scipy.sparse input) can visit them in the same order.
#pragma once
#include <cstdint>
#include <vector>

#include "fastmlp/gemm.h"  // index_t

namespace fastmlp {
namespace detail {

// A permutation of [0, n) from Philox(seed): Fisher-Yates with counter-based draws, so the order
// depends only on the seed.
void shuffled_order(index_t n, std::uint64_t seed, std::vector<index_t>& order);

}  // namespace detail
}  // namespace fastmlp
