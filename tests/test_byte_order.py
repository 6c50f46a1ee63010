"""Unusual NumPy buffers (issue 16): byte-swapped, misaligned, strided, negative and zero strides,
read-only, Fortran order and huge strides. Every entry point gives bitwise the result it gives for
the same values in a native C-contiguous array (or, where it writes in place, refuses clearly)."""

import numpy as np
import pytest

import fastmlp
from fastmlp import _core, layers


def _misaligned(a):
    """The same values at byte offset 1 of a uint8 buffer (not aligned for the dtype)."""
    buf = np.zeros(a.nbytes + 1, np.uint8)
    v = np.frombuffer(buf, dtype=a.dtype, offset=1, count=a.size).reshape(a.shape)
    v[...] = a
    assert not v.flags.aligned or a.dtype.itemsize == 1
    return v


def _strided(a, step=3):
    """A view with `step` times the natural stride along every axis."""
    big = np.zeros(tuple(step * d for d in a.shape), a.dtype)
    sl = tuple(slice(None, None, step) for _ in a.shape)
    big[sl] = a
    return big[sl]


def _negative(a):
    """Negative strides along every axis, same values."""
    rev = tuple(slice(None, None, -1) for _ in a.shape)
    v = a[rev].copy()[rev]
    assert all(s < 0 for s, d in zip(v.strides, v.shape) if d > 1)
    return v


def _huge_rows(a):
    """Rows 64 KiB or more apart (the data sits in a mostly untouched zero buffer)."""
    if a.ndim == 1:
        big = np.zeros(a.shape[0] * 16385, a.dtype)
        big[::16385] = a
        return big[::16385]
    big = np.zeros((a.shape[0], 16385), a.dtype)
    big[:, :a.shape[1]] = a
    return big[:, :a.shape[1]]


def _readonly(a):
    c = a.copy()
    c.flags.writeable = False
    return c


# name -> f(native array) -> (reference native array, the unusual array holding the same values)
VARIANTS = {
    "big_endian": lambda a: (a, a.astype(a.dtype.newbyteorder(">"))),
    "misaligned": lambda a: (a, _misaligned(a)),
    "misaligned_big_endian": lambda a: (a, _misaligned(a.astype(a.dtype.newbyteorder(">")))),
    "float64_big_endian": lambda a: (a, a.astype(">f8" if a.dtype.kind == "f" else ">i8")),
    "float64_misaligned": lambda a: (a, _misaligned(a.astype(np.float64)) if a.dtype.kind == "f"
                                     else _misaligned(a.astype(np.int64))),
    "fortran": lambda a: (a, np.asfortranarray(a)),
    "strided": lambda a: (a, _strided(a)),
    "negative": lambda a: (a, _negative(a)),
    "readonly": lambda a: (a, _readonly(a)),
    "zero_stride": lambda a: (np.ascontiguousarray(np.broadcast_to(a[:1], a.shape)),
                              np.broadcast_to(a[:1], a.shape)),
    "huge_stride": lambda a: (a, _huge_rows(a)),
}


def _same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    assert a.tobytes() == b.tobytes(), np.max(np.abs(a.astype(np.float64) - b))


def _x(n, d=4, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)


def _model(loss="mse", out=3, activation=None, optimizer="adam"):
    fastmlp.utils.set_random_seed(3)
    m = fastmlp.Sequential([fastmlp.Input(shape=(4,)), layers.Dense(8, activation="relu"),
                            layers.Dense(out, activation=activation)])
    m.compile(optimizer, loss)
    return m


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("n", [10, 1500])  # the small path (<= 1024 rows) and the general one
@pytest.mark.parametrize("entry", ["predict", "predict_on_batch", "call", "core_predict",
                                   "core_forward", "core_predict_small"])
def test_inference_reads_any_buffer_as_its_values(variant, n, entry):
    m = _model()
    ref, x = VARIANTS[variant](_x(n))
    run = {"predict": lambda a: m.predict(a, verbose=0),
           "predict_on_batch": m.predict_on_batch,
           "call": m,
           "core_predict": m._core.predict,
           "core_forward": m._core.forward,
           "core_predict_small": m._core._predict_small}[entry]
    got = run(x)
    if got is None:  # _predict_small declines layouts it does not read in place
        assert entry == "core_predict_small"
        return
    _same(got, run(ref))


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("which", ["x", "y", "sample_weight"])
@pytest.mark.parametrize("entry", ["evaluate", "test_on_batch", "core_evaluate"])
def test_evaluate_reads_any_buffer_as_its_values(variant, which, entry):
    m = _model()
    data = {"x": _x(40), "y": _x(40, 3, seed=1), "sample_weight": np.linspace(0.5, 2, 40,
                                                                             dtype=np.float32)}
    ref, odd = VARIANTS[variant](data[which])
    runs = []
    for arr in (odd, ref):
        d = dict(data, **{which: arr})
        if entry == "evaluate":
            runs.append(m.evaluate(d["x"], d["y"], sample_weight=d["sample_weight"], verbose=0))
        elif entry == "test_on_batch":
            runs.append(m.test_on_batch(d["x"], d["y"], sample_weight=d["sample_weight"]))
        else:
            runs.append(m._core.evaluate(d["x"], d["y"], d["sample_weight"], 16)["loss"])
    assert runs[0] == runs[1]


def _fit_weights(which, arr, data, entry, loss="mse", out=3, activation=None):
    m = _model(loss, out, activation)
    d = dict(data, **{which: arr})
    if entry == "fit":
        h = m.fit(d["x"], d["y"], sample_weight=d["sample_weight"], batch_size=8, epochs=2,
                  verbose=0, validation_data=(d["x_val"], d["y_val"]))
        return m.get_weights(), h.history
    if entry == "train_on_batch":
        return m.get_weights(), m.train_on_batch(d["x"], d["y"], sample_weight=d["sample_weight"])
    logs = m._core.train_epoch(d["x"], d["y"], d["sample_weight"], 8, True, 5)
    return m.get_weights(), logs


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("entry,which", [
    (e, w) for e in ("fit", "train_on_batch", "core_train_epoch")
    for w in ("x", "y", "sample_weight", "x_val", "y_val") if e == "fit" or not w.endswith("_val")])
def test_training_reads_any_buffer_as_its_values(variant, entry, which):
    data = {"x": _x(40), "y": _x(40, 3, seed=1),
            "sample_weight": np.linspace(0.5, 2, 40, dtype=np.float32),
            "x_val": _x(12, seed=2), "y_val": _x(12, 3, seed=3)}
    ref, odd = VARIANTS[variant](data[which])
    w_odd, logs_odd = _fit_weights(which, odd, data, entry)
    w_ref, logs_ref = _fit_weights(which, ref, data, entry)
    for a, b in zip(w_odd, w_ref):
        _same(a, b)
    assert logs_odd == logs_ref


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("dtype", ["<i4", ">i4", ">i8", "<u2", ">u2", ">f4", ">f8"])
def test_sparse_labels_read_as_their_values(variant, dtype):
    data = {"x": _x(40), "y": (np.arange(40) % 3).astype(dtype), "sample_weight": None,
            "x_val": _x(12, seed=2), "y_val": np.arange(12) % 3}
    ref, odd = VARIANTS[variant](data["y"])
    for entry in ("fit", "core_train_epoch"):
        if entry == "core_train_epoch" and odd.dtype.kind == "f":
            continue  # the core takes integer labels only (the Python layer checks floats)
        w_odd, logs_odd = _fit_weights("y", odd, data, entry, "sparse_categorical_crossentropy",
                                       3, "softmax")
        w_ref, logs_ref = _fit_weights("y", np.asarray(ref, np.int64), data, entry,
                                       "sparse_categorical_crossentropy", 3, "softmax")
        for a, b in zip(w_odd, w_ref):
            _same(a, b)
        assert logs_odd == logs_ref


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("entry", ["set_weights", "core_set_weights", "core_apply_gradients"])
def test_weights_read_as_their_values(variant, entry):
    m = _model()
    rng = np.random.default_rng(4)
    pairs = [VARIANTS[variant](rng.normal(size=w.shape).astype(np.float32))
             for w in m.get_weights()]
    if entry == "core_apply_gradients":
        runs = []
        for k in (1, 0):
            m2 = _model(optimizer="sgd")
            m2._core.apply_gradients([p[k] for p in pairs])
            runs.append(m2.get_weights())
    else:
        runs = []
        for k in (1, 0):
            getattr(m if entry == "set_weights" else m._core, "set_weights")([p[k] for p in pairs])
            runs.append(m.get_weights())
    for a, b in zip(*runs):
        _same(a, b)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("operand", ["a", "b", "out"])
@pytest.mark.parametrize("shape", [(6, 5, 7), (64, 300, 200)])  # (m, k, n): small and > 65536 MACs
@pytest.mark.parametrize("trans", [(False, False), (True, True)])
def test_matmul_reads_any_buffer_as_its_values(variant, operand, shape, trans):
    m, k, n = shape
    rng = np.random.default_rng(5)
    a = rng.normal(size=(k, m) if trans[0] else (m, k)).astype(np.float32)
    b = rng.normal(size=(n, k) if trans[1] else (k, n)).astype(np.float32)
    c = rng.normal(size=(m, n)).astype(np.float32)
    args = {"a": a, "b": b, "out": c}
    ref, odd = VARIANTS[variant](args[operand])
    results = []
    for arr in (odd, ref):
        d = dict(args, **{operand: arr})
        out = d["out"]
        if operand == "out":
            refused = ("read-only" if not out.flags.writeable else
                       "must be a float32" if out.dtype.itemsize != 4 else None)
            if refused:  # float32 of any layout is written; other dtypes and read-only are not
                with pytest.raises(ValueError, match=refused):
                    fastmlp.ops.matmul(d["a"], d["b"], transpose_a=trans[0],
                                       transpose_b=trans[1], beta=0.5, out=out)
                return
        else:
            out = out.copy()
        r = fastmlp.ops.matmul(d["a"], d["b"], transpose_a=trans[0], transpose_b=trans[1],
                               alpha=1.5, beta=0.5, out=out)
        assert r is out
        results.append(np.array(r, dtype=np.float32))
    _same(*results)


@pytest.mark.parametrize("variant", ["big_endian", "misaligned", "misaligned_big_endian"])
def test_matmul_without_out_reads_any_buffer(variant):
    rng = np.random.default_rng(6)
    a = rng.normal(size=(30, 20)).astype(np.float32)
    b = rng.normal(size=(20, 10)).astype(np.float32)
    for big in (False, True):  # below and above the size at which the GIL is released
        aa, bb = (np.tile(a, (20, 1)), b) if big else (a, b)
        _same(fastmlp.ops.matmul(VARIANTS[variant](aa)[1], VARIANTS[variant](bb)[1]),
              fastmlp.ops.matmul(aa, bb))


@pytest.mark.parametrize("variant", ["big_endian", "misaligned"])
def test_in_place_fast_paths_decline_buffers_they_cannot_read_through_a_float_pointer(variant):
    """The C++ fast paths hand the pointer to the kernels: they must leave byte-swapped and
    misaligned arrays to the converting path (the type number of '>f4' is NPY_FLOAT's)."""
    m = _model()
    _, x = VARIANTS[variant](_x(10))
    assert m._core._predict_small(x) is None
    assert _core._matmul_fast(x, x, False, True, 1.0, 0.0, None) is None
    out = np.empty((10, 10), np.float32)
    assert _core._matmul_fast(_x(10), _x(10), False, True, 1.0, 0.0, VARIANTS[variant](out)[1]) \
        is None


def test_huge_strides_beyond_2_to_the_31_bytes():
    """One row or one column whose (unused) stride is 2^40 bytes, and rows 2^31 + 4 bytes apart."""
    m = _model()
    x = _x(3)
    one_row = np.lib.stride_tricks.as_strided(x[:1], shape=(1, 4), strides=(1 << 40, 4))
    _same(m.predict(one_row, verbose=0), m.predict(x[:1], verbose=0))
    _same(fastmlp.ops.matmul(one_row, x.T), fastmlp.ops.matmul(x[:1], x.T))
    col = np.lib.stride_tricks.as_strided(x[:, :1], shape=(3, 1), strides=(16, 1 << 40))
    _same(fastmlp.ops.matmul(col, x[:1]), fastmlp.ops.matmul(np.ascontiguousarray(col), x[:1]))
    try:
        big = np.zeros((3, (1 << 29) + 1), np.float32)  # 6 GiB of zero pages, 3 rows touched
    except MemoryError:
        pytest.skip("cannot reserve 6 GiB of address space")
    view = big[:, :4]
    view[...] = x
    _same(m.predict(view, verbose=0), m.predict(x, verbose=0))
    _same(fastmlp.ops.matmul(view, x.T), fastmlp.ops.matmul(x, x.T))


@pytest.mark.parametrize("what", ["x", "y", "sample_weight", "weights", "matmul"])
def test_zero_dimensional_arrays_are_refused_clearly(what):
    m = _model()
    zero = np.array(1.0, np.float32)
    with pytest.raises((ValueError, TypeError)):
        if what == "x":
            m.predict(zero, verbose=0)
        elif what == "y":
            m.fit(_x(4), zero, verbose=0)
        elif what == "sample_weight":
            m.fit(_x(4), _x(4, 3), sample_weight=zero, verbose=0)
        elif what == "weights":
            m.set_weights([zero] * len(m.get_weights()))
        else:
            fastmlp.ops.matmul(zero, zero)
    with pytest.raises((ValueError, TypeError)):
        m._core.predict(zero)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_core_leaf_functions_read_any_buffer(variant):
    rng = np.random.default_rng(7)
    p = rng.random((12, 3)).astype(np.float32) + 0.1
    t = rng.random((12, 3)).astype(np.float32)
    w = rng.random(12).astype(np.float32)
    args = {"y_true": t, "y_pred": p, "sample_weight": w}
    for name in args:
        ref, odd = VARIANTS[variant](args[name])
        got = _core.loss("mse", **dict(args, **{name: odd}))
        want = _core.loss("mse", **dict(args, **{name: ref}))
        assert got[0] == want[0]
        _same(got[1], want[1])
    ref, odd = VARIANTS[variant](p)
    _same(_core.activation_forward("tanh", odd), _core.activation_forward("tanh", ref))
    labels = (np.arange(12) % 3).astype(np.int32)
    ref, odd = VARIANTS[variant](labels)
    got = _core.loss("sparse_categorical_crossentropy", odd, p)
    want = _core.loss("sparse_categorical_crossentropy", ref, p)
    assert got[0] == want[0]
    # Optimizer.step reads gradients of any layout; parameters are updated in place
    ref, odd = VARIANTS[variant](t)
    params = []
    for g in (odd, ref):
        opt = _core.Optimizer({"name": "adam", "learning_rate": 0.1})
        params.append(p.copy())
        opt.step([params[-1]], [g])
    _same(*params)


@pytest.mark.parametrize("variant", ["big_endian", "misaligned", "fortran", "readonly", "strided"])
def test_optimizer_step_refuses_parameters_it_cannot_update_in_place(variant):
    p = np.ones((4, 3), np.float32)
    _, odd = VARIANTS[variant](p)
    opt = _core.Optimizer({"name": "sgd", "learning_rate": 0.1})
    with pytest.raises(ValueError, match="parameter 0"):
        opt.step([odd], [np.ones((4, 3), np.float32)])
