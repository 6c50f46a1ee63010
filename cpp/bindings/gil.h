// Releasing the GIL around the core's compute and retaking it (for callbacks, signal checks and
// the return), in a way that survives the interpreter exiting meanwhile.
//
// Why not pybind11's gil_scoped_release: CPython 3.8-3.13 ends a thread that takes the GIL after
// finalization began with pthread_exit, which unwinds its stack (abi::__forced_unwind). Started
// from ~gil_scoped_release (a destructor, so noexcept), or passing a noexcept frame or a
// catch (...) that does not rethrow, that unwind calls std::terminate: a daemon thread inside
// fit/predict turned every interpreter exit into SIGABRT. So here:
// - the GIL is retaken in ordinary code, never in a destructor, and every catch rethrows the
//   forced unwind;
// - a thread about to retake the GIL first checks whether fastmlp's atexit hook has run; if so it
//   parks (sleeps until the process ends, as CPython 3.14 does with such threads) rather than be
//   unwound through frames that own Python objects it could no longer release;
// - the hook, which runs before finalization begins, waits (GIL released, at most kExitWaitMs) for
//   threads that are retaking the GIL or running a callback, so that none is caught half-way.
#pragma once
#include <pybind11/pybind11.h>

#include <atomic>
#include <chrono>
#include <cxxabi.h>
#include <functional>
#include <optional>
#include <thread>
#include <type_traits>
#include <utility>

// libstdc++ unwinds a thread ended by pthread_exit with abi::__forced_unwind, which every catch
// must rethrow (as pybind11's dispatcher does); other runtimes do not have it.
#if defined(__GLIBCXX__)
#define FASTMLP_RETHROW_FORCED_UNWIND \
  catch (abi::__forced_unwind&) {     \
    throw;                            \
  }
#else
#define FASTMLP_RETHROW_FORCED_UNWIND
#endif

namespace fastmlp_bindings {
namespace gil {

namespace py = pybind11;

constexpr int kExitWaitMs = 2000;

inline std::atomic<bool> g_exiting{false};
inline std::atomic<std::thread::id> g_exit_thread{};  // the thread that ran the hook (exempt)
// Threads between "about to retake the GIL" and "done with it" (a callback's whole run).
inline std::atomic<int> g_taking{0};
// This thread's state while its GIL is released by without_gil, and its share of g_taking.
inline thread_local PyThreadState* t_released = nullptr;
inline thread_local int t_taking = 0;

[[noreturn]] inline void park() {
  g_taking.fetch_sub(t_taking, std::memory_order_seq_cst);
  t_taking = 0;
  for (;;) std::this_thread::sleep_for(std::chrono::hours(24));
}

// Retakes the GIL released as `ts`; the thread counts as taking until untake().
inline void take(PyThreadState* ts) {
  ++t_taking;
  g_taking.fetch_add(1, std::memory_order_seq_cst);  // then read g_exiting: pairs with at_exit
  if (g_exiting.load(std::memory_order_seq_cst) &&
      g_exit_thread.load(std::memory_order_seq_cst) != std::this_thread::get_id()) {
    park();
  }
  PyEval_RestoreThread(ts);
}

inline void untake() {
  --t_taking;
  g_taking.fetch_sub(1, std::memory_order_seq_cst);
}

// The atexit hook: from now on threads park instead of retaking the GIL.
// Later atexit handlers on this thread (and finalization itself) may still use fastmlp.
inline void at_exit() {
  g_exit_thread.store(std::this_thread::get_id(), std::memory_order_seq_cst);
  g_exiting.store(true, std::memory_order_seq_cst);  // then read g_taking: pairs with take
  if (g_taking.load(std::memory_order_seq_cst) - t_taking == 0) return;
  PyThreadState* ts = PyEval_SaveThread();  // the threads being waited for need the GIL
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kExitWaitMs);
  while (g_taking.load(std::memory_order_seq_cst) - t_taking > 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  PyEval_RestoreThread(ts);  // the finalizing thread itself always gets the GIL back
}

template <class F>
void released(F&& f) {
  PyThreadState* const outer = t_released;
  PyThreadState* const ts = PyEval_SaveThread();
  t_released = ts;
  try {
    f();
  }
  // ended by the interpreter inside a callback: there is no GIL to retake
  FASTMLP_RETHROW_FORCED_UNWIND
  catch (...) {
    t_released = outer;
    take(ts);
    untake();
    throw;
  }
  t_released = outer;
  take(ts);
  untake();
}

// f() with the GIL released; its result (or exception) with the GIL held again.
template <class F>
auto without_gil(F&& f) -> decltype(f()) {
  using R = decltype(f());
  if constexpr (std::is_void<R>::value) {
    released(f);
  } else {
    std::optional<R> r;
    released([&] { r.emplace(f()); });
    return std::move(*r);
  }
}

// f() with the GIL held, from inside without_gil (or directly when the GIL is held): callbacks
// and signal checks from the compute loops.
template <class F>
auto with_gil(F&& f) -> decltype(f()) {
  PyThreadState* const ts = t_released;
  if (ts == nullptr) return f();
  take(ts);  // parks if the interpreter is exiting
  t_released = nullptr;
  struct Done {  // run in ordinary code below, not as a destructor
    PyThreadState* ts;
    void operator()() const {
      t_released = ts;
      PyEval_SaveThread();
      untake();
    }
  } done{ts};
  try {
    if constexpr (std::is_void<decltype(f())>::value) {
      f();
      done();
    } else {
      auto r = f();
      done();
      return r;
    }
  }
  // the interpreter ended this thread inside f; it holds no GIL any more
  FASTMLP_RETHROW_FORCED_UNWIND
  catch (...) {
    done();
    throw;
  }
}

// Ctrl-C during a long call: the core asks every ~15 ms (between batches, row blocks or GEMM row
// panels); the check takes the GIL and runs Python's signal handlers, which leave the exception
// (KeyboardInterrupt) set for raise_if_interrupted.
class Interrupts {
 public:
  std::function<bool()> check() {
    return [this] { return ask(); };
  }
  bool ask() {
    interrupted_ = interrupted_ || with_gil([] { return PyErr_CheckSignals() != 0; });
    return interrupted_;
  }
  void raise_if_interrupted() const {
    if (interrupted_) throw py::error_already_set();
  }

 private:
  bool interrupted_ = false;
};

}  // namespace gil
}  // namespace fastmlp_bindings
