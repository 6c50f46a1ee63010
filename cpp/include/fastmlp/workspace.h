// Work memory of a model, sized once per (model, batch size) and reused by every batch.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <vector>

#include "fastmlp/gemm.h"

namespace fastmlp {

// A 64-byte aligned float buffer that only grows; each growth is counted so tests can check that
// the batch loop allocates nothing.
class FloatBuffer {
 public:
  float* ensure(std::size_t n, std::int64_t* counter) {
    if (n > capacity_) {
      const std::size_t bytes = ((n * sizeof(float) + 63) / 64) * 64;
      float* p = static_cast<float*>(std::aligned_alloc(64, bytes));
      if (!p) throw std::bad_alloc();
      data_.reset(p);
      capacity_ = n;
      if (counter) ++*counter;
    }
    return data_.get();
  }
  float* data() const { return data_.get(); }
  std::size_t capacity() const { return capacity_; }

 private:
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  std::unique_ptr<float, Free> data_;
  std::size_t capacity_ = 0;
};

// Per-batch buffers carved out of one allocation. All matrices have row stride = their width, so
// any batch of up to `rows` rows fits.
struct Workspace {
  index_t rows = 0;       // capacity in rows; 0 = not laid out
  bool training = false;  // has gradient and target buffers
  FloatBuffer memory;
  float* input = nullptr;                // rows x input_dim, the converted batch
  std::vector<float*> outputs, scratch;  // per layer
  float* grad_a = nullptr;               // rows x widest layer: ping-pong gradients
  float* grad_b = nullptr;
  float* targets = nullptr;              // rows x output_dim (dense targets of a shuffled batch)
  float* sample_weight = nullptr;        // rows
  std::vector<std::int32_t> labels;      // rows (sparse targets of a shuffled batch)
};

}  // namespace fastmlp
