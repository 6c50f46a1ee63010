// MPI_Allreduce / MPI_Bcast found with dlsym and called with the caller's handles.
#include "nn/training/mpi_collectives.h"

#include <dlfcn.h>

#include <algorithm>
#include <stdexcept>
#include <type_traits>

namespace fastmlp {
namespace {

void* find_symbol(const std::vector<std::string>& libraries, const char* name) {
  for (const std::string& lib : libraries) {
    void* handle = lib.empty() ? RTLD_DEFAULT : dlopen(lib.c_str(), RTLD_NOW | RTLD_NOLOAD);
    if (!handle) continue;
    if (void* f = dlsym(handle, name)) return f;  // searches the object and its dependencies
  }
  std::string where;
  for (const std::string& lib : libraries) where += "\n  " + (lib.empty() ? "(global scope)" : lib);
  throw std::runtime_error(std::string("fastmlp.distribution: ") + name +
                           " was not found in the MPI library loaded by mpi4py; searched:" + where);
}

// H: the C type of an MPI handle (void* in Open MPI, int in MPICH).
template <class H>
class MpiCollectives final : public Collectives {
 public:
  explicit MpiCollectives(const MpiHandles& h)
      : rank_(h.rank), size_(h.size), comm_(handle(h.comm)), float_(handle(h.float_type)),
        double_(handle(h.double_type)), byte_(handle(h.byte_type)), sum_(handle(h.sum_op)),
        min_(handle(h.min_op)),
        in_place_(reinterpret_cast<const void*>(static_cast<std::uintptr_t>(h.in_place))),
        allreduce_(reinterpret_cast<Allreduce>(find_symbol(h.libraries, "MPI_Allreduce"))),
        bcast_(reinterpret_cast<Bcast>(find_symbol(h.libraries, "MPI_Bcast"))) {}

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void sum(float* data, index_t n) override { reduce(data, n, sizeof(float), float_, sum_); }
  void sum(double* data, index_t n) override { reduce(data, n, sizeof(double), double_, sum_); }
  void min(double* data, index_t n) override { reduce(data, n, sizeof(double), double_, min_); }
  void broadcast(char* data, index_t n, int root) override {
    for (index_t done = 0; done < n;) {
      const int count = static_cast<int>(std::min<index_t>(n - done, kChunk));
      check(bcast_(data + done, count, byte_, root, comm_), "MPI_Bcast");
      done += count;
    }
  }

 private:
  using Allreduce = int (*)(const void*, void*, int, H, H, H);
  using Bcast = int (*)(void*, int, H, int, H);
  static constexpr index_t kChunk = index_t(1) << 30;  // MPI counts are int

  static H handle(std::uint64_t v) {
    if constexpr (std::is_pointer<H>::value) {
      return reinterpret_cast<H>(static_cast<std::uintptr_t>(v));
    } else {
      return static_cast<H>(static_cast<std::uint32_t>(v));
    }
  }
  static void check(int rc, const char* what) {
    // With MPI's default error handler a failed call aborts the job before returning.
    if (rc != 0) throw std::runtime_error(std::string(what) + " failed with MPI error code " +
                                          std::to_string(rc));
  }
  void reduce(void* data, index_t n, std::size_t item, H type, H op) {
    char* p = static_cast<char*>(data);
    for (index_t done = 0; done < n;) {
      const int count = static_cast<int>(std::min<index_t>(n - done, kChunk));
      check(allreduce_(in_place_, p + done * item, count, type, op, comm_), "MPI_Allreduce");
      done += count;
    }
  }

  int rank_, size_;
  H comm_, float_, double_, byte_, sum_, min_;
  const void* in_place_;
  Allreduce allreduce_;
  Bcast bcast_;
};

}  // namespace

std::shared_ptr<Collectives> make_mpi_collectives(const MpiHandles& h) {
  if (h.size < 1 || h.rank < 0 || h.rank >= h.size) {
    throw std::invalid_argument("make_mpi_collectives: rank " + std::to_string(h.rank) +
                                " of size " + std::to_string(h.size));
  }
  if (h.handle_bytes == int(sizeof(void*))) return std::make_shared<MpiCollectives<void*>>(h);
  if (h.handle_bytes == int(sizeof(int))) return std::make_shared<MpiCollectives<int>>(h);
  throw std::invalid_argument("make_mpi_collectives: MPI handles of " +
                              std::to_string(h.handle_bytes) + " bytes are not supported");
}

}  // namespace fastmlp
