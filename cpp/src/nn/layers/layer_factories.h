// Constructors of the concrete layers (each in its own file); make_layer dispatches to them.
#pragma once
#include <memory>

#include "fastmlp/layers.h"

namespace fastmlp {
namespace detail {

std::unique_ptr<Layer> make_dense(const LayerSpec& spec, index_t in_dim);
std::unique_ptr<Layer> make_dropout(const LayerSpec& spec, index_t in_dim);
std::unique_ptr<Layer> make_batch_normalization(const LayerSpec& spec, index_t in_dim);
// activation_layers.cpp, layer_normalization.cpp, normalization.cpp, noise.cpp: each checks its
// own fields.
std::unique_ptr<Layer> make_relu(const LayerSpec& spec, index_t in_dim);
std::unique_ptr<Layer> make_elu(const LayerSpec& spec, index_t in_dim);
std::unique_ptr<Layer> make_prelu(const LayerSpec& spec, index_t in_dim);
std::unique_ptr<Layer> make_softmax(const LayerSpec& spec, index_t in_dim);
std::unique_ptr<Layer> make_layer_normalization(const LayerSpec& spec, index_t in_dim);
std::unique_ptr<Layer> make_normalization(const LayerSpec& spec, index_t in_dim);
std::unique_ptr<Layer> make_gaussian_noise(const LayerSpec& spec, index_t in_dim);
std::unique_ptr<Layer> make_gaussian_dropout(const LayerSpec& spec, index_t in_dim);
std::unique_ptr<Layer> make_alpha_dropout(const LayerSpec& spec, index_t in_dim);
// The Activation layer (layers.cpp) for `act`, e.g. ReLU, ELU and whole-sample Softmax.
std::unique_ptr<Layer> make_activation(const Activation& act, index_t dim);

}  // namespace detail
}  // namespace fastmlp
