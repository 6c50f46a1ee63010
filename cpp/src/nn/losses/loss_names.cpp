// The Keras names and aliases of the losses.
#include <stdexcept>
#include <string>
#include <vector>

#include "fastmlp/losses.h"

namespace fastmlp {
namespace {

struct NameKind {
  const char* name;
  LossKind kind;
};
constexpr NameKind kNames[] = {
    {"mean_squared_error", LossKind::mean_squared_error},
    {"mean_absolute_error", LossKind::mean_absolute_error},
    {"huber", LossKind::huber},
    {"binary_crossentropy", LossKind::binary_crossentropy},
    {"categorical_crossentropy", LossKind::categorical_crossentropy},
    {"sparse_categorical_crossentropy", LossKind::sparse_categorical_crossentropy},
    {"kl_divergence", LossKind::kl_divergence},
    {"poisson", LossKind::poisson},
    {"log_cosh", LossKind::log_cosh},
    {"mean_squared_logarithmic_error", LossKind::mean_squared_logarithmic_error},
    {"mean_absolute_percentage_error", LossKind::mean_absolute_percentage_error},
    {"cosine_similarity", LossKind::cosine_similarity},
    {"hinge", LossKind::hinge},
    {"squared_hinge", LossKind::squared_hinge},
    {"categorical_hinge", LossKind::categorical_hinge}};
// Keras 3's short names (keras.losses.get) and the Huber class's default name.
constexpr NameKind kAliases[] = {{"mse", LossKind::mean_squared_error},
                                 {"mae", LossKind::mean_absolute_error},
                                 {"huber_loss", LossKind::huber},
                                 {"bce", LossKind::binary_crossentropy},
                                 {"kld", LossKind::kl_divergence},
                                 {"msle", LossKind::mean_squared_logarithmic_error},
                                 {"mape", LossKind::mean_absolute_percentage_error}};

}  // namespace

LossKind parse_loss(const std::string& name) {
  for (const auto& nk : kNames) {
    if (name == nk.name) {
      return nk.kind;
    }
  }
  for (const auto& nk : kAliases) {
    if (name == nk.name) {
      return nk.kind;
    }
  }
  std::string valid;
  for (const auto& n : loss_names()) {
    valid += (valid.empty() ? "" : ", ") + n;
  }
  throw std::invalid_argument("unknown loss '" + name + "'; valid names: " + valid);
}

std::string loss_name(LossKind kind) {
  for (const auto& nk : kNames) {
    if (nk.kind == kind) {
      return nk.name;
    }
  }
  throw std::logic_error("loss_name: unknown kind");
}

std::vector<std::string> loss_names() {
  std::vector<std::string> out;
  for (const auto& nk : kNames) {
    out.emplace_back(nk.name);
  }
  for (const auto& nk : kAliases) {
    out.emplace_back(nk.name);
  }
  return out;
}

}  // namespace fastmlp
