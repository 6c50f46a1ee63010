// Activations: forward values against double-precision references, derivatives against central
// finite differences of those references, stability at +-1e4, softmax rows, and the epilogue.
#include <cmath>
#include <functional>
#include <stdexcept>
#include <vector>

#include "check.h"
#include "fastmlp/activations.h"

using namespace fastmlp;

namespace {

double ref(const Activation& act, double x) {
  const double a = act.param;
  switch (act.kind) {
    case ActivationKind::linear:
      return x;
    case ActivationKind::relu:
      return x > 0 ? x : 0;
    case ActivationKind::leaky_relu:
      return x > 0 ? x : a * x;
    case ActivationKind::elu:
      return x > 0 ? x : a * std::expm1(x);
    case ActivationKind::selu:
      return 1.0507009873554804934 * (x > 0 ? x : 1.6732632423543772848 * std::expm1(x));
    case ActivationKind::gelu:
      return 0.5 * x * std::erfc(-x / std::sqrt(2.0));
    case ActivationKind::gelu_tanh:
      // 0.5 * (1 + tanh(u)) written as sigmoid(2u) so the double reference has no cancellation.
      return x / (1 + std::exp(-2 * std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
    case ActivationKind::sigmoid:
      return 1 / (1 + std::exp(-x));
    case ActivationKind::hard_sigmoid:
      return std::min(std::max(x + 3, 0.0), 6.0) / 6;
    case ActivationKind::tanh:
      return std::tanh(x);
    case ActivationKind::softplus:
      return std::max(x, 0.0) + std::log1p(std::exp(-std::fabs(x)));
    case ActivationKind::silu:
      return x / (1 + std::exp(-x));
    case ActivationKind::softmax:
      break;
  }
  throw std::logic_error("no reference");
}

std::vector<float> grid() {
  std::vector<float> xs;
  for (int i = -400; i <= 400; ++i) {
    xs.push_back(0.02f * i + 0.0037f);  // avoid kinks at 0, +-3
  }
  for (float v : {-60.f, -30.f, -15.f, -1e-4f, 1e-4f, 15.f, 30.f, 60.f}) {
    xs.push_back(v);
  }
  return xs;
}

void check_elementwise_impl(const std::string& name, float param) {
  const Activation act = parse_activation(name, param);
  std::vector<float> x = grid(), y = x;
  const index_t n = static_cast<index_t>(x.size());
  activation_forward(act, y.data(), 1, n, n);
  for (index_t i = 0; i < n; ++i) {
    // atol: gelu's far tail (|y| < 1e-7) carries the float rounding of x*x in its exponent.
    CHECK_CLOSE(y[i], ref(act, x[i]), 2e-6, 1e-10);
  }
  std::vector<float> g(x.size(), 1.0f);
  activation_backward(act, x.data(), y.data(), g.data(), 1, n, n);
  for (index_t i = 0; i < n; ++i) {
    const double h = 1e-6 * std::max(1.0, std::fabs(double(x[i])));
    const double fd = (ref(act, x[i] + h) - ref(act, x[i] - h)) / (2 * h);
    CHECK_CLOSE(g[i], fd, 2e-5, 3e-7);  // output-based derivatives: 1 - y loses ~eps absolute
  }
  // +-1e4 must stay finite.
  float ext[2] = {-1e4f, 1e4f}, ge[2] = {1.0f, 1.0f};
  float pre[2] = {-1e4f, 1e4f};
  activation_forward(act, ext, 1, 2, 2);
  activation_backward(act, pre, ext, ge, 1, 2, 2);
  for (int i = 0; i < 2; ++i) {
    CHECK(std::isfinite(ext[i]) && std::isfinite(ge[i]));
  }
  // NaN in, NaN out where the map goes through exp/tanh/erfc (no silent finite answer).
  float nan_in[1] = {std::nanf("")};
  activation_forward(act, nan_in, 1, 1, 1);
  const bool smooth = act.kind == ActivationKind::sigmoid || act.kind == ActivationKind::tanh ||
                      act.kind == ActivationKind::gelu || act.kind == ActivationKind::gelu_tanh ||
                      act.kind == ActivationKind::softplus || act.kind == ActivationKind::silu;
  if (smooth) {
    CHECK(std::isnan(nan_in[0]));
  }
}

void check_elementwise(const std::string& name, float param) {
  const int before = check::failures();
  check_elementwise_impl(name, param);
  if (check::failures() != before) {
    std::fprintf(stderr, "  ^ in activation %s\n", name.c_str());
  }
}

void check_softmax() {
  const Activation act = parse_activation("softmax");
  const index_t rows = 3, cols = 5, ld = 7;
  std::vector<float> x(rows * ld, 99.0f);
  const float vals[rows][cols] = {
      {0.1f, -2.f, 3.f, 0.5f, 1.f}, {1e4f, -1e4f, 0.f, 1e4f, 2.f}, {-3.f, -3.f, -3.f, -3.f, -3.f}};
  for (index_t r = 0; r < rows; ++r) {
    for (index_t c = 0; c < cols; ++c) {
      x[r * ld + c] = vals[r][c];
    }
  }
  std::vector<float> y = x;
  activation_forward(act, y.data(), rows, cols, ld);
  for (index_t r = 0; r < rows; ++r) {
    double mx = -1e300, s = 0;
    for (index_t c = 0; c < cols; ++c) {
      mx = std::max(mx, double(vals[r][c]));
    }
    for (index_t c = 0; c < cols; ++c) {
      s += std::exp(vals[r][c] - mx);
    }
    for (index_t c = 0; c < cols; ++c) {
      CHECK_CLOSE(y[r * ld + c], std::exp(vals[r][c] - mx) / s, 2e-6, 1e-30);
    }
    CHECK(y[r * ld + cols] == 99.0f);  // padding untouched
  }
  // Jacobian-vector product against finite differences of the double softmax of row 0.
  std::vector<float> g(rows * ld, 0.0f);
  const float gv[cols] = {0.3f, -1.f, 0.7f, 2.f, -0.2f};
  for (index_t c = 0; c < cols; ++c) {
    g[c] = gv[c];
  }
  activation_backward(act, nullptr, y.data(), g.data(), 1, cols, ld);
  auto objective = [&](const double* z) {
    double mx = -1e300, s = 0, out = 0;
    for (index_t c = 0; c < cols; ++c) {
      mx = std::max(mx, z[c]);
    }
    for (index_t c = 0; c < cols; ++c) {
      s += std::exp(z[c] - mx);
    }
    for (index_t c = 0; c < cols; ++c) {
      out += gv[c] * std::exp(z[c] - mx) / s;
    }
    return out;
  };
  for (index_t j = 0; j < cols; ++j) {
    double zp[cols], zm[cols];
    for (index_t c = 0; c < cols; ++c) {
      zp[c] = zm[c] = vals[0][c];
    }
    zp[j] += 1e-6;
    zm[j] -= 1e-6;
    CHECK_CLOSE(g[j], (objective(zp) - objective(zm)) / 2e-6, 1e-4, 1e-7);
  }
}

void check_parse_and_epilogue() {
  CHECK_THROWS(parse_activation("relu7"), std::invalid_argument);
  CHECK_THROWS(parse_activation("leaky_relu", -0.5f), std::invalid_argument);
  try {
    parse_activation("nope");
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()).find("gelu_tanh") != std::string::npos);
  }
  CHECK(parse_activation("leaky_relu").param == 0.2f);
  CHECK(parse_activation("elu").param == 1.0f);
  CHECK(parse_activation("swish").kind == ActivationKind::silu);
  CHECK(!needs_preactivation(parse_activation("relu")));
  CHECK(needs_preactivation(parse_activation("gelu")));
  CHECK(make_epilogue(parse_activation("relu"), nullptr).relu);
  CHECK_THROWS(make_epilogue(parse_activation("softmax"), nullptr), std::invalid_argument);
  // The post callback sees the tile after the bias: sigmoid(x + b).
  const Activation sig = parse_activation("sigmoid");
  const float bias[3] = {1.f, -2.f, 0.5f};
  Epilogue ep = make_epilogue(sig, bias);
  CHECK(ep.post != nullptr && ep.bias == bias && !ep.relu);
  float tile[3] = {0.f + 1.f, 1.f - 2.f, -1.f + 0.5f};
  ep.post(tile, 3, 1, 3, 0, ep.post_ctx);
  CHECK_CLOSE(tile[0], 1 / (1 + std::exp(-1.0)), 1e-6, 0);
  CHECK_CLOSE(tile[2], 1 / (1 + std::exp(0.5)), 1e-6, 0);
  // A large block goes through the threaded path and must equal the per-row result.
  std::vector<float> big(300 * 301), small(301);
  for (size_t i = 0; i < big.size(); ++i) {
    big[i] = std::sin(0.37 * i) * 5;
  }
  for (int c = 0; c < 301; ++c) {
    small[c] = big[299 * 301 + c];
  }
  activation_forward(sig, big.data(), 300, 301, 301);
  activation_forward(sig, small.data(), 1, 301, 301);
  bool same = true;
  for (int c = 0; c < 301; ++c) {
    same = same && small[c] == big[299 * 301 + c];
  }
  CHECK(same);
}

}  // namespace

int main() {
  for (const char* name : {"linear", "relu", "leaky_relu", "elu", "selu", "gelu", "gelu_tanh",
                           "sigmoid", "hard_sigmoid", "tanh", "softplus", "silu"}) {
    check_elementwise(name, 0.0f);
  }
  check_elementwise("leaky_relu", 0.05f);
  check_elementwise("elu", 0.5f);
  check_softmax();
  check_parse_and_epilogue();
  return check::exit_code("test_activations");
}
