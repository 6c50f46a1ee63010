// The `_core.Model` binding (docs/core_api.md): argument checks at the boundary, NumPy buffers used
// in place, the GIL released for all compute and reacquired only for callbacks and signal checks.
// Included once, by core.cpp.
#pragma once
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "arrays.h"
#include "fastmlp/model.h"
#include "gil.h"
#include "layer_specs.h"

namespace fastmlp_bindings {

namespace py = pybind11;
using fastmlp::index_t;
using gil::Interrupts;
using gil::with_gil;
using gil::without_gil;

inline py::array as_array(const py::handle& obj, const char* name) {
  if (!py::isinstance<py::array>(obj)) {
    throw py::type_error(std::string(name) + " must be a NumPy array, got " +
                         std::string(py::str(py::type::of(obj).attr("__name__"))));
  }
  return py::reinterpret_borrow<py::array>(obj);
}

// x as the model reads it; `keep` holds a contiguous copy when the layout needs one.
inline fastmlp::InputView input_view(const py::handle& obj, const char* name, py::array& keep) {
  py::array a = readable(as_array(obj, name));
  if (a.ndim() != 2) {
    throw std::invalid_argument(std::string(name) + " must be 2-D (samples, features), got shape " +
                                shape_of(a));
  }
  fastmlp::InputView v;
  if (py::isinstance<py::array_t<float>>(a)) v.dtype = fastmlp::DType::float32;
  else if (py::isinstance<py::array_t<double>>(a)) v.dtype = fastmlp::DType::float64;
  else if (py::isinstance<py::array_t<std::uint8_t>>(a)) v.dtype = fastmlp::DType::uint8;
  else {
    throw std::invalid_argument(std::string(name) + " has dtype " +
                                std::string(py::str(a.dtype())) +
                                "; expected float32, float64 or uint8");
  }
  const index_t item = a.itemsize(), rows = a.shape(0), cols = a.shape(1);
  const bool unit_cols = cols <= 1 || a.strides(1) == item;
  const bool rows_ok = rows <= 1 || (a.strides(0) > 0 && a.strides(0) % item == 0 &&
                                     a.strides(0) / item >= cols);
  if (!unit_cols || !rows_ok) a = py::module_::import("numpy").attr("ascontiguousarray")(a);
  keep = a;
  v.data = a.data();
  v.rows = rows;
  v.cols = cols;
  v.ld = rows > 1 ? a.strides(0) / item : cols;
  return v;
}

// Targets and sample weights, converted to the layout the loss reads; arrays kept in `keep`.
struct TargetArrays {
  fastmlp::TargetView view;
  py::array labels, dense, weights;
};

inline TargetArrays target_view(const fastmlp::Model& m, const py::handle& y,
                                const py::handle& sample_weight, index_t rows) {
  TargetArrays t;
  py::array ya = as_array(y, "y");
  const index_t k = m.output_dim();
  if (m.loss().kind == fastmlp::LossKind::sparse_categorical_crossentropy) {
    if (ya.ndim() == 2 && ya.shape(1) == 1) ya = ya.attr("reshape")(-1);
    if (ya.ndim() != 1 || ya.shape(0) != rows) {
      throw std::invalid_argument("y must have shape (" + std::to_string(rows) +
                                  ",) of integer labels for the sparse loss, got " + shape_of(ya));
    }
    if (!py::isinstance<py::array_t<std::int32_t>>(ya)) {
      const char kind = ya.dtype().kind();
      if (kind != 'i' && kind != 'u') {
        throw std::invalid_argument("y: the sparse loss needs integer labels, got dtype " +
                                    std::string(py::str(ya.dtype())));
      }
      if (rows > 0 && (ya.attr("min")().cast<long long>() < 0 ||
                       ya.attr("max")().cast<long long>() >= k)) {
        throw std::invalid_argument("y: labels must lie in [0, " + std::to_string(k) + ")");
      }
    }
    t.labels = ArrayIn<std::int32_t>::ensure(ya);
    t.view.labels = static_cast<const std::int32_t*>(t.labels.data());
  } else {
    if (ya.ndim() == 1 && k == 1) ya = ya.attr("reshape")(-1, 1);
    if (ya.ndim() != 2 || ya.shape(0) != rows || ya.shape(1) != k) {
      throw std::invalid_argument("y must have shape (" + std::to_string(rows) + ", " +
                                  std::to_string(k) + "), got " + shape_of(ya));
    }
    t.dense = ArrayIn<float>::ensure(ya);
    t.view.dense = static_cast<const float*>(t.dense.data());
  }
  if (!sample_weight.is_none()) {
    py::array w = as_array(sample_weight, "sample_weight");
    if (w.ndim() != 1 || w.shape(0) != rows) {
      throw std::invalid_argument("sample_weight must have shape (" + std::to_string(rows) +
                                  ",), got " + shape_of(w));
    }
    t.weights = ArrayIn<float>::ensure(w);
    t.view.sample_weight = static_cast<const float*>(t.weights.data());
  }
  t.view.rows = rows;
  return t;
}

inline float* output_buffer(const fastmlp::Model& m, const py::handle& obj, index_t rows,
                            const char* name) {
  if (obj.is_none()) return nullptr;
  py::array a = as_array(obj, name);
  const bool ok = py::isinstance<py::array_t<float>>(a) && aligned(a) && a.ndim() == 2 &&
                  a.shape(0) == rows && a.shape(1) == m.output_dim() && a.writeable() &&
                  (a.flags() & py::array::c_style);
  if (!ok) {
    throw std::invalid_argument(std::string(name) + " must be a writeable, aligned, " +
                                "C-contiguous float32 array of shape (" +
                                std::to_string(rows) + ", " + std::to_string(m.output_dim()) + ")");
  }
  return static_cast<float*>(a.mutable_data());
}

inline py::dict to_dict(const fastmlp::Logs& logs) {
  py::dict d;
  for (const auto& kv : logs) d[py::str(kv.first)] = kv.second;
  return d;
}

inline py::array_t<float> to_array(const std::vector<float>& v, const std::vector<index_t>& shape) {
  std::vector<py::ssize_t> s(shape.begin(), shape.end());
  py::array_t<float> a(s);
  std::copy(v.begin(), v.end(), a.mutable_data());
  return a;
}

inline void check_batch_size(index_t batch_size) {
  if (batch_size < 1) {
    throw std::invalid_argument("batch_size must be a positive integer, got " +
                                std::to_string(batch_size));
  }
}

inline py::dict train_epoch(fastmlp::Model& m, const py::handle& x, const py::handle& y,
                            const py::handle& sample_weight, index_t batch_size, bool shuffle,
                            std::uint64_t seed, const py::handle& y_pred_out,
                            const py::object& batch_callback, index_t callback_every,
                            bool stop_on_nonfinite, bool reset_metrics) {
  check_batch_size(batch_size);
  if (!m.compiled()) throw std::invalid_argument("train_epoch: the model must be compiled first");
  py::array xa;
  const fastmlp::InputView xv = input_view(x, "x", xa);
  const TargetArrays t = target_view(m, y, sample_weight, xv.rows);
  fastmlp::EpochOptions o;
  o.batch_size = batch_size;
  o.shuffle = shuffle;
  o.seed = seed;
  o.y_pred_out = output_buffer(m, y_pred_out, xv.rows, "y_pred_out");
  o.callback_every = callback_every;
  o.stop_on_nonfinite = stop_on_nonfinite;
  o.reset_metrics = reset_metrics;
  if (!batch_callback.is_none()) {
    o.batch_callback = [&batch_callback](index_t batch, const fastmlp::Logs& logs) {
      return with_gil([&] {
        // A truthy return value stops the epoch after this batch (the weights stay consistent).
        const py::object stop = batch_callback(batch, to_dict(logs));
        const int truth = PyObject_IsTrue(stop.ptr());
        if (truth < 0) throw py::error_already_set();
        return truth == 1;
      });
    };
  }
  Interrupts interrupts;
  o.interrupt_check = interrupts.check();
  const fastmlp::Logs logs = without_gil([&] { return m.train_epoch(xv, t.view, o); });
  interrupts.raise_if_interrupted();
  return to_dict(logs);
}

inline py::dict evaluate(fastmlp::Model& m, const py::handle& x, const py::handle& y,
                         const py::handle& sample_weight, index_t batch_size,
                         const py::handle& y_pred_out, bool reset_metrics) {
  check_batch_size(batch_size);
  if (!m.compiled()) throw std::invalid_argument("evaluate: the model must be compiled first");
  py::array xa;
  const fastmlp::InputView xv = input_view(x, "x", xa);
  const TargetArrays t = target_view(m, y, sample_weight, xv.rows);
  float* out = output_buffer(m, y_pred_out, xv.rows, "y_pred_out");
  Interrupts interrupts;
  const fastmlp::Logs logs =
      without_gil([&] { return m.evaluate(xv, t.view, batch_size, out, interrupts.check(),
                                          reset_metrics); });
  interrupts.raise_if_interrupted();
  return to_dict(logs);
}

inline py::array_t<float> predict(fastmlp::Model& m, const py::handle& x, bool training) {
  py::array xa;
  const fastmlp::InputView xv = input_view(x, "x", xa);
  py::array_t<float> out({static_cast<py::ssize_t>(xv.rows), static_cast<py::ssize_t>(m.output_dim())});
  float* o = out.mutable_data();
  Interrupts interrupts;
  without_gil([&] { m.forward(xv, training, o, interrupts.check()); });
  interrupts.raise_if_interrupted();
  return out;
}

// The lean inference path for the common small case: a C-contiguous 2-D float32 array of at most
// kSmallRows rows and input_dim columns (batch_size, if not None, is checked as predict() checks
// it). Returns None for anything else (the caller then takes the
// general path), so it never raises on a layout it does not handle. Below kReleaseRows rows the
// GIL is kept: releasing and retaking it costs more than the work it would let others do.
inline py::object predict_small(fastmlp::Model& m, const py::handle& x, const py::handle& batch_size) {
  constexpr index_t kSmallRows = 1024, kReleaseRows = 16;
  if (!py::isinstance<py::array>(x)) return py::none();
  const auto a = py::reinterpret_borrow<py::array>(x);
  if (a.ndim() != 2 || a.shape(0) > kSmallRows || a.shape(1) != m.input_dim() ||
      a.dtype().num() != py::detail::npy_api::NPY_FLOAT_ || !readable_in_place(a) ||
      !(a.flags() & py::array::c_style)) {
    return py::none();
  }
  // Validated as predict() does (blocks are chosen internally, so the value is not used).
  if (!batch_size.is_none()) check_batch_size(batch_size.cast<index_t>());
  fastmlp::InputView v;
  v.data = a.data();
  v.rows = a.shape(0);
  v.cols = v.ld = a.shape(1);
  py::array_t<float> out({static_cast<py::ssize_t>(v.rows), static_cast<py::ssize_t>(m.output_dim())});
  float* o = out.mutable_data();
  if (v.rows < kReleaseRows) {
    m.predict(v, o);
  } else {
    without_gil([&] { m.predict(v, o); });
  }
  return std::move(out);
}

inline py::list weights_list(const std::vector<fastmlp::TensorDecl>& decls,
                             const std::vector<std::vector<float>>& values) {
  py::list l;
  for (std::size_t i = 0; i < decls.size(); ++i) l.append(to_array(values[i], decls[i].shape));
  return l;
}

// Arrays matching `decls` in count and shape (ValueError naming the index and both shapes).
inline std::vector<std::vector<float>> arrays_to_vectors(const py::handle& list,
                                                         const std::vector<fastmlp::TensorDecl>& decls,
                                                         const char* what) {
  const py::sequence seq = py::reinterpret_borrow<py::sequence>(list);
  if (static_cast<std::size_t>(py::len(seq)) != decls.size()) {
    throw std::invalid_argument(std::string(what) + ": expected " + std::to_string(decls.size()) +
                                " arrays, got " + std::to_string(py::len(seq)));
  }
  std::vector<std::vector<float>> out;
  for (std::size_t i = 0; i < decls.size(); ++i) {
    auto a = ArrayIn<float>::ensure(seq[i]);
    if (!a) throw py::type_error(std::string(what) + ": item " + std::to_string(i) + " is not an array");
    bool same = a.ndim() == static_cast<py::ssize_t>(decls[i].shape.size());
    for (py::ssize_t d = 0; same && d < a.ndim(); ++d) same = a.shape(d) == decls[i].shape[d];
    if (!same) {
      std::string want = "(";
      for (std::size_t d = 0; d < decls[i].shape.size(); ++d) {
        want += std::to_string(decls[i].shape[d]) + (decls[i].shape.size() == 1 ? "," : (d + 1 < decls[i].shape.size() ? ", " : ""));
      }
      throw std::invalid_argument(std::string(what) + ": array " + std::to_string(i) + " (" +
                                  decls[i].name + ") has shape " + shape_of(a) +
                                  ", expected " + want + ")");
    }
    out.emplace_back(a.data(), a.data() + a.size());
  }
  return out;
}

}  // namespace fastmlp_bindings
