// Process-wide runtime settings: threads and the instruction set chosen at run time.
#pragma once
#include <string>
#include <vector>

namespace fastmlp {

// Threads fastmlp may use (default: the CPUs available to the process). n must be >= 1.
void set_num_threads(int n);
int get_num_threads();

// Threads a parallel region may use now: get_num_threads(), capped by the CPUs that other
// processes leave idle (sampled from the kernel's count of runnable threads in /proc/loadavg at
// most every 50 ms). Every thread count the core uses comes from one policy
// (src/common/thread_policy.h) that applies this cap. Results never depend on it (no kernel
// splits a sum across threads). set_thread_adaptation(false), or FASTMLP_ADAPTIVE_THREADS=0 at
// start-up, turns the cap off: every thread decision then depends only on the work and
// get_num_threads() (deterministic mode, for tests).
int threads_available();
void set_thread_adaptation(bool on);
bool thread_adaptation();

// Whether fit/evaluate/predict and the other Model methods run with denormals flushed to zero
// (FTZ + DAZ on the calling thread and the team's workers, restored on return). Default on:
// subnormal floats (below 1.2e-38 in magnitude) cost ~100 cycles per operation on Intel cores,
// and decaying optimizer state reaches them. Off gives IEEE gradual underflow.
void set_flush_denormals(bool on);
bool flush_denormals();

enum class Isa { generic = 0, avx2 = 1, avx512 = 2 };

const char* isa_name(Isa isa);
// The ISA in use: the best one the CPU and OS support, or FASTMLP_ISA (read once) if set.
// Throws std::invalid_argument if FASTMLP_ISA names an unknown ISA or one this CPU lacks.
Isa active_isa();
std::vector<Isa> supported_isas();

struct CacheSizes {
  long l1d = 32 * 1024;
  long l2 = 1024 * 1024;
  long l3 = 8 * 1024 * 1024;
};
CacheSizes cache_sizes();

}  // namespace fastmlp
