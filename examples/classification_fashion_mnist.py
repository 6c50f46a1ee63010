"""Classification: the seed network, 784-128-64-10 with ReLU, on Fashion-MNIST.

This is the PyTorch example fastmlp was created from, written the Keras way. It shows the whole
workflow: load uint8 images, build a Sequential model whose first layers flatten and rescale the
pixels (fused into the core's input conversion, so no float copy of the data set is made), train
with a progress bar, evaluate, look at per-class accuracy, and save + reload the model.

    python examples/classification_fashion_mnist.py [--epochs 15]

Uses the full Fashion-MNIST when it is found (see fastmlp.datasets.fashion_mnist), else the small
subset shipped with fastmlp.
"""

import argparse
import os
import tempfile
import time

import numpy as np

import fastmlp
from fastmlp import layers
from fastmlp.datasets import DatasetNotFoundError, fashion_mnist, fashion_mnist_small


def load():
    try:
        return fashion_mnist.load_data(download=False), "Fashion-MNIST"
    except DatasetNotFoundError:
        return fashion_mnist_small.load_data(), "the shipped Fashion-MNIST subset"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    args = parser.parse_args()

    fastmlp.utils.set_random_seed(0)
    ((x_train, y_train), (x_test, y_test)), name = load()
    print(f"data: {name}, {len(x_train)} training / {len(x_test)} test images "
          f"of {x_train.shape[1:]}")

    model = fastmlp.Sequential([
        fastmlp.Input(shape=(28, 28)),
        layers.Flatten(),
        layers.Rescaling(1.0 / 255),
        layers.Dense(128, activation="relu"),
        layers.Dense(64, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ])
    steps = args.epochs * -(-len(x_train) // 128)
    schedule = fastmlp.optimizers.schedules.CosineDecay(2e-3, decay_steps=steps)
    model.compile(optimizer=fastmlp.optimizers.Adam(learning_rate=schedule),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.summary()

    t0 = time.perf_counter()
    model.fit(x_train, y_train, epochs=args.epochs, batch_size=128, verbose=2)
    seconds = time.perf_counter() - t0
    loss, acc = model.evaluate(x_test, y_test, verbose=0)
    print(f"\ntest accuracy {acc:.4f}, test loss {loss:.4f}; training took {seconds:.1f} s "
          f"({args.epochs * len(x_train) / seconds:,.0f} samples/s)")

    pred = model.predict(x_test, verbose=0).argmax(axis=1)
    print("\nper-class test accuracy (which clothes get confused):")
    for c, label in enumerate(fashion_mnist.CLASS_NAMES):
        mask = y_test == c
        print(f"  {label:<12} {np.mean(pred[mask] == c):.3f}")

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "seed.fastmlp")
        model.save(path)
        again = fastmlp.models.load_model(path).predict(x_test, verbose=0).argmax(axis=1)
        print(f"\nsaved and reloaded ({os.path.getsize(path):,} bytes): "
              f"{'identical' if np.array_equal(again, pred) else 'DIFFERENT'} predictions")


if __name__ == "__main__":
    main()
