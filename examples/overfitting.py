"""Overfitting: a large network (784-512-512-10) on a small training set (1,000 Fashion-MNIST
images, the subset shipped with fastmlp), trained three ways: plain, with Dropout(0.5), and with
an L2 weight penalty. Prints training vs validation accuracy per variant and writes the validation
curves to a PNG when matplotlib is installed.

What to look for: the plain network drives training accuracy to ~1.0 while validation accuracy
stalls and validation loss climbs (it memorizes); Dropout and L2 keep the gap smaller and the
validation loss lower.

    python examples/overfitting.py [--epochs 60] [--png overfitting.png]
"""

import argparse

import fastmlp
from fastmlp import layers
from fastmlp.datasets import fashion_mnist_small


def build(variant):
    reg = fastmlp.regularizers.L2(1e-3) if variant == "L2 1e-3" else None
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
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--png", default="overfitting.png")
    args = parser.parse_args()

    (x_train, y_train), (x_val, y_val) = fashion_mnist_small.load_data()
    print(f"{len(x_train)} training images, {len(x_val)} validation images, "
          f"{args.epochs} epochs each\n")
    print(f"{'variant':<12} {'train acc':>9} {'val acc':>8} {'gap':>6} {'best val':>9} "
          f"{'final val loss':>15} {'min val loss':>13}")
    histories = {}
    for variant in ("none", "Dropout 0.5", "L2 1e-3"):
        fastmlp.utils.set_random_seed(0)
        h = build(variant).fit(x_train, y_train, epochs=args.epochs, batch_size=64, verbose=0,
                               validation_data=(x_val, y_val)).history
        histories[variant] = h
        gap = h["accuracy"][-1] - h["val_accuracy"][-1]
        print(f"{variant:<12} {h['accuracy'][-1]:>9.3f} {h['val_accuracy'][-1]:>8.3f} "
              f"{gap:>6.3f} {max(h['val_accuracy']):>9.3f} {h['val_loss'][-1]:>15.3f} "
              f"{min(h['val_loss']):>13.3f}")
    print("\ngap = training minus validation accuracy: how much was memorized rather than learned.")
    save_png(args.png, histories)


if __name__ == "__main__":
    main()
