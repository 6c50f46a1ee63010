// ThreadPolicy: every "how many threads does this work get" answer of the core, from one table of
// constants (thread_policy.cpp) and one feedback mechanism.
//
// The table maps (kind of work, its cost, how many pieces it can be cut into, the configured
// threads) to a thread count. That answer is deterministic; results never depend on it anyway
// (no kernel splits a sum across threads: the GEMM never splits K, reductions add fixed chunks in
// order), only the speed does.
//
// The feedback: on a shared machine a worker put on a core that another process holds does not
// just fail to help. Woken, it waits for that core while the caller runs its share; once running
// it spins for the next region there; preempted half-way through a share, it stalls the region
// for a time slice. So before a region forks, the table's count is capped by the CPUs that other
// processes leave idle, sampled from the kernel's count of runnable threads (LoadSource; the
// default reads /proc/loadavg at most every 50 ms). It is the one mechanism because it is the only
// one that acts before a worker lands on a held core. A watch on slow joins (the GEMM had one)
// has to let workers stall first, and with a busy core it hardly ever fires: the woken worker
// mostly does not get to run at all, so the caller takes its share and the join is prompt, while
// every region still pays the wake-up and the worker, once it runs, spins on the held core. A
// timing of whole training steps (the trainer had one) reacts only every few hundred steps and
// costs trial steps on one thread. What that timing found on an idle machine, that a step too
// small to split runs slower on two threads, is the table's train_step row. What the sample does
// not see: a process that starts between two samples and a virtual CPU taken by the hypervisor;
// the team's caller runs every share a worker has not started (common/thread_team.h), so those
// cost at most the share a worker was preempted in. Niced processes count as holding a core.
//
// Deterministic mode (FASTMLP_ADAPTIVE_THREADS=0 at start-up, or set_thread_adaptation(false),
// which tests use): the feedback is off and every answer depends only on (kind, cost, parts,
// configured threads).
#pragma once
#include <limits>

namespace fastmlp {

// A kind of parallel work: one row of the table. The comment gives the unit of `cost` and what
// `parts` (the most pieces the work can be cut into) counts.
enum class WorkKind : int {
  gemm,             // flops (2 m n k) of one product; parts: its MR x NR register tiles
  gemm_pair,        // flops of each of two independent products (a dense layer's dW and dX), run
                    // one whole product per thread; parts: 2
  elementwise,      // simple element operations (a load, an operation or two, a store)
  gather,           // elements of input rows converted into a batch; parts: rows
  activation,       // elements of an activation pass or its derivative; parts: rows
  loss,             // elements (rows x outputs) of a batch loss; parts: its row chunks
  optimizer,        // elements of an adaptive optimizer's update or of a gradient norm;
                    // parts: the optimizer's element chunks
  optimizer_light,  // elements of a plain (SGD-like) update; parts: the element chunks
  init,             // elements an initializer fills
  predict_rows,     // multiply-adds of a whole predict call; parts: its full row blocks
  train_step,       // multiply-adds of one training batch's forward pass; parts: unused
  count_            // (number of kinds)
};

// Where the feedback learns how many CPUs other threads hold right now.
class LoadSource {
 public:
  virtual ~LoadSource() = default;
  // CPUs held now by runnable threads other than the caller and the team's waiting workers.
  virtual int busy_cpus() = 0;
};

class ThreadPolicy {
 public:
  static constexpr double kNoLimit = std::numeric_limits<double>::infinity();

  // The table alone: threads for `cost` of `kind` cut into at most `parts` pieces when `threads`
  // are configured (1 when the work is too small or too large to split).
  static int table(WorkKind kind, double cost, double parts, int threads);

  // table() with configured(), capped by the feedback when it is on; the feedback is asked only
  // when the table wants more than one thread, so small work never waits for a sample. Inside a
  // parallel region (a worker, or a caller running its share) the answer is 1: the team runs
  // nested regions on the calling thread anyway.
  int threads_for(WorkKind kind, double cost, double parts = kNoLimit);

  // set_num_threads(), narrowed on this thread by the innermost ScopedThreadCap.
  int configured() const;
  // configured(), capped by the CPUs other processes leave idle when the feedback is on.
  int available();

  void set_adaptive(bool on);
  bool adaptive() const;
  // Tests: the feedback reads `source` from now on (null: /proc/loadavg again); the next
  // answer that asks the feedback takes a fresh sample.
  void set_load_source(LoadSource* source);
};

ThreadPolicy& thread_policy();

// While alive, narrows configured() on the constructing thread to n (n >= 1; scopes nest). The
// training loop runs a batch whose step the table keeps on one thread under such a cap.
class ScopedThreadCap {
 public:
  explicit ScopedThreadCap(int n);
  ~ScopedThreadCap();
  ScopedThreadCap(const ScopedThreadCap&) = delete;
  ScopedThreadCap& operator=(const ScopedThreadCap&) = delete;

 private:
  int previous_;
};

namespace detail {
// The default LoadSource's arithmetic: CPUs held by others according to one /proc/loadavg line
// (its 4th field counts runnable threads, the reader included), given our own team workers that
// are spinning (runnable, but waiting for our next region); -1 if the line cannot be read.
int busy_cpus_from_loadavg(const char* line, int own_spinning);
}  // namespace detail

}  // namespace fastmlp
