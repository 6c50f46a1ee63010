// Inference: small inputs run directly on the calling thread in a preallocated workspace (no
// allocation, no thread start); large ones in row blocks, one thread per block sequence, each
// with its own workspace so every block keeps all layers' activations in that core's cache.
#include "common/fp_mode.h"
#include "common/thread_policy.h"
#include "common/thread_team.h"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

#include "fastmlp/model.h"
#include "fastmlp/runtime.h"
#include "nn/training/input.h"

namespace fastmlp {
namespace {
constexpr index_t kBlockRows = 256;
// How often a long call asks whether to stop (Ctrl-C), as the training loop does.
constexpr std::chrono::milliseconds kCheckEvery{15};
}  // namespace

double Model::macs_per_row() const {
  double macs = 0.0;
  for (const auto& l : layers_) macs += double(l->in_dim()) * l->out_dim();
  return macs;
}

index_t Model::predict_block(Workspace& ws, const InputView& x, index_t first, index_t n,
                             float* out) {
  // Contiguous float32 rows with nothing to rescale are read in place: no copy, only the check.
  const bool in_place = x.dtype == DType::float32 && !x.indptr && !fused_rescaling_ &&
                        (x.rows == 1 || x.ld == x.cols);
  const float* rows = static_cast<const float*>(x.data) + first * x.ld;
  const index_t bad = in_place ? detail::first_nonfinite_row(rows, n, x.cols)
                               : load_input(x, nullptr, first, n, ws);
  if (bad >= 0) return bad;
  Pass pass;
  pass.prepared = true;
  run_forward(ws, in_place ? rows : ws.input, n, pass, out + first * output_dim_);
  return -1;
}

void Model::predict(const InputView& x, float* out, const std::function<bool()>& interrupt) {
  detail::check_input(x, input_dim_, "x");
  const detail::FlushDenormalsScope fp_mode;
  const index_t n = x.rows;
  if (n == 0) return;
  prepare_inference();
  // Each thread takes whole blocks; a one-row call never asks the load feedback.
  const int threads = thread_policy().threads_for(WorkKind::predict_rows, n * macs_per_row(),
                                                  static_cast<double>(n / kBlockRows));
  using clock = std::chrono::steady_clock;
  auto last_check = clock::now();
  // True when the caller asked to stop (checked at most every kCheckEvery).
  auto interrupted = [&] {
    if (!interrupt || clock::now() - last_check < kCheckEvery) return false;
    last_check = clock::now();
    const detail::CallerFpModeScope user_code(fp_mode);
    return interrupt();
  };

  if (threads <= 1) {
    std::unique_lock<std::mutex> lock(small_mutex_, std::try_to_lock);
    Workspace local;  // only when another thread is predicting with this model right now
    Workspace& ws = lock.owns_lock() ? small_ws_ : local;
    const index_t rows = std::min(n, kBlockRows);
    layout(ws, rows, false);
    for (index_t first = 0; first < n && !interrupted(); first += rows) {
      const index_t bad = predict_block(ws, x, first, std::min(rows, n - first), out);
      if (bad >= 0) throw_nonfinite_input(x, first + bad);
    }
    return;
  }

  std::lock_guard<std::mutex> lock(block_mutex_);
  if (block_ws_.size() < static_cast<std::size_t>(threads)) block_ws_.resize(threads);
  for (int t = 0; t < threads; ++t) layout(block_ws_[t], kBlockRows, false);
  const index_t blocks = (n + kBlockRows - 1) / kBlockRows;
  std::atomic<index_t> first_bad{-1};
  // Blocks are claimed in order from a counter: a thread the OS runs late takes fewer, and every
  // block before a bad one has been checked when the loop ends, so the first bad row is reported.
  // With an interrupt check, share 0 ends the region after kCheckEvery (every block claimed is
  // still finished) so that the caller can ask between regions; the next region goes on.
  std::atomic<index_t> next{0};
  std::atomic<bool> pause{false};
  auto body = [&](int id, int) {
    Workspace& ws = block_ws_[id];
    const auto start = clock::now();
    while (first_bad.load() < 0 && !pause.load(std::memory_order_relaxed)) {
      const index_t b = next++;
      if (b >= blocks) break;
      const index_t first = b * kBlockRows;
      const index_t bad = predict_block(ws, x, first, std::min(kBlockRows, n - first), out);
      if (bad >= 0) {
        index_t cur = first_bad.load();
        while ((cur < 0 || first + bad < cur) &&
               !first_bad.compare_exchange_weak(cur, first + bad)) {
        }
        break;
      }
      if (id == 0 && interrupt && clock::now() - start >= kCheckEvery) pause.store(true);
    }
  };
  for (;;) {
    pause.store(false);
    detail::run_team(threads, body);
    if (first_bad.load() >= 0 || next.load() >= blocks) break;
    last_check = clock::time_point{};  // the region took kCheckEvery: ask now
    if (interrupted()) return;
  }
  if (first_bad.load() >= 0) throw_nonfinite_input(x, first_bad.load());
}

// ---- fork() ------------------------------------------------------------------------------------
// A child created by fork() has only the thread that forked. Locks that other threads held at that
// moment (a parallel predict holds block_mutex_ throughout) would stay locked in the child forever,
// and the buffers those threads were writing may be half-resized. The child handler, which runs
// before any other thread exists in the child, gives such locks back unlocked and drops the buffers
// they guard (their memory is the parent's, copy-on-write, and is not freed). A lock held by the
// forking thread itself (fork from a callback) is left alone.

namespace detail {

struct ForkHandlers {
  std::mutex mutex;  // guards models; held across fork() so the list is never caught mid-change
  std::vector<Model*> models;

  static ForkHandlers& get() {
    static ForkHandlers* h = new ForkHandlers;  // never destroyed: models may outlive statics
    return *h;
  }
  static void prepare() { get().mutex.lock(); }
  static void parent() { get().mutex.unlock(); }
  static void child() {
    ForkHandlers& h = get();
    for (Model* m : h.models) m->reset_after_fork();
    new (&h.mutex) std::mutex;  // was locked by prepare(), in the thread that is now this one
  }
};

[[maybe_unused]] const int g_atfork =
    pthread_atfork(ForkHandlers::prepare, ForkHandlers::parent, ForkHandlers::child);

ForkRegistration::ForkRegistration(Model* m) : model_(m) {
  ForkHandlers& h = ForkHandlers::get();
  std::lock_guard<std::mutex> lock(h.mutex);
  h.models.push_back(m);
}

ForkRegistration::~ForkRegistration() {
  ForkHandlers& h = ForkHandlers::get();
  std::lock_guard<std::mutex> lock(h.mutex);
  h.models.erase(std::find(h.models.begin(), h.models.end(), model_));
}

namespace {
// True (and the mutex replaced by a fresh one) if another thread held it at the fork.
bool reclaim(std::mutex& m) {
  if (m.try_lock()) {
    m.unlock();
    return false;
  }
  new (&m) std::mutex;  // the old one is not destroyed: destroying a locked mutex is undefined
  return true;
}
}  // namespace
}  // namespace detail

void Model::reset_after_fork() {
  if (detail::reclaim(small_mutex_)) new (&small_ws_) Workspace();
  if (detail::reclaim(block_mutex_)) new (&block_ws_) std::vector<Workspace>();
  if (detail::reclaim(prepare_mutex_)) ++weights_version_;  // packed copies: made again
  if (busy_.load() && busy_thread_ != std::this_thread::get_id()) {
    // another thread was training: the weights are as that step left them at the fork
    new (&train_ws_) Workspace();
    busy_.store(false);
  }
}

void Model::forward(const InputView& x, bool training, float* out,
                    const std::function<bool()>& interrupt) {
  if (!training) {
    predict(x, out, interrupt);
    return;
  }
  detail::check_input(x, input_dim_, "x");
  if (x.rows == 0) return;
  const detail::FlushDenormalsScope fp_mode;
  layout(train_ws_, x.rows, true);
  const index_t bad = load_input(x, nullptr, 0, x.rows, train_ws_);
  if (bad >= 0) throw_nonfinite_input(x, bad);
  run_forward(train_ws_, train_ws_.input, x.rows, Pass{true, training_step_++, false}, out);
}

}  // namespace fastmlp
