// Collectives over an MPI communicator that another module created (mpi4py), calling the MPI
// library that module loaded. The functions are looked up at run time (dlopen with RTLD_NOLOAD
// of an object already loaded, then dlsym), so fastmlp neither links against nor needs MPI: the
// wheel builds and imports without it.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nn/training/allreduce.h"

namespace fastmlp {

// The MPI handles as integers (mpi4py's `.handle`): their C type is a pointer in Open MPI and an
// int in MPICH, so `handle_bytes` (sizeof(MPI_Comm)) says which.
struct MpiHandles {
  // Loaded objects whose dependencies include the MPI library (mpi4py's extension module),
  // searched in order; "" is the process's global scope.
  std::vector<std::string> libraries;
  std::uint64_t comm = 0, float_type = 0, double_type = 0, byte_type = 0, sum_op = 0,
                min_op = 0, in_place = 0;
  int handle_bytes = 8;
  int rank = 0, size = 1;
};

// std::runtime_error naming what is missing when MPI_Allreduce / MPI_Bcast cannot be found.
std::shared_ptr<Collectives> make_mpi_collectives(const MpiHandles& handles);

}  // namespace fastmlp
