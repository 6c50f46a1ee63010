// `_core.loss` (value and gradient, for tests and tools) and `_core.loss_values` (the per-sample
// losses behind fastmlp.losses): the same C++ losses the training loop runs. Included once, by
// core.cpp.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "arrays.h"
#include "fastmlp/losses.h"
#include "gil.h"
#include "specs.h"

namespace fastmlp_bindings {

namespace py = pybind11;
using FloatArray = ArrayIn<float>;

inline FloatArray as_floats(const py::handle& x, const char* what) {
  FloatArray a = FloatArray::ensure(x);
  if (!a) {
    throw std::invalid_argument(std::string(what) + ": expected an array of numbers");
  }
  return a;
}

// Integer class labels as int32; float labels must hold integers (Keras casts them).
inline py::array_t<std::int32_t> labels_of(const py::handle& y, fastmlp::index_t n,
                                           const std::string& what) {
  const auto wide = ArrayIn<double>::ensure(y);
  if (!wide || static_cast<fastmlp::index_t>(wide.size()) != n) {
    throw std::invalid_argument(what + ": sparse labels must be an array of " +
                                std::to_string(n) + " integers (one per sample)");
  }
  py::array_t<std::int32_t> out(n);
  for (fastmlp::index_t i = 0; i < n; ++i) {
    const double v = wide.data()[i];
    if (v != std::floor(v) || std::fabs(v) > 2147483647.0) {
      throw std::invalid_argument(what + ": label " + std::to_string(v) + " at index " +
                                  std::to_string(i) + " is not a valid class index");
    }
    out.mutable_data()[i] = static_cast<std::int32_t>(v);
  }
  return out;
}

// A batch of predictions (n rows of k), its targets and weights as fastmlp::Targets points at
// them, the arrays kept alive while C++ reads them (losses and metrics).
struct BatchArrays {
  FloatArray p, dense, weights;
  py::array_t<std::int32_t> labels;
  fastmlp::Targets t;
  fastmlp::index_t n = 0, k = 1;
};

// A loss call's spec and arrays: y_pred (n,) or (n, k).
struct LossArgs : BatchArrays {
  fastmlp::LossSpec spec;
};

inline LossArgs loss_args(const py::handle& spec_h, const py::handle& y_true,
                          const py::handle& y_pred, const py::handle& sample_weight) {
  LossArgs a;
  a.spec = loss_spec_from(spec_h);
  a.p = as_floats(y_pred, "loss: y_pred");
  if (a.p.ndim() < 1 || a.p.ndim() > 2) {
    throw std::invalid_argument("loss: y_pred must be 1-D or 2-D, got shape " + shape_of(a.p));
  }
  a.n = a.p.shape(0);
  a.k = a.p.ndim() == 2 ? a.p.shape(1) : 1;
  if (a.spec.kind == fastmlp::LossKind::sparse_categorical_crossentropy) {
    a.labels = labels_of(y_true, a.n, "loss");
    a.t.labels = a.labels.data();
  } else {
    a.dense = as_floats(y_true, "loss: y_true");
    if (static_cast<fastmlp::index_t>(a.dense.size()) != a.n * a.k) {
      throw std::invalid_argument("loss: y_true has shape " + shape_of(a.dense) +
                                  ", y_pred has shape " + shape_of(a.p));
    }
    a.t.dense = a.dense.data();
  }
  if (!sample_weight.is_none()) {
    a.weights = as_floats(sample_weight, "loss: sample_weight");
    if (static_cast<fastmlp::index_t>(a.weights.size()) != a.n) {
      throw std::invalid_argument("loss: sample_weight needs " + std::to_string(a.n) +
                                  " values, got " + shape_of(a.weights));
    }
    a.t.sample_weight = a.weights.data();
  }
  return a;
}

// (loss, d loss / d y_pred) for a batch, reduced as the training loop reduces it.
inline py::tuple loss_py(const py::handle& spec, const py::handle& y_true,
                         const py::handle& y_pred, const py::handle& sample_weight) {
  const LossArgs a = loss_args(spec, y_true, y_pred, sample_weight);
  FloatArray grad(std::vector<py::ssize_t>(a.p.shape(), a.p.shape() + a.p.ndim()));
  float* gd = grad.mutable_data();
  const double value = gil::without_gil(
      [&] { return fastmlp::loss_forward_backward(a.spec, a.p.data(), a.n, a.k, a.t, gd); });
  return py::make_tuple(value, grad);
}

inline FloatArray loss_values_py(const py::handle& spec, const py::handle& y_true,
                                 const py::handle& y_pred) {
  const LossArgs a = loss_args(spec, y_true, y_pred, py::none());
  FloatArray out(static_cast<py::ssize_t>(a.n));
  float* o = out.mutable_data();
  gil::without_gil([&] { fastmlp::loss_values(a.spec, a.p.data(), a.n, a.k, a.t, o); });
  return out;
}

inline void bind_losses(py::module_& m) {
  m.def("loss_names", &fastmlp::loss_names);
  m.def("loss", &loss_py,
        "(loss, d loss / d y_pred) with Keras semantics (sum_over_batch_size). spec: a name or "
        "{name, from_logits, label_smoothing, delta}; y_pred (n,) or (n, k); y_true integer "
        "labels (n,) for sparse_categorical_crossentropy, else the shape of y_pred.",
        py::arg("spec"), py::arg("y_true"), py::arg("y_pred"),
        py::arg("sample_weight") = py::none());
  m.def("loss_values", &loss_values_py,
        "The per-sample losses (n,) float32, unweighted and unreduced: Keras's loss functions. "
        "Arguments as loss().",
        py::arg("spec"), py::arg("y_true"), py::arg("y_pred"));
}

}  // namespace fastmlp_bindings
