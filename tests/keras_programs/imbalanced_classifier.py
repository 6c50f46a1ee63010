"""Classification on imbalanced data, after TensorFlow's tutorial of that name: a fraud-like
binary problem (about 4% positives), a small network with an initial output bias, class weights
from the class frequencies, confusion-matrix metrics, early stopping on the validation AUC.

Written for Keras 3 (`import keras`); runs with `import fastmlp as keras` unchanged.
Prints one line `RESULT {json}` with the test metrics of the plain and the weighted model.
"""

import json

import numpy as np

import fastmlp as keras

keras.utils.set_random_seed(42)
rng = np.random.default_rng(42)

# ---- data: 20 features, the positive class depends on a few of them -----------------------------
n = 8000
features = rng.normal(size=(n, 20)).astype("float32")
logit = 1.6 * features[:, 0] - 1.2 * features[:, 1] + 0.9 * features[:, 2] * features[:, 3] - 4.0
labels = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype("float32")

order = rng.permutation(n)
train, val, test = order[:5600], order[5600:6800], order[6800:]
train_features, train_labels = features[train], labels[train].reshape(-1, 1)
val_features, val_labels = features[val], labels[val].reshape(-1, 1)
test_features, test_labels = features[test], labels[test].reshape(-1, 1)

mean, std = train_features.mean(axis=0), train_features.std(axis=0)
train_features = (train_features - mean) / std
val_features = (val_features - mean) / std
test_features = (test_features - mean) / std

neg, pos = np.bincount(train_labels.astype(int).ravel())
total = neg + pos
print(f"Examples: total {total}, positive {pos} ({100 * pos / total:.2f}% of total)")

METRICS = [
    keras.metrics.MeanSquaredError(name="brier_score"),
    keras.metrics.TruePositives(name="tp"),
    keras.metrics.FalsePositives(name="fp"),
    keras.metrics.TrueNegatives(name="tn"),
    keras.metrics.FalseNegatives(name="fn"),
    keras.metrics.BinaryAccuracy(name="accuracy"),
    keras.metrics.Precision(name="precision"),
    keras.metrics.Recall(name="recall"),
    keras.metrics.AUC(name="auc"),
    keras.metrics.F1Score(average="micro", threshold=0.5, name="f1"),
]

EPOCHS = 40
BATCH_SIZE = 256


def make_model(output_bias=None):
    if output_bias is not None:
        output_bias = keras.initializers.Constant(output_bias)
    model = keras.Sequential([
        keras.Input(shape=(train_features.shape[-1],)),
        keras.layers.Dense(16, activation="relu"),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(1, activation="sigmoid", bias_initializer=output_bias),
    ])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3),
                  loss=keras.losses.BinaryCrossentropy(), metrics=METRICS)
    return model


early_stopping = keras.callbacks.EarlyStopping(monitor="val_auc", verbose=1, patience=8,
                                               mode="max", restore_best_weights=True)

initial_bias = np.log([pos / neg])
results = {}

# ---- baseline: no class weights -----------------------------------------------------------------
model = make_model(output_bias=initial_bias)
model.summary()
baseline_history = model.fit(train_features, train_labels, batch_size=BATCH_SIZE,
                             epochs=EPOCHS, callbacks=[early_stopping],
                             validation_data=(val_features, val_labels), verbose=2)
results["baseline"] = model.evaluate(test_features, test_labels, batch_size=BATCH_SIZE,
                                     verbose=0, return_dict=True)

# ---- class weights: each class weighs half of the total -----------------------------------------
weight_for_0 = (1 / neg) * (total / 2.0)
weight_for_1 = (1 / pos) * (total / 2.0)
class_weight = {0: weight_for_0, 1: weight_for_1}
print(f"Weight for class 0: {weight_for_0:.2f}")
print(f"Weight for class 1: {weight_for_1:.2f}")

weighted_model = make_model(output_bias=initial_bias)
weighted_history = weighted_model.fit(train_features, train_labels, batch_size=BATCH_SIZE,
                                      epochs=EPOCHS, callbacks=[early_stopping],
                                      validation_data=(val_features, val_labels),
                                      class_weight=class_weight, verbose=2)
results["weighted"] = weighted_model.evaluate(test_features, test_labels,
                                              batch_size=BATCH_SIZE, verbose=0,
                                              return_dict=True)

predictions = weighted_model.predict(test_features, batch_size=BATCH_SIZE, verbose=0)
cm = np.zeros((2, 2), dtype=int)
np.add.at(cm, (test_labels.ravel().astype(int), (predictions.ravel() > 0.5).astype(int)), 1)
print("Confusion matrix (rows: true, columns: predicted):\n", cm)
results["confusion_matrix"] = cm.tolist()
results["positives"] = int(test_labels.sum())

for name, values in results.items():
    if isinstance(values, dict):
        print(name, {k: round(float(v), 4) for k, v in values.items()})
print("RESULT", json.dumps({k: ({m: float(v) for m, v in r.items()} if isinstance(r, dict) else r)
                            for k, r in results.items()}))
