// The `_core.Model` binding (docs/core_api.md): argument checks at the boundary, NumPy buffers used
// in place, the GIL released for all compute and reacquired only for callbacks and signal checks.
// Included once, by core.cpp.
#pragma once
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "arrays.h"
#include "dataset_bindings.h"
#include "distribution_bindings.h"
#include "fastmlp/model.h"
#include "gil.h"
#include "layer_specs.h"
#include "metric_bindings.h"

namespace fastmlp_bindings {

namespace py = pybind11;
using fastmlp::index_t;
using gil::Interrupts;
using gil::with_gil;
using gil::without_gil;

// The Dataset a call reads: `data` itself, or one made for this model's loss from arrays (checked
// as every Dataset is). `dataset` is where a made one lives.
inline const fastmlp::Dataset& dataset_for(const fastmlp::Model& m, const py::handle& data,
                                           const py::handle& y, const py::handle& sample_weight,
                                           const char* what, std::unique_ptr<PyDataset>& dataset) {
  if (py::isinstance<PyDataset>(data)) {
    if (!y.is_none() || !sample_weight.is_none()) {
      throw py::type_error(std::string(what) + ": y and sample_weight are part of the Dataset");
    }
    return data.cast<const PyDataset&>().data;
  }
  m.check_compiled(what);  // its loss tells labels from dense targets
  dataset = std::make_unique<PyDataset>(
      make_dataset(data, y, sample_weight, m.output_dim(), m.loss(), py::none(), {}));
  return dataset->data;
}

inline float* output_buffer(const fastmlp::Model& m, const py::handle& obj, index_t rows,
                            const std::string& name) {
  if (obj.is_none()) return nullptr;
  py::array a = as_array(obj, name);
  const bool ok = py::isinstance<py::array_t<float>>(a) && aligned(a) && a.ndim() == 2 &&
                  a.shape(0) == rows && a.shape(1) == m.output_dim() && a.writeable() &&
                  (a.flags() & py::array::c_style);
  if (!ok) {
    throw std::invalid_argument(name + " must be a writeable, aligned, " +
                                "C-contiguous float32 array of shape (" +
                                std::to_string(rows) + ", " + std::to_string(m.output_dim()) + ")");
  }
  return static_cast<float*>(a.mutable_data());
}

inline py::dict to_dict(const fastmlp::Logs& logs) {
  py::dict d;
  for (const fastmlp::LogEntry& e : logs) d[py::str(e.name)] = result_object(e.values, e.shape);
  return d;
}

inline py::array_t<float> to_array(const std::vector<float>& v, const std::vector<index_t>& shape) {
  std::vector<py::ssize_t> s(shape.begin(), shape.end());
  py::array_t<float> a(s);
  std::copy(v.begin(), v.end(), a.mutable_data());
  return a;
}

inline py::dict run_epoch(fastmlp::Model& m, const fastmlp::Dataset& data, index_t batch_size,
                          bool shuffle, std::uint64_t seed, const py::handle& y_pred_out,
                          const py::object& batch_callback, index_t callback_every,
                          bool stop_on_nonfinite, bool reset_metrics,
                          fastmlp::GradientReducer* reducer = nullptr) {
  if (reducer && !reset_metrics) {  // each call's logs are summed over the ranks
    throw std::invalid_argument("train_epoch: a reducer needs reset_metrics=True");
  }
  fastmlp::EpochOptions o;
  o.batch_size = batch_size;
  o.shuffle = shuffle;
  o.seed = seed;
  o.y_pred_out = output_buffer(m, y_pred_out, data.rows(), "y_pred_out");
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
  o.reducer = reducer;
  const fastmlp::Logs logs =
      without_gil([&] { return guarded_call(reducer, [&] { return m.train_epoch(data, o); }); });
  interrupts.raise_if_interrupted();
  return to_dict(logs);
}

inline py::dict train_epoch(fastmlp::Model& m, const py::handle& x, const py::handle& y,
                            const py::handle& sample_weight, index_t batch_size, bool shuffle,
                            std::uint64_t seed, const py::handle& y_pred_out,
                            const py::object& batch_callback, index_t callback_every,
                            bool stop_on_nonfinite, bool reset_metrics,
                            const py::object& reducer) {
  std::unique_ptr<PyDataset> made;
  const fastmlp::Dataset& data = dataset_for(m, x, y, sample_weight, "train_epoch", made);
  return run_epoch(m, data, batch_size, shuffle, seed, y_pred_out, batch_callback,
                   callback_every, stop_on_nonfinite, reset_metrics,
                   reducer.is_none() ? nullptr : reducer.cast<fastmlp::GradientReducer*>());
}

inline py::dict run_evaluate(fastmlp::Model& m, const fastmlp::Dataset& data, index_t batch_size,
                             const py::handle& y_pred_out, bool reset_metrics) {
  float* out = output_buffer(m, y_pred_out, data.rows(), "y_pred_out");
  Interrupts interrupts;
  const fastmlp::Logs logs =
      without_gil([&] { return m.evaluate(data, batch_size, out, interrupts.check(),
                                          reset_metrics); });
  interrupts.raise_if_interrupted();
  return to_dict(logs);
}

inline py::dict evaluate(fastmlp::Model& m, const py::handle& x, const py::handle& y,
                         const py::handle& sample_weight, index_t batch_size,
                         const py::handle& y_pred_out, bool reset_metrics) {
  std::unique_ptr<PyDataset> made;
  const fastmlp::Dataset& data = dataset_for(m, x, y, sample_weight, "evaluate", made);
  return run_evaluate(m, data, batch_size, y_pred_out, reset_metrics);
}

inline py::array_t<float> predict(fastmlp::Model& m, const py::handle& x, bool training) {
  py::array xa;
  py::list keep;
  const fastmlp::InputView xv = is_csr(x) ? csr_view(x, "x", keep, true) : input_view(x, "x", xa);
  py::array_t<float> out({static_cast<py::ssize_t>(xv.rows), static_cast<py::ssize_t>(m.output_dim())});
  float* o = out.mutable_data();
  Interrupts interrupts;
  without_gil([&] { m.forward(xv, training, o, interrupts.check()); });
  interrupts.raise_if_interrupted();
  return out;
}

// The lean inference path for the common small case: a C-contiguous 2-D float32 array of at most
// kSmallRows rows and input_dim columns. Returns None for anything else (the caller then takes the
// general path), so it never raises on a layout it does not handle. Below kReleaseRows rows the
// GIL is kept: releasing and retaking it costs more than the work it would let others do.
inline py::object predict_small(fastmlp::Model& m, const py::handle& x) {
  constexpr index_t kSmallRows = 1024, kReleaseRows = 16;
  if (!py::isinstance<py::array>(x)) return py::none();
  const auto a = py::reinterpret_borrow<py::array>(x);
  if (a.ndim() != 2 || a.shape(0) > kSmallRows || a.shape(1) != m.input_dim() ||
      a.dtype().num() != py::detail::npy_api::NPY_FLOAT_ || !readable_in_place(a) ||
      !(a.flags() & py::array::c_style)) {
    return py::none();
  }
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
