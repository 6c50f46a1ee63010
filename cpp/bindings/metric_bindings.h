// `_core.Metric`: a C++ metric (fastmlp/metrics.h) with Keras's update_state / result /
// reset_state, the object behind every built-in fastmlp.metrics class; the model compiles the
// same specs. Updates keep the GIL (they are short), so one object is safe to share between
// Python threads. Included once, by core.cpp.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "arrays.h"
#include "fastmlp/metrics.h"
#include "loss_bindings.h"

namespace fastmlp_bindings {

namespace py = pybind11;

// A kind name, or {"kind": ..., "name": ..., Keras arguments}: None leaves an argument at its
// default, a bool is 0 or 1, a number is a list of one, a sequence of numbers a list, a string
// a text option (average="macro").
inline fastmlp::MetricSpec metric_spec_from(const py::handle& h) {
  fastmlp::MetricSpec s;
  if (py::isinstance<py::str>(h)) {
    s.kind = h.cast<std::string>();
    return s;
  }
  if (!py::isinstance<py::dict>(h)) {
    throw std::invalid_argument("metric: expected a dict or a name, got " +
                                std::string(py::str(py::type::of(h).attr("__name__"))));
  }
  const py::dict d = py::reinterpret_borrow<py::dict>(h);
  s.kind = spec_get<std::string>(d, "kind", "", "metric");
  s.name = spec_get<std::string>(d, "name", "", "metric");
  if (s.kind.empty()) throw std::invalid_argument("metric: the dict needs a 'kind'");
  for (const auto& item : d) {
    const std::string key = py::str(item.first);
    const py::handle v = item.second;
    if (key == "kind" || key == "name" || v.is_none()) continue;
    if (py::isinstance<py::str>(v)) {
      s.options.emplace_back(key, v.cast<std::string>());
      continue;
    }
    std::vector<double> values;
    const bool seq = !py::isinstance<py::str>(v) &&
                     (py::isinstance<py::sequence>(v) || py::isinstance<py::array>(v));
    try {
      values = seq ? v.cast<std::vector<double>>() : std::vector<double>{v.cast<double>()};
    } catch (const py::cast_error&) {
      throw std::invalid_argument("metric '" + s.kind + "': argument `" + key +
                                  "` must be a number or a list of numbers, got " +
                                  std::string(py::str(py::type::of(v).attr("__name__"))));
    }
    s.args.emplace_back(key, std::move(values));
  }
  return s;
}

inline py::dict metric_spec_dict(const fastmlp::MetricSpec& s) {
  py::dict d;
  d["kind"] = s.kind;
  d["name"] = s.name;
  for (const auto& kv : s.args) {
    if (kv.second.size() == 1) {
      d[py::str(kv.first)] = kv.second[0];
    } else {
      d[py::str(kv.first)] = kv.second;
    }
  }
  for (const auto& kv : s.options) d[py::str(kv.first)] = kv.second;
  return d;
}

// A result as Python sees it: a float for one number, else a float64 array of result_shape().
inline py::object result_object(const std::vector<double>& values,
                                const std::vector<fastmlp::index_t>& shape) {
  if (shape.empty()) return py::float_(values[0]);
  py::array_t<double> a(std::vector<py::ssize_t>(shape.begin(), shape.end()));
  std::copy(values.begin(), values.end(), a.mutable_data());
  return std::move(a);
}

// One update's arrays in the layout Metric::update_state reads. y_pred is (n,) or (n, ...)
// (flattened to n rows); y_true dense with y_pred's size, or one integer label per row (the
// sparse metrics always, the others as one-hot rows).
inline BatchArrays metric_batch(const fastmlp::Metric& m, const py::handle& y_true,
                                const py::handle& y_pred, const py::handle& sample_weight) {
  const std::string what = "metric '" + m.name() + "'";
  BatchArrays b;
  b.p = as_floats(y_pred, (what + ": y_pred").c_str());
  b.n = b.p.ndim() == 0 ? 1 : b.p.shape(0);
  b.k = 1;
  for (py::ssize_t d = 1; d < b.p.ndim(); ++d) b.k *= b.p.shape(d);
  m.check_width(b.k);
  const bool labels_only = m.needs_labels();
  const FloatArray dense = labels_only ? FloatArray() : as_floats(y_true, (what + ": y_true").c_str());
  const auto size = labels_only ? -1 : static_cast<fastmlp::index_t>(dense.size());
  if (size == b.n * b.k) {
    b.dense = dense;
    b.t.dense = b.dense.data();
  } else if (labels_only || size == b.n) {
    b.labels = labels_of(y_true, b.n, what);
    for (fastmlp::index_t i = 0; i < b.n; ++i) {
      const std::int32_t label = b.labels.data()[i];
      if (label < 0 || label >= b.k) {
        throw std::invalid_argument(what + ": label " + std::to_string(label) + " at index " +
                                    std::to_string(i) + " is outside [0, " +
                                    std::to_string(b.k) + ")");
      }
    }
    b.t.labels = b.labels.data();
  } else {
    throw std::invalid_argument(what + ": y_true has shape " + shape_of(dense) +
                                ", which does not match y_pred's " + shape_of(b.p));
  }
  if (!sample_weight.is_none()) {
    FloatArray w = as_floats(sample_weight, (what + ": sample_weight").c_str());
    if (w.size() == 1 && b.n != 1) {  // a scalar weight applies to every row
      FloatArray all(static_cast<py::ssize_t>(b.n));
      std::fill(all.mutable_data(), all.mutable_data() + b.n, w.data()[0]);
      w = all;
    }
    if (static_cast<fastmlp::index_t>(w.size()) != b.n) {
      throw std::invalid_argument(what + ": sample_weight needs " + std::to_string(b.n) +
                                  " values (one per row), got shape " + shape_of(w));
    }
    b.weights = w;
    b.t.sample_weight = b.weights.data();
  }
  return b;
}

inline void bind_metrics(py::module_& mod) {
  using fastmlp::Metric;
  mod.def("metric_kinds", &fastmlp::metric_kinds);
  py::class_<Metric>(mod, "Metric",
                     "A streaming metric from a spec (a kind name or {kind, name, Keras "
                     "arguments}), with Keras's update_state / result / reset_state.")
      .def(py::init([](const py::handle& spec) { return fastmlp::make_metric(metric_spec_from(spec)); }),
           py::arg("spec"))
      .def("update_state",
           [](Metric& m, const py::handle& y_true, const py::handle& y_pred,
              const py::handle& sample_weight) {
             const BatchArrays b = metric_batch(m, y_true, y_pred, sample_weight);
             m.update_state(b.p.data(), b.n, b.k, b.t);
           },
           py::arg("y_true"), py::arg("y_pred"), py::arg("sample_weight") = py::none())
      .def("result",
           [](const Metric& m) { return result_object(m.result_values(), m.result_shape()); },
           "A float, or an array with one value per threshold or class.")
      .def("reset_state", &Metric::reset_state)
      .def("values",
           [](const Metric& m, const py::handle& y_true, const py::handle& y_pred) {
             const auto* mean = dynamic_cast<const fastmlp::MeanMetric*>(&m);
             if (!mean) {
               throw std::invalid_argument("metric '" + m.spec().kind +
                                           "' has no per-sample values");
             }
             const BatchArrays b = metric_batch(m, y_true, y_pred, py::none());
             std::vector<double> v(static_cast<std::size_t>(b.n));
             mean->values(b.p.data(), b.n, b.k, b.t, v.data());
             FloatArray out(static_cast<py::ssize_t>(b.n));
             std::copy(v.begin(), v.end(), out.mutable_data());
             return out;
           },
           "The per-sample values (n,) float32 of a mean metric (Keras's metric functions).",
           py::arg("y_true"), py::arg("y_pred"))
      .def_property("state", &Metric::state, &Metric::set_state)
      .def_property_readonly("name", &Metric::name)
      .def_property_readonly("spec", [](const Metric& m) { return metric_spec_dict(m.spec()); })
      .def_property_readonly("needs_labels", &Metric::needs_labels)
      .def(py::pickle(
          [](const Metric& m) { return py::make_tuple(metric_spec_dict(m.spec()), m.state()); },
          [](const py::tuple& t) {
            if (t.size() != 2) throw std::invalid_argument("_core.Metric: bad pickled state");
            auto m = fastmlp::make_metric(metric_spec_from(t[0]));
            m->set_state(t[1].cast<std::vector<double>>());
            return m;
          }));
}

}  // namespace fastmlp_bindings
