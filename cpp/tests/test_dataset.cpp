// fastmlp::Dataset: every check of training data is made once, when the Dataset is made, and
// names the argument, the index and the value; a Dataset the model accepts is not checked again
// (its copied labels cannot change underneath); slices and takes inherit the checks.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "check.h"
#include "fastmlp/dataset.h"
#include "fastmlp/model.h"

using fastmlp::Dataset;
using fastmlp::index_t;

namespace {

constexpr index_t kRows = 6, kCols = 3, kClasses = 4;

struct Data {
  std::vector<float> x = std::vector<float>(kRows * kCols, 0.5f);
  std::vector<std::int64_t> labels = {0, 1, 2, 3, 0, 1};
  std::vector<float> weights = std::vector<float>(kRows, 1.0f);
  fastmlp::InputView view() const {
    return {x.data(), fastmlp::DType::float32, kRows, kCols, kCols};
  }
  fastmlp::TargetInput targets(bool with_weights = false) const {
    fastmlp::TargetInput t;
    t.labels = labels.data();
    t.label_type = fastmlp::LabelType::int64;
    t.rows = kRows;
    if (with_weights) t.sample_weight = weights.data(), t.weight_rows = kRows;
    return t;
  }
};

// The message of the std::invalid_argument `make` throws ("" if none).
template <class F>
std::string refusal(F make) {
  try {
    make();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

bool has(const std::string& text, const char* part) {
  const bool ok = text.find(part) != std::string::npos;
  if (!ok) std::fprintf(stderr, "  '%s' not in '%s'\n", part, text.c_str());
  return ok;
}

void check_values_are_refused_by_index() {
  Data d;
  d.labels[3] = 7;
  std::string m = refusal([&] { (void)Dataset(d.view(), d.targets(), kClasses); });
  CHECK(has(m, "Received an invalid value for `y`, expected integer class labels in [0, 3] "
               "for 4 outputs. Received: y[3]=7"));
  fastmlp::DatasetNames names;
  names.y = "validation_data[1]";
  names.first_row = 100;  // a slice of a larger array: rows as the caller numbers them
  m = refusal([&] { (void)Dataset(d.view(), d.targets(), kClasses, names); });
  CHECK(has(m, "`validation_data[1]`") && has(m, "validation_data[1][103]=7"));

  Data nan;
  nan.x[1 * kCols + 2] = std::nanf("");
  CHECK(has(refusal([&] { (void)Dataset(nan.view(), nan.targets(), kClasses); }),
            "expected finite values. Received: x[1, 2]=nan"));
  const std::vector<double> wide = {0, 0, 0, 0, 1e300, 0};  // finite, but inf as float32
  fastmlp::InputView wv{wide.data(), fastmlp::DType::float64, 2, 3, 3};
  fastmlp::TargetInput two = Data().targets();
  two.rows = 2;
  CHECK(has(refusal([&] { (void)Dataset(wv, two, kClasses); }), "within the float32 range. "
                                                          "Received: x[1, 1]=1e+300"));
  Data w;
  w.weights[4] = -1.0f;
  CHECK(has(refusal([&] { (void)Dataset(w.view(), w.targets(true), kClasses); }),
            "`sample_weight`, expected finite non-negative weights. Received: "
            "sample_weight[4]=-1"));
  std::vector<double> fractional = {0, 1, 2.5, 3, 0, 1};
  fastmlp::TargetInput ft = Data().targets();
  ft.labels = fractional.data();
  ft.label_type = fastmlp::LabelType::float64;
  CHECK(has(refusal([&] { (void)Dataset(Data().view(), ft, kClasses); }), "y[2]=2.5"));
  std::vector<float> dense(kRows * 2, 0.0f);
  dense[5] = std::numeric_limits<float>::infinity();
  fastmlp::TargetInput dt;
  dt.dense = dense.data();
  dt.rows = kRows;
  CHECK(has(refusal([&] { (void)Dataset(Data().view(), dt, 2); }),
            "expected finite targets. Received: y[2, 1]=inf"));
}

void check_shapes_are_refused() {
  Data d;
  fastmlp::TargetInput t = d.targets();
  t.rows = kRows - 1;
  CHECK(has(refusal([&] { (void)Dataset(d.view(), t, kClasses); }),
            "`y`, expected 6 samples (as many as `x`). Received: y.shape[0]=5"));
  t = d.targets(true);
  t.weight_rows = 2;
  CHECK(has(refusal([&] { (void)Dataset(d.view(), t, kClasses); }), "sample_weight.shape[0]=2"));
  fastmlp::InputView empty = d.view();
  empty.rows = 0;
  t = d.targets();
  t.rows = 0;
  CHECK(has(refusal([&] { (void)Dataset(empty, t, kClasses); }), "expected at least one sample"));
  // CSR: an index out of range or out of order is refused before anything reads it.
  const std::vector<float> values = {1, 2, 3};
  const std::vector<index_t> indptr = {0, 2, 3};
  const auto csr = [&](const std::vector<std::int32_t>& indices) {
    return fastmlp::InputView{values.data(), fastmlp::DType::float32, 2, kCols, 0, indptr.data(),
                              indices.data(), 3};
  };
  const std::vector<std::int32_t> beyond = {0, 3, 1}, unsorted = {2, 1, 1}, sound = {0, 2, 1};
  t = d.targets();
  t.rows = 2;
  CHECK(has(refusal([&] { (void)Dataset(csr(beyond), t, kClasses); }), "x.indices[1]=3 in row 0"));
  CHECK(has(refusal([&] { (void)Dataset(csr(unsorted), t, kClasses); }),
            "sorted and without duplicates"));
  const Dataset ok(csr(sound), t, kClasses);
  CHECK(ok.x_min() == 0.0 && ok.x_max() == 3.0);  // implicit zeros count
}

void check_class_weight_slice_and_take() {
  Data d;
  fastmlp::TargetInput t = d.targets(true);
  d.weights[1] = 2.0f;
  t.class_weight = {1.0f, 10.0f};  // class 1 weighs 10, classes beyond the table 1
  const Dataset data(d.view(), t, kClasses);
  CHECK(data.y().sample_weight[1] == 20.0f && data.y().sample_weight[5] == 10.0f);
  CHECK(data.y().sample_weight[2] == 1.0f && data.y().sample_weight[0] == 1.0f);
  const Dataset tail = data.slice(4, 6);
  CHECK(tail.rows() == 2 && tail.y().labels[1] == 1 && tail.names().first_row == 4);
  const Dataset picked = data.take({5, 0, 5});
  CHECK(picked.rows() == 3 && picked.y().labels[0] == 1 && picked.y().labels[1] == 0);
  CHECK(picked.y().sample_weight[0] == 10.0f);
  CHECK_THROWS(data.slice(3, 7), std::out_of_range);
  CHECK_THROWS(data.take({6}), std::out_of_range);
}

// The model checks only that a Dataset fits it; the labels it trains on are the Dataset's copy,
// so a caller changing its array after the check cannot make the loop index out of range.
void check_model_trusts_a_fitting_dataset() {
  fastmlp::LayerSpec dense;
  dense.units = kClasses;
  dense.activation = fastmlp::parse_activation("softmax");
  fastmlp::Model m(kCols, {dense});
  fastmlp::LossSpec loss;
  loss.kind = fastmlp::LossKind::sparse_categorical_crossentropy;
  fastmlp::OptimizerConfig sgd;
  sgd.name = "sgd";
  Data d;
  const Dataset data(d.view(), d.targets(), kClasses);
  fastmlp::EpochOptions o;
  o.batch_size = 2;
  CHECK(has(refusal([&] { (void)m.train_epoch(data, o); }), "must be compiled first"));
  m.compile(loss, sgd, {});
  d.labels.assign(kRows, 1000000);  // after the check
  const double loss_value = m.train_epoch(data, o)[0].value();
  CHECK(std::isfinite(loss_value));
  o.batch_size = 0;
  CHECK(has(refusal([&] { (void)m.train_epoch(data, o); }),
            "`batch_size`, expected a positive integer. Received: batch_size=0"));
  const Dataset wider(d.view(), Data().targets(), kClasses + 1);
  CHECK(has(refusal([&] { (void)m.evaluate(wider, 8, nullptr); }), "class labels for 4 outputs"));
  fastmlp::Model narrow(kCols - 1, {dense});
  narrow.compile(loss, sgd, {});
  CHECK(has(refusal([&] { (void)narrow.compute_gradients(data); }),
            "expected 2 values per sample (the model's input_dim). Received: x.shape[1]=3"));
}

}  // namespace

int main() {
  check_values_are_refused_by_index();
  check_shapes_are_refused();
  check_class_weight_slice_and_take();
  check_model_trusts_a_fitting_dataset();
  return check::exit_code("test_dataset");
}
