// Layer specs (docs/core_api.md) from plain dicts to fastmlp::LayerSpec. Errors name the layer
// index and the field. Included once, by core.cpp (through model_bindings.h).
#pragma once
#include <pybind11/pybind11.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "fastmlp/layers.h"
#include "specs.h"

namespace fastmlp_bindings {

namespace py = pybind11;

inline fastmlp::Regularizer regularizer_from(const py::dict& d, const char* key,
                                             const std::string& where) {
  fastmlp::Regularizer r;
  if (!d.contains(key) || d[key].is_none()) return r;
  if (!py::isinstance<py::dict>(d[key])) {
    throw std::invalid_argument(where + ": field '" + key + "' must be a dict {l1, l2} or None");
  }
  const py::dict rd = d[key];
  r.l1 = spec_get<float>(rd, "l1", 0.0f, where + "." + key);
  r.l2 = spec_get<float>(rd, "l2", 0.0f, where + "." + key);
  return r;
}

inline fastmlp::InitializerSpec init_field(const py::dict& d, const char* key,
                                           const fastmlp::InitializerSpec& def,
                                           const std::string& where) {
  if (!d.contains(key) || d[key].is_none()) return def;
  try {
    return initializer_spec_from(d[key]);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(where + ": field '" + key + "': " + e.what());
  }
}

inline std::vector<fastmlp::index_t> shape_field(const py::dict& d, const char* key,
                                                 const std::string& where) {
  const auto v = spec_get<std::vector<long long>>(d, key, {}, where);
  return std::vector<fastmlp::index_t>(v.begin(), v.end());
}

// Keras's activation, normalization and noise layers (issue 19); false for another type.
inline bool keras_layer_spec_from(const std::string& type, const py::dict& d,
                                  const std::string& where, fastmlp::LayerSpec& s) {
  using T = fastmlp::LayerSpec::Type;
  std::vector<std::string> keys{"type"};
  auto allow = [&](std::initializer_list<const char*> more) {
    keys.insert(keys.end(), more.begin(), more.end());
  };
  if (type == "relu") {
    s.type = T::relu, allow({"negative_slope", "max_value", "threshold"});
    s.negative_slope = spec_get<float>(d, "negative_slope", 0.0f, where);
    s.max_value = spec_get<float>(d, "max_value", s.max_value, where);
    s.threshold = spec_get<float>(d, "threshold", 0.0f, where);
  } else if (type == "elu") {
    s.type = T::elu, allow({"alpha"});
    s.alpha = spec_get<float>(d, "alpha", 1.0f, where);
  } else if (type == "softmax") {
    s.type = T::softmax, allow({"group"});
  } else if (type == "prelu") {
    s.type = T::prelu, allow({"sample_shape", "param_axes", "param_shape", "alpha_initializer"});
    s.alpha_initializer = init_field(d, "alpha_initializer", s.alpha_initializer, where);
  } else if (type == "layer_normalization") {
    s.type = T::layer_normalization;
    allow({"group", "param_shape", "epsilon", "center", "scale", "rms_scaling",
           "gamma_initializer", "beta_initializer"});
    s.epsilon = spec_get<float>(d, "epsilon", 1e-3f, where);
    s.center = spec_get<bool>(d, "center", true, where);
    s.scale = spec_get<bool>(d, "scale", true, where);
    s.rms_scaling = spec_get<bool>(d, "rms_scaling", false, where);
    s.gamma_initializer = init_field(d, "gamma_initializer", s.gamma_initializer, where);
    s.beta_initializer = init_field(d, "beta_initializer", s.beta_initializer, where);
  } else if (type == "normalization") {
    s.type = T::normalization;
    allow({"sample_shape", "param_axes", "param_shape", "mean", "variance", "invert",
           "constant"});
    s.mean = spec_get<std::vector<float>>(d, "mean", {}, where);
    s.variance = spec_get<std::vector<float>>(d, "variance", {}, where);
    s.invert = spec_get<bool>(d, "invert", false, where);
    s.constant_statistics = spec_get<bool>(d, "constant", false, where);
  } else if (type == "gaussian_noise") {
    s.type = T::gaussian_noise, allow({"stddev", "seed"});
    s.stddev = spec_get<float>(d, "stddev", 0.0f, where);
  } else if (type == "gaussian_dropout" || type == "alpha_dropout") {
    s.type = type == "alpha_dropout" ? T::alpha_dropout : T::gaussian_dropout;
    allow({"rate", "seed"});
    s.rate = spec_get<float>(d, "rate", 0.0f, where);
  } else {
    return false;
  }
  spec_check_keys(d, keys, where);
  s.seed = spec_get<std::uint64_t>(d, "seed", 0, where);
  s.group = spec_get<long long>(d, "group", 0, where);
  s.sample_shape = shape_field(d, "sample_shape", where);
  s.param_axes = shape_field(d, "param_axes", where);
  s.param_shape = shape_field(d, "param_shape", where);
  return true;
}

inline fastmlp::LayerSpec layer_spec_from(const py::handle& item, std::size_t index) {
  using T = fastmlp::LayerSpec::Type;
  std::string where = "layer " + std::to_string(index);
  if (!py::isinstance<py::dict>(item)) throw std::invalid_argument(where + ": expected a dict");
  const py::dict d = py::reinterpret_borrow<py::dict>(item);
  const std::string type = spec_get<std::string>(d, "type", "", where);
  where += " (" + type + ")";
  static const std::vector<std::string> dense_keys{
      "type", "units", "activation", "activation_param", "use_bias", "kernel_initializer",
      "bias_initializer", "kernel_regularizer", "bias_regularizer", "compute_dtype",
      "quantization_mode"};
  static const std::vector<std::string> bn_keys{
      "type", "momentum", "epsilon", "center", "scale", "gamma_initializer", "beta_initializer",
      "moving_mean_initializer", "moving_variance_initializer"};
  if (type == "dense") spec_check_keys(d, dense_keys, where);
  if (type == "activation") spec_check_keys(d, {"type", "activation", "activation_param"}, where);
  if (type == "dropout") spec_check_keys(d, {"type", "rate", "seed"}, where);
  if (type == "batch_normalization") spec_check_keys(d, bn_keys, where);
  if (type == "rescaling") spec_check_keys(d, {"type", "scale", "offset"}, where);
  fastmlp::LayerSpec s;
  if (type == "dense" || type == "activation") {
    const std::string act = spec_get<std::string>(d, "activation", "linear", where);
    const float param = spec_get<float>(d, "activation_param", 0.0f, where);
    try {
      s.activation = fastmlp::parse_activation(act, param);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(where + ": field 'activation': " + e.what());
    }
  }
  if (type == "dense") {
    s.type = T::dense;
    s.units = spec_get<long long>(d, "units", 0, where);
    s.use_bias = spec_get<bool>(d, "use_bias", true, where);
    s.kernel_initializer = init_field(d, "kernel_initializer", s.kernel_initializer, where);
    s.bias_initializer = init_field(d, "bias_initializer", s.bias_initializer, where);
    s.kernel_regularizer = regularizer_from(d, "kernel_regularizer", where);
    s.bias_regularizer = regularizer_from(d, "bias_regularizer", where);
    const std::string compute = spec_get<std::string>(d, "compute_dtype", "float32", where);
    if (compute != "float32" && compute != "bfloat16") {
      throw std::invalid_argument(where + ": field 'compute_dtype' must be 'float32' or "
                                  "'bfloat16', got '" + compute + "'");
    }
    s.bf16 = compute == "bfloat16";
    const std::string mode = spec_get<std::string>(d, "quantization_mode", "", where);
    if (!mode.empty() && mode != "int8") {
      throw std::invalid_argument(where + ": field 'quantization_mode' must be 'int8' or absent, "
                                  "got '" + mode + "'");
    }
    s.int8 = mode == "int8";
  } else if (type == "activation") {
    s.type = T::activation;
  } else if (type == "dropout") {
    s.type = T::dropout;
    s.rate = spec_get<float>(d, "rate", 0.0f, where);
    s.seed = spec_get<std::uint64_t>(d, "seed", 0, where);
  } else if (type == "batch_normalization") {
    s.type = T::batch_normalization;
    s.momentum = spec_get<float>(d, "momentum", 0.99f, where);
    s.epsilon = spec_get<float>(d, "epsilon", 1e-3f, where);
    s.center = spec_get<bool>(d, "center", true, where);
    s.scale = spec_get<bool>(d, "scale", true, where);
    s.gamma_initializer = init_field(d, "gamma_initializer", s.gamma_initializer, where);
    s.beta_initializer = init_field(d, "beta_initializer", s.beta_initializer, where);
    s.moving_mean_initializer = init_field(d, "moving_mean_initializer", s.moving_mean_initializer, where);
    s.moving_variance_initializer =
        init_field(d, "moving_variance_initializer", s.moving_variance_initializer, where);
  } else if (type == "rescaling") {
    s.type = T::rescaling;
    s.scale_factor = spec_get<float>(d, "scale", 1.0f, where);
    s.offset = spec_get<float>(d, "offset", 0.0f, where);
  } else if (!keras_layer_spec_from(type, d, where, s)) {
    throw std::invalid_argument(where + ": unknown layer type '" + type +
                                "'; expected dense, activation, dropout, batch_normalization, "
                                "rescaling, relu, elu, prelu, softmax, layer_normalization, "
                                "normalization, gaussian_noise, gaussian_dropout or "
                                "alpha_dropout");
  }
  return s;
}

inline std::vector<fastmlp::LayerSpec> layer_specs_from(const py::list& layers) {
  std::vector<fastmlp::LayerSpec> specs;
  for (std::size_t i = 0; i < layers.size(); ++i) specs.push_back(layer_spec_from(layers[i], i));
  return specs;
}

}  // namespace fastmlp_bindings
