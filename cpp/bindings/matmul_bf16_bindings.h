// The bf16 GEMM on NumPy float32 arrays: `_core.matmul_bf16` (the active kernel, a thin binding
// for the benchmarks and tests; the model's mixed precision reaches the kernels in C++) and, in
// FASTMLP_TEST_HOOKS builds, `_core._testing.gemm_bf16_into` (a chosen kernel, a thread cap,
// PackedBBf16) and `_core._testing.amx_emulated`. Included once, by core.cpp.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <stdexcept>
#include <string>

#include "arrays.h"
#include "fastmlp/gemm_bf16.h"
#include "gemm/kernels_bf16.h"
#include "gil.h"
#include "matmul_bindings.h"  // GemmArgs

namespace fastmlp_bindings {

// The bf16 kernel named `kernel` ("" = the active one): ValueError for names that are unknown or
// not supported here, listing the supported ones.
inline const fastmlp::gemm::Bf16KernelInfo& bf16_kernel_named(const std::string& kernel) {
  if (kernel.empty()) return fastmlp::gemm::active_bf16_kernel_info();
  std::string have;
  for (fastmlp::Bf16Kernel k : fastmlp::supported_bf16_kernels()) {
    if (kernel == fastmlp::bf16_kernel_name(k)) return fastmlp::gemm::bf16_kernel_for(k);
    have += std::string(have.empty() ? "" : ", ") + fastmlp::bf16_kernel_name(k);
  }
  throw std::invalid_argument("Received an invalid value for `kernel`: expected one of the bf16 "
                              "kernels supported here (" + have + "). Received: kernel='" +
                              kernel + "'");
}

// One bf16 product: out = alpha * op(a) @ op(b) + beta * out (+ bias, ReLU) with a and b
// rounded to bf16 and float32 sums; out is allocated (and beta taken as 0) when None. `prepack`
// goes through PackedBBf16 (active kernel, default threads), else `kernel` with `threads` (0: the
// default policy).
inline py::object gemm_bf16(const py::array& a, const py::array& b, py::object out, bool trans_a,
                            bool trans_b, float alpha, float beta, const py::object& bias,
                            bool relu, const std::string& kernel, int threads, bool prepack) {
  const fastmlp::gemm::Bf16KernelInfo& kr = bf16_kernel_named(kernel);
  if (out.is_none()) {
    if (a.ndim() != 2 || b.ndim() != 2) {
      throw std::invalid_argument("matmul_bf16 expects 2-D float32 arrays; got a of shape " +
                                  shape_of(a) + " and b of shape " + shape_of(b));
    }
    const py::ssize_t m = trans_a ? a.shape(1) : a.shape(0);
    const py::ssize_t n = trans_b ? b.shape(0) : b.shape(1);
    out = py::array_t<float>({m, n});
    beta = 0.0f;  // the new array's contents are undefined
  }
  py::array out_arr = out;
  const GemmArgs g = gemm_args(a, b, out_arr, trans_a, trans_b);
  fastmlp::Epilogue ep;
  ArrayIn<float> bias_arr;
  if (!bias.is_none()) {
    bias_arr = ArrayIn<float>::ensure(bias);
    if (!bias_arr || bias_arr.ndim() != 1 || bias_arr.shape(0) != g.n) {
      throw std::invalid_argument("matmul_bf16: bias must be 1-D of length " +
                                  std::to_string(g.n));
    }
    ep.bias = bias_arr.data();
  }
  ep.relu = relu;
  gil::without_gil([&] {
    if (prepack) {
      fastmlp::PackedBBf16 packed;
      packed.pack(g.trans_b, g.k, g.n, g.b.data, g.b.ld);
      fastmlp::sgemm_bf16_packed(g.trans_a, g.m, alpha, g.a.data, g.a.ld, packed, beta, g.c,
                                 g.ldc, ep);
      return;
    }
    fastmlp::gemm::sgemm_bf16_with(kr, threads, g.trans_a, g.trans_b, g.m, g.n, g.k, alpha,
                                   g.a.data, g.a.ld, g.b.data, g.b.ld, beta, g.c, g.ldc, ep);
  });
  return out;
}

inline void bind_matmul_bf16(py::module_& m) {
  m.def(
      "matmul_bf16",
      [](const py::array& a, const py::array& b, py::object out, bool trans_a, bool trans_b,
         float alpha, float beta, const py::object& bias, bool relu) {
        return gemm_bf16(a, b, std::move(out), trans_a, trans_b, alpha, beta, bias, relu, "", 0,
                         false);
      },
      py::arg("a"), py::arg("b"), py::arg("out") = py::none(), py::arg("trans_a") = false,
      py::arg("trans_b") = false, py::arg("alpha") = 1.0f, py::arg("beta") = 0.0f,
      py::arg("bias") = py::none(), py::arg("relu") = false);
}

#if defined(FASTMLP_TEST_HOOKS)
// A 2-D aligned float32 array as the GEMM reads it, or ValueError naming `what`.
inline MatrixView bf16_operand(const py::array& x, const char* what) {
  MatrixView v{};
  if (x.ndim() != 2 || !py::isinstance<py::array_t<float>>(x) || !aligned(x) || !view_of(x, &v)) {
    throw std::invalid_argument(std::string("PackedBBf16: `") + what + "` must be a 2-D aligned "
                                "float32 array with a unit stride along one axis");
  }
  return v;
}

inline void pack_bf16(fastmlp::PackedBBf16& self, const py::array& b, bool trans_b) {
  const MatrixView v = bf16_operand(b, "b");
  const index_t k = trans_b ? b.shape(1) : b.shape(0), n = trans_b ? b.shape(0) : b.shape(1);
  gil::without_gil([&] { self.pack(trans_b != v.transposed, k, n, v.data, v.ld); });
}

// out = op(a) @ B; out C-contiguous (m, n).
inline void matmul_packed_bf16(const fastmlp::PackedBBf16& self, const py::array& a,
                               py::array& out, bool trans_a) {
  const MatrixView v = bf16_operand(a, "a");
  const index_t m = trans_a ? a.shape(1) : a.shape(0), k = trans_a ? a.shape(0) : a.shape(1);
  if (k != self.k() || !py::isinstance<py::array_t<float>>(out) || out.ndim() != 2 ||
      out.shape(0) != m || out.shape(1) != self.n() || !out.writeable() ||
      !(out.flags() & py::array::c_style)) {
    throw std::invalid_argument("PackedBBf16.matmul: a must be m x " + std::to_string(self.k()) +
                                " and out a writable C-contiguous float32 (m, " +
                                std::to_string(self.n()) + ") array");
  }
  float* c = static_cast<float*>(out.mutable_data());
  gil::without_gil([&] {
    fastmlp::sgemm_bf16_packed(trans_a != v.transposed, m, 1.0f, v.data, v.ld, self, 0.0f, c,
                               std::max<index_t>(self.n(), 1));
  });
}

inline void bind_bf16_test_hooks(py::module_& core) {
  py::module_ m = core.attr("_testing");
  m.def("gemm_bf16_into", &gemm_bf16, py::arg("a"), py::arg("b"), py::arg("out") = py::none(),
        py::arg("trans_a") = false, py::arg("trans_b") = false, py::arg("alpha") = 1.0f,
        py::arg("beta") = 0.0f, py::arg("bias") = py::none(), py::arg("relu") = false,
        py::arg("kernel") = "", py::arg("threads") = 0, py::arg("prepack") = false);
  // op(B) packed once, for benchmarks timing the products alone (a layer's weights)
  py::class_<fastmlp::PackedBBf16>(m, "PackedBBf16")
      .def(py::init<>())
      .def("pack", &pack_bf16, py::arg("b"), py::arg("trans_b") = false)
      .def("matmul", &matmul_packed_bf16, py::arg("a"), py::arg("out"), py::arg("trans_a") = false);
  // whether this build's AMX kernel runs on emulated tiles (FASTMLP_EMULATE_AMX)
  m.def("amx_emulated", [] {
#if defined(FASTMLP_EMULATE_AMX)
    return true;
#else
    return false;
#endif
  });
}
#endif

}  // namespace fastmlp_bindings
