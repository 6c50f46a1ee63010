// `_core.Model`: the class definition (helpers in model_bindings.h). Included once, by core.cpp.
#pragma once
#include "metric_bindings.h"
#include "model_bindings.h"

namespace fastmlp_bindings {

inline py::tuple compute_gradients(fastmlp::Model& m, const py::handle& x, const py::handle& y,
                                   const py::handle& sample_weight) {
  std::unique_ptr<PyDataset> made;
  const fastmlp::Dataset& data = dataset_for(m, x, y, sample_weight, "compute_gradients", made);
  const double loss = without_gil([&] { return m.compute_gradients(data); });
  py::list grads;
  const float* g = m.gradients().data();
  for (const auto& d : m.trainable_decls()) {
    grads.append(to_array(std::vector<float>(g, g + d.size()), d.shape));
    g += d.size();
  }
  return py::make_tuple(loss, grads);
}

inline void apply_gradients(fastmlp::Model& m, const py::handle& grads) {
  m.check_compiled("apply_gradients");  // before the gradients are written into its buffer
  const auto decls = m.trainable_decls();
  const auto values = arrays_to_vectors(grads, decls, "apply_gradients");
  float* g = m.gradients().data();
  for (const auto& v : values) g = std::copy(v.begin(), v.end(), g);
  without_gil([&] { m.apply_gradients(); });
}

inline void bind_model_class(py::module_& mod) {
  using fastmlp::Model;
  py::class_<Model>(mod, "Model")
      .def(py::init([](index_t input_dim, const py::list& layers) {
             return std::make_unique<Model>(input_dim, layer_specs_from(layers));
           }),
           py::arg("input_dim"), py::arg("layers"))
      .def_property_readonly("input_dim", &Model::input_dim)
      .def_property_readonly("output_dim", &Model::output_dim)
      .def_property_readonly("num_layers", &Model::num_layers)
      .def("layer_output_dims", &Model::layer_output_dims)
      .def("get_weights", [](const Model& m) { return weights_list(m.weight_decls(), m.get_weights()); })
      .def("set_weights", [](Model& m, const py::handle& w) {
             m.set_weights(arrays_to_vectors(w, m.weight_decls(), "set_weights"));
           }, py::arg("weights"))
      .def("compile", [](Model& m, const py::object& loss, const py::object& optimizer,
                         const py::list& metrics, const py::list& frozen,
                         const py::list& weighted_metrics) {
             std::vector<fastmlp::MetricSpec> specs, weighted;
             for (const py::handle h : metrics) specs.push_back(metric_spec_from(h));
             for (const py::handle h : weighted_metrics) weighted.push_back(metric_spec_from(h));
             std::vector<bool> flags;
             for (const py::handle h : frozen) flags.push_back(h.cast<bool>());
             m.compile(loss_spec_from(loss), optimizer_config_from(optimizer), specs, flags,
                       weighted);
           }, py::arg("loss"), py::arg("optimizer"), py::arg("metrics") = py::list(),
           py::arg("frozen") = py::list(), py::arg("weighted_metrics") = py::list(),
           "metrics, weighted_metrics: kind names or {kind, name, Keras arguments} dicts, as "
           "_core.Metric takes; the weighted ones see the sample (and class) weights; "
           "frozen: one bool per core layer (trainable=False), empty for none")
      .def("train_epoch", &train_epoch, py::arg("x"), py::arg("y") = py::none(),
           py::arg("sample_weight") = py::none(), py::arg("batch_size") = 32,
           py::arg("shuffle") = true, py::arg("seed") = 0, py::arg("y_pred_out") = py::none(),
           py::arg("batch_callback") = py::none(), py::arg("callback_every") = 1,
           py::arg("stop_on_nonfinite") = true, py::arg("reset_metrics") = true,
           py::arg("reducer") = py::none())
      .def("sum_logs", [](Model& m, fastmlp::GradientReducer& reducer, bool reset) {
             if (reset) m.reset_metrics();  // a rank with no rows adds nothing
             return to_dict(without_gil([&] { return m.sum_logs_over_ranks(reducer); }));
           }, py::arg("reducer"), py::arg("reset") = false,
           "Data-parallel training: the last train_epoch / evaluate logs over every rank "
           "(collective: every rank calls it, right after an agreement)")
      .def("evaluate", &evaluate, py::arg("x"), py::arg("y") = py::none(),
           py::arg("sample_weight") = py::none(),
           py::arg("batch_size") = 32, py::arg("y_pred_out") = py::none(),
           py::arg("reset_metrics") = true)
      .def("predict", [](Model& m, const py::handle& x) { return predict(m, x, false); },
           py::arg("x"))
      .def("_predict_small", &predict_small, py::arg("x"),
           "predict() for a C-contiguous float32 (rows <= 1024, input_dim) array; None otherwise")
      .def("forward", &predict, py::arg("x"), py::arg("training") = false)
      .def("compute_gradients", &compute_gradients, py::arg("x"), py::arg("y") = py::none(),
           py::arg("sample_weight") = py::none())
      .def("apply_gradients", &apply_gradients, py::arg("gradients"))
      .def("train_on_batch", [](Model& m, const py::handle& x, const py::handle& y,
                                const py::handle& sw) {
             std::unique_ptr<PyDataset> made;
             const fastmlp::Dataset& data = dataset_for(m, x, y, sw, "train_on_batch", made);
             return run_epoch(m, data, data.rows(), false, 0, py::none(), py::none(), 1, true,
                              true);
           }, py::arg("x"), py::arg("y") = py::none(), py::arg("sample_weight") = py::none())
      .def("test_on_batch", [](Model& m, const py::handle& x, const py::handle& y,
                               const py::handle& sw) {
             std::unique_ptr<PyDataset> made;
             const fastmlp::Dataset& data = dataset_for(m, x, y, sw, "test_on_batch", made);
             return run_evaluate(m, data, data.rows(), py::none(), true);
           }, py::arg("x"), py::arg("y") = py::none(), py::arg("sample_weight") = py::none())
      .def_property("learning_rate", &Model::learning_rate, &Model::set_learning_rate)
      .def_property_readonly("iterations", &Model::iterations)
      .def("get_optimizer_state", [](const Model& m) {
             py::list slots;
             for (const auto& s : m.get_optimizer_state()) {
               slots.append(to_array(s, {static_cast<index_t>(s.size())}));
             }
             return py::make_tuple(m.iterations(), slots);
           })
      .def("set_optimizer_state", [](Model& m, std::int64_t iterations, const py::list& slots) {
             std::vector<std::vector<float>> v;
             for (const auto& s : slots) {
               auto a = ArrayIn<float>::ensure(s);
               if (!a) throw py::type_error("set_optimizer_state: slots must be arrays");
               v.emplace_back(a.data(), a.data() + a.size());
             }
             m.set_optimizer_state(v, iterations);
           }, py::arg("iterations"), py::arg("slots"))
      .def_property("training_step", &Model::training_step, &Model::set_training_step);
}

}  // namespace fastmlp_bindings
