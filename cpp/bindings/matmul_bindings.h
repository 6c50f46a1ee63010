// The GEMM entry points of `_core` (matmul_into, the fast path, the test hooks). Included once,
// by core.cpp.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "arrays.h"
#include "fastmlp/gemm.h"
#include "gemm/kernels.h"
#include "gil.h"
#include "matmul_fast.h"

namespace fastmlp_bindings {

using fastmlp::index_t;
using gil::without_gil;

// A 2-D float32 matrix as the GEMM sees it: pointer, leading dimension and whether it is stored
// transposed. Row-major with unit column stride is used as is; column-major (e.g. a.T) is the
// transpose of a row-major matrix. Returns false if the layout needs a copy.
struct MatrixView {
  const float* data;
  index_t ld;
  bool transposed;
};

inline bool view_of(const py::array& x, MatrixView* v) {
  const index_t s0 = x.strides(0), s1 = x.strides(1), r = x.shape(0), c = x.shape(1);
  const index_t f = static_cast<index_t>(sizeof(float));
  auto ok_ld = [&](index_t stride, index_t min_ld) { return stride % f == 0 && stride / f >= min_ld; };
  if ((s1 == f || c <= 1) && ok_ld(r <= 1 ? c * f : s0, c)) {
    *v = {static_cast<const float*>(x.data()), std::max<index_t>(r <= 1 ? c : s0 / f, 1), false};
    return true;
  }
  if ((s0 == f || r <= 1) && ok_ld(c <= 1 ? r * f : s1, r)) {
    *v = {static_cast<const float*>(x.data()), std::max<index_t>(c <= 1 ? r : s1 / f, 1), true};
    return true;
  }
  return false;
}

// A checked GEMM call on NumPy arrays: out = alpha * op(a) @ op(b) + beta * out.
struct GemmArgs {
  bool trans_a, trans_b;
  index_t m, n, k;
  MatrixView a, b;
  float* c;
  index_t ldc;
};

// a, b: 2-D native, aligned float32 (any strides with a unit stride in one axis; others must be
// made contiguous by the caller). out: the same, with a unit column stride.
inline GemmArgs gemm_args(const py::array& a, const py::array& b, py::array& out, bool trans_a,
                   bool trans_b) {
  for (const py::array* x : {&a, &b, static_cast<const py::array*>(&out)}) {
    if (x->ndim() != 2 || !py::isinstance<py::array_t<float>>(*x) ||
        !aligned(*x)) {
      throw std::invalid_argument("matmul_into expects 2-D aligned float32 arrays in native "
                                  "byte order");
    }
  }
  MatrixView va{}, vb{};
  if (!view_of(a, &va) || !view_of(b, &vb)) {
    throw std::invalid_argument("matmul_into: operands need a unit stride along one axis");
  }
  const index_t m = trans_a ? a.shape(1) : a.shape(0), k = trans_a ? a.shape(0) : a.shape(1);
  const index_t kb = trans_b ? b.shape(1) : b.shape(0), n = trans_b ? b.shape(0) : b.shape(1);
  if (k != kb) {
    throw std::invalid_argument("matmul: inner dimensions differ: a has shape " + shape_of(a) +
                                " and b has shape " + shape_of(b));
  }
  if (out.shape(0) != m || out.shape(1) != n) {
    throw std::invalid_argument("matmul: out has shape " + shape_of(out) + ", expected (" +
                                std::to_string(m) + ", " + std::to_string(n) + ")");
  }
  if (!out.writeable()) throw std::invalid_argument("matmul: out is read-only");
  const index_t f = static_cast<index_t>(sizeof(float));
  const bool empty = m == 0 || n == 0;  // NumPy may give empty arrays zero strides
  if (!empty && ((out.strides(1) != f && n > 1) ||
                 (m > 1 && (out.strides(0) % f || out.strides(0) / f < n)))) {
    throw std::invalid_argument("matmul: out must have unit stride along its last axis");
  }
  const index_t ldc = (m > 1 && !empty) ? out.strides(0) / f : std::max<index_t>(n, 1);
  return {trans_a != va.transposed, trans_b != vb.transposed, m, n, k, va, vb,
          static_cast<float*>(out.mutable_data()), ldc};
}

inline void matmul_into(const py::array& a, const py::array& b, py::array& out, bool trans_a,
                 bool trans_b, float alpha, float beta) {
  const GemmArgs g = gemm_args(a, b, out, trans_a, trans_b);
  sgemm_released(g.trans_a, g.trans_b, g.m, g.n, g.k, alpha, g.a.data, g.a.ld,
                                   g.b.data, g.b.ld, beta, g.c, g.ldc);
}

inline void bind_matmul(py::module_& m) {
  m.def("matmul_into", &matmul_into, py::arg("a"), py::arg("b"), py::arg("out"),
        py::arg("trans_a"), py::arg("trans_b"), py::arg("alpha"), py::arg("beta"));
  m.def("_matmul_fast", &matmul_fast, py::arg("a"), py::arg("b"),
        py::arg("trans_a"), py::arg("trans_b"), py::arg("alpha"), py::arg("beta"),
        py::arg("out"));
}

}  // namespace fastmlp_bindings
