// fastmlp GEMM: C = alpha * op(A) @ op(B) + beta * C, float32, row-major.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

namespace fastmlp {

using index_t = std::int64_t;

// Applied to a finished block of C (rows x cols at c, row stride ldc), while it is still in cache.
// col0 is the block's first column in C, so per-column data (bias, parameters) can be indexed.
// Called once per element, after bias and ReLU, possibly from several threads at once (on
// disjoint blocks): it must be thread-safe.
using EpilogueFn = void (*)(float* c, index_t ldc, index_t rows, index_t cols, index_t col0,
                            const void* ctx);

// What the store stage does after alpha*AB + beta*C: add a bias row vector (length n), then an
// element-wise activation. ReLU is fused in the micro-kernel's registers; any other activation is
// given as `post`, run on each finished tile, so a dense layer's forward pass writes C once.
struct Epilogue {
  const float* bias = nullptr;  // length n, or null
  bool relu = false;            // fused max(0, x)
  EpilogueFn post = nullptr;    // optional element-wise op on finished tiles
  const void* post_ctx = nullptr;
};

// Row-major SGEMM. op(A) is m x k, op(B) is k x n, C is m x n. Any leading dimensions (>= the row
// length of the stored matrix). Shapes of 0 are allowed. Threads are chosen from the work size, up
// to get_num_threads() (fewer while other processes hold the CPUs); they claim blocks of C
// dynamically, so a descheduled thread delays only its own block. K is never split across
// threads, so results are bitwise identical for any thread count. beta == 0 never reads C (NaN in C does not propagate); alpha == 0 or k == 0 never
// reads A or B. Throws std::invalid_argument for negative sizes or too-small leading dimensions.
void sgemm(bool trans_a, bool trans_b, index_t m, index_t n, index_t k, float alpha,
           const float* a, index_t lda, const float* b, index_t ldb, float beta, float* c,
           index_t ldc, const Epilogue& epilogue = Epilogue{});

// op(B) (k x n) packed once into the active kernel's panel layout, for reuse across many products
// with the same right-hand side (e.g. a layer's weights over all the batches of a prediction).
// Holds a copy: later changes to B are not seen. Reusable: pack() again to refill (the storage
// only grows). Packing needs exclusive access; sgemm_packed only reads it (safe to share).
class PackedB {
 public:
  PackedB() = default;
  void pack(bool trans_b, index_t k, index_t n, const float* b, index_t ldb);
  index_t k() const { return k_; }
  index_t n() const { return n_; }

 private:
  friend void sgemm_packed(bool, index_t, float, const float*, index_t, const PackedB&, float,
                           float*, index_t, const Epilogue&);
  struct Free {
    void operator()(float* p) const;
  };
  std::unique_ptr<float[], Free> data_;
  std::size_t capacity_ = 0;
  index_t k_ = 0, n_ = 0, kc_ = 0;
  const void* kernel_ = nullptr;  // the kernel whose layout the data has
  bool finite_ = false;           // no Inf or NaN in the data (zero A elements may be skipped)
};

// C = alpha * op(A) @ B + beta * C with B prepacked (m x k times k x n); same semantics, epilogue
// and thread policy as sgemm. The kernel in use must be the one the data was packed for.
void sgemm_packed(bool trans_a, index_t m, float alpha, const float* a, index_t lda,
                  const PackedB& b, float beta, float* c, index_t ldc,
                  const Epilogue& epilogue = Epilogue{});

// Reference implementation (plain loops, float accumulation in K order); tests compare against it.
void sgemm_reference(bool trans_a, bool trans_b, index_t m, index_t n, index_t k, float alpha,
                     const float* a, index_t lda, const float* b, index_t ldb, float beta,
                     float* c, index_t ldc, const Epilogue& epilogue = Epilogue{});

}  // namespace fastmlp
