"""Vanishing gradients: why deep sigmoid networks with a poor initialization barely learn, and what
ReLU + He initialization (+ batch normalization) change.

Three 10-hidden-layer networks (width 128) see the same batch of Fashion-MNIST images. For each,
the script prints the norm of the loss gradient with respect to every Dense kernel, from the
first (input side) to the last layer, and then trains each for two epochs.

- sigmoid + RandomNormal(stddev=0.05): every layer multiplies the backward signal by
  sigmoid'(z) <= 0.25 times small weights, so the gradient shrinks by orders of magnitude on its
  way to the first layers, which therefore hardly move: training stalls near chance.
- ReLU + He normal: He's variance 2/fan_in keeps the signal's scale from layer to layer, so all
  layers receive gradients of similar size.
- ReLU + He normal + BatchNormalization: normalizing each layer's inputs keeps the scale fixed
  even as the weights change during training.

    python examples/vanishing_gradients.py
"""

import numpy as np

import fastmlp
from fastmlp import layers
from fastmlp.datasets import DatasetNotFoundError, fashion_mnist, fashion_mnist_small

DEPTH, WIDTH = 10, 128


def load():
    try:
        return fashion_mnist.load_data(download=False), "Fashion-MNIST"
    except DatasetNotFoundError:
        return fashion_mnist_small.load_data(), "the shipped Fashion-MNIST subset"


def build(kind):
    stack = [fastmlp.Input(shape=(28, 28)), layers.Flatten(), layers.Rescaling(1 / 255)]
    for _ in range(DEPTH):
        if kind == "sigmoid, N(0, 0.05)":
            stack.append(layers.Dense(WIDTH, activation="sigmoid",
                                      kernel_initializer=fastmlp.initializers.RandomNormal(
                                          stddev=0.05)))
        elif kind == "relu, He":
            stack.append(layers.Dense(WIDTH, activation="relu", kernel_initializer="he_normal"))
        else:
            stack.append(layers.Dense(WIDTH, kernel_initializer="he_normal", use_bias=False))
            stack.append(layers.BatchNormalization())
            stack.append(layers.Activation("relu"))
    stack.append(layers.Dense(10, activation="softmax"))
    model = fastmlp.Sequential(stack)
    model.compile(optimizer=fastmlp.optimizers.SGD(0.05, momentum=0.9),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def kernel_gradient_norms(model, x, y):
    """Norms of d(loss)/d(kernel) for each Dense layer, input side first.

    Gradients of one batch in training mode, no optimizer step (the core's compute_gradients,
    docs/core_api.md); they come in get_weights() order, where the kernels are the 2-D arrays.
    """
    if hasattr(model, "compute_gradients"):
        grads = model.compute_gradients(x, y)[1]
    else:  # the core takes 2-D inputs and int32 labels
        grads = model._core.compute_gradients(x.reshape(len(x), -1), y.astype(np.int32))[1]
    return [float(np.linalg.norm(g)) for g in grads if g.ndim == 2]


def main():
    ((x_train, y_train), (x_test, y_test)), name = load()
    x_train, y_train = x_train[:20000], y_train[:20000]
    print(f"data: {name}; {DEPTH} hidden layers of {WIDTH} units; gradients on one batch of 256\n")
    kinds = ("sigmoid, N(0, 0.05)", "relu, He", "relu, He, BatchNorm")
    rows = {}
    for kind in kinds:
        fastmlp.utils.set_random_seed(0)
        model = build(kind)
        rows[kind] = (model, kernel_gradient_norms(model, x_train[:256], y_train[:256]))

    print("gradient norm of each Dense kernel (layer 1 = input side):")
    print("layer " + "".join(f"{k:>22}" for k in kinds))
    for i in range(DEPTH + 1):
        print(f"{i + 1:>5} " + "".join(f"{rows[k][1][i]:>22.2e}" for k in kinds))
    for kind in kinds:
        norms = rows[kind][1]
        print(f"  {kind:<20} last/first layer gradient ratio {norms[-1] / norms[0]:9.2g}")

    print("\nafter 2 epochs of SGD (momentum 0.9, lr 0.05):")
    for kind in kinds:
        model = rows[kind][0]
        model.fit(x_train, y_train, epochs=2, batch_size=128, verbose=0)
        _, acc = model.evaluate(x_test, y_test, verbose=0)
        print(f"  {kind:<20} test accuracy {acc:.3f}")
    print("The sigmoid network's first layers got gradients orders of magnitude smaller than its "
          "last layer, so it learns far more slowly; ReLU + He keeps them comparable.")


if __name__ == "__main__":
    main()
