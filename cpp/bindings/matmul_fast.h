// ops.matmul's fast path, in C++ because its Python checks cost ~3 us per call: more than a
// 64x128x10 product. It takes only the plain case (C-contiguous, aligned, native-order 2-D
// float32 operands, a numeric alpha/beta, `out` absent or such an array of the result's shape
// that overlaps neither operand) and returns None for anything else, so that the Python path,
// which converts other layouts and raises the errors, decides every other case exactly as before.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <chrono>

#include "arrays.h"
#include "fastmlp/gemm.h"
#include "gil.h"

namespace fastmlp_bindings {

namespace py = pybind11;

// sgemm with the GIL released. A product long enough for someone to press Ctrl-C (over 2^32
// multiply-adds, ~0.1 s here) packs B once (a copy of B's size) and runs in panels of rows of C
// with a signal check between them. Rows of C are independent and sgemm_packed uses the same
// kernel and K panels as sgemm: bitwise the whole product's result. Each panel streams all of
// packed B from memory again (the whole product reads each B block once per sweep of all rows),
// so panels are sized by time: ~kPanelSeconds each, which keeps that cost within measurement
// noise (1 thread, 4096^3 and 8192x2048x2048; 0.25 s panels cost ~3%, plain sgemm per panel,
// repacking B each time, 11%).
inline void sgemm_released(bool trans_a, bool trans_b, fastmlp::index_t m, fastmlp::index_t n,
                           fastmlp::index_t k, float alpha, const float* a, fastmlp::index_t lda,
                           const float* b, fastmlp::index_t ldb, float beta, float* c,
                           fastmlp::index_t ldc) {
  using fastmlp::index_t;
  constexpr double kFirstPanelMacs = 2147483648.0, kPanelSeconds = 0.4;
  constexpr index_t kMinRows = 128;
  const double macs = static_cast<double>(m) * n * k;
  if (macs <= 2 * kFirstPanelMacs) {
    gil::without_gil(
        [&] { fastmlp::sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc); });
    return;
  }
  auto panel_rows = [&](double r) {
    return std::max<index_t>(kMinRows, static_cast<index_t>(std::min<double>(r, m)) / 64 * 64);
  };
  gil::Interrupts interrupts;
  gil::without_gil([&] {
    fastmlp::PackedB packed;
    packed.pack(trans_b, k, n, b, ldb);
    index_t rows = panel_rows(kFirstPanelMacs / (double(n) * k));
    for (index_t i = 0; i < m;) {
      if (i > 0 && interrupts.ask()) return;
      const index_t r = std::min(rows, m - i);
      const auto start = std::chrono::steady_clock::now();
      fastmlp::sgemm_packed(trans_a, r, alpha, trans_a ? a + i : a + i * lda, lda, packed, beta,
                            c + i * ldc, ldc);
      const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
                              .count();
      rows = panel_rows(r * kPanelSeconds / std::max(took, 1e-3));
      i += r;
    }
  });
  interrupts.raise_if_interrupted();
}

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
    sgemm_released(trans_a, trans_b, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, n);
  } else {
    fastmlp::sgemm(trans_a, trans_b, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, n);
  }
  return std::move(out);
}

}  // namespace fastmlp_bindings
