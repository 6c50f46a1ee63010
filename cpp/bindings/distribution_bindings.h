// `_core.GradientReducer` (data-parallel training, nn/training/allreduce.h) and the failure
// protocol's Python side: a Python exception inside the epoch loop (a callback's) is classified
// by its type, and the agreed RankFailure is raised as ValueError / TypeError /
// FloatingPointError / KeyboardInterrupt / RuntimeError with `failed_rank` and
// `_fastmlp_agreed` set. Included once, by core.cpp.
#pragma once
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <string>
#include <vector>

#include "gil.h"
#include "nn/training/allreduce.h"
#include "nn/training/mpi_collectives.h"

namespace fastmlp_bindings {

namespace py = pybind11;
using fastmlp::GradientReducer;
using fastmlp::RankFailure;

// One process alone: the collectives of a group of one (every sum is the identity).
class SingleProcess final : public fastmlp::Collectives {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void sum(float*, fastmlp::index_t) override {}
  void sum(double*, fastmlp::index_t) override {}
  void min(double*, fastmlp::index_t) override {}
  void broadcast(char*, fastmlp::index_t, int) override {}
};

inline PyObject* python_type(RankFailure::Kind kind) {
  switch (kind) {
    case RankFailure::Kind::value: return PyExc_ValueError;
    case RankFailure::Kind::type: return PyExc_TypeError;
    case RankFailure::Kind::floating_point: return PyExc_FloatingPointError;
    case RankFailure::Kind::interrupt: return PyExc_KeyboardInterrupt;
    default: return PyExc_RuntimeError;
  }
}

// For the exception translator: the agreed error as the Python exception it stands for.
inline void set_rank_failure(const RankFailure& e) {
  PyObject* type = python_type(e.kind());
  py::object exc = py::reinterpret_borrow<py::object>(type)(py::str(e.what()));
  exc.attr("failed_rank") = e.failed_rank();
  exc.attr("_fastmlp_agreed") = true;
  PyErr_SetObject(type, exc.ptr());
}

// fn() (run with the GIL released); any exception it raises goes through the failure protocol.
template <class F>
auto guarded_call(GradientReducer* r, F&& fn) -> decltype(fn()) {
  if (!r) return fn();
  try {
    return fn();
  }
  FASTMLP_RETHROW_FORCED_UNWIND
  catch (py::error_already_set& e) {  // a Python callback raised inside the loop
    RankFailure::Kind kind = RankFailure::Kind::runtime;
    std::string message = gil::with_gil([&] {
      const std::pair<PyObject*, RankFailure::Kind> kinds[] = {
          {PyExc_FloatingPointError, RankFailure::Kind::floating_point},
          {PyExc_ValueError, RankFailure::Kind::value},
          {PyExc_TypeError, RankFailure::Kind::type},
          {PyExc_KeyboardInterrupt, RankFailure::Kind::interrupt}};
      for (const auto& k : kinds) {
        if (e.matches(k.first)) {
          kind = k.second;
          break;
        }
      }
      std::string text = py::str(e.value());
      if (text.empty()) text = py::str(e.type().attr("__name__"));  // KeyboardInterrupt()
      // Raised as RuntimeError on every rank: the message keeps any other type's name.
      if (kind != RankFailure::Kind::runtime || e.type().ptr() == PyExc_RuntimeError) return text;
      return std::string(py::str(e.type().attr("__name__"))) + ": " + text;
    });
    r->fail(kind, message);
  } catch (...) {
    r->fail_current();
  }
}

inline fastmlp::MpiHandles mpi_handles(const py::dict& d) {
  fastmlp::MpiHandles h;
  h.libraries = d["libraries"].cast<std::vector<std::string>>();
  h.comm = d["comm"].cast<std::uint64_t>();
  h.float_type = d["float"].cast<std::uint64_t>();
  h.double_type = d["double"].cast<std::uint64_t>();
  h.byte_type = d["byte"].cast<std::uint64_t>();
  h.sum_op = d["sum"].cast<std::uint64_t>();
  h.min_op = d["min"].cast<std::uint64_t>();
  h.in_place = d["in_place"].cast<std::uint64_t>();
  h.handle_bytes = d["handle_bytes"].cast<int>();
  h.rank = d["rank"].cast<int>();
  h.size = d["size"].cast<int>();
  return h;
}

inline void bind_distribution(py::module_& m) {
  using gil::without_gil;
  py::class_<GradientReducer, std::shared_ptr<GradientReducer>>(
      m, "GradientReducer",
      "Data-parallel training's collectives (fastmlp.distribution): pass as train_epoch's "
      "`reducer`.")
      .def_static(
          "from_mpi",
          [](const py::dict& handles, bool replicated) {
            return std::make_shared<GradientReducer>(
                fastmlp::make_mpi_collectives(mpi_handles(handles)), replicated);
          },
          "Over an MPI communicator: handles {libraries, comm, float, double, byte, sum, min, "
          "in_place, handle_bytes, rank, size} as mpi4py gives them.",
          py::arg("handles"), py::arg("replicated"))
      .def_static(
          "single",
          [](bool replicated) {
            return std::make_shared<GradientReducer>(std::make_shared<SingleProcess>(),
                                                     replicated);
          },
          "A group of one process (for tests).", py::arg("replicated") = true)
      .def_property_readonly("rank", &GradientReducer::rank)
      .def_property_readonly("size", &GradientReducer::size)
      .def_property_readonly("replicated", &GradientReducer::replicated)
      .def_property_readonly("gradient_seconds", &GradientReducer::gradient_seconds)
      .def_property_readonly("gradient_calls", &GradientReducer::gradient_calls)
      .def(
          "agree",
          [](GradientReducer& r, std::vector<double> payload, bool stop) {
            const bool any = without_gil(
                [&] { return r.agree(payload.data(), fastmlp::index_t(payload.size()), stop); });
            return py::make_tuple(payload, any);
          },
          "Every rank's payload summed and whether any rank asked to stop; raises the agreed "
          "error if a rank failed.",
          py::arg("payload"), py::arg("stop") = false)
      .def(
          "fail",
          [](GradientReducer& r, int kind, const std::string& message) {
            if (kind < 0 || kind > int(RankFailure::Kind::interrupt)) {
              throw std::invalid_argument("fail: kind must be in [0, 4], got " +
                                          std::to_string(kind));
            }
            without_gil([&] { r.fail(RankFailure::Kind(kind), message); });
          },
          "This rank failed: joins the others' next exchange and raises the agreed error "
          "(kind: 0 RuntimeError, 1 ValueError, 2 TypeError, 3 FloatingPointError, 4 "
          "KeyboardInterrupt).",
          py::arg("kind"), py::arg("message"));
}

}  // namespace fastmlp_bindings
