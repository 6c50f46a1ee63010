"""bf16 GEMM throughput: fastmlp fp32 vs fastmlp bf16 (each bf16 kernel this CPU has) vs PyTorch's
bf16 matmul, measured in the same run (issue 20), then the models: epochs and a 10,000-row predict
under float32 and mixed_bfloat16 against PyTorch fp32 and autocast (bench/_bf16_model.py).

Usage: python bench/bench_bf16.py [--quick] [--threads 1] [--rounds N] [--part gemm|model|all]
                                  [--model-threads 2]

First prints the CPU's bf16 units and peaks (../shared/tools/cpu_peaks.sh where it exists, else
what cpuid says), then one line per shape: GFLOP/s of fastmlp fp32, of fastmlp bf16 on each kernel
(B rounded and packed in every call, as sgemm_bf16 does), of the active kernel with B packed once
(PackedBBf16: a layer's weights, re-packed once per optimizer step) and of torch.matmul on bf16
tensors, then the ratios. Shapes are M x K x N of a 784-128 layer at batch 128: the forward X W,
dX = dY W^T (NT) and dW = X^T dY (TN), and 1024^3. A path that cannot run prints why. Libraries
are timed interleaved, best of N rounds (wall time; on a shared machine the C++ tool
cpp/bench/tools/gemm_bf16_shapes.cpp gives per-thread CPU time).
"""

import argparse
import os
import shutil
import subprocess
import sys

import numpy as np

import fastmlp
from fastmlp import _core
from _timing import time_interleaved

try:
    import torch
except ImportError:  # pragma: no cover - optional
    torch = None

SHAPES = [(128, 784, 128, "NN"), (128, 128, 784, "NT"), (784, 128, 128, "TN"),
          (1024, 1024, 1024, "NN")]
# issue 20's goals on an AMX machine, one core (GFLOP/s)
GOALS = {(128, 784, 128, "NN"): 1200.0, (1024, 1024, 1024, "NN"): 2000.0}
PEAKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "tools",
                     "cpu_peaks.sh")


def print_bf16_units():
    flags = set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
    except OSError:
        pass
    units = [u for u in ("avx512_bf16", "amx_bf16", "amx_tile", "amx_int8") if u in flags]
    print(f"CPU bf16 units (cpuid): {', '.join(units) or 'none'}")
    if os.path.exists(PEAKS) and shutil.which("gcc"):
        out = subprocess.run(["bash", PEAKS], capture_output=True, text=True, timeout=300)
        print(out.stdout.strip() or f"cpu_peaks.sh failed: {out.stderr.strip()}")
    else:
        print(f"peaks not measured: {os.path.normpath(PEAKS)} (or gcc) is not on this machine")


def _operands(m, k, n, layout, rng):
    a = rng.standard_normal((k, m) if layout[0] == "T" else (m, k)).astype(np.float32)
    b = rng.standard_normal((n, k) if layout[1] == "T" else (k, n)).astype(np.float32)
    return a, b, layout[0] == "T", layout[1] == "T"


def runners(m, k, n, layout, rng, why):
    """name -> callable; `why` collects name -> reason for the paths that cannot run."""
    a, b, ta, tb = _operands(m, k, n, layout, rng)
    out = np.empty((m, n), np.float32)
    run = {"fp32": lambda: fastmlp.ops.matmul(a, b, transpose_a=ta, transpose_b=tb, out=out)}
    info = fastmlp.cpu_info()
    testing = getattr(_core, "_testing", None)
    for kernel in ("amx", "avx512_bf16", "generic"):
        name = f"bf16 {kernel}"
        if kernel not in info["supported_bf16_kernels"]:
            why[name] = "not supported by this CPU (or, for AMX, Linux refused the tile state)"
        elif testing is None:
            why[name] = "needs the test hooks (build with -DFASTMLP_TEST_HOOKS=ON)"
        elif kernel == "generic" and m * n * k > 1 << 24:
            why[name] = "skipped above 16M multiply-adds (portable code, seconds per call)"
        else:
            run[name] = (lambda kernel=kernel: testing.gemm_bf16_into(
                a, b, out, trans_a=ta, trans_b=tb, kernel=kernel))
    if testing is None:
        why["bf16 packed B"] = "needs the test hooks (build with -DFASTMLP_TEST_HOOKS=ON)"
    else:
        packed = testing.PackedBBf16()
        packed.pack(b, trans_b=tb)
        run["bf16 packed B"] = lambda: packed.matmul(a, out, trans_a=ta)
    if torch is None:
        why["torch bf16"] = "PyTorch is not installed"
    else:
        at, bt = torch.from_numpy(a).bfloat16(), torch.from_numpy(b).bfloat16()
        at, bt = (at.T if ta else at), (bt.T if tb else bt)
        out_t = torch.empty((m, n), dtype=torch.bfloat16)
        run["torch bf16"] = lambda: torch.matmul(at, bt, out=out_t)
    return run


COLUMNS = ["fp32", "bf16 amx", "bf16 avx512_bf16", "bf16 generic", "bf16 packed B", "torch bf16"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds, no 1024^3")
    parser.add_argument("--threads", type=int, default=1, help="threads (the goals are for 1)")
    parser.add_argument("--rounds", type=int, default=None, help="timing rounds per shape")
    parser.add_argument("--part", choices=("gemm", "model", "all"), default="all")
    parser.add_argument("--model-threads", type=int, default=2,
                        help="threads of the model part (the goals are for 2)")
    args = parser.parse_args(argv)
    if args.part == "model":
        print_bf16_units()
        return run_models(args)
    rounds = args.rounds or (3 if args.quick else 7)
    shapes = SHAPES[:3] if args.quick else SHAPES
    print_bf16_units()
    info = fastmlp.cpu_info()
    print(f"fastmlp {fastmlp.__version__}: fp32 kernel {info['isa']}, bf16 kernel "
          f"{info['bf16_kernel']} (supported: {', '.join(info['supported_bf16_kernels'])}); "
          f"torch {'absent' if torch is None else torch.__version__}; {args.threads} thread(s)")
    fastmlp.set_num_threads(args.threads)
    if torch is not None:
        torch.set_num_threads(args.threads)
    why = {}
    print(f"{'case':>18} " + " ".join(f"{c:>16}" for c in COLUMNS) + "   (GFLOP/s)")
    rng = np.random.default_rng(0)
    results = {}
    for m, k, n, layout in shapes:
        res = time_interleaved(runners(m, k, n, layout, rng, why), rounds, 2.0 * m * n * k)
        results[(m, k, n, layout)] = res
        cells = " ".join(f"{res[c]:16.1f}" if c in res else f"{'-':>16}" for c in COLUMNS)
        print(f"{f'{m}x{k}x{n} {layout}':>18} {cells}", flush=True)
    for name, reason in sorted(why.items()):
        print(f"  {name}: {reason}")
    print("ratios (the active bf16 kernel, B packed per call / B packed once):")
    active = f"bf16 {info['bf16_kernel']}"
    for shape, res in results.items():
        if active not in res:
            continue
        line = f"  {shape[0]}x{shape[1]}x{shape[2]} {shape[3]}: vs fastmlp fp32 " \
               f"{res[active] / res['fp32']:.2f}x"
        if "bf16 packed B" in res:
            line += f" / {res['bf16 packed B'] / res['fp32']:.2f}x"
        if "torch bf16" in res:
            line += f"; vs torch bf16 {res[active] / res['torch bf16']:.2f}x"
        print(line)
    for shape, goal in GOALS.items():
        if shape in results and "bf16 amx" in results[shape]:
            got = results[shape]["bf16 amx"]
            if info["bf16_kernel"] == "amx":
                got = max(got, results[shape].get("bf16 packed B", 0.0))
            verdict = "met" if got >= goal else "not met"
            print(f"goal {shape[0]}x{shape[1]}x{shape[2]} >= {goal:.0f} GFLOP/s on AMX: "
                  f"{got:.0f} ({verdict})")
        elif shape in results or not args.quick:
            print(f"goal {shape[0]}x{shape[1]}x{shape[2]} >= {goal:.0f} GFLOP/s: not measurable "
                  "here (no AMX kernel)")
    return run_models(args) if args.part == "all" else 0


def run_models(args):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import _bf16_model
    _bf16_model.run(args.model_threads, 3 if args.quick else 5, args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
