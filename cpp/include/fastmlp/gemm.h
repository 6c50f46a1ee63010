// fastmlp GEMM: C = alpha * op(A) @ op(B) + beta * C, float32, row-major.
#pragma once
#include <cstdint>

namespace fastmlp {

using index_t = std::int64_t;

// Applied to a finished block of C (rows x cols at c, row stride ldc), while it is still in cache.
// col0 is the block's first column in C, so per-column data (bias, parameters) can be indexed.
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
// to get_num_threads(); K is never split across threads, so results are bitwise identical for any
// thread count.
void sgemm(bool trans_a, bool trans_b, index_t m, index_t n, index_t k, float alpha,
           const float* a, index_t lda, const float* b, index_t ldb, float beta, float* c,
           index_t ldc, const Epilogue& epilogue = Epilogue{});

// Reference implementation (plain loops, float accumulation in K order); tests compare against it.
void sgemm_reference(bool trans_a, bool trans_b, index_t m, index_t n, index_t k, float alpha,
                     const float* a, index_t lda, const float* b, index_t ldb, float beta,
                     float* c, index_t ldc, const Epilogue& epilogue = Epilogue{});

}  // namespace fastmlp
