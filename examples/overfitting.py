"""Overfitting: a large network (784-512-512-10) on a small training set (1,000 Fashion-MNIST
images, the subset shipped with fastmlp), trained three ways: plain, with Dropout(0.5), and with
an L2 weight penalty. Prints training vs validation accuracy per variant and writes the validation
curves to a PNG when matplotlib is installed.

What to look for: the plain network drives training accuracy to ~1.0 while its validation
cross-entropy climbs after a few epochs (it memorizes the training images, and grows more and more
confident on validation images it gets wrong); Dropout and L2 keep the train/validation gap
smaller and the validation cross-entropy lower. (The loss Keras-style training reports includes
the L2 penalty, so the table's validation cross-entropy is computed from the predictions.)

    python examples/overfitting.py [--epochs 40] [--png overfitting.png]
"""

import argparse

import numpy as np

import fastmlp
from fastmlp import layers
from fastmlp.datasets import fashion_mnist_small


def build(variant):
    reg = fastmlp.regularizers.L2(1e-4) if variant == "L2 1e-4" else None
    stack = [fastmlp.Input(shape=(28, 28)), layers.Flatten(), layers.Rescaling(1 / 255)]
    for _ in range(2):
        stack.append(layers.Dense(512, activation="relu", kernel_regularizer=reg))
        if variant == "Dropout 0.5":
            stack.append(layers.Dropout(0.5))
    stack.append(layers.Dense(10, activation="softmax"))
    model = fastmlp.Sequential(stack)
    model.compile(optimizer=fastmlp.optimizers.Adam(1e-3),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def accuracy(model, x, y):
    return float(np.mean(model.predict(x, verbose=0).argmax(axis=1) == y))


def save_png(path, histories):
    try:
        from matplotlib.figure import Figure
    except ImportError:
        print("(matplotlib not installed: no PNG; pip install \"fastmlp[plot]\")")
        return
    fig = Figure(figsize=(10, 3.8))
    ax_loss, ax_acc = fig.subplots(1, 2)
    for variant, h in histories.items():
        line, = ax_loss.plot(h["val_loss"], label=f"{variant} (validation)")
        ax_loss.plot(h["loss"], ":", color=line.get_color(), label=f"{variant} (training)")
        ax_acc.plot(h["val_accuracy"], color=line.get_color(), label=variant)
    ax_loss.set(title="loss (dotted: training)", xlabel="epoch", ylim=(0, 2.0))
    ax_acc.set(title="validation accuracy", xlabel="epoch")
    ax_loss.legend(fontsize=7)
    ax_acc.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    print(f"wrote {path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--png", default="overfitting.png")
    args = parser.parse_args()

    (x_train, y_train), (x_val, y_val) = fashion_mnist_small.load_data()
    print(f"{len(x_train)} training images, {len(x_val)} validation images, "
          f"{args.epochs} epochs each\n")
    print(f"{'variant':<12} {'train acc':>9} {'val acc':>8} {'gap':>6} {'best val acc':>13} "
          f"{'val cross-entropy':>18}")
    histories = {}
    for variant in ("none", "Dropout 0.5", "L2 1e-4"):
        fastmlp.utils.set_random_seed(0)
        model = build(variant)
        h = model.fit(x_train, y_train, epochs=args.epochs, batch_size=64, verbose=0,
                      validation_data=(x_val, y_val)).history
        histories[variant] = h
        train_acc = accuracy(model, x_train, y_train)
        val_acc = accuracy(model, x_val, y_val)
        p_true = model.predict(x_val, verbose=0)[np.arange(len(y_val)), y_val]
        xent = float(-np.mean(np.log(np.maximum(p_true, 1e-7))))
        print(f"{variant:<12} {train_acc:>9.3f} {val_acc:>8.3f} {train_acc - val_acc:>6.3f} "
              f"{max(h['val_accuracy']):>13.3f} {xent:>18.3f}")
    print("\ngap = training minus validation accuracy (both in inference mode, after the last "
          "epoch):\nhow much was memorized rather than learned.")
    save_png(args.png, histories)


if __name__ == "__main__":
    main()
