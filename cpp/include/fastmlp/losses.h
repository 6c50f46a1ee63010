// Losses with Keras semantics: per-sample loss, mean over the batch ("sum_over_batch_size":
// sum_i w_i * l_i / n), optional sample weights.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "fastmlp/activations.h"
#include "fastmlp/gemm.h"

namespace fastmlp {

enum class LossKind {
  mean_squared_error, mean_absolute_error, huber, binary_crossentropy, categorical_crossentropy,
  sparse_categorical_crossentropy, kl_divergence, poisson, log_cosh,
  mean_squared_logarithmic_error, mean_absolute_percentage_error, cosine_similarity, hinge,
  squared_hinge, categorical_hinge
};

struct LossSpec {
  LossKind kind = LossKind::mean_squared_error;
  bool from_logits = false;
  float label_smoothing = 0.0f;  // binary and categorical cross-entropy
  float delta = 1.0f;            // huber
  // std::invalid_argument unless label_smoothing is in [0, 1] and delta finite and > 0.
  void validate() const;
};

// Keras names and aliases ("mse", "mae", "huber", "binary_crossentropy", "kld", "mape", ...).
// Throws std::invalid_argument naming the valid names.
LossKind parse_loss(const std::string& name);
std::string loss_name(LossKind kind);
std::vector<std::string> loss_names();

// Targets of one batch: dense (n x k, row stride k) or integer labels (n) for the sparse loss.
struct Targets {
  const float* dense = nullptr;
  const std::int32_t* labels = nullptr;
  const float* sample_weight = nullptr;  // n, or null for all ones
};

// Loss of an n x k batch of predictions `y_pred` (row stride k) against `targets`, reduced as Keras
// does. If grad is not null, writes d(loss)/d(y_pred) (n x k). Stable for extreme values. Allocates
// nothing. Throws std::invalid_argument for a sparse label outside [0, k) (naming it), bad shapes,
// label_smoothing outside [0, 1] or delta <= 0. label_smoothing also applies to sparse labels (as
// smoothed one-hot rows; Keras has no such option) and is ignored by the losses other than the
// cross-entropies. hinge and squared_hinge read the batch's targets as {-1, 1} when all of them
// are 0 or 1 (Keras's convert_binary_labels_to_hinge, decided per call as Keras does).
double loss_forward_backward(const LossSpec& spec, const float* y_pred, index_t n, index_t k,
                             const Targets& targets, float* grad);

// The per-sample losses of the batch, unweighted (t.sample_weight is ignored), into out[n]: the
// values Keras's loss functions return (keras.losses.mean_squared_error(y, p) ...). Same checks
// as loss_forward_backward.
void loss_values(const LossSpec& spec, const float* y_pred, index_t n, index_t k,
                 const Targets& targets, float* out);

// The fused, stable gradient through the output activation: when the last layer applies softmax
// (categorical / sparse CE) or sigmoid (binary CE) and the loss is not from_logits, the model passes
// the pre-activation logits here and receives d(loss)/d(logits) = (p - y) * w / n directly. The
// returned loss equals loss_forward_backward on the activated outputs (Keras's clipped value).
// `probs` (the activated outputs) is required; `logits` may be null: (p*sum(y) - y) * w / n (and
// (p - y) * w / (n*k) for sigmoid + BCE) needs only the probabilities.
bool loss_fuses_with(const LossSpec& spec, const Activation& output_activation);
double loss_forward_backward_fused(const LossSpec& spec, const float* logits, const float* probs,
                                   index_t n, index_t k, const Targets& targets, float* grad_logits);

}  // namespace fastmlp
