// Training and evaluation data, checked once: a Dataset is made from the caller's buffers (which
// it references, never copies whole), checks every value when it is made, and is then trusted by
// Model::train_epoch / evaluate / compute_gradients however many epochs read it.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fastmlp/gemm.h"

namespace fastmlp {

enum class DType { float32, float64, uint8 };

// Input rows as the caller holds them, converted to float32 per batch. Dense: `data` of `dtype`,
// row stride `ld` elements, unit column stride. CSR (indptr set; float32 only): row i's values
// are data[indptr[i] .. indptr[i + 1]) in the columns `indices` (sorted, no duplicates), nnz
// values in all.
struct InputView {
  const void* data = nullptr;
  DType dtype = DType::float32;
  index_t rows = 0, cols = 0, ld = 0;
  const index_t* indptr = nullptr;
  const std::int32_t* indices = nullptr;
  index_t nnz = 0;
};

// Targets of a checked Dataset: integer labels in [0, outputs) (sparse loss) or dense rows of
// `outputs` finite floats; finite non-negative sample weights or null (all ones).
struct TargetView {
  const float* dense = nullptr;
  const std::int32_t* labels = nullptr;
  const float* sample_weight = nullptr;
  index_t rows = 0;
};

// Targets as the caller holds them. Labels may be any of three types (a NumPy int64 or float
// array needs no narrowing copy before it is checked); float labels must be whole numbers.
enum class LabelType { int32, int64, float64 };
struct TargetInput {
  const float* dense = nullptr;  // rows x outputs, row stride outputs
  const void* labels = nullptr;  // rows, of label_type
  LabelType label_type = LabelType::int32;
  const float* sample_weight = nullptr;
  index_t rows = 0, weight_rows = 0;  // of y, of sample_weight
  // Keras's class_weight as a table by class index (classes beyond it weigh 1): multiplies the
  // sample weights. A row's class is its label, for dense targets the argmax (one column: > 0.5).
  std::vector<float> class_weight;
};

// How messages name the arguments; first_row is added to row numbers (a slice of a larger array).
struct DatasetNames {
  std::string x = "x", y = "y", sample_weight = "sample_weight";
  index_t first_row = 0;
};

// The caller's x values, dense targets and sample weights are referenced and must outlive the
// Dataset; labels and a CSR matrix's structure are copied (a later change to them could
// otherwise make the loops index out of bounds).
class Dataset {
 public:
  // Checks, throwing std::invalid_argument in Keras's words ("Received an invalid value for `y`,
  // expected ... Received: y[3]=7"): x has at least one row, a valid layout and finite values
  // (float64 ones within the float32 range; CSR: offsets and column indices in range, sorted,
  // no duplicates); y and sample_weight have x's rows; labels are whole numbers in
  // [0, outputs); dense targets are finite; weights (times class_weight) are finite and >= 0.
  Dataset(const InputView& x, const TargetInput& y, index_t outputs,
          const DatasetNames& names = {});

  index_t rows() const { return x_.rows; }
  index_t cols() const { return x_.cols; }
  index_t outputs() const { return outputs_; }
  bool sparse_labels() const { return y_.labels != nullptr; }
  const InputView& x() const { return x_; }
  const TargetView& y() const { return y_; }
  const DatasetNames& names() const { return names_; }
  // The smallest and largest value of x (a CSR matrix's implicit zeros included).
  double x_min() const { return x_min_; }
  double x_max() const { return x_max_; }

  // Rows [begin, end) (std::out_of_range unless 0 <= begin < end <= rows()), sharing the
  // buffers; x_min/x_max stay those of the whole (bounds still).
  Dataset slice(index_t begin, index_t end) const;
  // The given rows, in that order, copied (std::out_of_range for an index outside [0, rows())).
  Dataset take(const std::vector<index_t>& rows) const;

 private:
  struct Storage;
  InputView x_;
  TargetView y_;
  index_t outputs_ = 0;
  DatasetNames names_;
  double x_min_ = 0.0, x_max_ = 0.0;
  std::shared_ptr<const Storage> storage_;  // converted labels, combined weights, copied rows
};

}  // namespace fastmlp
