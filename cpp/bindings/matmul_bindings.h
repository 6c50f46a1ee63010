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

// Test hook: matmul_into with the fused epilogue (bias, ReLU), a chosen ISA's kernel ("" = the
// active one) and a thread cap (0 = the default policy), or through PackedB (prepack).
inline void gemm_test_into(const py::array& a, const py::array& b, py::array& out, bool trans_a,
                    bool trans_b, float alpha, float beta, py::object bias, bool relu,
                    const std::string& isa, int threads, bool prepack) {
  const GemmArgs g = gemm_args(a, b, out, trans_a, trans_b);
  fastmlp::Epilogue ep;
  ArrayIn<float> bias_arr;
  if (!bias.is_none()) {
    bias_arr = ArrayIn<float>::ensure(bias);
    if (!bias_arr || bias_arr.ndim() != 1 || bias_arr.shape(0) != g.n) {
      throw std::invalid_argument("_gemm_test_into: bias must be 1-D of length " +
                                  std::to_string(g.n));
    }
    ep.bias = bias_arr.data();
  }
  ep.relu = relu;
  const fastmlp::gemm::KernelInfo* kernel = &fastmlp::gemm::active_kernel();
  if (!isa.empty()) {
    bool found = false;
    for (auto have : {fastmlp::Isa::generic, fastmlp::Isa::avx2, fastmlp::Isa::avx512}) {
      if (isa == fastmlp::isa_name(have)) {
        kernel = &fastmlp::gemm::kernel_for(have);
        found = true;
      }
    }
    if (!found) throw std::invalid_argument("_gemm_test_into: unknown isa '" + isa + "'");
  }
  without_gil([&] {
    if (prepack) {  // through PackedB + sgemm_packed (active kernel, default threads)
      fastmlp::PackedB packed;
      packed.pack(g.trans_b, g.k, g.n, g.b.data, g.b.ld);
      fastmlp::sgemm_packed(g.trans_a, g.m, alpha, g.a.data, g.a.ld, packed, beta, g.c, g.ldc,
                            ep);
      return;
    }
    fastmlp::gemm::sgemm_with(*kernel, threads, g.trans_a, g.trans_b, g.m, g.n, g.k, alpha,
                              g.a.data, g.a.ld, g.b.data, g.b.ld, beta, g.c, g.ldc, ep);
  });
}

inline py::dict gemm_kernel_info(const std::string& isa) {
  const fastmlp::gemm::KernelInfo* k = &fastmlp::gemm::active_kernel();
  for (auto have : {fastmlp::Isa::generic, fastmlp::Isa::avx2, fastmlp::Isa::avx512}) {
    if (isa == fastmlp::isa_name(have)) k = &fastmlp::gemm::kernel_for(have);
  }
  py::dict d;
  d["name"] = k->name;
  d["mr"] = k->mr;
  d["nr"] = k->nr;
  d["mc"] = k->mc;
  d["kc"] = k->kc;
  d["nc"] = k->nc;
  return d;
}

inline void bind_matmul(py::module_& m) {
  m.def("matmul_into", &matmul_into, py::arg("a"), py::arg("b"), py::arg("out"),
        py::arg("trans_a"), py::arg("trans_b"), py::arg("alpha"), py::arg("beta"));
  m.def("_matmul_fast", &matmul_fast, py::arg("a"), py::arg("b"),
        py::arg("trans_a"), py::arg("trans_b"), py::arg("alpha"), py::arg("beta"),
        py::arg("out"));
  m.def("_gemm_test_into", &gemm_test_into, py::arg("a"), py::arg("b"), py::arg("out"),
        py::arg("trans_a") = false, py::arg("trans_b") = false, py::arg("alpha") = 1.0f,
        py::arg("beta") = 0.0f, py::arg("bias") = py::none(), py::arg("relu") = false,
        py::arg("isa") = "", py::arg("threads") = 0, py::arg("prepack") = false);
  m.def("_gemm_buffer_growths", &fastmlp::gemm::buffer_growths);
  m.def("_gemm_kernel_info", &gemm_kernel_info, py::arg("isa") = "");
}

}  // namespace fastmlp_bindings
