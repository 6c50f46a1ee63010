"""A dense-only recipe for >= 0.90 test accuracy on Fashion-MNIST in ~30 s of training on 2 cores.

The network is still a plain multilayer perceptron (no convolutions); the gain over the seed
network (~0.89) comes from four cheap, standard ingredients:

1. More width where it matters: 784-256-128-10 instead of 784-128-64-10 (2.1x the FLOPs).
2. Dropout(0.2) after each hidden layer, so the wider network does not just memorize.
3. Horizontal-flip augmentation: clothes are (nearly) mirror-symmetric, so each epoch half the
   images, chosen at random, are mirrored. This doubles the effective data set at no cost.
4. Adam with a cosine learning-rate decay from 2e-3 to 0 over the run, and test-time
   augmentation: the prediction averages the probabilities for an image and its mirror image.

    python examples/fashion_mnist_90.py [--epochs 20] [--threads 2]

It prints the test accuracy with and without test-time augmentation, and the training time
(fit calls only; augmentation is included, data loading and evaluation are not).
Needs the full Fashion-MNIST (see fastmlp.datasets.fashion_mnist); on the shipped 1,000-image
subset the same recipe runs but cannot reach 0.90.
"""

import argparse
import time

import numpy as np

import fastmlp
from fastmlp import layers
from fastmlp.datasets import DatasetNotFoundError, fashion_mnist, fashion_mnist_small


def build(hidden, dropout, lr, total_steps):
    stack = [fastmlp.Input(shape=(28, 28)), layers.Flatten(), layers.Rescaling(1 / 255)]
    for width in hidden:
        stack += [layers.Dense(width, activation="relu"), layers.Dropout(dropout)]
    stack.append(layers.Dense(10, activation="softmax"))
    model = fastmlp.Sequential(stack)
    schedule = fastmlp.optimizers.schedules.CosineDecay(lr, decay_steps=total_steps)
    model.compile(optimizer=fastmlp.optimizers.Adam(learning_rate=schedule),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def mirror_half(x, rng):
    """A copy of the uint8 images with a random half of them flipped left-right."""
    flip = rng.random(len(x)) < 0.5
    out = x.copy()
    out[flip] = x[flip, :, ::-1]
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--hidden", default="256,128")
    parser.add_argument("--dropout", type=float, default=0.2)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-flip", action="store_true", help="no flip augmentation or TTA")
    args = parser.parse_args()

    if args.threads:
        fastmlp.set_num_threads(args.threads)
    fastmlp.utils.set_random_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    try:
        (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data(download=False)
    except DatasetNotFoundError:
        print("Fashion-MNIST not found: running on the shipped subset (expect far below 0.90)")
        (x_train, y_train), (x_test, y_test) = fashion_mnist_small.load_data()
    hidden = [int(h) for h in args.hidden.split(",")]
    steps = args.epochs * -(-len(x_train) // args.batch_size)
    model = build(hidden, args.dropout, args.lr, steps)
    print(f"784-{'-'.join(map(str, hidden))}-10 ReLU, Dropout {args.dropout}, Adam {args.lr:g} "
          f"cosine, batch {args.batch_size}, {args.epochs} epochs, "
          f"{'no' if args.no_flip else 'flip'} augmentation, "
          f"{fastmlp.get_num_threads()} threads")

    seconds = cpu_seconds = 0.0
    for epoch in range(args.epochs):
        t0, c0 = time.perf_counter(), time.process_time()
        x_epoch = x_train if args.no_flip else mirror_half(x_train, rng)
        logs = model.fit(x_epoch, y_train, batch_size=args.batch_size,
                         initial_epoch=epoch, epochs=epoch + 1, verbose=0).history
        seconds += time.perf_counter() - t0
        cpu_seconds += time.process_time() - c0
        print(f"epoch {epoch + 1:2d}/{args.epochs}  loss {logs['loss'][-1]:.4f}  "
              f"accuracy {logs['accuracy'][-1]:.4f}  ({seconds:.1f} s)", flush=True)

    probs = model.predict(x_test, verbose=0)
    plain = float(np.mean(probs.argmax(axis=1) == y_test))
    probs += model.predict(np.ascontiguousarray(x_test[:, :, ::-1]), verbose=0)
    tta = float(np.mean(probs.argmax(axis=1) == y_test))
    print(f"\ntest accuracy {tta:.4f} with test-time flip averaging ({plain:.4f} without)")
    print(f"training time {seconds:.1f} s ({args.epochs * len(x_train) / seconds:,.0f} samples/s); "
          f"CPU time {cpu_seconds:.1f} s over all threads (on a busy machine, wall time > CPU "
          "time / threads)")


if __name__ == "__main__":
    main()
