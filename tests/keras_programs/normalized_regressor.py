"""Regression with a Normalization layer, after TensorFlow's "Basic regression" tutorial: the
diabetes data set (scikit-learn's copy, no download), a linear model on one feature and a deep
model on all of them, each starting with `Normalization` fitted by `adapt`.

Written for Keras 3 (`import keras`); runs with `import fastmlp as keras` unchanged.
Prints one line `RESULT {json}` with the test errors.
"""

import json

import numpy as np
from sklearn.datasets import load_diabetes

import fastmlp as keras

keras.utils.set_random_seed(0)

raw = load_diabetes(scaled=False)
features = raw.data.astype("float32")
labels = raw.target.astype("float32")
order = np.random.default_rng(0).permutation(len(labels))
cut = int(0.8 * len(labels))
train_features, test_features = features[order[:cut]], features[order[cut:]]
train_labels, test_labels = labels[order[:cut]], labels[order[cut:]]
bmi_index = raw.feature_names.index("bmi")

test_results = {}

# ---- linear regression on one feature ------------------------------------------------------------
bmi = train_features[:, bmi_index]
bmi_normalizer = keras.layers.Normalization(input_shape=[1,], axis=None)
bmi_normalizer.adapt(bmi)

bmi_model = keras.Sequential([bmi_normalizer, keras.layers.Dense(units=1)])
bmi_model.summary()
bmi_model.compile(optimizer=keras.optimizers.Adam(learning_rate=1.0),
                  loss="mean_absolute_error")
history = bmi_model.fit(bmi, train_labels, epochs=100, verbose=0, validation_split=0.2)
print("bmi model, last val_loss:", history.history["val_loss"][-1])
test_results["bmi_model"] = bmi_model.evaluate(test_features[:, bmi_index], test_labels,
                                               verbose=0)

# ---- a deep network on all the features ---------------------------------------------------------
normalizer = keras.layers.Normalization(axis=-1)
normalizer.adapt(np.array(train_features))
print("feature means:", np.asarray(normalizer.mean))


def build_and_compile_model(norm):
    model = keras.Sequential([
        norm,
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(1),
    ])
    model.compile(loss="mean_absolute_error", optimizer=keras.optimizers.Adam(0.001),
                  metrics=[keras.metrics.RootMeanSquaredError(name="rmse")])
    return model


dnn_model = build_and_compile_model(normalizer)
dnn_model.summary()
history = dnn_model.fit(train_features, train_labels, validation_split=0.2, verbose=0,
                        epochs=150, batch_size=32)
loss, rmse = dnn_model.evaluate(test_features, test_labels, verbose=0)
test_results["dnn_model"] = loss
test_results["dnn_rmse"] = rmse

test_predictions = dnn_model.predict(test_features, verbose=0).flatten()
residual = test_labels - test_predictions
r2 = 1.0 - float(np.sum(residual ** 2) / np.sum((test_labels - test_labels.mean()) ** 2))
test_results["dnn_r2"] = r2
test_results["mean_baseline"] = float(np.mean(np.abs(test_labels - train_labels.mean())))

dnn_model.save("dnn_model.keras")
reloaded = keras.models.load_model("dnn_model.keras")
test_results["reloaded_max_diff"] = float(np.max(np.abs(
    reloaded.predict(test_features, verbose=0).flatten() - test_predictions)))

print({k: round(v, 4) for k, v in test_results.items()})
print("RESULT", json.dumps({k: float(v) for k, v in test_results.items()}))
