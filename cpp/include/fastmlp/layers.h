// Layers of a multilayer perceptron: Dense, Activation, Dropout, BatchNormalization, Rescaling,
// and Keras's activation (ReLU, ELU, PReLU, Softmax), normalization (LayerNormalization,
// Normalization) and noise (GaussianNoise, GaussianDropout, AlphaDropout) layers.
//
// A layer maps n rows of in_dim floats to n rows of out_dim floats (row-major, row stride = the
// width). It owns no batch-sized memory: the model hands it the input, the output and `scratch`
// (scratch_floats(n) floats, e.g. kept pre-activations) from a workspace sized once per batch
// size, so the batch loop allocates nothing and parallel inference can give each thread its own.
#pragma once
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "fastmlp/activations.h"
#include "fastmlp/gemm.h"
#include "fastmlp/initializers.h"

namespace fastmlp {

struct Regularizer {
  float l1 = 0.0f, l2 = 0.0f;  // penalty l1 * sum|w| + l2 * sum(w^2), as Keras
  bool active() const { return l1 != 0.0f || l2 != 0.0f; }
};

struct LayerSpec {
  enum class Type {
    dense, activation, dropout, batch_normalization, rescaling, relu, elu, prelu, softmax,
    layer_normalization, normalization, gaussian_noise, gaussian_dropout, alpha_dropout
  };
  Type type = Type::dense;
  // dense
  index_t units = 0;
  Activation activation;  // dense and activation layers
  bool use_bias = true;
  InitializerSpec kernel_initializer;
  InitializerSpec bias_initializer{"zeros"};
  Regularizer kernel_regularizer, bias_regularizer;
  // Matrix products on bf16-rounded operands with float32 sums (sgemm_bf16: Keras's
  // "mixed_bfloat16" policy); weights, gradients and activations stay float32.
  bool bf16 = false;
  // Keras's int8 quantization (policy "int8_from_float32"): tensors kernel (int8 values stored as
  // floats), bias, kernel_scale; inference only (gemm_int8_packed), training is refused.
  bool int8 = false;
  // dropout, gaussian_dropout, alpha_dropout (and the seed of gaussian_noise)
  float rate = 0.0f;
  std::uint64_t seed = 0;
  // batch_normalization (Keras defaults)
  float momentum = 0.99f, epsilon = 1e-3f;
  bool center = true, scale = true;
  InitializerSpec gamma_initializer{"ones"}, beta_initializer{"zeros"};
  InitializerSpec moving_mean_initializer{"zeros"}, moving_variance_initializer{"ones"};
  // rescaling: y = x * scale_factor + offset
  float scale_factor = 1.0f, offset = 0.0f;
  // relu: x > threshold ? min(x, max_value) : negative_slope * (x - threshold); elu: alpha
  float negative_slope = 0.0f, max_value = std::numeric_limits<float>::infinity();
  float threshold = 0.0f, alpha = 1.0f;
  // softmax, layer_normalization: a sample is rows of `group` floats (the trailing axes the
  // layer works along), 0 = the whole sample. layer_normalization also takes epsilon, center,
  // scale and the gamma/beta initializers above, and param_shape (the shape of gamma and beta).
  index_t group = 0;
  bool rms_scaling = false;
  // prelu, normalization: a tensor of shape param_shape spanning the axes param_axes of the
  // sample shape, broadcast over its other axes.
  std::vector<index_t> sample_shape, param_axes, param_shape;
  InitializerSpec alpha_initializer{"zeros"};
  // normalization: y = (x - mean) / max(sqrt(variance), 1e-7), or the inverse; mean/variance are
  // the tensors' initial values (empty: 0 and 1), or constants without tensors.
  std::vector<float> mean, variance;
  bool invert = false, constant_statistics = false;
  // gaussian_noise
  float stddev = 0.0f;
};

std::string layer_type_name(LayerSpec::Type type);

// One tensor of a layer, in Keras get_weights() order.
struct TensorDecl {
  std::string name;
  std::vector<index_t> shape;
  bool trainable = true;
  index_t size() const {
    index_t s = 1;
    for (index_t d : shape) s *= d;
    return s;
  }
};

// What one forward/backward pass is: training or inference, and the training step (the Dropout
// mask depends only on the layer's seed, this step and the element's position in the batch).
struct Pass {
  bool training = false;
  std::uint64_t step = 0;
  // Backward only: the incoming gradient is already d(loss)/d(pre-activation) because the loss
  // fused its gradient with this (output) layer's softmax or sigmoid.
  bool grad_is_preactivation = false;
  // Inference only: layers may use what prepare_inference() made (e.g. prepacked weights).
  bool prepared = false;
  // The layer is frozen (Keras's trainable=False): backward writes no parameter gradients (only
  // dx), and BatchNormalization runs in inference mode even in training.
  bool frozen = false;
};

class Layer {
 public:
  Layer(index_t in_dim, index_t out_dim) : in_dim_(in_dim), out_dim_(out_dim) {}
  virtual ~Layer() = default;
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;

  index_t in_dim() const { return in_dim_; }
  index_t out_dim() const { return out_dim_; }
  virtual std::vector<TensorDecl> tensors() const { return {}; }
  // Gives the layer its storage (one pointer per tensors() entry; grads null for non-trainable
  // ones). Called once by the model, then initialize() fills the values.
  virtual void bind(const std::vector<float*>& values, const std::vector<float*>& grads) {
    (void)values, (void)grads;
  }
  virtual void initialize() {}
  virtual index_t scratch_floats(index_t n) const { (void)n; return 0; }

  // y (n x out_dim) = layer(x (n x in_dim)).
  virtual void forward(const float* x, float* y, index_t n, float* scratch, const Pass& pass) = 0;
  // Given dy = d(loss)/dy (may be overwritten), writes the layer's parameter gradients and, if dx
  // is not null, d(loss)/dx. x, y and scratch are those of the matching training forward.
  virtual void backward(const float* x, const float* y, float* dy, float* dx, index_t n,
                        float* scratch, const Pass& pass) = 0;

  // Regularization penalty of the current weights (added to the reported loss).
  virtual double penalty() const { return 0.0; }
  // The element-wise activation this layer ends with, if any (for the fused loss gradient).
  virtual const Activation* output_activation() const { return nullptr; }
  // The pre-activations of the last forward when the layer kept them (null otherwise: the fused
  // loss gradient can work from the activated outputs alone).
  virtual const float* logits(const float* x, const float* scratch) const {
    (void)x, (void)scratch;
    return nullptr;
  }
  virtual bool has_trainable() const { return false; }
  // Readies inference for weights version `version` (the model bumps it whenever the weights
  // change), e.g. by packing the weights once for all batches and single rows.
  virtual void prepare_inference(std::uint64_t version) { (void)version; }

 protected:
  index_t in_dim_, out_dim_;
};

// Validates the spec (std::invalid_argument naming the field) and builds the layer.
std::unique_ptr<Layer> make_layer(const LayerSpec& spec, index_t in_dim);

// Column sums of an n x cols block (row stride ld) into out, in a fixed order: the result does not
// depend on the thread count.
void column_sums(const float* x, index_t n, index_t cols, index_t ld, float* out);

}  // namespace fastmlp
