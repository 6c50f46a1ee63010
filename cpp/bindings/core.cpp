// fastmlp._core: the one pybind11 module. Arguments are checked here, the GIL is released for
// compute, and NumPy buffers are used in place where their layout allows.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "fastmlp/gemm.h"
#include "fastmlp/runtime.h"
#include "model_class.h"
#include "gemm/kernels.h"

namespace py = pybind11;
using fastmlp::index_t;

namespace {

std::string shape_str(const py::array& x) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < x.ndim(); ++i) {
    s += std::to_string(x.shape(i));
    if (x.ndim() == 1 || i + 1 < x.ndim()) s += x.ndim() == 1 ? "," : ", ";
  }
  return s + ")";
}

// A 2-D float32 matrix as the GEMM sees it: pointer, leading dimension and whether it is stored
// transposed. Row-major with unit column stride is used as is; column-major (e.g. a.T) is the
// transpose of a row-major matrix. Returns false if the layout needs a copy.
struct MatrixView {
  const float* data;
  index_t ld;
  bool transposed;
};

bool view_of(const py::array& x, MatrixView* v) {
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

// a, b: 2-D float32 (any strides with a unit stride in one axis; others must be made contiguous
// by the caller). out: 2-D float32, unit column stride.
GemmArgs gemm_args(const py::array& a, const py::array& b, py::array& out, bool trans_a,
                   bool trans_b) {
  for (const py::array* x : {&a, &b, static_cast<const py::array*>(&out)}) {
    if (x->ndim() != 2 || !py::isinstance<py::array_t<float>>(*x)) {
      throw std::invalid_argument("matmul_into expects 2-D float32 arrays");
    }
  }
  MatrixView va{}, vb{};
  if (!view_of(a, &va) || !view_of(b, &vb)) {
    throw std::invalid_argument("matmul_into: operands need a unit stride along one axis");
  }
  const index_t m = trans_a ? a.shape(1) : a.shape(0), k = trans_a ? a.shape(0) : a.shape(1);
  const index_t kb = trans_b ? b.shape(1) : b.shape(0), n = trans_b ? b.shape(0) : b.shape(1);
  if (k != kb) {
    throw std::invalid_argument("matmul: inner dimensions differ: a has shape " + shape_str(a) +
                                " and b has shape " + shape_str(b));
  }
  if (out.shape(0) != m || out.shape(1) != n) {
    throw std::invalid_argument("matmul: out has shape " + shape_str(out) + ", expected (" +
                                std::to_string(m) + ", " + std::to_string(n) + ")");
  }
  if (!out.writeable()) throw std::invalid_argument("matmul: out is read-only");
  const index_t f = static_cast<index_t>(sizeof(float));
  if ((out.strides(1) != f && n > 1) || (m > 1 && (out.strides(0) % f || out.strides(0) / f < n))) {
    throw std::invalid_argument("matmul: out must have unit stride along its last axis");
  }
  const index_t ldc = m > 1 ? out.strides(0) / f : std::max<index_t>(n, 1);
  return {trans_a != va.transposed, trans_b != vb.transposed, m, n, k, va, vb,
          static_cast<float*>(out.mutable_data()), ldc};
}

void matmul_into(const py::array& a, const py::array& b, py::array& out, bool trans_a,
                 bool trans_b, float alpha, float beta) {
  const GemmArgs g = gemm_args(a, b, out, trans_a, trans_b);
  py::gil_scoped_release release;
  fastmlp::sgemm(g.trans_a, g.trans_b, g.m, g.n, g.k, alpha, g.a.data, g.a.ld, g.b.data, g.b.ld,
                 beta, g.c, g.ldc);
}

// Test hook: matmul_into with the fused epilogue (bias, ReLU), a chosen ISA's kernel ("" = the
// active one) and a thread cap (0 = the default policy).
void gemm_test_into(const py::array& a, const py::array& b, py::array& out, bool trans_a,
                    bool trans_b, float alpha, float beta, py::object bias, bool relu,
                    const std::string& isa, int threads) {
  const GemmArgs g = gemm_args(a, b, out, trans_a, trans_b);
  fastmlp::Epilogue ep;
  py::array_t<float, py::array::c_style | py::array::forcecast> bias_arr;
  if (!bias.is_none()) {
    bias_arr = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(bias);
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
  py::gil_scoped_release release;
  fastmlp::gemm::sgemm_with(*kernel, threads, g.trans_a, g.trans_b, g.m, g.n, g.k, alpha,
                            g.a.data, g.a.ld, g.b.data, g.b.ld, beta, g.c, g.ldc, ep);
}

py::dict gemm_kernel_info(const std::string& isa) {
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

void bind_matmul(py::module_& m) {
  m.def("matmul_into", &matmul_into, py::arg("a"), py::arg("b"), py::arg("out"),
        py::arg("trans_a"), py::arg("trans_b"), py::arg("alpha"), py::arg("beta"));
  m.def("_gemm_test_into", &gemm_test_into, py::arg("a"), py::arg("b"), py::arg("out"),
        py::arg("trans_a") = false, py::arg("trans_b") = false, py::arg("alpha") = 1.0f,
        py::arg("beta") = 0.0f, py::arg("bias") = py::none(), py::arg("relu") = false,
        py::arg("isa") = "", py::arg("threads") = 0);
  m.def("_gemm_buffer_growths", &fastmlp::gemm::buffer_growths);
  m.def("_gemm_kernel_info", &gemm_kernel_info, py::arg("isa") = "");
}

// ---- runtime -------------------------------------------------------------------------------

py::dict cpu_info() {
  py::dict d;
  d["isa"] = fastmlp::isa_name(fastmlp::active_isa());
  py::list supported;
  for (auto isa : fastmlp::supported_isas()) supported.append(fastmlp::isa_name(isa));
  d["supported_isas"] = supported;
  const auto caches = fastmlp::cache_sizes();
  d["l1d_cache"] = caches.l1d;
  d["l2_cache"] = caches.l2;
  d["l3_cache"] = caches.l3;
  d["num_threads"] = fastmlp::get_num_threads();
  return d;
}

void bind_runtime_and_ops(py::module_& m) {
  m.def("set_num_threads", &fastmlp::set_num_threads, py::arg("n"));
  m.def("get_num_threads", &fastmlp::get_num_threads);
  m.def("cpu_info", &cpu_info);
  bind_matmul(m);
}

// ---- leaf functions: activations, losses, initializers, optimizers (nnleaf) -------------------

void bind_leaf(py::module_& m) { (void)m; }

// ---- model (nn) --------------------------------------------------------------------------------

void bind_model(py::module_& m) { fastmlp_bindings::bind_model_class(m); }

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "fastmlp C++ core";
  m.attr("__version__") = FASTMLP_VERSION;
  bind_runtime_and_ops(m);
  bind_leaf(m);
  bind_model(m);
}
