// ops.matmul's fast path, in C++ because its Python checks cost ~3 us per call: more than a
// 64x128x10 product. It takes only the plain case (C-contiguous, aligned, native-order 2-D
// float32 operands, a numeric alpha/beta, `out` absent or such an array of the result's shape
// that overlaps neither operand) and returns None for anything else, so that the Python path,
// which converts other layouts and raises the errors, decides every other case exactly as before.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "arrays.h"
#include "fastmlp/gemm.h"

namespace fastmlp_bindings {

namespace py = pybind11;

inline bool plain_f32_matrix(const py::handle& h) {
  if (!py::isinstance<py::array>(h)) return false;
  const auto a = py::reinterpret_borrow<py::array>(h);
  // the type number alone does not tell native float32 from '>f4'
  return a.ndim() == 2 && a.dtype().num() == py::detail::npy_api::NPY_FLOAT_ &&
         readable_in_place(a) && (a.flags() & py::array::c_style);
}

// A real number that is not a bool (the Python path raises TypeError for those).
inline bool plain_number(const py::handle& h, float* value) {
  if (!PyFloat_CheckExact(h.ptr()) && !PyLong_CheckExact(h.ptr())) return false;
  const double v = PyFloat_AsDouble(h.ptr());
  if (PyErr_Occurred()) {
    PyErr_Clear();
    return false;
  }
  *value = static_cast<float>(v);
  return true;
}

inline py::object matmul_fast(const py::handle& a_h, const py::handle& b_h, bool trans_a,
                              bool trans_b, const py::handle& alpha_h, const py::handle& beta_h,
                              const py::handle& out_h) {
  float alpha = 0.0f, beta = 0.0f;
  if (!plain_f32_matrix(a_h) || !plain_f32_matrix(b_h) || !plain_number(alpha_h, &alpha) ||
      !plain_number(beta_h, &beta)) {
    return py::none();
  }
  const auto a = py::reinterpret_borrow<py::array>(a_h);
  const auto b = py::reinterpret_borrow<py::array>(b_h);
  using fastmlp::index_t;
  const index_t m = trans_a ? a.shape(1) : a.shape(0), k = trans_a ? a.shape(0) : a.shape(1);
  const index_t kb = trans_b ? b.shape(1) : b.shape(0), n = trans_b ? b.shape(0) : b.shape(1);
  if (k != kb || m == 0 || n == 0) return py::none();
  py::array out;
  if (out_h.is_none()) {
    if (beta != 0.0f) return py::none();
    out = py::array_t<float>({static_cast<py::ssize_t>(m), static_cast<py::ssize_t>(n)});
  } else {
    if (!plain_f32_matrix(out_h)) return py::none();
    out = py::reinterpret_borrow<py::array>(out_h);
    if (out.shape(0) != m || out.shape(1) != n || !out.writeable()) return py::none();
    const char* lo = static_cast<const char*>(out.data());
    const char* hi = lo + out.nbytes();
    for (const py::array* x : {&a, &b}) {
      const char* xl = static_cast<const char*>(x->data());
      if (xl < hi && lo < xl + x->nbytes()) return py::none();
    }
  }
  const float* pa = static_cast<const float*>(a.data());
  const float* pb = static_cast<const float*>(b.data());
  float* pc = static_cast<float*>(out.mutable_data());
  const index_t lda = std::max<index_t>(a.shape(1), 1), ldb = std::max<index_t>(b.shape(1), 1);
  // Releasing and retaking the GIL costs more than a small product takes.
  if (static_cast<double>(m) * n * k > 65536.0) {
    py::gil_scoped_release release;
    fastmlp::sgemm(trans_a, trans_b, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, n);
  } else {
    fastmlp::sgemm(trans_a, trans_b, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, n);
  }
  return std::move(out);
}

}  // namespace fastmlp_bindings
