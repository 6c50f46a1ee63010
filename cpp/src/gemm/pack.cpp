// Filled in by the blocked GEMM engine (issue 3).
