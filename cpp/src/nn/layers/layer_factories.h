// Constructors of the concrete layers (each in its own file); make_layer dispatches to them.
#pragma once
#include <memory>

#include "fastmlp/layers.h"

namespace fastmlp {
namespace detail {

std::unique_ptr<Layer> make_dense(const LayerSpec& spec, index_t in_dim);
std::unique_ptr<Layer> make_dropout(const LayerSpec& spec, index_t in_dim);
std::unique_ptr<Layer> make_batch_normalization(const LayerSpec& spec, index_t in_dim);

}  // namespace detail
}  // namespace fastmlp
