// A parameter tensor over some axes of the sample shape, broadcast over the others (PReLU's
// alpha with shared_axes, Normalization's mean and variance over the kept axes), as a map from
// the sample's flat element index to the parameter's flat index.
#pragma once
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

#include "fastmlp/layers.h"

namespace fastmlp {
namespace detail {

class ParamBroadcast {
 public:
  // sample_shape empty means (width,); axes are indices into it, increasing.
  ParamBroadcast(std::vector<index_t> sample_shape, const std::vector<index_t>& axes,
                 index_t width, const std::string& layer) {
    if (sample_shape.empty()) sample_shape = {width};
    index_t total = 1;
    for (index_t d : sample_shape) {
      if (d < 1) throw std::invalid_argument(layer + " layer: `sample_shape` needs positive dims");
      total *= d;
    }
    if (total != width) {
      throw std::invalid_argument(layer + " layer: `sample_shape` holds " + std::to_string(total) +
                                  " values per sample, the input has " + std::to_string(width));
    }
    std::vector<bool> kept(sample_shape.size(), false);
    index_t prev = -1;
    size_ = 1;
    for (index_t a : axes) {
      if (a <= prev || a >= static_cast<index_t>(sample_shape.size())) {
        throw std::invalid_argument(layer + " layer: `param_axes` must be increasing sample "
                                    "axes below " + std::to_string(sample_shape.size()));
      }
      kept[a] = true;
      size_ *= sample_shape[a];
      prev = a;
    }
    if (size_ == width || size_ == 1) return;  // identity or one value: no map
    // Row-major strides of the parameter over the sample axes (0 on broadcast axes).
    const std::size_t rank = sample_shape.size();
    std::vector<index_t> pstride(rank, 0);
    for (index_t s = 1, k = static_cast<index_t>(rank) - 1; k >= 0; --k) {
      if (kept[k]) pstride[k] = s, s *= sample_shape[k];
    }
    map_.resize(width);
    for (index_t i = 0; i < width; ++i) {
      index_t rest = i, p = 0;
      for (index_t k = static_cast<index_t>(rank) - 1; k >= 0; --k) {
        p += (rest % sample_shape[k]) * pstride[k];
        rest /= sample_shape[k];
      }
      map_[i] = p;
    }
  }

  index_t size() const { return size_; }

  // full[i] = f(param[index(i)]) for the width elements of a sample.
  template <class F>
  void expand(const float* param, float* full, index_t width, F f) const {
    for (index_t i = 0; i < width; ++i) full[i] = f(param[index(i)]);
  }
  // param[p] = sum of full[i] over the elements that map to p, in increasing i.
  void reduce(const float* full, float* param, index_t width) const {
    for (index_t p = 0; p < size_; ++p) param[p] = 0.0f;
    for (index_t i = 0; i < width; ++i) param[index(i)] += full[i];
  }

 private:
  index_t index(index_t i) const {
    return map_.empty() ? (size_ == 1 ? 0 : i) : map_[static_cast<std::size_t>(i)];
  }
  index_t size_ = 1;
  std::vector<index_t> map_;
};

// Keras's fans of a weight of this shape (initializers' compute_fans): rank 0 -> (1, 1), rank 1
// -> (d, d), rank 2 -> (d0, d1), higher -> receptive field times the last two dims.
inline void keras_fans(const std::vector<index_t>& shape, index_t* fan_in, index_t* fan_out) {
  const std::size_t r = shape.size();
  if (r == 0) {
    *fan_in = *fan_out = 1;
  } else if (r == 1) {
    *fan_in = *fan_out = shape[0];
  } else {
    index_t field = 1;
    for (std::size_t k = 0; k + 2 < r; ++k) field *= shape[k];
    *fan_in = shape[r - 2] * field;
    *fan_out = shape[r - 1] * field;
  }
}

inline index_t shape_size(const std::vector<index_t>& shape) {
  index_t s = 1;
  for (index_t d : shape) s *= d;
  return s;
}

}  // namespace detail
}  // namespace fastmlp
