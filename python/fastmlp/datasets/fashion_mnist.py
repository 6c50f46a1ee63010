"""Fashion-MNIST (Xiao, Rasul & Vollgraf 2017, MIT licence): 70,000 28x28 grayscale images of
10 clothing classes, in the same layout as MNIST.

``load_data()`` returns ``(x_train, y_train), (x_test, y_test)``: uint8 arrays of shapes
(60000, 28, 28), (60000,), (10000, 28, 28), (10000,), exactly as ``keras.datasets.fashion_mnist``.
Where it looks is described in ``fastmlp.datasets._sources``; on Debian/Ubuntu
``apt-get install dataset-fashion-mnist`` provides the files. For a small copy shipped inside
the package (no download, no install) see ``fastmlp.datasets.fashion_mnist_small``.
"""

from __future__ import annotations

from fastmlp.datasets import _mnist_like, _sources

__all__ = ["CLASS_NAMES", "SPEC", "load_data", "locate"]

CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

# SHA-256 of the gzip files the mirrors serve (as recorded by TensorFlow Datasets; sizes
# 26421880, 29515, 4422102, 5148 bytes). Debian's package recompresses them, so its .gz files
# differ byte-wise (same content); local files are validated structurally instead.
SPEC = _sources.DatasetSpec(
    name="fashion-mnist",
    aliases=("fashion_mnist",),
    files=_mnist_like.MNIST_FILES,
    sha256={
        "train-images-idx3-ubyte.gz":
            "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "train-labels-idx1-ubyte.gz":
            "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "t10k-images-idx3-ubyte.gz":
            "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "t10k-labels-idx1-ubyte.gz":
            "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    },
    mirrors=(
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ),
    system_dirs=("/usr/share/datasets/fashion-mnist",),
    install_hint="on Debian/Ubuntu: sudo apt-get install dataset-fashion-mnist",
)


locate, load_data = _mnist_like.loaders(lambda: SPEC, "Fashion-MNIST", __name__)
