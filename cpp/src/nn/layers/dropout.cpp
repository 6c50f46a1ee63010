// Dropout with inverted scaling: in training each element is kept with probability 1 - rate and
// scaled by 1 / (1 - rate); at inference the layer is the identity. The mask comes from Philox
// keyed by the layer's seed, with the training step as the stream and the element's position in
// the batch as the counter, so it never depends on the thread count.
#include <cmath>
#include <cstring>

#include "nn/layers/layer_factories.h"
#include "nn/kernels/nn_kernels.h"
#include "nn/kernels/parallel.h"

namespace fastmlp {
namespace {

using detail::DropoutMask;

class Dropout final : public Layer {
 public:
  Dropout(const LayerSpec& spec, index_t dim)
      : Layer(dim, dim), rate_(spec.rate), rng_(spec.seed) {}

  // The mask (0 or 1 / (1 - rate) per element) of the last training forward, for backward.
  index_t scratch_floats(index_t n) const override { return n * out_dim_; }

  void forward(const float* x, float* y, index_t n, float* mask, const Pass& pass) override {
    const index_t count = n * out_dim_;
    if (!pass.training || rate_ == 0.0f) {
      std::memcpy(y, x, sizeof(float) * count);
      return;
    }
    // to_unit_float(w) = (w >> 8) * 2^-24 >= rate  <=>  (w >> 8) >= ceil(rate * 2^24), exactly.
    const DropoutMask m{rng_, pass.step,
                        static_cast<std::uint32_t>(std::ceil(double(rate_) * 16777216.0)),
                        1.0f / (1.0f - rate_)};
    const auto& kernels = detail::nn_kernels();
    // A group (4 elements) costs about as much as 16 simple element operations.
    detail::parallel_chunks(WorkKind::elementwise, (count + 3) / 4, 16,
                            [&](index_t g0, index_t g1) {
                              kernels.dropout_forward(m, g0, g1, count, x, y, mask);
                            });
  }

  void backward(const float*, const float*, float* dy, float* dx, index_t n, float* mask,
                const Pass& pass) override {
    if (!dx) return;
    const index_t count = n * out_dim_;
    if (rate_ == 0.0f || !pass.training) {
      std::memcpy(dx, dy, sizeof(float) * count);
      return;
    }
    detail::parallel_chunks(WorkKind::elementwise, count, 1, [&](index_t b, index_t e) {
      for (index_t i = b; i < e; ++i) dx[i] = dy[i] * mask[i];
    });
  }

 private:
  float rate_;
  Philox rng_;
};

}  // namespace

namespace detail {
std::unique_ptr<Layer> make_dropout(const LayerSpec& spec, index_t in_dim) {
  return std::make_unique<Dropout>(spec, in_dim);
}
}  // namespace detail

}  // namespace fastmlp
