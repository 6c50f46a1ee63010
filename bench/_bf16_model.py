"""The model part of bench_bf16.py (issue 20): epochs and a 10,000-row predict of fastmlp under
float32 and under mixed_bfloat16 against PyTorch float32 and PyTorch's bf16 autocast, in one run.

Networks: the seed 784-128-64-10 and 784-512-512-10, ReLU, Adam(1e-3), batch 128, on Fashion-MNIST
when it is installed (random images otherwise), on `threads` threads. Each library is timed by
wall clock, interleaved, best of `rounds` epochs; 0.3 s pass between libraries (PyTorch's pool
threads spin after a call). Accuracy is not measured here: `fastmlp train --dtype-policy
mixed_bfloat16` gives it against float32.
"""

import time

import numpy as np

import fastmlp
from fastmlp import layers

try:
    import torch
except ImportError:  # pragma: no cover - optional
    torch = None

NETWORKS = [(128, 64), (512, 512)]
# issue 20's goals on an AMX machine, 2 threads: (epoch s, x our fp32, x PyTorch fp32)
GOALS = {(128, 64): (0.06, 3.0, 6.0), (512, 512): (0.2, 5.0, 6.0)}
QUIESCE_S = 0.3


def images(rows):
    try:
        (x, y), _ = fastmlp.datasets.fashion_mnist.load_data()
        x = (x.reshape(len(x), -1).astype(np.float32) / 255.0)[:rows]
        return x, y[:rows].astype(np.int64)
    except Exception:  # not installed: the timing does not depend on the pixels
        rng = np.random.default_rng(0)
        return rng.random((rows, 784), dtype=np.float32), rng.integers(0, 10, rows)


def fastmlp_epoch(x, y, widths, policy, threads):
    fastmlp.config.set_dtype_policy(policy)
    try:
        model = fastmlp.Sequential([fastmlp.Input(shape=(784,))]
                                   + [layers.Dense(w, activation="relu") for w in widths]
                                   + [layers.Dense(10)])
    finally:
        fastmlp.config.set_dtype_policy("float32")
    model.compile(optimizer=fastmlp.optimizers.Adam(1e-3),
                  loss=fastmlp.losses.SparseCategoricalCrossentropy(from_logits=True))

    def run():
        fastmlp.set_num_threads(threads)
        model.fit(x, y, batch_size=128, epochs=1, verbose=0)
    return run, model


def torch_epoch(x, y, widths, autocast, threads):
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    torch.manual_seed(0)
    dims, mods = [784, *widths], []
    for a, b in zip(dims, dims[1:]):
        mods += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    net = torch.nn.Sequential(*mods, torch.nn.Linear(dims[-1], 10))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()

    def run():
        torch.set_num_threads(threads)
        perm = torch.randperm(len(xt))
        for i in range(0, len(xt), 128):
            idx = perm[i:i + 128]
            opt.zero_grad()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
                loss = loss_fn(net(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
    return run, net


def best_seconds(runners, rounds):
    best = {name: float("inf") for name in runners}
    for name, fn in runners.items():  # one warm-up epoch each
        fn()
    for _ in range(rounds):
        for name, fn in runners.items():
            time.sleep(QUIESCE_S)
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


def run(threads, rounds, quick):
    rows = 12000 if quick else 60000
    x, y = images(rows)
    print(f"\nmodels: Adam, batch 128, {rows} rows, {threads} threads, best of {rounds} epochs "
          f"(s; ratio = other / fastmlp mixed_bfloat16); bf16 kernel: "
          f"{fastmlp.cpu_info().get('bf16_kernel')}")
    for widths in NETWORKS:
        runners, models = {}, {}
        for policy in ("float32", "mixed_bfloat16"):
            runners[f"fastmlp {policy}"], models[policy] = fastmlp_epoch(x, y, widths, policy,
                                                                         threads)
        if torch is not None:
            runners["torch fp32"], net = torch_epoch(x, y, widths, False, threads)
            runners["torch autocast bf16"], _ = torch_epoch(x, y, widths, True, threads)
        best = best_seconds(runners, rounds)
        ours = best["fastmlp mixed_bfloat16"]
        net_name = "784-" + "-".join(map(str, widths)) + "-10"
        cells = ", ".join(f"{name} {t:.3f} s ({t / ours:.2f}x)" for name, t in best.items())
        print(f"  {net_name}: {cells}")
        goal_s, goal_ours, goal_torch = GOALS[widths]
        scale = 60000 / rows
        line = (f"    goals: epoch <= {goal_s} s (measured {ours * scale:.3f} s per 60k rows), "
                f">= {goal_ours}x our fp32 ({best['fastmlp float32'] / ours:.2f}x)")
        if torch is not None:
            line += f", >= {goal_torch}x PyTorch fp32 ({best['torch fp32'] / ours:.2f}x)"
        print(line)
        if widths == NETWORKS[0]:
            predict_10k(models, net if torch is not None else None, threads, rounds)
    if torch is None:
        print("  PyTorch is not installed: its columns cannot run (pip install torch==2.13.0)")


def predict_10k(models, net, threads, rounds):
    x = np.random.default_rng(2).random((10000, 784), dtype=np.float32)
    runners = {f"fastmlp {p}": (lambda m=m: m.predict(x, batch_size=10000, verbose=0))
               for p, m in models.items()}
    if net is not None:
        xt = torch.from_numpy(x)

        def torch_predict():
            torch.set_num_threads(threads)
            with torch.no_grad():
                net(xt)
        runners["torch fp32"] = torch_predict
    fastmlp.set_num_threads(threads)
    best = {name: float("inf") for name in runners}
    for _ in range(rounds * 3):
        for name, fn in runners.items():
            time.sleep(QUIESCE_S)
            t0 = time.perf_counter()
            for _ in range(5):
                fn()
            best[name] = min(best[name], (time.perf_counter() - t0) / 5)
    ours = best["fastmlp mixed_bfloat16"]
    cells = ", ".join(f"{name} {t * 1e3:.2f} ms ({t / ours:.2f}x)" for name, t in best.items())
    print(f"  10,000-row predict (seed network; goal >= 4x PyTorch fp32): {cells}")
