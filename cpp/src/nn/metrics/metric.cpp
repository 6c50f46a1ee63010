// The Metric base (state, reset, copies), the argument reader and the registry that builds a
// metric from its spec by looking the kind up in the families' tables.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include "nn/metrics/metric_impl.h"

namespace fastmlp {

Metric::Metric(MetricSpec spec, std::size_t state_size)
    : state_(state_size, 0.0), spec_(std::move(spec)) {}

void Metric::reset_state() { std::fill(state_.begin(), state_.end(), 0.0); }

void Metric::check_width(index_t k) const {
  if (k < 1) {
    throw std::invalid_argument("metric '" + name() + "': predictions need at least one column");
  }
}

index_t Metric::result_size() const {
  index_t size = 1;
  for (index_t d : result_shape()) size *= d;
  return size;
}

std::vector<double> Metric::result_values() const {
  std::vector<double> out(static_cast<std::size_t>(result_size()));
  write_result(out.data());
  return out;
}

double Metric::result() const {
  if (!result_shape().empty()) {
    throw std::logic_error("metric '" + name() + "' has " + std::to_string(result_size()) +
                           " values (one per threshold or class): read them with write_result");
  }
  double v = 0.0;
  write_result(&v);
  return v;
}

void Metric::set_state(const std::vector<double>& state) {
  if (state.size() != state_.size()) {
    throw std::invalid_argument("metric '" + name() + "': the state has " +
                                std::to_string(state_.size()) + " values, got " +
                                std::to_string(state.size()));
  }
  state_ = state;
}

std::unique_ptr<Metric> Metric::clone() const { return make_metric(spec_); }

namespace metrics_detail {
namespace {

// The shortest text that reads back as v (Python's repr of a float, without ".0" for integers).
std::string show(double v) {
  if (std::floor(v) == v && std::fabs(v) < 1e15) return std::to_string(static_cast<long long>(v));
  char buf[32];
  for (int digits = 1; digits <= 17; ++digits) {
    std::snprintf(buf, sizeof buf, "%.*g", digits, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

std::string show(const std::vector<double>& v) {
  if (v.size() == 1) return show(v[0]);
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + show(v[i]);
  return s + "]";
}

}  // namespace

const std::vector<double>* MetricArgs::find(const char* key) const {
  for (const auto& kv : spec_.args) {
    if (kv.first == key) return &kv.second;
  }
  if (const std::string* text = find_text(key)) {  // a name where Keras takes numbers
    throw std::invalid_argument("Received an invalid value for `" + std::string(key) +
                                "`, expected a number. Received: " + key + "='" + *text + "'");
  }
  return nullptr;
}

void MetricArgs::invalid(const char* key, const std::string& expected) const {
  const std::vector<double>* v = find(key);
  throw std::invalid_argument("Received an invalid value for `" + std::string(key) +
                              "`, expected " + expected + ". Received: " + key + "=" +
                              (v ? show(*v) : std::string("None")));
}

double MetricArgs::scalar(const char* key) const {
  const std::vector<double>* v = find(key);
  if (v->size() != 1) invalid(key, "a single number");
  return (*v)[0];
}

double MetricArgs::number(const char* key, double def) const {
  if (!has(key)) return def;
  const double v = scalar(key);
  if (!std::isfinite(v)) invalid(key, "a finite number");
  return v;
}

index_t MetricArgs::integer(const char* key, index_t def, index_t minimum,
                            const char* expected) const {
  if (!has(key)) return def;
  const double v = find(key)->size() == 1 ? scalar(key) : NAN;
  if (!(v >= static_cast<double>(minimum)) || v != std::floor(v) || v > 2147483647.0) {
    invalid(key, expected);
  }
  return static_cast<index_t>(v);
}

bool MetricArgs::flag(const char* key, bool def) const {
  if (!has(key)) return def;
  const double v = find(key)->size() == 1 ? scalar(key) : NAN;
  if (v != 0.0 && v != 1.0) invalid(key, "True or False");
  return v == 1.0;
}

std::vector<double> MetricArgs::list(const char* key, std::vector<double> def) const {
  const std::vector<double>* v = find(key);
  return v ? *v : std::move(def);
}

const std::string* MetricArgs::find_text(const char* key) const {
  for (const auto& kv : spec_.options) {
    if (kv.first == key) return &kv.second;
  }
  return nullptr;
}

std::string MetricArgs::text(const char* key, const char* def,
                             const std::vector<const char*>& valid) const {
  const std::string* v = find_text(key);
  if (!v && has(key)) invalid(key, "a string");  // a number where Keras takes a name
  if (!v) return def;
  std::string names;
  for (const char* name : valid) {
    if (*v == name) return *v;
    const std::string shown = *name ? "'" + std::string(name) + "'" : "None";
    names += (names.empty() ? "" : ", ") + shown;
  }
  throw std::invalid_argument("Received an invalid value for `" + std::string(key) +
                              "`, expected one of " + names + ". Received: " + key + "='" + *v +
                              "'");
}

void PerColumnMetric::build(index_t k) {
  if (width_ == k) return;
  if (width_ != 0) {
    throw std::invalid_argument("metric '" + name() + "': its state counts " +
                                std::to_string(width_) + " columns, got predictions with " +
                                std::to_string(k));
  }
  width_ = k;
  state_.assign(per_column_ * static_cast<std::size_t>(k) + fixed_, 0.0);
}

void PerColumnMetric::set_state(const std::vector<double>& state) {
  const std::size_t columns = state.size() >= fixed_ ? state.size() - fixed_ : 0;
  if (width_ == 0 && columns > 0 && columns % per_column_ == 0) {
    build(static_cast<index_t>(columns / per_column_));
  }
  Metric::set_state(state);
}

std::unique_ptr<Metric> PerColumnMetric::clone() const {
  std::unique_ptr<Metric> twin = Metric::clone();
  if (width_ > 0) twin->build(width_);
  return twin;
}

namespace {

const std::vector<const std::vector<MetricEntry>*>& families() {
  static const std::vector<const std::vector<MetricEntry>*> all = {
      &accuracy_metrics(), &regression_metrics(), &confusion_metrics(), &f_score_metrics(),
      &loss_metrics()};
  return all;
}

const MetricEntry& entry_for(const std::string& kind) {
  for (const auto* family : families()) {
    for (const MetricEntry& e : *family) {
      if (kind == e.kind) return e;
    }
  }
  std::string valid;
  for (const std::string& k : metric_kinds()) valid += (valid.empty() ? "" : ", ") + k;
  throw std::invalid_argument("Unknown metric '" + kind + "'. Expected one of: " + valid);
}

}  // namespace
}  // namespace metrics_detail

std::vector<std::string> metric_kinds() {
  std::vector<std::string> out;
  for (const auto* family : metrics_detail::families()) {
    for (const auto& e : *family) out.emplace_back(e.kind);
  }
  return out;
}

std::unique_ptr<Metric> make_metric(const MetricSpec& spec) {
  const metrics_detail::MetricEntry& e = metrics_detail::entry_for(spec.kind);
  auto check_key = [&](const std::string& key) {
    if (std::find_if(e.args.begin(), e.args.end(),
                     [&](const char* a) { return key == a; }) == e.args.end()) {
      std::string valid;
      for (const char* a : e.args) valid += (valid.empty() ? "" : ", ") + std::string(a);
      throw std::invalid_argument("metric '" + spec.kind + "': unknown argument `" + key +
                                  "` (valid: " + (valid.empty() ? "none" : valid) + ")");
    }
  };
  for (const auto& kv : spec.args) {
    check_key(kv.first);
    if (kv.second.empty()) {
      throw std::invalid_argument("metric '" + spec.kind + "': argument `" + kv.first +
                                  "` has no value");
    }
  }
  for (const auto& kv : spec.options) check_key(kv.first);
  MetricSpec named = spec;
  if (named.name.empty()) named.name = named.kind;
  return e.make(named, metrics_detail::MetricArgs(named));
}

}  // namespace fastmlp
