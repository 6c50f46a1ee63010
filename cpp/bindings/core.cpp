// fastmlp._core: the one pybind11 module. Arguments are checked here, the GIL is released for
// compute, and NumPy buffers are used in place where their layout allows.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "arrays.h"
#include "gil.h"
#include "specs.h"  // leaf config dicts; also brings the activations/losses/... headers
#include "fastmlp/gemm.h"
#include "fastmlp/runtime.h"
#include "loss_bindings.h"
#include "matmul_bf16_bindings.h"
#include "matmul_int8_bindings.h"
#include "matmul_bindings.h"
#include "metric_bindings.h"
#include "model_class.h"
#include "tensor_bindings.h"
#if defined(FASTMLP_TEST_HOOKS)
#include "test_hooks.h"
#endif
#include "common/fp_mode.h"
#include "common/thread_team.h"
#include "nn/training/shuffle.h"

namespace py = pybind11;
using fastmlp::index_t;
using fastmlp_bindings::gil::without_gil;

namespace {

using fastmlp_bindings::bind_matmul;
using fastmlp_bindings::bind_matmul_bf16;
using fastmlp_bindings::shape_of;

// ---- runtime -------------------------------------------------------------------------------

py::dict cpu_info() {
  py::dict d;
  d["isa"] = fastmlp::isa_name(fastmlp::active_isa());
  py::list supported;
  for (auto isa : fastmlp::supported_isas()) supported.append(fastmlp::isa_name(isa));
  d["supported_isas"] = supported;
  d["bf16_kernel"] = fastmlp::bf16_kernel_name(fastmlp::active_bf16_kernel());
  py::list bf16;
  for (auto k : fastmlp::supported_bf16_kernels()) bf16.append(fastmlp::bf16_kernel_name(k));
  d["supported_bf16_kernels"] = bf16;
  d["int8_kernel"] = fastmlp::int8_kernel_name(fastmlp::active_int8_kernel());
  py::list int8;
  for (auto k : fastmlp::supported_int8_kernels()) int8.append(fastmlp::int8_kernel_name(k));
  d["supported_int8_kernels"] = int8;
  const auto caches = fastmlp::cache_sizes();
  d["l1d_cache"] = caches.l1d;
  d["l2_cache"] = caches.l2;
  d["l3_cache"] = caches.l3;
  d["num_threads"] = fastmlp::get_num_threads();
  d["flush_denormals"] = fastmlp::flush_denormals();
  return d;
}

// The row order of a shuffled train_epoch(seed=seed) over n rows.
py::array_t<std::int64_t> shuffled_order(index_t n, std::uint64_t seed) {
  if (n < 0) throw std::invalid_argument("_shuffled_order: n must be >= 0");
  std::vector<index_t> order;
  fastmlp::detail::shuffled_order(n, seed, order);
  py::array_t<std::int64_t> out(static_cast<py::ssize_t>(n));
  std::copy(order.begin(), order.end(), out.mutable_data());
  return out;
}

void bind_runtime_and_ops(py::module_& m) {
  m.def("_shuffled_order", &shuffled_order, py::arg("n"), py::arg("seed"));
  m.def("set_num_threads", &fastmlp::set_num_threads, py::arg("n"));
  m.def("get_num_threads", &fastmlp::get_num_threads);
  m.def("set_thread_adaptation", &fastmlp::set_thread_adaptation, py::arg("on"));
  m.def("thread_adaptation", &fastmlp::thread_adaptation);
  m.def("cpu_info", &cpu_info);
  m.def("set_flush_denormals", &fastmlp::set_flush_denormals, py::arg("on"));
  m.def("flush_denormals", &fastmlp::flush_denormals);
  bind_matmul(m);
  bind_matmul_bf16(m);
}

// ---- leaf functions: activations, losses, initializers, optimizers (nnleaf) -------------------

using fastmlp_bindings::FloatArray;
using fastmlp_bindings::as_floats;

// Rows and columns of a last-axis operation (softmax, a loss row) on an array of any rank.
std::pair<index_t, index_t> rows_cols(const py::array& x) {
  const index_t cols = x.ndim() == 0 ? 1 : x.shape(x.ndim() - 1);
  return {cols == 0 ? 0 : static_cast<index_t>(x.size()) / cols, cols};
}

FloatArray copy_of(const FloatArray& x) {
  FloatArray out(std::vector<py::ssize_t>(x.shape(), x.shape() + x.ndim()));
  std::copy(x.data(), x.data() + x.size(), out.mutable_data());
  return out;
}

FloatArray activation_forward_py(const std::string& name, const py::handle& x, float param) {
  const fastmlp::Activation act = fastmlp::parse_activation(name, param);
  FloatArray y = copy_of(as_floats(x, "activation_forward: x"));
  const auto rc = rows_cols(y);
  float* data = y.mutable_data();
  without_gil([&] { fastmlp::activation_forward(act, data, rc.first, rc.second, rc.second); });
  return y;
}

// grad * f'(x), computing f(x) first for the derivatives that use the output.
FloatArray activation_backward_py(const std::string& name, const py::handle& x,
                                  const py::handle& grad, float param) {
  const fastmlp::Activation act = fastmlp::parse_activation(name, param);
  const FloatArray xa = as_floats(x, "activation_backward: x");
  FloatArray g = copy_of(as_floats(grad, "activation_backward: grad"));
  if (g.ndim() != xa.ndim() || !std::equal(xa.shape(), xa.shape() + xa.ndim(), g.shape())) {
    throw std::invalid_argument("activation_backward: grad has shape " + shape_of(g) +
                                ", x has shape " + shape_of(xa));
  }
  FloatArray y = copy_of(xa);
  const auto rc = rows_cols(y);
  float* yd = y.mutable_data();
  float* gd = g.mutable_data();
  without_gil([&] {
    fastmlp::activation_forward(act, yd, rc.first, rc.second, rc.second);
    fastmlp::activation_backward(act, xa.data(), yd, gd, rc.first, rc.second, rc.second);
  });
  return g;
}

// Keras's compute_fans: 1-D (n) -> (n, n); 2-D (in, out); conv-style kernels scale by the
// receptive field (the product of the leading dimensions).
FloatArray initialize_py(const py::handle& spec_h, const std::vector<index_t>& shape) {
  const fastmlp::InitializerSpec spec = fastmlp_bindings::initializer_spec_from(spec_h);
  index_t count = 1, fan_in = 1, fan_out = 1, receptive = 1;
  for (index_t d : shape) {
    if (d < 0) {
      throw std::invalid_argument("initialize: negative dimension in shape");
    }
    count *= d;
  }
  const size_t r = shape.size();
  for (size_t i = 0; i + 2 < r; ++i) {
    receptive *= shape[i];
  }
  if (r == 1) {
    fan_in = fan_out = shape[0];
  }
  if (r >= 2) {
    fan_in = shape[r - 2] * receptive;
    fan_out = shape[r - 1] * receptive;
  }
  FloatArray w(std::vector<py::ssize_t>(shape.begin(), shape.end()));
  float* data = w.mutable_data();
  without_gil([&] { fastmlp::initialize(spec, data, count, fan_in, fan_out); });
  return w;
}

// _core.Optimizer: steps on lists of float32 arrays in place.
struct PyOptimizer {
  std::unique_ptr<fastmlp::Optimizer> opt;
};

void optimizer_step(PyOptimizer& o, const py::list& params, const py::list& grads) {
  if (params.size() != grads.size()) {
    throw std::invalid_argument("Optimizer.step: " + std::to_string(params.size()) +
                                " parameters but " + std::to_string(grads.size()) + " gradients");
  }
  std::vector<fastmlp::ParamRef> refs;
  std::vector<FloatArray> keep;  // converted gradients stay alive while the GIL is released
  for (size_t i = 0; i < params.size(); ++i) {
    const py::handle h = params[i];
    if (!py::isinstance<py::array_t<float>>(h)) {
      throw std::invalid_argument("Optimizer.step: parameter " + std::to_string(i) +
                                  " must be a float32 ndarray in native byte order");
    }
    py::array a = py::reinterpret_borrow<py::array>(h);
    if (!(a.flags() & py::array::c_style) || !a.writeable() || !fastmlp_bindings::aligned(a)) {
      throw std::invalid_argument("Optimizer.step: parameter " + std::to_string(i) +
                                  " must be C-contiguous, aligned and writeable");
    }
    keep.push_back(as_floats(grads[i], "Optimizer.step: gradient"));
    if (keep.back().size() != a.size()) {
      throw std::invalid_argument("Optimizer.step: gradient " + std::to_string(i) + " has shape " +
                                  shape_of(keep.back()) + ", its parameter " + shape_of(a));
    }
    refs.push_back({static_cast<float*>(a.mutable_data()), keep.back().data(),
                    static_cast<index_t>(a.size())});
  }
  without_gil([&] { o.opt->step(refs); });
}

py::tuple optimizer_get_state(const PyOptimizer& o) {
  py::list slots;
  for (const auto& s : o.opt->get_state()) {
    FloatArray a(static_cast<py::ssize_t>(s.size()));
    std::copy(s.begin(), s.end(), a.mutable_data());
    slots.append(a);
  }
  return py::make_tuple(o.opt->iterations(), slots);
}

void optimizer_set_state(PyOptimizer& o, std::int64_t iterations, const py::list& slots) {
  std::vector<std::vector<float>> state;
  for (const py::handle h : slots) {
    const FloatArray a = as_floats(h, "Optimizer.set_state: slot");
    state.emplace_back(a.data(), a.data() + a.size());
  }
  o.opt->set_state(state, iterations);
}

void bind_leaf(py::module_& m) {
  m.def("activation_names", &fastmlp::activation_names);
  m.def("initializer_names", &fastmlp::initializer_names);
  m.def("optimizer_names", &fastmlp::optimizer_names);
  m.def("activation_forward", &activation_forward_py,
        "f(x) as a new float32 array; softmax along the last axis. param: leaky_relu slope / elu "
        "alpha (0 = the Keras default).",
        py::arg("name"), py::arg("x"), py::arg("param") = 0.0f);
  m.def("activation_backward", &activation_backward_py,
        "grad * f'(x) (softmax: the Jacobian-vector product per row), a new float32 array.",
        py::arg("name"), py::arg("x"), py::arg("grad"), py::arg("param") = 0.0f);
  fastmlp_bindings::bind_losses(m);
  fastmlp_bindings::bind_metrics(m);
  m.def("initialize", &initialize_py,
        "A float32 array of `shape` from an initializer spec (a name or {name, seed, value, "
        "minval, maxval, mean, stddev}); fans as Keras's compute_fans.",
        py::arg("spec"), py::arg("shape"));
  m.def(
      "learning_rate_schedule",
      [](const py::handle& s, std::int64_t step) {
        if (step < 0) {
          throw std::invalid_argument("learning_rate_schedule: step must be >= 0");
        }
        return fastmlp_bindings::schedule_from(s)(step);
      },
      "The learning rate at `step` of a number or a schedule dict {name: exponential_decay | "
      "inverse_time_decay | piecewise_constant_decay | cosine_decay, Keras arguments}.",
      py::arg("schedule"), py::arg("step"));
  py::class_<PyOptimizer>(m, "Optimizer",
                          "A Keras 3 optimizer from a config dict {name, learning_rate, ...}; "
                          "step() updates float32 arrays in place.")
      .def(py::init([](const py::handle& config) {
             return PyOptimizer{
                 fastmlp::make_optimizer(fastmlp_bindings::optimizer_config_from(config))};
           }),
           py::arg("config"))
      .def("step", &optimizer_step, "One update of C-contiguous float32 arrays, in place.",
           py::arg("params"), py::arg("grads"))
      .def("get_state", &optimizer_get_state, "(iterations, [slot arrays, parameter-major])")
      .def("set_state", &optimizer_set_state, py::arg("iterations"), py::arg("slots"))
      .def_property(
          "learning_rate", [](const PyOptimizer& o) { return o.opt->current_learning_rate(); },
          [](PyOptimizer& o, double lr) { o.opt->set_learning_rate(lr); })
      .def_property_readonly("iterations", [](const PyOptimizer& o) { return o.opt->iterations(); })
      .def_property_readonly("name", [](const PyOptimizer& o) { return o.opt->config().name; });
}

// ---- model (nn) --------------------------------------------------------------------------------

void bind_model(py::module_& m) { fastmlp_bindings::bind_model_class(m); }

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "fastmlp C++ core";
  m.attr("__version__") = FASTMLP_VERSION;
  bind_runtime_and_ops(m);
#if defined(FASTMLP_TEST_HOOKS)
  fastmlp_bindings::bind_test_hooks(m);
  fastmlp_bindings::bind_bf16_test_hooks(m);
  fastmlp_bindings::bind_int8_test_hooks(m);
#endif
  bind_leaf(m);
  fastmlp_bindings::bind_dataset(m);  // before bind_model: its signatures name _core.Dataset
  bind_model(m);
  fastmlp_bindings::bind_tensor_access(m);  // after bind_model: it extends _core.Model
  fastmlp_bindings::bind_distribution(m);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const fastmlp::NonFiniteStep& e) {
      PyErr_SetString(PyExc_FloatingPointError, e.what());
    } catch (const fastmlp::RankFailure& e) {
      fastmlp_bindings::set_rank_failure(e);
    }
  });
  // Before finalization begins: threads still inside the core park instead of being unwound.
  py::module_::import("atexit").attr("register")(
      py::cpp_function(&fastmlp_bindings::gil::at_exit));
}
