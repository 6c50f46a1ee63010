"""The `fastmlp` command line."""

from __future__ import annotations

import argparse
import contextlib
import difflib
import os
import sys
import time
import typing as _typing

import numpy as np

if _typing.TYPE_CHECKING:
    from typing import List, Optional, Sequence, Tuple

__all__ = ["CommandError", "DATASETS", "build_parser", "build_seed_model", "main"]


def _cmd_info(_args: argparse.Namespace) -> int:
    import fastmlp

    info = fastmlp.cpu_info()
    print(f"fastmlp {fastmlp.__version__}")
    print(f"isa: {info['isa']} (supported: {', '.join(info['supported_isas'])})")
    print(f"threads: {info['num_threads']}")
    print(f"caches: L1d {info['l1d_cache'] // 1024} KiB, L2 {info['l2_cache'] // 1024} KiB, "
          f"L3 {info['l3_cache'] // 1024} KiB")
    return 0


def _cmd_selfcheck(args: argparse.Namespace) -> int:
    """Check the GEMM against NumPy in float64 and report its speed."""
    import fastmlp

    rng = np.random.default_rng(0)
    m = k = n = args.size
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    c = fastmlp.ops.matmul(a, b)
    ref = a.astype(np.float64) @ b.astype(np.float64)
    err = float(np.max(np.abs(c - ref)) / (np.max(np.abs(ref)) + 1e-30))
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        fastmlp.ops.matmul(a, b, out=c)
        best = min(best, time.perf_counter() - t0)
    ok = err < 1e-4
    print(f"gemm {m}x{k}x{n}: max relative error {err:.2e} ({'ok' if ok else 'FAILED'}), "
          f"{2.0 * m * n * k / best / 1e9:.1f} GFLOP/s on {fastmlp.get_num_threads()} threads")
    return 0 if ok else 1


# ------------------------------------------------------------------ train

DATASETS = ("auto", "fashion_mnist", "mnist", "fashion_mnist_small")
_DATASET_TITLES = {"fashion_mnist": "Fashion-MNIST", "mnist": "MNIST",
                   "fashion_mnist_small": "Fashion-MNIST small (shipped subset)"}


class CommandError(Exception):
    """A user-facing failure: printed as `fastmlp <command>: error: ...`, exit status 1."""


def _hidden_sizes(text: str) -> Tuple[int, ...]:
    if text.strip().lower() in ("", "none"):
        return ()
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        sizes = ()
    if not sizes or any(s <= 0 for s in sizes):
        raise argparse.ArgumentTypeError(
            "expected comma-separated positive layer widths such as 128,64 (or none), "
            f"got {text!r}")
    return sizes


def _number(kind, accept, expected: str):
    """An argparse type: `kind(text)` when `accept` holds for it, else an error saying what was
    expected."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not accept(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value
    return parse


def _positive(kind):
    return _number(kind, lambda v: v > 0, f"a positive {kind.__name__}")


_non_negative_int = _number(int, lambda v: v >= 0, "a non-negative integer")
_fraction = _number(float, lambda v: 0.0 <= v < 1.0, "a fraction in [0, 1)")


def _load_dataset(name: str, data_dir: Optional[str], download: bool):
    """Return (resolved name, where it came from, arrays).

    'auto' never downloads, and falls back to the shipped subset only when no directory was
    named: a wrong --data-dir is an error, not a reason to train on something else.
    """
    from fastmlp import datasets

    if name == "fashion_mnist_small":
        return name, str(datasets.fashion_mnist_small.DATA_DIR), \
            datasets.fashion_mnist_small.load_data()
    module = datasets.mnist if name == "mnist" else datasets.fashion_mnist
    try:
        files = module.locate(path=data_dir, download=download and name != "auto")
    except datasets.DatasetNotFoundError as exc:
        if name != "auto" or data_dir is not None:
            raise CommandError(str(exc)) from exc
        print("Fashion-MNIST not found locally, so training on the small subset shipped with "
              "fastmlp\n  (for the full data set: apt-get install dataset-fashion-mnist, or set "
              "FASTMLP_DATA, or run with --dataset fashion_mnist to download it)")
        return _load_dataset("fashion_mnist_small", None, False)
    resolved = "mnist" if name == "mnist" else "fashion_mnist"
    return resolved, str(files["x_train"].parent), datasets._mnist_like.load_files(files)


def build_seed_model(hidden: Sequence[int], activation: str, input_shape=(28, 28),
                     num_classes: int = 10):
    """The seed's network: uint8 images -> Rescaling(1/255) -> Dense(h, activation)... ->
    softmax. Rescaling first lets the core fuse it into the uint8 -> float conversion."""
    import fastmlp
    from fastmlp import layers

    stack = [fastmlp.Input(shape=tuple(input_shape)), layers.Flatten(),
             layers.Rescaling(1.0 / 255.0)]
    stack += [layers.Dense(h, activation=activation) for h in hidden]
    stack.append(layers.Dense(num_classes, activation="softmax"))
    return fastmlp.Sequential(stack)


def _make_optimizer(name: str, lr: float, schedule: str, total_steps: int):
    from fastmlp import optimizers

    rate = lr
    if schedule == "cosine":
        rate = optimizers.schedules.CosineDecay(lr, decay_steps=max(total_steps, 1))
    return type(optimizers.get(name))(learning_rate=rate)


def _check_destination(option: str, path: str, suffixes: Sequence[str], what: str,
                       ignore_case: bool) -> None:
    """Refuses, before any training, a destination the result could not be written to."""
    if not (path.lower() if ignore_case else path).endswith(tuple(suffixes)):
        raise CommandError(f"{option} {path}: {what} must end in "
                           f"{' or '.join(suffixes)}")
    if os.path.isdir(path):
        raise CommandError(f"{option} {path}: is a directory")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise CommandError(f"{option} {path}: the directory {directory} does not exist")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise CommandError(f"{option} {path}: the directory {directory} is not writable")


def _plot_suffixes() -> List[str]:
    try:
        from matplotlib.backend_bases import FigureCanvasBase
    except ImportError:
        from fastmlp.plotting import MATPLOTLIB_MISSING
        raise CommandError(f"--plot: {MATPLOTLIB_MISSING}") from None
    return sorted("." + ext for ext in FigureCanvasBase.get_supported_filetypes())


def _check_destinations(args: argparse.Namespace) -> None:
    from fastmlp.saving import MODEL_SUFFIXES

    if args.save:  # model.save reads the suffix case-sensitively, matplotlib ignores the case
        _check_destination("--save", args.save, MODEL_SUFFIXES, "the model file", False)
        if args.save.endswith(".keras"):
            from fastmlp.saving import _common
            try:
                _common.import_h5py("a Keras 3 `.keras` file")
            except ImportError as e:
                raise CommandError(f"--save {args.save}: {e}") from None
    if args.plot:
        _check_destination("--plot", args.plot, _plot_suffixes(), "the image file", True)


def _cmd_train(args: argparse.Namespace) -> int:
    """Under `mpirun -n N`: data-parallel training, only rank 0 printing and writing files."""
    from fastmlp import distribution

    try:
        dist = distribution._launched()
    except ImportError as exc:
        raise CommandError(f"started by mpirun as one of {distribution.size()} ranks: {exc}") \
            from None
    if dist is None:
        return _train(args)
    distribution.set_distribution(dist)
    try:
        with open(os.devnull, "w", encoding="utf-8") as sink, \
                contextlib.redirect_stdout(sink if dist.rank else sys.stdout):
            return _train(args)
    finally:
        distribution.set_distribution(None)


def _train(args: argparse.Namespace) -> int:
    import fastmlp
    from fastmlp import distribution

    _check_destinations(args)
    if args.threads is not None:
        fastmlp.set_num_threads(args.threads)
    fastmlp.config.set_dtype_policy(args.dtype_policy)  # before the layers are made
    fastmlp.utils.set_random_seed(args.seed)
    name, origin, ((x_train, y_train), (x_test, y_test)) = _load_dataset(
        args.dataset, args.data_dir, not args.no_download)
    print(f"dataset: {_DATASET_TITLES[name]}, {len(x_train)} training and {len(x_test)} test "
          f"images, from {origin}")
    model = build_seed_model(args.hidden, args.activation, x_train.shape[1:],
                             int(max(y_train.max(), y_test.max())) + 1)
    if args.validation_split is None:
        # Curves without validation would hide what a plot is for: over- or underfitting.
        args.validation_split = 0.1 if args.plot else 0.0
    n_fit = len(x_train) - int(len(x_train) * args.validation_split)
    steps = args.epochs * -(-n_fit // args.batch_size)
    model.compile(optimizer=_make_optimizer(args.optimizer, args.lr, args.lr_schedule, steps),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    widths = "-".join(str(w) for w in (int(np.prod(x_train.shape[1:])),) + tuple(args.hidden)
                      + (model.output_shape[-1],))
    print(f"model: {widths} {args.activation}, {args.optimizer} lr {args.lr:g} "
          f"({args.lr_schedule}), {args.epochs} epochs, batch {args.batch_size}, "
          f"seed {args.seed}, {fastmlp.get_num_threads()} threads"
          + (f", {args.validation_split:g} held out for validation" if args.validation_split
             else "")
          + (f", {args.dtype_policy} (bf16 kernel: {fastmlp.cpu_info().get('bf16_kernel')})"
             if args.dtype_policy != "float32" else ""))
    t0 = time.perf_counter()
    history = model.fit(x_train, y_train, epochs=args.epochs, batch_size=args.batch_size,
                        validation_split=args.validation_split, verbose=args.verbose)
    train_time = time.perf_counter() - t0
    result = model.evaluate(x_test, y_test, batch_size=1024, verbose=0, return_dict=True)
    epochs_run = len(history.history.get("loss", ()))
    print(f"test accuracy: {result['accuracy']:.4f} (test loss {result['loss']:.4f})")
    # two decimals, or three significant digits for runs under a second (a small subset can
    # train in milliseconds: "0.00 s" would say nothing)
    shown = f"{train_time:.2f}" if train_time >= 1 else f"{train_time:.3g}"
    print(f"training time: {shown} s for {epochs_run} epochs, "
          f"{epochs_run * n_fit / max(train_time, 1e-9):,.0f} samples/s")
    if args.save:
        model.save(args.save)
        print(f"saved model to {args.save}")
    if args.plot and distribution._writes_here():
        from fastmlp.plotting import plot_history

        plot_history(history, args.plot, title=f"{widths} on {_DATASET_TITLES[name]}")
        print(f"saved training curves to {args.plot}")
    return 0


# ------------------------------------------------------------------ predict

# what the model file records of its training data, and the warning for far-off inputs
from fastmlp._predict_checks import expected_input as _expected_input  # noqa: E402
from fastmlp._predict_checks import range_warning as _range_warning  # noqa: E402


def _cmd_predict(args: argparse.Namespace) -> int:
    import fastmlp

    if not os.path.isfile(args.model):
        raise CommandError(f"model file {args.model!r} does not exist")
    try:
        x = np.load(args.input, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise CommandError(f"cannot read {args.input!r} as a .npy array: {exc}") from exc
    model = fastmlp.models.load_model(args.model)
    if args.quantize and not all(getattr(layer, "quantization_mode", None) for layer in
                                 model.layers if isinstance(layer, fastmlp.layers.Dense)):
        model.quantize(args.quantize, filters=lambda layer: not layer.quantization_mode)
    if any(getattr(layer, "quantization_mode", None) for layer in model.layers):
        print(f"int8 Dense layers (kernel: {fastmlp.cpu_info()['int8_kernel']})")
    print(_expected_input(model))
    warning = _range_warning(model, x)
    if warning:
        print(f"fastmlp predict: warning: {warning}", file=sys.stderr)
    y = model.predict(x, batch_size=args.batch_size, verbose=0)
    if args.classes:
        y = np.argmax(y, axis=-1).astype(np.int64)
    out = args.output or os.path.splitext(args.input)[0] + ".pred.npy"
    np.save(out, y, allow_pickle=False)
    print(f"wrote {'classes' if args.classes else 'predictions'} {y.shape} {y.dtype} to {out}")
    return 0


# ------------------------------------------------------------------ parser

class _HelpFormatter(argparse.HelpFormatter):
    """Every option's help ends with its default, unless it states the default itself (options
    whose default is None or a flag's False say what happens instead)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or action.default is None or action.default is False or \
                action.default == argparse.SUPPRESS or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)" if text else "default: %(default)s"


def _names(kind: str) -> List[str]:
    """The names the library accepts (the CLI runs inside the imported fastmlp package)."""
    from fastmlp import activations, optimizers
    if kind == "activation":
        return sorted(activations._FUNCTIONS) + ["gelu_tanh"]
    return sorted(optimizers._NAMES)


def _add_train_parser(sub) -> None:
    p = sub.add_parser("train", help="train the seed network (784-128-64-10 ReLU) and report "
                       "test accuracy and speed", formatter_class=_HelpFormatter,
                       description="Train a dense network on Fashion-MNIST (if found; else the "
                       "shipped subset) and print test accuracy, training time and samples/s.")
    p.add_argument("--dataset", choices=DATASETS, default="auto",
                   help="auto: Fashion-MNIST if found on disk, else the shipped subset")
    p.add_argument("--data-dir", metavar="DIR", help="directory holding the four IDX files "
                   "(default: $FASTMLP_DATA, the cache, then /usr/share/datasets)")
    p.add_argument("--no-download", action="store_true", help="never download data")
    p.add_argument("--epochs", type=_positive(int), default=15, help="training epochs")
    p.add_argument("--batch-size", type=_positive(int), default=128, help="rows per step")
    p.add_argument("--hidden", type=_hidden_sizes, default="128,64",
                   help="hidden layer widths, comma-separated, or none")
    p.add_argument("--activation", type=str.lower, choices=_names("activation"),
                   default="relu", metavar="NAME",
                   help="activation of the hidden layers: " + ", ".join(_names("activation")))
    p.add_argument("--optimizer", type=str.lower, choices=_names("optimizer"), default="adam",
                   help="optimizer")
    p.add_argument("--lr", type=_positive(float), default=2e-3, help="(peak) learning rate")
    p.add_argument("--lr-schedule", choices=("cosine", "constant"), default="cosine",
                   help="cosine: decay to 0 over the run")
    p.add_argument("--threads", type=_positive(int), metavar="N",
                   help="threads (default: all cores)")
    p.add_argument("--dtype-policy", choices=("float32", "mixed_bfloat16"), default="float32",
                   help="mixed_bfloat16: Dense products on bfloat16 operands (AMX / AVX512-BF16 "
                        "where the CPU has them), float32 weights and sums")
    p.add_argument("--seed", type=_non_negative_int, default=0,
                   help="seed of the weights, dropout and shuffling")
    p.add_argument("--validation-split", type=_fraction, default=None, metavar="FRACTION",
                   help="fraction of the training set held out for validation curves "
                        "(default: 0, or 0.1 with --plot)")
    p.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1,
                   help="0 silent, 1 progress bar, 2 one line per epoch")
    p.add_argument("--save", metavar="PATH", help="save the trained model here (.fastmlp, fastmlp's "
                   "own format, or .keras, Keras 3's, which needs h5py; checked before "
                   "training; default: not saved)")
    p.add_argument("--plot", metavar="PATH", help="draw training curves to this image (.png, "
                   ".pdf, .svg, ...; needs matplotlib; checked before training; default: none)")
    p.set_defaults(func=_cmd_train)


def _add_predict_parser(sub) -> None:
    p = sub.add_parser("predict", help="run a saved model on a .npy array",
                       formatter_class=_HelpFormatter,
                       description="Load MODEL (saved by `fastmlp train --save` or model.save) and "
                       "write its predictions for the rows of INPUT.npy.")
    p.add_argument("model", help="model file")
    p.add_argument("input", help="input array (.npy)")
    p.add_argument("-o", "--output", help="output .npy (default: INPUT.pred.npy)")
    p.add_argument("--classes", action="store_true", help="write argmax class indices")
    p.add_argument("--batch-size", type=_positive(int), default=None,
                   help="rows per block (default: the model's choice)")
    p.add_argument("--quantize", choices=("int8",), default=None,
                   help="quantize the float32 Dense layers first (model.quantize, Keras's int8)")
    p.set_defaults(func=_cmd_predict)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fastmlp", description="Fast multilayer perceptrons.")
    sub = parser.add_subparsers(dest="command", metavar="command",
                                title="commands (fastmlp COMMAND --help for its options)")
    sub.add_parser("info", help="print version, instruction set and threads").set_defaults(
        func=_cmd_info)
    p = sub.add_parser("selfcheck", help="check and time the matrix multiply",
                       formatter_class=_HelpFormatter)
    p.add_argument("--size", type=_positive(int), default=1024, help="M = K = N of the product")
    p.set_defaults(func=_cmd_selfcheck)
    _add_train_parser(sub)
    _add_predict_parser(sub)
    parser.set_defaults(subcommands=sub.choices)
    return parser


def _unrecognized(parser: argparse.ArgumentParser, extras: Sequence[str]) -> None:
    """argparse's error for unknown arguments, from the parser they were given to (so that its
    usage is shown), with the closest option for each misspelt one."""
    known = [o for a in parser._actions for o in a.option_strings if o.startswith("--")]
    hints = []
    for arg in extras:
        if arg.startswith("--"):
            close = difflib.get_close_matches(arg.split("=", 1)[0], known, n=1, cutoff=0.6)
            if close:
                hints.append(f"did you mean {close[0]}?")
    parser.error(f"unrecognized arguments: {' '.join(extras)}"
                 + (f" ({'; '.join(hints)})" if hints else ""))


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    # parse_known_args: argparse reports a subcommand's unknown options with the top-level
    # usage; _unrecognized reports them with the subcommand's.
    args, extras = parser.parse_known_args(argv)
    if args.command is None:
        if extras:
            _unrecognized(parser, extras)
        parser.print_help(sys.stderr)  # as git: the whole help, and a failing status
        return 2
    if extras:
        _unrecognized(args.subcommands[args.command], extras)
    try:
        return int(args.func(args))
    except (CommandError, ValueError, TypeError, OSError) as exc:
        print(f"fastmlp {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"fastmlp {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
