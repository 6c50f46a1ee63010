// Python dicts -> the leaf config structs (InitializerSpec, LossSpec, LearningRateSchedule,
// OptimizerConfig), in one place for every binding that takes them. Keys are the C++ field names
// (Keras argument names); an unknown key or a value of the wrong type raises ValueError naming it.
#pragma once
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "fastmlp/initializers.h"
#include "fastmlp/losses.h"
#include "fastmlp/optimizers.h"

namespace fastmlp_bindings {

namespace py = pybind11;

// The handle as a dict (a bare string s means {"name": s}); ValueError if it is neither.
inline py::dict spec_dict(const py::handle& h, const std::string& what) {
  if (py::isinstance<py::str>(h)) {
    py::dict d;
    d["name"] = h;
    return d;
  }
  if (!py::isinstance<py::dict>(h)) {
    throw std::invalid_argument(what + ": expected a dict or a name, got " +
                                std::string(py::str(py::type::of(h).attr("__name__"))));
  }
  return py::reinterpret_borrow<py::dict>(h);
}

inline void spec_check_keys(const py::dict& d, const std::vector<std::string>& allowed,
                            const std::string& what) {
  for (const auto& item : d) {
    const std::string key = py::str(item.first);
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      std::string valid;
      for (const auto& a : allowed) valid += (valid.empty() ? "" : ", ") + a;
      throw std::invalid_argument(what + ": unknown key '" + key + "' (valid keys: " + valid + ")");
    }
  }
}

// d[key] converted to T; `def` when the key is absent or None. Strings never pass for numbers or
// bools (pybind11 would not convert them anyway, but the message names the key).
template <class T>
T spec_get(const py::dict& d, const char* key, T def, const std::string& what) {
  if (!d.contains(key) || d[key].is_none()) return def;
  const py::handle v = d[key];
  const bool is_str = py::isinstance<py::str>(v);
  try {
    if (is_str && !std::is_same<T, std::string>::value) throw py::cast_error();
    return v.cast<T>();
  } catch (const py::cast_error&) {
    throw std::invalid_argument(what + ": key '" + key + "' has the wrong type (" +
                                std::string(py::str(py::type::of(v).attr("__name__"))) + ")");
  }
}

inline fastmlp::InitializerSpec initializer_spec_from(const py::handle& h) {
  const py::dict d = spec_dict(h, "initializer");
  spec_check_keys(d, {"name", "value", "minval", "maxval", "mean", "stddev", "seed"},
                  "initializer");
  fastmlp::InitializerSpec s;
  s.name = spec_get<std::string>(d, "name", s.name, "initializer");
  const std::string w = "initializer '" + s.name + "'";
  s.value = spec_get<double>(d, "value", s.value, w);
  s.minval = spec_get<double>(d, "minval", s.minval, w);
  s.maxval = spec_get<double>(d, "maxval", s.maxval, w);
  s.mean = spec_get<double>(d, "mean", s.mean, w);
  s.stddev = spec_get<double>(d, "stddev", s.stddev, w);
  s.seed = spec_get<std::uint64_t>(d, "seed", s.seed, w);
  return s;
}

inline fastmlp::LossSpec loss_spec_from(const py::handle& h) {
  const py::dict d = spec_dict(h, "loss");
  spec_check_keys(d, {"name", "from_logits", "label_smoothing", "delta"}, "loss");
  fastmlp::LossSpec s;
  if (!d.contains("name")) throw std::invalid_argument("loss: the dict needs a 'name'");
  s.kind = fastmlp::parse_loss(spec_get<std::string>(d, "name", "", "loss"));
  s.from_logits = spec_get<bool>(d, "from_logits", s.from_logits, "loss");
  s.label_smoothing = spec_get<float>(d, "label_smoothing", s.label_smoothing, "loss");
  s.delta = spec_get<float>(d, "delta", s.delta, "loss");
  return s;
}

// A number (constant rate) or a schedule dict {"name": ..., Keras argument names}.
inline fastmlp::LearningRateSchedule schedule_from(const py::handle& h) {
  using K = fastmlp::LearningRateSchedule::Kind;
  fastmlp::LearningRateSchedule s;
  if (!py::isinstance<py::dict>(h)) {
    if (py::isinstance<py::str>(h) ||
        !(py::isinstance<py::float_>(h) || py::isinstance<py::int_>(h) ||
          py::hasattr(h, "__float__"))) {
      throw std::invalid_argument("learning_rate must be a number or a schedule dict");
    }
    s.initial_learning_rate = h.cast<double>();
    s.validate();
    return s;
  }
  const py::dict d = py::reinterpret_borrow<py::dict>(h);
  const std::string name = spec_get<std::string>(d, "name", "", "learning-rate schedule");
  const std::string w = "learning-rate schedule '" + name + "'";
  std::vector<std::string> keys = {"name", "initial_learning_rate", "decay_steps"};
  if (name == "exponential_decay" || name == "inverse_time_decay") {
    s.kind = name == "exponential_decay" ? K::exponential_decay : K::inverse_time_decay;
    keys.insert(keys.end(), {"decay_rate", "staircase"});
  } else if (name == "piecewise_constant_decay" || name == "piecewise_constant") {
    s.kind = K::piecewise_constant;
    keys = {"name", "boundaries", "values"};
  } else if (name == "cosine_decay") {
    s.kind = K::cosine_decay;
    keys.insert(keys.end(), {"alpha", "warmup_target", "warmup_steps"});
  } else {
    throw std::invalid_argument("unknown learning-rate schedule '" + name +
                                "'; valid names: exponential_decay, inverse_time_decay, "
                                "piecewise_constant_decay, cosine_decay");
  }
  spec_check_keys(d, keys, w);
  s.initial_learning_rate =
      spec_get<double>(d, "initial_learning_rate", s.initial_learning_rate, w);
  s.decay_steps = spec_get<double>(d, "decay_steps", s.decay_steps, w);
  s.decay_rate = spec_get<double>(d, "decay_rate", s.decay_rate, w);
  s.staircase = spec_get<bool>(d, "staircase", s.staircase, w);
  s.boundaries = spec_get<std::vector<double>>(d, "boundaries", s.boundaries, w);
  s.values = spec_get<std::vector<double>>(d, "values", s.values, w);
  s.alpha = spec_get<double>(d, "alpha", s.alpha, w);
  s.warmup_target = spec_get<double>(d, "warmup_target", s.warmup_target, w);  // None: no warm-up
  s.warmup_steps = spec_get<double>(d, "warmup_steps", s.warmup_steps, w);
  if (s.kind == K::piecewise_constant && !s.values.empty()) s.initial_learning_rate = s.values[0];
  s.validate();
  return s;
}

// Starts from Keras's defaults for the named optimizer, then applies the given keys. None for
// weight_decay / clipnorm / clipvalue / global_clipnorm means off, as in Keras.
inline fastmlp::OptimizerConfig optimizer_config_from(const py::handle& h) {
  const py::dict d = spec_dict(h, "optimizer");
  spec_check_keys(d,
                  {"name", "learning_rate", "momentum", "nesterov", "beta_1", "beta_2", "epsilon",
                   "amsgrad", "rho", "centered", "initial_accumulator_value", "weight_decay",
                   "clipnorm", "clipvalue", "global_clipnorm"},
                  "optimizer");
  fastmlp::OptimizerConfig c =
      fastmlp::optimizer_defaults(spec_get<std::string>(d, "name", "adam", "optimizer"));
  const std::string w = "optimizer '" + c.name + "'";
  if (d.contains("learning_rate") && !d["learning_rate"].is_none())
    c.learning_rate = schedule_from(d["learning_rate"]);
  c.momentum = spec_get<double>(d, "momentum", c.momentum, w);
  c.nesterov = spec_get<bool>(d, "nesterov", c.nesterov, w);
  c.beta_1 = spec_get<double>(d, "beta_1", c.beta_1, w);
  c.beta_2 = spec_get<double>(d, "beta_2", c.beta_2, w);
  c.epsilon = spec_get<double>(d, "epsilon", c.epsilon, w);
  c.amsgrad = spec_get<bool>(d, "amsgrad", c.amsgrad, w);
  c.rho = spec_get<double>(d, "rho", c.rho, w);
  c.centered = spec_get<bool>(d, "centered", c.centered, w);
  c.initial_accumulator_value =
      spec_get<double>(d, "initial_accumulator_value", c.initial_accumulator_value, w);
  if (d.contains("weight_decay")) c.weight_decay = spec_get<double>(d, "weight_decay", 0.0, w);
  c.clipnorm = spec_get<double>(d, "clipnorm", 0.0, w);
  c.clipvalue = spec_get<double>(d, "clipvalue", 0.0, w);
  c.global_clipnorm = spec_get<double>(d, "global_clipnorm", 0.0, w);
  return c;
}

}  // namespace fastmlp_bindings
