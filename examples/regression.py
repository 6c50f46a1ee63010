"""Regression: a dense regressor on the diabetes data (442 patients, 10 features, shipped with
fastmlp), reporting mean absolute error against two baselines.

The target is a measure of disease progression one year after baseline (25..346). The network is
compared with predicting the training mean and with ordinary least squares, so the MAE means
something. Features and target are standardized with training-set statistics only.

    python examples/regression.py
"""

import numpy as np

import fastmlp
from fastmlp import layers
from fastmlp.datasets import diabetes


def split(x, y, test_fraction=0.2, seed=0):
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = int(len(x) * test_fraction)
    return x[order[n_test:]], y[order[n_test:]], x[order[:n_test]], y[order[:n_test]]


def main():
    fastmlp.utils.set_random_seed(0)
    x, y = diabetes.load_data()
    x_train, y_train, x_test, y_test = split(x, y)
    mu, sd = x_train.mean(axis=0), x_train.std(axis=0)
    x_train, x_test = (x_train - mu) / sd, (x_test - mu) / sd
    y_mu, y_sd = y_train.mean(), y_train.std()
    print(f"diabetes: {len(x_train)} training / {len(x_test)} test patients, "
          f"{x.shape[1]} features ({', '.join(diabetes.FEATURE_NAMES)})")

    # Small data, noisy target: L2 + Dropout against overfitting, Huber loss against outliers,
    # and early stopping on a validation split that restores the best epoch's weights.
    l2 = fastmlp.regularizers.L2(1e-2)
    model = fastmlp.Sequential([
        fastmlp.Input(shape=(x.shape[1],)),
        layers.Dense(64, activation="relu", kernel_regularizer=l2), layers.Dropout(0.2),
        layers.Dense(32, activation="relu", kernel_regularizer=l2), layers.Dropout(0.2),
        layers.Dense(1),
    ])
    model.compile(optimizer=fastmlp.optimizers.Adam(1e-3), loss="huber", metrics=["mae"])
    history = model.fit(x_train, (y_train - y_mu) / y_sd, epochs=300, batch_size=32,
                        validation_split=0.2, verbose=0,
                        callbacks=[fastmlp.callbacks.EarlyStopping(
                            patience=30, restore_best_weights=True)])
    pred = model.predict(x_test, verbose=0)[:, 0] * y_sd + y_mu
    mae_net = float(np.mean(np.abs(pred - y_test)))

    mae_mean = float(np.mean(np.abs(y_mu - y_test)))
    design = np.c_[x_train, np.ones(len(x_train))]
    coef, *_ = np.linalg.lstsq(design, y_train, rcond=None)
    mae_ols = float(np.mean(np.abs(np.c_[x_test, np.ones(len(x_test))] @ coef - y_test)))

    print(f"trained {len(history.history['loss'])} epochs (early stopping on validation loss)")
    print(f"test MAE: dense network {mae_net:.1f}, least squares {mae_ols:.1f}, "
          f"predicting the mean {mae_mean:.1f}  (target range 25..346)")
    print("With 442 noisy patients there is little non-linear signal to find: a small, "
          "regularized network\nlands near the linear model, and both beat the mean by a wide "
          "margin.")


if __name__ == "__main__":
    main()
