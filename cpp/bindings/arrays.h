// NumPy buffers as C++ may read them. A pointer into an array is usable only when its dtype has
// the machine's byte order (a '>f4' array has NPY_FLOAT's type number but swapped bytes) and its
// data is aligned for the type (np.frombuffer(..., offset=1) is not; reading it through a float*
// is undefined and vectorized loops may assume the alignment). Every array the bindings read goes
// through `readable` or one of the `In` array types below, which copy only when needed.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>

namespace fastmlp_bindings {

namespace py = pybind11;

// "(2, 3)", "(4,)": a shape as NumPy prints it, for messages.
inline std::string shape_of(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) {
    s += std::to_string(a.shape(i)) + (a.ndim() == 1 ? "," : (i + 1 < a.ndim() ? ", " : ""));
  }
  return s + ")";
}


inline bool native_byte_order(const py::dtype& d) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  constexpr char kNative = '>';
#else
  constexpr char kNative = '<';
#endif
  const char order = d.byteorder();
  return order == '=' || order == '|' || order == kNative;
}

inline bool aligned(const py::array& a) {
  return (a.flags() & py::detail::npy_api::NPY_ARRAY_ALIGNED_) != 0;
}

// True if C++ can read a's elements through a pointer to its element type.
inline bool readable_in_place(const py::array& a) {
  return native_byte_order(a.dtype()) && aligned(a);
}

// `a` itself, or a copy with native byte order and aligned data, in the same memory layout.
inline py::array readable(const py::array& a) {
  if (readable_in_place(a)) return a;
  return a.attr("astype")(a.dtype().attr("newbyteorder")("="));
}

// array_t<T>::ensure with these flags converts byte order (forcecast to the native dtype), makes
// the data C-contiguous and aligned: NumPy passes a misaligned array through unless ALIGNED is
// asked for.
constexpr int kInFlags = py::array::c_style | py::array::forcecast |
                         py::detail::npy_api::NPY_ARRAY_ALIGNED_;
template <class T>
using ArrayIn = py::array_t<T, kInFlags>;

}  // namespace fastmlp_bindings
