// `_core.Dataset`: NumPy arrays (or a CSR matrix) made into a checked fastmlp::Dataset once, for
// train_epoch / evaluate / compute_gradients to use as often as they like. This file checks what
// only an array shows (its dimensions and dtype) while converting it; the Dataset checks the
// values. Included once, by model_bindings.h.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <limits>
#include <string>
#include <vector>

#include "arrays.h"
#include "common/checks.h"
#include "fastmlp/dataset.h"
#include "gil.h"
#include "specs.h"

namespace fastmlp_bindings {

namespace py = pybind11;
using fastmlp::index_t;
using fastmlp::detail::throw_invalid_value;

inline std::string type_name(const py::handle& obj) {
  return py::str(py::type::of(obj).attr("__name__"));
}

inline py::array as_array(const py::handle& obj, const std::string& name) {
  if (!py::isinstance<py::array>(obj)) {
    throw py::type_error("Argument `" + name + "` must be a NumPy array. Received: " +
                         type_name(obj));
  }
  return py::reinterpret_borrow<py::array>(obj);
}

// A real (bool, integer or float) array, else TypeError: complex values would lose their
// imaginary part in the float32 cast, strings and objects cannot be read.
inline py::array real_array(const py::handle& obj, const std::string& name) {
  py::array a = as_array(obj, name);
  const char kind = a.dtype().kind();
  if (kind != 'b' && kind != 'i' && kind != 'u' && kind != 'f') {
    throw py::type_error("Argument `" + name + "` must hold real numbers; received dtype " +
                         std::string(py::str(a.dtype())) + ".");
  }
  return a;
}

// `a` as a C-contiguous, aligned array of T in native byte order (a copy only when needed).
template <class T>
py::array_t<T> converted(const py::handle& a, const std::string& name) {
  auto r = ArrayIn<T>::ensure(a);
  if (!r) {
    throw py::type_error("Argument `" + name + "` cannot be read as " +
                         std::string(py::str(py::dtype::of<T>())) + " numbers");
  }
  return r;
}

// `a` as C-contiguous float32, converted here rather than by NumPy, which warns (an error under
// a warnings filter) when a float64 value overflows to inf: the Dataset refuses that inf by index.
inline py::array float32_array(const py::array& a, const std::string& name) {
  if (py::isinstance<py::array_t<float>>(a) && readable_in_place(a) &&
      (a.flags() & py::array::c_style)) {
    return a;
  }
  const auto wide = converted<double>(a, name);
  py::array_t<float> out(std::vector<py::ssize_t>(wide.shape(), wide.shape() + wide.ndim()));
  float* o = out.mutable_data();
  for (py::ssize_t i = 0; i < wide.size(); ++i) o[i] = static_cast<float>(wide.data()[i]);
  return std::move(out);
}

// Dense x as the model reads it; `keep` holds a contiguous copy when the layout needs one.
inline fastmlp::InputView input_view(const py::handle& obj, const std::string& name,
                                     py::array& keep) {
  py::array a = readable(as_array(obj, name));
  if (a.ndim() != 2) {
    throw_invalid_value(name, "a 2-D array (samples, features)", name + ".shape=" + shape_of(a));
  }
  fastmlp::InputView v;
  if (py::isinstance<py::array_t<float>>(a)) v.dtype = fastmlp::DType::float32;
  else if (py::isinstance<py::array_t<double>>(a)) v.dtype = fastmlp::DType::float64;
  else if (py::isinstance<py::array_t<std::uint8_t>>(a)) v.dtype = fastmlp::DType::uint8;
  else {
    throw_invalid_value(name, "float32, float64 or uint8 data",
                        name + ".dtype=" + std::string(py::str(a.dtype())));
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

// A scipy.sparse CSR matrix (recognized by its attributes: scipy is never imported here) with
// float32 values, the column indices as int32. Its structure is checked by the Dataset, which
// copies it first, or by predict: then `copy` makes the copy here (another thread could change
// the matrix while the GIL is released, and a changed index could make the core read out of
// bounds).
inline fastmlp::InputView csr_view(const py::handle& obj, const std::string& name, py::list& keep,
                                   bool copy) {
  const py::tuple shape = obj.attr("shape");
  const py::array values = float32_array(real_array(obj.attr("data"), name + ".data"), name);
  py::array indptr = converted<std::int64_t>(obj.attr("indptr"), name + ".indptr");
  py::array indices = as_array(obj.attr("indices"), name + ".indices");
  if (copy) {
    indptr = indptr.attr("copy")();
    indices = indices.attr("copy")();
  }
  if (!py::isinstance<py::array_t<std::int32_t>>(indices) || !readable_in_place(indices) ||
      !(indices.flags() & py::array::c_style)) {
    const auto wide = converted<std::int64_t>(indices, name + ".indices");
    auto narrow = py::array_t<std::int32_t>(wide.size());
    for (py::ssize_t k = 0; k < wide.size(); ++k) {  // an index beyond int32 is no column
      const std::int64_t c = wide.data()[k];
      narrow.mutable_data()[k] = c >= 0 && c <= std::numeric_limits<std::int32_t>::max()
                                     ? static_cast<std::int32_t>(c) : -1;
    }
    indices = narrow;
  }
  fastmlp::InputView v;
  v.rows = shape[0].cast<index_t>();
  v.cols = shape[1].cast<index_t>();
  v.nnz = static_cast<index_t>(values.size());
  if (indptr.ndim() != 1 || indptr.shape(0) != v.rows + 1 || indices.size() != values.size()) {
    throw_invalid_value(name, "a CSR matrix with rows + 1 offsets and one index per value",
                        name + ".indptr.shape=" + shape_of(indptr) + ", " + name +
                            ".indices.shape=" + shape_of(indices));
  }
  keep.append(values);
  v.data = values.data();
  v.indptr = reinterpret_cast<const index_t*>(indptr.data());
  v.indices = static_cast<const std::int32_t*>(indices.data());
  keep.append(indptr);
  keep.append(indices);
  return v;
}

inline bool is_csr(const py::handle& obj) {
  return !py::isinstance<py::array>(obj) && py::hasattr(obj, "format") &&
         py::hasattr(obj, "indptr") && py::str(obj.attr("format")).cast<std::string>() == "csr";
}

// y and sample_weight in the layout fastmlp::TargetInput reads, with the arrays kept in `keep`.
inline fastmlp::TargetInput target_input(const py::handle& y, const py::handle& sample_weight,
                                         index_t k, bool sparse, const fastmlp::DatasetNames& names,
                                         py::list& keep) {
  fastmlp::TargetInput t;
  py::array ya = real_array(y, names.y);
  if (sparse) {
    if (ya.ndim() == 2 && ya.shape(1) == 1) ya = ya.attr("reshape")(-1);
    if (ya.ndim() != 1) {
      throw_invalid_value(names.y, "integer class labels of shape (samples,) for "
                          "sparse_categorical_crossentropy (one-hot targets need "
                          "loss='categorical_crossentropy')", names.y + ".shape=" + shape_of(ya));
    }
    const char kind = ya.dtype().kind();
    if (py::isinstance<py::array_t<std::int32_t>>(ya)) {
      ya = converted<std::int32_t>(ya, names.y);
    } else if (kind == 'f' || (kind == 'u' && ya.itemsize() == 8)) {  // uint64: beyond int64
      ya = converted<double>(ya, names.y);
      t.label_type = fastmlp::LabelType::float64;
    } else {
      ya = converted<std::int64_t>(ya, names.y);
      t.label_type = fastmlp::LabelType::int64;
    }
    t.labels = ya.data();
  } else {
    if (ya.ndim() == 1 && k == 1) ya = ya.attr("reshape")(-1, 1);
    if (ya.ndim() == 1 && ya.dtype().kind() != 'f') {
      throw_invalid_value(names.y, "one-hot targets of shape (samples, " + std::to_string(k) +
                          ") (integer labels need loss='sparse_categorical_crossentropy', or "
                          "fastmlp.utils.to_categorical(" + names.y + "))",
                          names.y + ".shape=" + shape_of(ya) + " of integers");
    }
    if (ya.ndim() != 2 || ya.shape(1) != k) {
      throw_invalid_value(names.y, "targets of shape (samples, " + std::to_string(k) +
                          ") to match the model's output", names.y + ".shape=" + shape_of(ya));
    }
    ya = float32_array(ya, names.y);
    t.dense = static_cast<const float*>(ya.data());
  }
  t.rows = ya.shape(0);
  keep.append(ya);
  if (!sample_weight.is_none()) {
    py::array w = real_array(sample_weight, names.sample_weight);
    if (w.ndim() == 2 && w.shape(1) == 1) w = w.attr("reshape")(-1);
    if (w.ndim() != 1) {
      throw_invalid_value(names.sample_weight, "one weight per sample, shape (samples,)",
                          names.sample_weight + ".shape=" + shape_of(w));
    }
    w = float32_array(w, names.sample_weight);
    t.sample_weight = static_cast<const float*>(w.data());
    t.weight_rows = w.shape(0);
    keep.append(w);
  }
  return t;
}

// A checked Dataset and the arrays it references.
struct PyDataset {
  fastmlp::Dataset data;
  py::object keep;
};

inline PyDataset make_dataset(const py::handle& x, const py::handle& y,
                              const py::handle& sample_weight, index_t outputs,
                              const fastmlp::LossSpec& loss, const py::handle& class_weight,
                              const fastmlp::DatasetNames& names) {
  py::list keep;
  fastmlp::InputView xv;
  if (is_csr(x)) {
    xv = csr_view(x, names.x, keep, false);
  } else {
    py::array xa;
    xv = input_view(x, names.x, xa);
    keep.append(xa);
  }
  const bool sparse = loss.kind == fastmlp::LossKind::sparse_categorical_crossentropy;
  fastmlp::TargetInput t = target_input(y, sample_weight, outputs, sparse, names, keep);
  if (!class_weight.is_none()) t.class_weight = class_weight.cast<std::vector<float>>();
  return PyDataset{gil::without_gil([&] { return fastmlp::Dataset(xv, t, outputs, names); }),
                   std::move(keep)};
}

// A read-only view of the Dataset's targets, kept alive by the Python Dataset object.
inline py::array checked_targets(const py::object& self) {
  const fastmlp::Dataset& d = self.cast<const PyDataset&>().data;
  const fastmlp::TargetView& y = d.y();
  py::array a = y.labels
                    ? py::array(py::dtype::of<std::int32_t>(), {d.rows()}, y.labels, self)
                    : py::array(py::dtype::of<float>(), {d.rows(), d.outputs()}, y.dense, self);
  a.attr("setflags")(py::arg("write") = false);
  return a;
}

// The checked sample weights (class weights applied), read-only, or None for all ones.
inline py::object checked_weights(const py::object& self) {
  const fastmlp::Dataset& d = self.cast<const PyDataset&>().data;
  if (!d.y().sample_weight) return py::none();
  py::array a(py::dtype::of<float>(), {d.rows()}, d.y().sample_weight, self);
  a.attr("setflags")(py::arg("write") = false);
  return std::move(a);
}

inline void bind_dataset(py::module_& mod) {
  py::class_<PyDataset>(mod, "Dataset",
                        "x, y and sample_weight checked once (fastmlp/dataset.h), for "
                        "Model.train_epoch / evaluate / compute_gradients.")
      .def(py::init([](const py::handle& x, const py::handle& y, const py::handle& sw,
                       index_t outputs, const py::handle& loss, const py::handle& class_weight,
                       const std::vector<std::string>& names, index_t first_row) {
             if (names.size() != 3) throw py::type_error("names: (x, y, sample_weight) names");
             const fastmlp::DatasetNames n{names[0], names[1], names[2], first_row};
             return make_dataset(x, y, sw, outputs, loss_spec_from(loss), class_weight, n);
           }),
           py::arg("x"), py::arg("y"), py::arg("sample_weight") = py::none(), py::kw_only(),
           py::arg("outputs"), py::arg("loss") = "mean_squared_error",
           py::arg("class_weight") = py::none(),
           py::arg("names") = std::vector<std::string>{"x", "y", "sample_weight"},
           py::arg("first_row") = 0)
      .def("__len__", [](const PyDataset& d) { return d.data.rows(); })
      .def_property_readonly("cols", [](const PyDataset& d) { return d.data.cols(); })
      .def_property_readonly("outputs", [](const PyDataset& d) { return d.data.outputs(); })
      .def_property_readonly("y", &checked_targets,
                             "The checked targets (read-only): int32 labels (n,) or float32 "
                             "(n, outputs).")
      .def_property_readonly("sample_weight", &checked_weights,
                             "The checked sample weights times the class weights (read-only "
                             "float32 (n,)), or None.")
      .def_property_readonly("x_min", [](const PyDataset& d) { return d.data.x_min(); })
      .def_property_readonly("x_max", [](const PyDataset& d) { return d.data.x_max(); })
      .def("slice", [](const PyDataset& d, index_t begin, index_t end) {
             return PyDataset{d.data.slice(begin, end), d.keep};
           }, py::arg("begin"), py::arg("end"), "Rows [begin, end), sharing the arrays.")
      .def("take", [](const PyDataset& d, const std::vector<index_t>& rows) {
             return PyDataset{d.data.take(rows), py::none()};
           }, py::arg("rows"), "Those rows, in that order, copied.");
}

}  // namespace fastmlp_bindings
