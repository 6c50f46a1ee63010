// Dataset (fastmlp/dataset.h): every check of training and evaluation data, made once when the
// data enters; the loops that read it trust it.
#include "fastmlp/dataset.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <type_traits>

#include "common/checks.h"
#include "nn/kernels/parallel.h"
#include "nn/training/input.h"

namespace fastmlp {

struct Dataset::Storage {
  std::vector<std::int32_t> labels, indices;
  std::vector<float> dense, weights, values;
  std::vector<index_t> indptr;
  std::vector<unsigned char> x;
};

namespace {
using detail::number_text;
using detail::throw_invalid_value;

constexpr float kFloatMax = std::numeric_limits<float>::max();

std::string at(const std::string& name, index_t i) {
  return name + "[" + std::to_string(i) + "]";
}
std::string at(const std::string& name, index_t i, index_t j) {
  return name + "[" + std::to_string(i) + ", " + std::to_string(j) + "]";
}

std::size_t item_size(DType t) {
  return t == DType::float64 ? sizeof(double) : t == DType::uint8 ? 1 : sizeof(float);
}

// Float32 values that are NaN or Inf once converted (float64 beyond the float32 range too).
template <class T>
bool bad_value(T v) {
  if constexpr (std::is_same<T, std::uint8_t>::value) {
    return false;
  } else {
    return !(std::fabs(static_cast<float>(v)) <= kFloatMax);
  }
}

// Widens [lo, hi] by the n values at r; true if one of them is bad. Branch-free, so it vectorizes.
template <class T>
bool scan_values(const T* r, index_t n, double& lo, double& hi) {
  using A = typename std::conditional<std::is_same<T, std::uint8_t>::value, int, T>::type;
  A l = std::numeric_limits<A>::max(), h = std::numeric_limits<A>::lowest();
  int bad = 0;
#pragma omp simd reduction(min : l) reduction(max : h) reduction(| : bad)
  for (index_t j = 0; j < n; ++j) {
    const A v = r[j];
    l = v < l ? v : l;
    h = v > h ? v : h;
    bad |= bad_value(r[j]);
  }
  lo = std::min<double>(lo, l);
  hi = std::max<double>(hi, h);
  return bad != 0;
}

struct Scan {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  index_t bad_row = -1;
};

// The rows of x split over threads, each part scanned by part(begin, end, scan) until a bad row.
template <class F>
Scan scan_rows(const InputView& x, F part) {
  const int threads = thread_policy().threads_for(
      WorkKind::elementwise, static_cast<double>(x.rows) * x.cols, static_cast<double>(x.rows));
  std::vector<Scan> parts(threads);
  detail::parallel_for(threads, threads, [&](index_t t) {
    part(x.rows * t / threads, x.rows * (t + 1) / threads, parts[t]);
  });
  Scan s;
  for (const Scan& p : parts) {  // in row order: the first bad part holds the first bad row
    s.lo = std::min(s.lo, p.lo);
    s.hi = std::max(s.hi, p.hi);
    if (s.bad_row < 0) s.bad_row = p.bad_row;
  }
  return s;
}

template <class T>
void check_dense_x(const InputView& x, const DatasetNames& names, double& lo, double& hi) {
  const T* base = static_cast<const T*>(x.data);
  const Scan s = scan_rows(x, [&](index_t b, index_t e, Scan& p) {
    for (index_t i = b; i < e && p.bad_row < 0; ++i) {
      if (scan_values(base + i * x.ld, x.cols, p.lo, p.hi)) p.bad_row = i;
    }
  });
  if (s.bad_row >= 0) {
    const T* r = base + s.bad_row * x.ld;
    const index_t j = std::find_if(r, r + x.cols, bad_value<T>) - r;
    throw_invalid_value(names.x,
                        std::is_same<T, double>::value ? "finite values within the float32 range"
                                                       : "finite values",
                        at(names.x, names.first_row + s.bad_row, j) + "=" + number_text(r[j]));
  }
  lo = s.lo;
  hi = s.hi;
}

void check_csr_x(const InputView& x, const DatasetNames& names, double& lo, double& hi) {
  detail::check_csr(x, names.x, names.first_row);
  const index_t* p = x.indptr;
  const float* v = static_cast<const float*>(x.data);
  lo = std::numeric_limits<double>::infinity();
  hi = -lo;
  if (x.nnz > 0 && scan_values(v, x.nnz, lo, hi)) {
    const index_t k = std::find_if(v, v + x.nnz, bad_value<float>) - v;
    const index_t row = std::upper_bound(p, p + x.rows + 1, k) - p - 1;
    throw_invalid_value(names.x, "finite values",
                        at(names.x, names.first_row + row, x.indices[k]) + "=" + number_text(v[k]));
  }
  if (x.nnz < x.rows * x.cols) {  // implicit zeros
    lo = std::min(lo, 0.0);
    hi = std::max(hi, 0.0);
  }
}

// Labels as int32 in `out`, each a whole number in [0, k). Each is read once, so what is checked
// is what the loops index with (they are copied even when int32: a later change by the caller
// could not make them read out of bounds).
template <class T>
const std::int32_t* checked_labels(const T* l, index_t n, index_t k, const DatasetNames& names,
                                   std::vector<std::int32_t>& out) {
  out.resize(n);
  for (index_t i = 0; i < n; ++i) {
    const T v = l[i];
    if (!(v >= 0 && v < k) || (std::is_floating_point<T>::value && v != std::floor(v))) {
      throw_invalid_value(names.y,
                          "integer class labels in [0, " + std::to_string(k - 1) + "] for " +
                              std::to_string(k) + " outputs",
                          at(names.y, names.first_row + i) + "=" +
                              (std::is_floating_point<T>::value
                                   ? number_text(static_cast<double>(v))
                                   : std::to_string(static_cast<long long>(v))));
    }
    out[i] = static_cast<std::int32_t>(v);
  }
  return out.data();
}

index_t row_class(const TargetView& y, index_t k, index_t i) {
  if (y.labels) return y.labels[i];
  const float* r = y.dense + i * k;
  if (k == 1) return r[0] > 0.5f ? 1 : 0;
  return std::max_element(r, r + k) - r;  // the first largest, as np.argmax
}

// The sample weights times class_weight (into `out` when there is a class_weight), all finite
// and non-negative.
const float* checked_weights(const TargetInput& in, const TargetView& y, index_t k,
                             const DatasetNames& names, std::vector<float>& out) {
  const std::vector<float>& cw = in.class_weight;
  for (std::size_t c = 0; c < cw.size(); ++c) {
    if (!(cw[c] >= 0.0f && cw[c] <= kFloatMax)) {
      throw_invalid_value("class_weight", "finite non-negative weights",
                          at("class_weight", static_cast<index_t>(c)) + "=" + number_text(cw[c]));
    }
  }
  const float* w = in.sample_weight;
  for (index_t i = 0; w && i < y.rows; ++i) {
    if (!(w[i] >= 0.0f && w[i] <= kFloatMax)) {
      throw_invalid_value(names.sample_weight, "finite non-negative weights",
                          at(names.sample_weight, names.first_row + i) + "=" + number_text(w[i]));
    }
  }
  if (cw.empty()) return w;
  out.resize(y.rows);
  for (index_t i = 0; i < y.rows; ++i) {
    const index_t c = row_class(y, k, i);
    out[i] = (w ? w[i] : 1.0f) * (c < static_cast<index_t>(cw.size()) ? cw[c] : 1.0f);
    if (!(out[i] <= kFloatMax)) {
      throw_invalid_value(names.sample_weight, "weights whose product with class_weight is finite",
                          at(names.sample_weight, names.first_row + i) + "=" +
                              number_text(w ? w[i] : 1.0f) + " (class_weight[" +
                              std::to_string(c) + "]=" + number_text(cw[c]) + ")");
    }
  }
  return out.data();
}

void check_layout(const InputView& x, const TargetInput& y, index_t outputs,
                  const DatasetNames& names) {
  if (outputs < 1) throw_invalid_value("outputs", "a positive integer", std::to_string(outputs));
  if (x.rows < 1) {
    throw_invalid_value(names.x, "at least one sample", names.x + ".shape[0]=" + std::to_string(x.rows));
  }
  if (x.cols < 1 || (!x.indptr && (!x.data || x.ld < x.cols))) {  // CSR: check_csr
    throw_invalid_value(names.x, "rows of at least one value at a row stride >= the columns",
                        names.x + " with cols=" + std::to_string(x.cols) +
                            ", ld=" + std::to_string(x.ld));
  }
  if ((y.dense == nullptr) == (y.labels == nullptr)) {
    throw_invalid_value(names.y, "either dense targets or class labels", names.y);
  }
  const auto rows_of = [&](const std::string& name, index_t rows) {
    if (rows != x.rows) {
      throw_invalid_value(name, std::to_string(x.rows) + " samples (as many as `" + names.x + "`)",
                          name + ".shape[0]=" + std::to_string(rows));
    }
  };
  rows_of(names.y, y.rows);
  if (y.sample_weight) rows_of(names.sample_weight, y.weight_rows);
}

}  // namespace

Dataset::Dataset(const InputView& x, const TargetInput& y, index_t outputs,
                 const DatasetNames& names)
    : x_(x), outputs_(outputs), names_(names) {
  check_layout(x, y, outputs, names);
  auto storage = std::make_shared<Storage>();
  if (x.indptr) {  // the structure copied, then checked, as the labels below
    if (x.nnz < 0 || (x.nnz > 0 && !x.indices)) detail::check_csr(x, names.x);  // throws
    storage->indptr.assign(x.indptr, x.indptr + x.rows + 1);
    storage->indices.assign(x.indices, x.indices + x.nnz);
    x_.indptr = storage->indptr.data();
    x_.indices = storage->indices.data();
    check_csr_x(x_, names, x_min_, x_max_);
  } else if (x.dtype == DType::float32) {
    check_dense_x<float>(x, names, x_min_, x_max_);
  } else if (x.dtype == DType::float64) {
    check_dense_x<double>(x, names, x_min_, x_max_);
  } else {
    check_dense_x<std::uint8_t>(x, names, x_min_, x_max_);
  }
  y_.rows = x.rows;
  if (y.labels) {
    switch (y.label_type) {
      case LabelType::int32:
        y_.labels = checked_labels(static_cast<const std::int32_t*>(y.labels), x.rows, outputs,
                                   names, storage->labels);
        break;
      case LabelType::int64:
        y_.labels = checked_labels(static_cast<const std::int64_t*>(y.labels), x.rows, outputs,
                                   names, storage->labels);
        break;
      case LabelType::float64:
        y_.labels = checked_labels(static_cast<const double*>(y.labels), x.rows, outputs, names,
                                   storage->labels);
        break;
    }
  } else {
    const index_t n = x.rows * outputs;
    const index_t bad = std::find_if(y.dense, y.dense + n, bad_value<float>) - y.dense;
    if (bad < n) {
      throw_invalid_value(names.y, "finite targets",
                          at(names.y, names.first_row + bad / outputs, bad % outputs) + "=" +
                              number_text(y.dense[bad]));
    }
    y_.dense = y.dense;
  }
  y_.sample_weight = checked_weights(y, y_, outputs, names, storage->weights);
  storage_ = std::move(storage);
}

Dataset Dataset::slice(index_t begin, index_t end) const {
  if (!(0 <= begin && begin < end && end <= rows())) {
    throw std::out_of_range("Dataset::slice: rows [" + std::to_string(begin) + ", " +
                            std::to_string(end) + ") of " + std::to_string(rows()));
  }
  Dataset d = *this;
  d.x_.rows = d.y_.rows = end - begin;
  if (x_.indptr) {
    d.x_.indptr += begin;  // offsets into the same values
  } else {
    d.x_.data = static_cast<const unsigned char*>(x_.data) + begin * x_.ld * item_size(x_.dtype);
  }
  if (y_.labels) d.y_.labels += begin;
  if (y_.dense) d.y_.dense += begin * outputs_;
  if (y_.sample_weight) d.y_.sample_weight += begin;
  d.names_.first_row += begin;
  return d;
}

Dataset Dataset::take(const std::vector<index_t>& rows) const {
  const index_t n = static_cast<index_t>(rows.size()), k = outputs_;
  for (index_t i = 0; i < n; ++i) {
    if (rows[i] < 0 || rows[i] >= this->rows()) {
      throw std::out_of_range("Dataset::take: row " + std::to_string(rows[i]) + " of " +
                              std::to_string(this->rows()));
    }
  }
  if (n == 0) throw std::out_of_range("Dataset::take: no rows");
  auto s = std::make_shared<Storage>();
  Dataset d = *this;
  d.x_.rows = d.y_.rows = n;
  if (x_.indptr) {
    const float* v = static_cast<const float*>(x_.data);
    s->indptr.push_back(0);
    for (index_t r : rows) {
      s->indices.insert(s->indices.end(), x_.indices + x_.indptr[r], x_.indices + x_.indptr[r + 1]);
      s->values.insert(s->values.end(), v + x_.indptr[r], v + x_.indptr[r + 1]);
      s->indptr.push_back(static_cast<index_t>(s->values.size()));
    }
    d.x_.indptr = s->indptr.data();
    d.x_.indices = s->indices.data();
    d.x_.data = s->values.data();
    d.x_.nnz = static_cast<index_t>(s->values.size());
  } else {
    const std::size_t row_bytes = x_.cols * item_size(x_.dtype);
    s->x.resize(n * row_bytes);
    for (index_t i = 0; i < n; ++i) {
      std::memcpy(s->x.data() + i * row_bytes,
                  static_cast<const unsigned char*>(x_.data) + rows[i] * x_.ld * item_size(x_.dtype),
                  row_bytes);
    }
    d.x_.data = s->x.data();
    d.x_.ld = x_.cols;
  }
  if (y_.labels) {
    for (index_t r : rows) s->labels.push_back(y_.labels[r]);
    d.y_.labels = s->labels.data();
  } else {
    for (index_t r : rows) s->dense.insert(s->dense.end(), y_.dense + r * k, y_.dense + (r + 1) * k);
    d.y_.dense = s->dense.data();
  }
  if (y_.sample_weight) {
    for (index_t r : rows) s->weights.push_back(y_.sample_weight[r]);
    d.y_.sample_weight = s->weights.data();
  }
  d.names_.first_row = 0;
  d.storage_ = std::move(s);
  return d;
}

}  // namespace fastmlp
