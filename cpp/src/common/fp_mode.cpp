#include "common/fp_mode.h"

#include <atomic>
#include <cstdint>
#include <cstring>

#include "fastmlp/runtime.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define FASTMLP_HAVE_MXCSR 1
#endif

namespace fastmlp {
namespace {

std::atomic<bool> g_flush{true};

#ifdef FASTMLP_HAVE_MXCSR
constexpr unsigned kFtz = 1u << 15, kDaz = 1u << 6;

// The MXCSR bits this CPU accepts (FXSAVE's MXCSR_MASK; 0 there means the default 0xFFBF, which
// lacks DAZ): setting an unsupported bit would fault, and only the first SSE2 chips lack DAZ.
unsigned flush_bits() {
  static const unsigned bits = [] {
    alignas(16) unsigned char area[512];
    std::memset(area, 0, sizeof area);
    _fxsave(area);
    std::uint32_t mask;
    std::memcpy(&mask, area + 28, sizeof mask);
    if (mask == 0) mask = 0xFFBF;
    return kFtz | (mask & kDaz);
  }();
  return bits;
}
#endif

}  // namespace

void set_flush_denormals(bool on) { g_flush.store(on, std::memory_order_relaxed); }
bool flush_denormals() { return g_flush.load(std::memory_order_relaxed); }

namespace detail {

#ifdef FASTMLP_HAVE_MXCSR
unsigned read_fp_mode() { return _mm_getcsr(); }
void write_fp_mode(unsigned mode) { _mm_setcsr(mode); }
#else
unsigned read_fp_mode() { return 0; }
void write_fp_mode(unsigned) {}
#endif

FlushDenormalsScope::FlushDenormalsScope() : saved_(read_fp_mode()), changed_(false) {
#ifdef FASTMLP_HAVE_MXCSR
  if (flush_denormals()) {
    const unsigned mode = saved_ | flush_bits();
    if (mode != saved_) {
      write_fp_mode(mode);
      changed_ = true;
    }
  }
#endif
}

FlushDenormalsScope::~FlushDenormalsScope() {
  // Only the control bits go back: the exception flags the kernels raised stay visible, as
  // they would be without the scope.
  if (changed_) write_fp_mode((saved_ & ~0x3Fu) | (read_fp_mode() & 0x3Fu));
}

CallerFpModeScope::CallerFpModeScope(const FlushDenormalsScope& outer)
    : kernel_mode_(read_fp_mode()) {
  if (kernel_mode_ != outer.caller_mode()) {
    write_fp_mode((outer.caller_mode() & ~0x3Fu) | (kernel_mode_ & 0x3Fu));
  }
}

CallerFpModeScope::~CallerFpModeScope() {
  const unsigned now = read_fp_mode();
  if ((now & ~0x3Fu) != (kernel_mode_ & ~0x3Fu)) write_fp_mode((kernel_mode_ & ~0x3Fu) | (now & 0x3Fu));
}

}  // namespace detail
}  // namespace fastmlp
