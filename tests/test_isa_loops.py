"""The simple loops built twice (cpp/src/nn/kernels/isa_variants.h: optimizer updates,
BatchNormalization, the bias gradient, the softmax exponentials, the gradient check) follow
FASTMLP_ISA: the baseline build runs under FASTMLP_ISA=generic and the AVX2 one otherwise, and both
give the same bits. The model has no Dense layer (the GEMM kernels round differently per ISA: FMA
or not), so a whole training run of BatchNormalization under each optimizer must match bit for
bit."""

import hashlib
import os
import subprocess
import sys

import pytest

import fastmlp

SCRIPT = r"""
import hashlib, sys
import numpy as np
import fastmlp
from fastmlp import layers
fastmlp.utils.set_random_seed(7)  # the shuffles and the Dropout masks
rng = np.random.default_rng(3)
x = rng.normal(size=(300, 37)).astype(np.float32) * 3 + 1
x[:, :5] = 0.0  # zero gradients: decaying moments
y = rng.integers(0, 37, size=300)
optimizer = sys.argv[1]
kwargs = {"sgd": dict(learning_rate=0.05, momentum=0.9, nesterov=True),
          "rmsprop": dict(momentum=0.5, centered=True)}.get(optimizer, {})
model = fastmlp.Sequential([fastmlp.Input(shape=(37,)), layers.BatchNormalization(),
                            layers.Dropout(0.2)])
opt = type(fastmlp.optimizers.get(optimizer))(**kwargs)
model.compile(optimizer=opt,
              loss=fastmlp.losses.SparseCategoricalCrossentropy(from_logits=True))
hist = model.fit(x, y, batch_size=32, epochs=3, shuffle=True, verbose=0)
h = hashlib.sha256()
for w in model.get_weights():
    h.update(np.ascontiguousarray(w).tobytes())
h.update(np.float64(hist.history["loss"]).tobytes())
print(fastmlp.cpu_info()["isa"], h.hexdigest())
"""


def run(isa, optimizer):
    env = dict(os.environ, FASTMLP_ISA=isa, OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", SCRIPT, optimizer], capture_output=True, text=True,
                         env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


@pytest.mark.skipif("avx2" not in fastmlp.cpu_info()["supported_isas"],
                    reason="this CPU has no AVX2: only the baseline build can run here")
@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw", "rmsprop", "adagrad", "adamax",
                                       "nadam"])
def test_baseline_and_avx2_loops_train_bitwise_alike(optimizer):
    generic_isa, generic = run("generic", optimizer)
    avx2_isa, avx2 = run("avx2", optimizer)
    assert (generic_isa, avx2_isa) == ("generic", "avx2")
    assert generic == avx2
