// The losses without their argument checks, for the model's loops, which established them
// once: compile() validated the spec, the Dataset the labels, and the shapes are the model's.
#pragma once
#include "fastmlp/losses.h"

namespace fastmlp {
namespace detail {

double loss_unchecked(const LossSpec& spec, const float* y_pred, index_t n, index_t k,
                      const Targets& targets, float* grad);
double loss_fused_unchecked(const LossSpec& spec, const float* probs, index_t n, index_t k,
                            const Targets& targets, float* grad_logits);

}  // namespace detail
}  // namespace fastmlp
