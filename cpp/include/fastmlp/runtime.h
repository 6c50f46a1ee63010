// Process-wide runtime settings: threads and the instruction set chosen at run time.
#pragma once
#include <string>
#include <vector>

namespace fastmlp {

// Threads fastmlp may use (default: the CPUs available to the process). n must be >= 1.
void set_num_threads(int n);
int get_num_threads();

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
