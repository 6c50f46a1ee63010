"""Towards 0.90 test accuracy on Fashion-MNIST with dense networks only, in ~30 s on 2 cores.

STATUS: the 0.90 target is NOT reached yet. Measured on a shared 2-core machine (Fashion-MNIST,
10,000 test images, seed 0 unless said):

    single 784-128-64-10, Adam 2e-3 cosine, 15 epochs           0.8951
    single 784-256-128-10, Dropout 0.2, 20 epochs                0.8962
    single 784-512-256-10, Dropout 0.2, 20 epochs (+ flips)      0.8953 (0.8964)
    ensemble of 2 / 4 x 784-128-64-10 (this script's default)    0.8983 / 0.8978
    ensemble of 6 x 784-128-64-10, 12 epochs (5 trained)         0.8937
    ensemble of 3 x 784-256-128-10, Dropout 0.2, 15 epochs       0.8951

A single multilayer perceptron of this size plateaus just under 0.90 however it is trained; the
ensemble is the cheapest step past it, because fastmlp trains a small network in seconds: members
trained from different seeds (initial weights and shuffling) make partly different mistakes, and
averaging their softmax probabilities is right more often than any member.

The recipe as it stands:
1. The seed network, 784-128-64-10 with ReLU (109k weights per member), optionally wider and
   with Dropout (--hidden, --dropout).
2. Adam with a cosine learning-rate decay from 2e-3 to 0 over the run, batch 128.
3. --members networks from consecutive seeds; the prediction averages their probabilities.

    python examples/fashion_mnist_90.py [--members 4] [--epochs 15] [--hidden 128,64]
                                        [--dropout 0] [--threads 2]

It prints each member's test accuracy, the ensemble's, and the training time (fit calls only; data
loading and evaluation are not included) with the CPU time beside it: on a machine shared with
other jobs, wall time exceeds CPU time / threads.
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
        stack.append(layers.Dense(width, activation="relu"))
        if dropout:
            stack.append(layers.Dropout(dropout))
    stack.append(layers.Dense(10, activation="softmax"))
    model = fastmlp.Sequential(stack)
    schedule = fastmlp.optimizers.schedules.CosineDecay(lr, decay_steps=total_steps)
    model.compile(optimizer=fastmlp.optimizers.Adam(learning_rate=schedule),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--hidden", default="128,64")
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    if args.threads:
        fastmlp.set_num_threads(args.threads)
    try:
        (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data(download=False)
    except DatasetNotFoundError:
        print("Fashion-MNIST not found: running on the shipped subset (expect far below 0.90)")
        (x_train, y_train), (x_test, y_test) = fashion_mnist_small.load_data()
    hidden = [int(h) for h in args.hidden.split(",")]
    steps = args.epochs * -(-len(x_train) // args.batch_size)
    print(f"{args.members} x 784-{'-'.join(map(str, hidden))}-10 ReLU, dropout {args.dropout:g}, "
          f"Adam {args.lr:g} cosine, "
          f"batch {args.batch_size}, {args.epochs} epochs, {fastmlp.get_num_threads()} threads")

    seconds = cpu_seconds = 0.0
    probs = np.zeros((len(x_test), 10), dtype=np.float64)
    for member in range(args.members):
        fastmlp.utils.set_random_seed(args.seed + member)
        model = build(hidden, args.dropout, args.lr, steps)
        t0, c0 = time.perf_counter(), time.process_time()
        model.fit(x_train, y_train, epochs=args.epochs, batch_size=args.batch_size, verbose=0)
        seconds += time.perf_counter() - t0
        cpu_seconds += time.process_time() - c0
        p = model.predict(x_test, verbose=0)
        probs += p
        print(f"member {member + 1}: test accuracy {np.mean(p.argmax(axis=1) == y_test):.4f}, "
              f"ensemble so far {np.mean(probs.argmax(axis=1) == y_test):.4f}  "
              f"({seconds:.1f} s)", flush=True)

    accuracy = float(np.mean(probs.argmax(axis=1) == y_test))
    samples = args.members * args.epochs * len(x_train)
    print(f"\nensemble test accuracy {accuracy:.4f}")
    print(f"training time {seconds:.1f} s ({samples / seconds:,.0f} samples/s); CPU time "
          f"{cpu_seconds:.1f} s over all threads")


if __name__ == "__main__":
    main()
