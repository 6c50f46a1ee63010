"""MNIST handwritten digits (LeCun, Cortes & Burges): 70,000 28x28 grayscale images of 0-9.

``load_data()`` returns ``(x_train, y_train), (x_test, y_test)``: uint8 arrays of shapes
(60000, 28, 28), (60000,), (10000, 28, 28), (10000,), exactly as ``keras.datasets.mnist``.
Where it looks is described in ``fastmlp.datasets._sources``. Debian has no MNIST data package,
so offline, put the four files in ``$FASTMLP_DATA`` (or its ``mnist`` subdirectory).
"""

from __future__ import annotations

from fastmlp.datasets import _mnist_like, _sources

__all__ = ["SPEC", "load_data", "locate"]

# SHA-256 of the canonical gzip files (sizes 9912422, 28881, 1648877, 4542 bytes), as recorded by
# TensorFlow Datasets; their MD5s match torchvision's (f68b3c2d..., d53e105e..., 9fb629c4...,
# ec29112d...).
SPEC = _sources.DatasetSpec(
    name="mnist",
    aliases=(),
    files=_mnist_like.MNIST_FILES,
    sha256={
        "train-images-idx3-ubyte.gz":
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz":
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz":
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz":
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    },
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    system_dirs=("/usr/share/datasets/mnist",),
    install_hint="",
)


locate, load_data = _mnist_like.loaders(lambda: SPEC, "MNIST", __name__)
