// The test hooks: the module fastmlp._core._testing, built only with FASTMLP_TEST_HOOKS=ON
// (CMakeLists.txt; the README's test command builds it, a plain `pip install .` does not). What the
// tests need to see inside the core (a chosen GEMM kernel, buffer growths, the floating-point mode
// of the team's workers, workspace allocations) without putting it in the production API.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>

#include "common/fp_mode.h"
#include "common/thread_team.h"
#include "fastmlp/model.h"
#include "fastmlp/runtime.h"
#include "matmul_bindings.h"

namespace fastmlp_bindings {

// matmul_into with the fused epilogue (bias, ReLU), a chosen ISA's kernel ("" = the
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
      throw std::invalid_argument("gemm_into: bias must be 1-D of length " +
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
    if (!found) throw std::invalid_argument("gemm_into: unknown isa '" + isa + "'");
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

inline void bind_test_hooks(py::module_& core) {
  py::module_ m = core.def_submodule("_testing", "test hooks (FASTMLP_TEST_HOOKS builds only)");
  m.def("gemm_into", &gemm_test_into, py::arg("a"), py::arg("b"), py::arg("out"),
        py::arg("trans_a") = false, py::arg("trans_b") = false, py::arg("alpha") = 1.0f,
        py::arg("beta") = 0.0f, py::arg("bias") = py::none(), py::arg("relu") = false,
        py::arg("isa") = "", py::arg("threads") = 0, py::arg("prepack") = false);
  m.def("gemm_buffer_growths", &fastmlp::gemm::buffer_growths);
  m.def("gemm_kernel_info", &gemm_kernel_info, py::arg("isa") = "");
  m.def("threads_available", &fastmlp::threads_available);
  m.def("fp_mode", &fastmlp::detail::read_fp_mode);
  m.def("team_worker_fp_modes", &fastmlp::detail::team_worker_fp_modes, py::arg("reset") = false);
  m.def("workspace_allocations",
        [](const fastmlp::Model& model) { return model.workspace_allocations(); },
        py::arg("model"));
}

}  // namespace fastmlp_bindings
