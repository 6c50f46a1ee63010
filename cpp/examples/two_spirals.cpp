// Trains a small MLP on the two-spirals problem with the C++ API alone (no Python) and prints the
// loss falling epoch by epoch and the final accuracy.
#include <cmath>
#include <cstdio>
#include <vector>

#include "fastmlp/model.h"

namespace {

// n points per spiral arm, two arms (labels 0 and 1), with a little deterministic jitter.
void make_spirals(int n, std::vector<float>& x, std::vector<std::int32_t>& y) {
  for (int arm = 0; arm < 2; ++arm) {
    for (int i = 0; i < n; ++i) {
      const double t = 0.25 + 3.0 * M_PI * i / n;  // 1.5 turns
      const double r = t / M_PI;  // radius up to ~3: tanh units need inputs of order 1+
      const double jitter = 0.01 * std::sin(7.0 * i + arm);
      const double s = arm == 0 ? 1.0 : -1.0;
      x.push_back(static_cast<float>(s * r * std::cos(t) + jitter));
      x.push_back(static_cast<float>(s * r * std::sin(t) - jitter));
      y.push_back(arm);
    }
  }
}

fastmlp::LayerSpec dense(int units, const char* act, std::uint64_t seed) {
  fastmlp::LayerSpec s;
  s.type = fastmlp::LayerSpec::Type::dense;
  s.units = units;
  s.activation = fastmlp::parse_activation(act);
  s.kernel_initializer.seed = seed;
  return s;
}

}  // namespace

int main() {
  std::vector<float> x;
  std::vector<std::int32_t> y;
  make_spirals(500, x, y);
  const fastmlp::index_t n = static_cast<fastmlp::index_t>(y.size());

  fastmlp::Model model(2, {dense(64, "tanh", 1), dense(64, "tanh", 2), dense(2, "linear", 3)});
  fastmlp::LossSpec loss;
  loss.kind = fastmlp::LossKind::sparse_categorical_crossentropy;
  loss.from_logits = true;
  fastmlp::OptimizerConfig opt;
  opt.name = "adam";
  opt.learning_rate.initial_learning_rate = 0.01;
  model.compile(loss, opt, {"sparse_categorical_accuracy"});

  const fastmlp::InputView xv{x.data(), fastmlp::DType::float32, n, 2, 2};
  fastmlp::TargetInput yv;
  yv.labels = y.data();
  yv.rows = n;
  const fastmlp::Dataset data(xv, yv, model.output_dim());  // checked once, here
  fastmlp::EpochOptions options;
  options.batch_size = 32;
  double first_loss = 0.0, last_loss = 0.0, accuracy = 0.0;
  for (int epoch = 0; epoch < 100; ++epoch) {
    options.seed = static_cast<std::uint64_t>(epoch);
    const fastmlp::Logs logs = model.train_epoch(data, options);
    last_loss = logs[0].value();
    accuracy = logs[1].value();
    if (epoch == 0) first_loss = last_loss;
    if (epoch % 10 == 0 || epoch == 99) {
      std::printf("epoch %3d  loss %.4f  accuracy %.3f\n", epoch, last_loss, accuracy);
    }
  }
  const fastmlp::Logs eval = model.evaluate(data, 256, nullptr);
  std::printf("final: loss %.4f  accuracy %.3f\n", eval[0].value(), eval[1].value());
  return (eval[1].value() > 0.95 && last_loss < first_loss) ? 0 : 1;
}
