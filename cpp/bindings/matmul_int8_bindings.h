// Test hooks of the int8 GEMM (FASTMLP_TEST_HOOKS builds, fastmlp._core._testing): the exact
// integer product and the quantized float product on a chosen kernel and thread cap, the
// quantizers (C++'s and each kernel's), one tdpbusd on the tiles against its emulation, and a
// PackedBInt8 for benchmarks. Included once, by core.cpp.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstring>
#include <string>
#include <vector>

#include "arrays.h"
#include "fastmlp/gemm_int8.h"
#include "gemm/amx_tiles.h"
#include "gemm/kernels_int8.h"
#include "gil.h"

namespace fastmlp_bindings {

namespace py = pybind11;

#if defined(FASTMLP_TEST_HOOKS)
// The int8 kernel named `kernel` ("" = the active one), or ValueError listing the supported ones.
inline fastmlp::Int8Kernel int8_kernel_named(const std::string& kernel) {
  if (kernel.empty()) return fastmlp::active_int8_kernel();
  std::string have;
  for (fastmlp::Int8Kernel k : fastmlp::supported_int8_kernels()) {
    if (kernel == fastmlp::int8_kernel_name(k)) return k;
    have += std::string(have.empty() ? "" : ", ") + fastmlp::int8_kernel_name(k);
  }
  throw std::invalid_argument("Received an invalid value for `kernel`: expected one of the int8 "
                              "kernels supported here (" + have + "). Received: kernel=" + kernel);
}

template <class T>
inline ArrayIn<T> matrix_in(const py::object& x, const char* what) {
  ArrayIn<T> arr = ArrayIn<T>::ensure(x);
  if (!arr || arr.ndim() != 2) {
    throw std::invalid_argument(std::string("`") + what + "` must be a 2-D array");
  }
  return arr;
}

inline fastmlp::PackedBInt8 packed_int8(const ArrayIn<std::int8_t>& b, const float* scale,
                                        fastmlp::Int8Kernel kernel) {
  fastmlp::PackedBInt8 packed;
  std::vector<float> ones(static_cast<std::size_t>(b.shape(1)), 1.0f);
  packed.pack(b.shape(0), b.shape(1), b.data(), b.shape(1), scale ? scale : ones.data(), kernel);
  return packed;
}

// a (m x k int8) @ b (k x n int8) as int32 on `kernel` with a thread cap.
inline py::array_t<std::int32_t> gemm_int8_into(const py::object& a_obj, const py::object& b_obj,
                                                const std::string& kernel, int threads) {
  const ArrayIn<std::int8_t> a = matrix_in<std::int8_t>(a_obj, "a");
  const ArrayIn<std::int8_t> b = matrix_in<std::int8_t>(b_obj, "b");
  if (a.shape(1) != b.shape(0)) throw std::invalid_argument("gemm_int8_into: a.shape[1] != b.shape[0]");
  const fastmlp::Int8Kernel id = int8_kernel_named(kernel);
  py::array_t<std::int32_t> out({a.shape(0), b.shape(1)});
  const fastmlp::PackedBInt8 packed = packed_int8(b, nullptr, id);
  const fastmlp::Epilogue ep;
  fastmlp::gemm::Int8Call call;
  call.m = a.shape(0);
  call.a8 = a.data();
  call.lda = std::max<fastmlp::index_t>(a.shape(1), 1);
  call.c32 = out.mutable_data();
  call.ldc = std::max<fastmlp::index_t>(b.shape(1), 1);
  call.ep = &ep;
  gil::without_gil([&] {
    fastmlp::gemm::gemm_int8_run(fastmlp::gemm::int8_kernel_for(id), threads, call,
                                 packed.data(), packed.k(), packed.n());
  });
  return out;
}

// The quantized product of float rows x with the int8 kernel w (per-column scale), + bias, ReLU.
inline py::array_t<float> matmul_int8(const py::object& x_obj, const py::object& w_obj,
                                      const py::object& scale_obj, const py::object& bias_obj,
                                      bool relu, const std::string& kernel, int threads) {
  const ArrayIn<float> x = matrix_in<float>(x_obj, "x");
  const ArrayIn<std::int8_t> w = matrix_in<std::int8_t>(w_obj, "w");
  const ArrayIn<float> scale = ArrayIn<float>::ensure(scale_obj);
  ArrayIn<float> bias;
  if (x.shape(1) != w.shape(0) || !scale || scale.size() != w.shape(1)) {
    throw std::invalid_argument("matmul_int8: x (m, k), w (k, n) and scale (n,) expected");
  }
  fastmlp::Epilogue ep;
  ep.relu = relu;
  if (!bias_obj.is_none()) {
    bias = ArrayIn<float>::ensure(bias_obj);
    if (!bias || bias.size() != w.shape(1)) throw std::invalid_argument("matmul_int8: bias (n,)");
    ep.bias = bias.data();
  }
  const fastmlp::Int8Kernel id = int8_kernel_named(kernel);
  const fastmlp::PackedBInt8 packed = packed_int8(w, scale.data(), id);
  py::array_t<float> out({x.shape(0), w.shape(1)});
  fastmlp::gemm::Int8Call call;
  call.m = x.shape(0);
  call.a = x.data();
  call.lda = std::max<fastmlp::index_t>(x.shape(1), 1);
  call.c = out.mutable_data();
  call.ldc = std::max<fastmlp::index_t>(w.shape(1), 1);
  call.ep = &ep;
  gil::without_gil([&] {
    fastmlp::gemm::gemm_int8_run(fastmlp::gemm::int8_kernel_for(id), threads, call,
                                 packed.data(), packed.k(), packed.n());
  });
  return out;
}

// Rows of x quantized by `kernel`'s quantizer: (q, 1 / scale), q the signed values (the kernel's
// offset taken off), 1 / scale the factor the kernels dequantize with. kernel="cpp":
// fastmlp::quantize_rows_int8's (q, scale).
inline py::tuple quantize_rows_hook(const py::object& x_obj, const std::string& kernel) {
  const ArrayIn<float> x = matrix_in<float>(x_obj, "x");
  const fastmlp::index_t m = x.shape(0), k = x.shape(1);
  py::array_t<std::int8_t> q({m, k});
  py::array_t<float> s(m);
  if (kernel == "cpp") {
    fastmlp::quantize_rows_int8(m, k, x.data(), std::max<fastmlp::index_t>(k, 1),
                                q.mutable_data(), std::max<fastmlp::index_t>(k, 1),
                                s.mutable_data());
    return py::make_tuple(q, s);
  }
  const auto& kr = fastmlp::gemm::int8_kernel_for(int8_kernel_named(kernel));
  const fastmlp::index_t kp = fastmlp::gemm::int8_kp(kr, k);
  std::vector<std::uint8_t> packed(static_cast<std::size_t>(std::max<fastmlp::index_t>(m * kp, 1)));
  std::vector<float> deq(static_cast<std::size_t>(std::max<fastmlp::index_t>(m, 1)));
  if (m > 0) {
    kr.quantize_rows(x.data(), std::max<fastmlp::index_t>(k, 1), static_cast<int>(m), k, kp,
                     kr.a_offset, packed.data(), kp, deq.data());
  }
  for (fastmlp::index_t i = 0; i < m; ++i) {
    for (fastmlp::index_t p = 0; p < kp; ++p) {
      const int v = int(packed[i * kp + p]) - kr.a_offset;
      if (p < k) {
        q.mutable_at(i, p) = static_cast<std::int8_t>(v);
      } else if (v != 0) {
        throw std::runtime_error("quantize_rows: padding past k is not zero");
      }
    }
    s.mutable_at(i) = deq[i];
  }
  return py::make_tuple(q, s);
}

inline py::tuple quantize_columns_hook(const py::object& w_obj) {
  const ArrayIn<float> w = matrix_in<float>(w_obj, "w");
  const fastmlp::index_t k = w.shape(0), n = w.shape(1);
  py::array_t<std::int8_t> q({k, n});
  py::array_t<float> s(n);
  fastmlp::quantize_columns_int8(k, n, w.data(), std::max<fastmlp::index_t>(n, 1),
                                 q.mutable_data(), s.mutable_data());
  return py::make_tuple(q, s);
}

// c (16 x 16 int32) += a (16 x 64 uint8) . b (16 x 64 int8) by one tdpbusd (`emulated`: the
// emulation's C++), returned as a new array.
inline py::array_t<std::int32_t> amx_int8_tile(const py::object& c_obj, const py::object& a_obj,
                                               const py::object& b_obj, bool emulated) {
  ArrayIn<std::int32_t> c0 = matrix_in<std::int32_t>(c_obj, "c");
  const ArrayIn<std::uint8_t> a = matrix_in<std::uint8_t>(a_obj, "a");
  const ArrayIn<std::int8_t> b = matrix_in<std::int8_t>(b_obj, "b");
  if (c0.size() != 256 || a.size() != 1024 || b.size() != 1024) {
    throw std::invalid_argument("amx_int8_tile: c (16, 16), a (16, 64), b (16, 64)");
  }
  py::array_t<std::int32_t> c({16, 16});
  std::memcpy(c.mutable_data(), c0.data(), 1024);
  if (emulated) {
    fastmlp::gemm::amx::emulated_dpbusd(reinterpret_cast<unsigned char*>(c.mutable_data()),
                                        a.data(),
                                        reinterpret_cast<const unsigned char*>(b.data()));
    return c;
  }
  fastmlp::gemm::int8_kernel_for(fastmlp::Int8Kernel::amx);  // ValueError without AMX
  fastmlp::gemm::int8_amx_tile_product(c.mutable_data(), a.data(), b.data());
  return c;
}

inline void bind_int8_test_hooks(py::module_& core) {
  py::module_ m = core.attr("_testing");
  m.def("gemm_int8_into", &gemm_int8_into, py::arg("a"), py::arg("b"), py::arg("kernel") = "",
        py::arg("threads") = 0);
  m.def("matmul_int8", &matmul_int8, py::arg("x"), py::arg("w"), py::arg("scale"),
        py::arg("bias") = py::none(), py::arg("relu") = false, py::arg("kernel") = "",
        py::arg("threads") = 0);
  m.def("quantize_rows_int8", &quantize_rows_hook, py::arg("x"), py::arg("kernel") = "cpp");
  m.def("quantize_columns_int8", &quantize_columns_hook, py::arg("w"));
  m.def("amx_int8_tile", &amx_int8_tile, py::arg("c"), py::arg("a"), py::arg("b"),
        py::arg("emulated") = false);
  m.def("int8_kernel_name", [](const std::string& kernel) {
    return std::string(fastmlp::gemm::int8_kernel_for(int8_kernel_named(kernel)).name);
  }, py::arg("kernel") = "");
}
#endif

}  // namespace fastmlp_bindings
