// The floating-point mode fastmlp's kernels run in: denormals flushed to zero (FTZ: subnormal
// results become 0; DAZ: subnormal inputs are read as 0) unless set_flush_denormals(false).
//
// Why: optimizer state of weights whose gradient stays zero (the border pixels of an image)
// decays geometrically into subnormal floats, and on Intel cores every arithmetic operation on a
// subnormal takes a microcode assist of ~100+ cycles; an epoch grew 2-5x slower as training went
// on. Only values below 1.2e-38 in magnitude are affected (they become 0), as under TensorFlow,
// which runs its kernels this way. The mode is per thread: the caller's is set on entry and
// restored on return, the team's workers take the caller's mode with each region, and user
// callbacks run in the caller's own mode.
#pragma once

namespace fastmlp {
namespace detail {

// The SSE control/status word (MXCSR) on x86, 0 elsewhere; write is a no-op elsewhere.
unsigned read_fp_mode();
void write_fp_mode(unsigned mode);

// Sets FTZ and DAZ on the calling thread while alive (when flushing is on), then restores the
// mode the thread had.
class FlushDenormalsScope {
 public:
  FlushDenormalsScope();
  ~FlushDenormalsScope();
  FlushDenormalsScope(const FlushDenormalsScope&) = delete;
  FlushDenormalsScope& operator=(const FlushDenormalsScope&) = delete;
  unsigned caller_mode() const { return saved_; }

 private:
  unsigned saved_;
  bool changed_;
};

// Inside a FlushDenormalsScope: the caller's own mode while alive (for user code such as
// callbacks), the kernels' mode again afterwards.
class CallerFpModeScope {
 public:
  explicit CallerFpModeScope(const FlushDenormalsScope& outer);
  ~CallerFpModeScope();
  CallerFpModeScope(const CallerFpModeScope&) = delete;
  CallerFpModeScope& operator=(const CallerFpModeScope&) = delete;

 private:
  unsigned kernel_mode_;
};

}  // namespace detail
}  // namespace fastmlp
