// Per-tensor access on `_core.Model`: one weight tensor or its shape without copying the model's
// other tensors (`get_weights()` copies all of them, which made reading one layer's weights or a
// Variable's shape cost layers x parameters). Added to the class `bind_model_class` defined, so
// it is registered after it. Included once, by core.cpp.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <vector>

#include "fastmlp/model.h"

namespace fastmlp_bindings {

namespace py = pybind11;

inline py::tuple tensor_shape_of(const fastmlp::TensorDecl& d) {
  py::tuple t(d.shape.size());
  for (std::size_t k = 0; k < d.shape.size(); ++k) t[k] = py::int_(d.shape[k]);
  return t;
}

inline void bind_tensor_access(py::module_& mod) {
  using fastmlp::index_t;
  using fastmlp::Model;
  auto cls = py::reinterpret_borrow<py::class_<Model>>(mod.attr("Model"));
  cls.def_property_readonly("num_tensors", &Model::num_tensors,
                            "How many tensors get_weights() returns.")
      .def("tensor_shape", [](const Model& m, index_t i) { return tensor_shape_of(m.tensor_decl(i)); },
           py::arg("i"), "The shape of tensor i of get_weights() (IndexError out of range); no copy.")
      .def("tensor_shapes", [](const Model& m) {
             py::list shapes;
             for (index_t i = 0; i < m.num_tensors(); ++i) shapes.append(tensor_shape_of(m.tensor_decl(i)));
             return shapes;
           }, "The shapes of all tensors of get_weights(), in its order; no copy of any value.")
      .def("get_tensor", [](const Model& m, index_t i) {
             const fastmlp::TensorDecl& d = m.tensor_decl(i);
             py::array_t<float> a(std::vector<py::ssize_t>(d.shape.begin(), d.shape.end()));
             m.copy_tensor(i, a.mutable_data());
             return a;
           }, py::arg("i"), "A copy of tensor i of get_weights() alone (IndexError out of range).");
}

}  // namespace fastmlp_bindings
