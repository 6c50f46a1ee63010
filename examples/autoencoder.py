"""Denoising autoencoder: a dense 784-256-64-256-784 network learns to remove noise from
Fashion-MNIST images by reconstructing the clean image from a corrupted one.

It prints the reconstruction error (MSE per pixel, pixels in [0, 1]) of the noisy inputs and of
the network's outputs on test images it never saw, and, when matplotlib is installed, writes a PNG
with rows of originals, noisy inputs and reconstructions.

    python examples/autoencoder.py [--epochs 8] [--png autoencoder.png]
"""

import argparse

import numpy as np

import fastmlp
from fastmlp import layers
from fastmlp.datasets import DatasetNotFoundError, fashion_mnist, fashion_mnist_small


def load():
    try:
        return fashion_mnist.load_data(download=False), "Fashion-MNIST"
    except DatasetNotFoundError:
        return fashion_mnist_small.load_data(), "the shipped Fashion-MNIST subset"


def corrupt(x, rng, sigma=0.3):
    return np.clip(x + rng.normal(0.0, sigma, x.shape), 0.0, 1.0).astype(np.float32)


def save_png(path, rows, titles):
    try:
        from matplotlib.figure import Figure
    except ImportError:
        print("(matplotlib not installed: no PNG; pip install \"fastmlp[plot]\")")
        return
    n = rows[0].shape[0]
    fig = Figure(figsize=(1.2 * n, 1.3 * len(rows)))
    axes = fig.subplots(len(rows), n)
    for r, (images, title) in enumerate(zip(rows, titles)):
        for c in range(n):
            axes[r, c].imshow(images[c].reshape(28, 28), cmap="gray", vmin=0, vmax=1)
            axes[r, c].axis("off")
        axes[r, 0].set_title(title, fontsize=9, loc="left")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    print(f"wrote {path}: originals, noisy inputs, reconstructions")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--train-size", type=int, default=20000)
    parser.add_argument("--png", default="autoencoder.png")
    args = parser.parse_args()

    fastmlp.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    ((x_train, _), (x_test, _)), name = load()
    x_train = x_train[:args.train_size].reshape(-1, 784).astype(np.float32) / 255
    x_test = x_test.reshape(-1, 784).astype(np.float32) / 255
    noisy_train, noisy_test = corrupt(x_train, rng), corrupt(x_test, rng)
    print(f"data: {name}, {len(x_train)} training / {len(x_test)} test images, "
          "Gaussian noise sigma 0.3")

    model = fastmlp.Sequential([
        fastmlp.Input(shape=(784,)),
        layers.Dense(256, activation="relu"),
        layers.Dense(64, activation="relu"),       # the bottleneck: 784 pixels -> 64 numbers
        layers.Dense(256, activation="relu"),
        layers.Dense(784, activation="sigmoid"),   # pixels in [0, 1]
    ])
    model.compile(optimizer=fastmlp.optimizers.Adam(1e-3), loss="binary_crossentropy",
                  metrics=["mse"])
    model.fit(noisy_train, x_train, epochs=args.epochs, batch_size=128, verbose=2,
              validation_data=(noisy_test, x_test))

    recon = model.predict(noisy_test, verbose=0)
    mse_noisy = float(np.mean((noisy_test - x_test) ** 2))
    mse_recon = float(np.mean((recon - x_test) ** 2))
    print(f"\ntest MSE per pixel against the clean images: noisy input {mse_noisy:.4f}, "
          f"reconstruction {mse_recon:.4f} (noisy / reconstructed = {mse_noisy / mse_recon:.2f})")
    print("The 64-unit bottleneck cannot store the noise, so the decoder outputs the nearest "
          "clean-looking garment.")
    idx = np.arange(10) * (len(x_test) // 10)
    save_png(args.png, [x_test[idx], noisy_test[idx], recon[idx]],
             ["original", "noisy input", "reconstruction"])


if __name__ == "__main__":
    main()
