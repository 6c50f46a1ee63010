"""fastmlp.datasets: IDX reader, search order, downloads (never over the network), shipped data,
synthetic generators."""

import dataclasses
import gzip
import hashlib
import os
import tracemalloc

import numpy as np
import pytest

from fastmlp.datasets import (DatasetNotFoundError, _sources, diabetes, fashion_mnist,
                              fashion_mnist_small, make_moons, make_regression, make_spirals,
                              mnist, read_idx, write_idx)
from fastmlp.datasets._mnist_like import MNIST_FILES

_real_fetch_url = _sources.fetch_url  # saved before the `isolated` fixture replaces it


# ---------------------------------------------------------------- IDX reader

def _idx_bytes(code, dims, payload):
    return bytes([0, 0, code, len(dims)]) + np.asarray(dims, ">u4").tobytes() + payload


@pytest.mark.parametrize("compress", [False, True])
def test_idx_round_trip_raw_and_gzip(tmp_path, compress):
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = tmp_path / "a.idx"  # no .gz suffix even when compressed: detection is by content
    write_idx(path, arr, compress=compress)
    with open(path, "rb") as f:
        assert (f.read(2) == b"\x1f\x8b") == compress
    out = read_idx(path)
    assert out.dtype == np.uint8 and out.shape == (2, 3, 4)
    np.testing.assert_array_equal(out, arr)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.float32, np.float64])
def test_idx_other_element_types_are_big_endian_on_disk(tmp_path, dtype):
    arr = (np.arange(6) - 3).astype(dtype).reshape(3, 2)
    path = tmp_path / "t.idx"
    write_idx(path, arr)
    raw = path.read_bytes()
    assert raw[12:] == arr.astype(np.dtype(dtype).newbyteorder(">")).tobytes()
    out = read_idx(path)
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative
    np.testing.assert_array_equal(out, arr)


def test_idx_reads_handwritten_header(tmp_path):
    path = tmp_path / "labels"
    path.write_bytes(_idx_bytes(0x08, [3], bytes([7, 0, 9])))
    np.testing.assert_array_equal(read_idx(path), [7, 0, 9])


@pytest.mark.parametrize("compress", [False, True])
def test_idx_truncated_payload(tmp_path, compress):
    data = _idx_bytes(0x08, [4, 5], bytes(19))  # header promises 20 bytes
    path = tmp_path / "short"
    path.write_bytes(gzip.compress(data) if compress else data)
    with pytest.raises(ValueError, match=r"short: truncated IDX file.*\(4, 5\)"):
        read_idx(path)


def test_idx_truncated_header(tmp_path):
    path = tmp_path / "hdr"
    path.write_bytes(bytes([0, 0, 8, 3]) + bytes(5))
    with pytest.raises(ValueError, match="hdr: truncated IDX file: the 3 dimensions"):
        read_idx(path)


def test_idx_truncated_gzip_stream(tmp_path):
    blob = gzip.compress(_idx_bytes(0x08, [1000], bytes(range(256)) * 4)[:1012])
    path = tmp_path / "cut.gz"
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ValueError, match="cut.gz: corrupt or truncated gzip"):
        read_idx(path)


def test_idx_corrupt_gzip_stream(tmp_path):
    blob = bytearray(gzip.compress(_idx_bytes(0x08, [64], bytes(range(64)))))
    blob[-8] ^= 0xFF  # CRC
    path = tmp_path / "bad.gz"
    path.write_bytes(bytes(blob))
    with pytest.raises(ValueError, match="bad.gz: corrupt or truncated gzip"):
        read_idx(path)


@pytest.mark.parametrize("compress", [False, True])
def test_idx_trailing_data_rejected(tmp_path, compress):
    data = _idx_bytes(0x08, [2, 2], bytes(5))
    path = tmp_path / "long"
    path.write_bytes(gzip.compress(data) if compress else data)
    with pytest.raises(ValueError, match="long: "):
        read_idx(path)


@pytest.mark.parametrize("magic, message", [
    (b"\x01\x00\x08\x01", "not an IDX file: magic number 01000801"),
    (b"PK\x03\x04", "not an IDX file"),
    (b"\x00\x00\x07\x01", "unknown IDX element type 0x07"),
    (b"\x00\x00\x08\x00", "0 dimensions"),
])
def test_idx_wrong_magic(tmp_path, magic, message):
    path = tmp_path / "m"
    path.write_bytes(magic + bytes(8))
    with pytest.raises(ValueError, match=message):
        read_idx(path)


def test_idx_absurd_dimensions_rejected_before_allocating(tmp_path):
    path = tmp_path / "huge.gz"
    path.write_bytes(gzip.compress(_idx_bytes(0x0E, [0xFFFFFFFF] * 4, b"")))
    with pytest.raises(ValueError, match="huge.gz: IDX header declares shape .* limit"):
        read_idx(path)
    small = tmp_path / "small"
    small.write_bytes(_idx_bytes(0x08, [100], bytes(100)))
    with pytest.raises(ValueError, match="limit"):
        read_idx(small, max_bytes=99)


def _peak_refusing(path, match):
    """Peak bytes Python allocated while read_idx(path) raised a ValueError matching `match`."""
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=match):
            read_idx(path)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_idx_gzip_claiming_more_than_deflate_can_hold_is_refused_at_once(tmp_path):
    """A 40-byte gzip file claiming 65535 x 65535 bytes (under the 4 GiB limit): refused from the
    file's size, before any allocation (it was a 4 GB np.empty)."""
    path = tmp_path / "liar.gz"
    path.write_bytes(gzip.compress(_idx_bytes(0x08, [65535, 65535], b"")))
    assert path.stat().st_size < 64
    assert _peak_refusing(path, "liar.gz: .*more than a gzip file of") < 1 << 20


def test_idx_gzip_memory_follows_the_data_not_the_header(tmp_path):
    """A header claiming 200 MB over 1 MB of (incompressible) data, a stream that could hold the
    claim: a truncation error after allocating about what arrived, not 200 MB."""
    path = tmp_path / "short.gz"
    data = np.random.default_rng(0).integers(0, 256, 1 << 20, dtype=np.uint8).tobytes()
    path.write_bytes(gzip.compress(_idx_bytes(0x08, [200, 1000, 1000], data)))
    payload = path.stat().st_size * 1032
    assert payload > 200 * 1000 * 1000  # the claim passes the ratio test
    assert _peak_refusing(path, "truncated IDX file.*only 1048576 present") < 8 << 20


def test_idx_large_gzip_reads_through_a_growing_buffer(tmp_path):
    arr = (np.arange(5 * 1000 * 1000) % 251).astype(np.uint8).reshape(5, 1000, 1000)
    write_idx(tmp_path / "big.gz", arr, compress=True)
    np.testing.assert_array_equal(read_idx(tmp_path / "big.gz"), arr)


def test_idx_write_rejects_unsupported_dtype(tmp_path):
    with pytest.raises(ValueError, match="uint32"):
        write_idx(tmp_path / "x", np.zeros(3, np.uint32))


# ---------------------------------------------------------------- search order

def _write_dataset(directory, n_train=6, n_test=4, compress=True, fill=0):
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {
        "x_train": np.full((n_train, 28, 28), fill, np.uint8),
        "y_train": np.arange(n_train, dtype=np.uint8) % 10,
        "x_test": np.full((n_test, 28, 28), fill, np.uint8),
        "y_test": np.arange(n_test, dtype=np.uint8) % 10,
    }
    for role, stem in MNIST_FILES.items():
        write_idx(directory / (stem + (".gz" if compress else "")), arrays[role], compress)
    return directory


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No real locations: empty env, cache in tmp, a fake system dir, downloads forbidden."""
    monkeypatch.delenv("FASTMLP_DATA", raising=False)
    monkeypatch.delenv("FASTMLP_NO_DOWNLOAD", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    system = tmp_path / "system" / "fashion-mnist"
    monkeypatch.setattr(fashion_mnist, "SPEC", dataclasses.replace(
        fashion_mnist.SPEC, system_dirs=(str(system),)))

    def no_network(url, dest, timeout=None):
        raise AssertionError(f"test tried to download {url}")

    monkeypatch.setattr(_sources, "fetch_url", no_network)
    return tmp_path, system


def _fill_of(result):
    (x_train, _), _ = result
    return int(x_train[0, 0, 0])


def test_search_order_path_env_cache_system(isolated, monkeypatch):
    tmp, system = isolated
    _write_dataset(system, fill=4)
    assert _fill_of(fashion_mnist.load_data()) == 4
    _write_dataset(tmp / "cache" / "fastmlp" / "fashion-mnist", fill=3)
    assert _fill_of(fashion_mnist.load_data()) == 3
    _write_dataset(tmp / "env" / "fashion-mnist", fill=2, compress=False)
    monkeypatch.setenv("FASTMLP_DATA", str(tmp / "env"))
    assert _fill_of(fashion_mnist.load_data()) == 2
    _write_dataset(tmp / "env", fill=5)  # the env dir itself comes before its subdirectory
    assert _fill_of(fashion_mnist.load_data()) == 5
    _write_dataset(tmp / "explicit", fill=1)
    assert _fill_of(fashion_mnist.load_data(path=tmp / "explicit")) == 1


def test_env_alias_subdirectory(isolated, monkeypatch):
    tmp, _ = isolated
    _write_dataset(tmp / "env" / "fashion_mnist", fill=9)
    monkeypatch.setenv("FASTMLP_DATA", str(tmp / "env"))
    assert _fill_of(fashion_mnist.load_data()) == 9


def test_explicit_path_is_not_silently_replaced(isolated):
    tmp, system = isolated
    _write_dataset(system, fill=4)
    (tmp / "empty").mkdir()
    with pytest.raises(DatasetNotFoundError, match="empty does not hold all of"):
        fashion_mnist.load_data(path=tmp / "empty")


def test_incomplete_directory_is_skipped(isolated):
    tmp, system = isolated
    _write_dataset(system, fill=4)
    partial = _write_dataset(tmp / "cache" / "fastmlp" / "fashion-mnist", fill=3)
    (partial / "t10k-labels-idx1-ubyte.gz").unlink()
    assert _fill_of(fashion_mnist.load_data()) == 4


def test_shape_mismatch_between_files_names_them(isolated, tmp_path):
    d = _write_dataset(tmp_path / "bad")
    write_idx(d / "train-labels-idx1-ubyte.gz", np.zeros(5, np.uint8), compress=True)
    with pytest.raises(ValueError, match="6 images but .*train-labels-idx1-ubyte.gz has 5"):
        fashion_mnist.load_data(path=d)


def test_offline_error_says_how_to_get_the_data(isolated, monkeypatch):
    monkeypatch.setenv("FASTMLP_NO_DOWNLOAD", "1")
    with pytest.raises(DatasetNotFoundError) as info:
        fashion_mnist.load_data()
    msg = str(info.value)
    assert "apt-get install dataset-fashion-mnist" in msg
    assert "FASTMLP_DATA" in msg and "path=" in msg
    assert "train-images-idx3-ubyte" in msg


def test_failed_download_error_lists_urls_and_remedies(isolated, monkeypatch):
    def offline(url, dest, timeout=None):
        raise OSError("network unreachable")

    monkeypatch.setattr(_sources, "fetch_url", offline)
    with pytest.raises(DatasetNotFoundError) as info:
        mnist.load_data()
    msg = str(info.value)
    assert "ossci-datasets" in msg and "network unreachable" in msg
    assert "FASTMLP_DATA" in msg and "path=" in msg


# ---------------------------------------------------------------- downloads (no network)

def _mirror_with(tmp_path, fill=7):
    """A local directory of gzip IDX files served through file:// URLs, with their digests."""
    mirror = _write_dataset(tmp_path / "mirror", fill=fill)
    digests = {stem + ".gz": hashlib.sha256((mirror / (stem + ".gz")).read_bytes()).hexdigest()
               for stem in MNIST_FILES.values()}
    return mirror.as_uri() + "/", digests


def test_download_from_file_url_verifies_and_caches(isolated, monkeypatch):
    tmp, _ = isolated
    monkeypatch.setattr(_sources, "fetch_url", _real_fetch_url)  # file:// through urllib
    base, digests = _mirror_with(tmp)
    monkeypatch.setattr(fashion_mnist, "SPEC", dataclasses.replace(
        fashion_mnist.SPEC, mirrors=("file:///nonexistent/dir/", base), sha256=digests))
    assert _fill_of(fashion_mnist.load_data()) == 7
    cached = tmp / "cache" / "fastmlp" / "fashion-mnist"
    assert sorted(p.name for p in cached.iterdir()) == sorted(digests)
    # Second call: served from the cache, no download.
    monkeypatch.setattr(_sources, "fetch_url", lambda *a, **k: pytest.fail("downloaded again"))
    assert _fill_of(fashion_mnist.load_data()) == 7


def test_download_sha256_mismatch_rejected(isolated, monkeypatch):
    tmp, _ = isolated
    monkeypatch.setattr(_sources, "fetch_url", _real_fetch_url)
    base, digests = _mirror_with(tmp)
    wrong = dict(digests, **{"t10k-images-idx3-ubyte.gz": "0" * 64})
    monkeypatch.setattr(fashion_mnist, "SPEC", dataclasses.replace(
        fashion_mnist.SPEC, mirrors=(base,), sha256=wrong))
    with pytest.raises(DatasetNotFoundError, match="SHA-256 mismatch"):
        fashion_mnist.load_data()
    cached = tmp / "cache" / "fastmlp" / "fashion-mnist"
    names = sorted(p.name for p in cached.iterdir())
    assert "t10k-images-idx3-ubyte.gz" not in names
    assert not [n for n in names if n.endswith(".part")], "temporary file left behind"


def test_download_falls_back_to_next_mirror_with_patched_opener(isolated, monkeypatch):
    tmp, _ = isolated
    payload = gzip.compress(_idx_bytes(0x08, [2], b"\x01\x02"))
    digest = hashlib.sha256(payload).hexdigest()
    calls = []

    def fake_fetch(url, dest, timeout=None):
        calls.append(url)
        if "first" in url:
            raise OSError("connection refused")
        dest.write_bytes(payload)

    monkeypatch.setattr(_sources, "fetch_url", fake_fetch)
    dest = tmp / "dl" / "f.gz"
    _sources.download_file(["http://first/f.gz", "http://second/f.gz"], dest, digest)
    assert calls == ["http://first/f.gz", "http://second/f.gz"]
    np.testing.assert_array_equal(read_idx(dest), [1, 2])


def test_published_digests_are_well_formed():
    for spec in (mnist.SPEC, fashion_mnist.SPEC):
        assert set(spec.sha256) == {stem + ".gz" for stem in MNIST_FILES.values()}
        assert all(len(d) == 64 and int(d, 16) >= 0 for d in spec.sha256.values())
        assert all(m.endswith("/") for m in spec.mirrors)


# ---------------------------------------------------------------- shipped and real data

def test_shipped_fashion_mnist_small():
    (x_train, y_train), (x_test, y_test) = fashion_mnist_small.load_data()
    assert x_train.shape == (1000, 28, 28) and y_train.shape == (1000,)
    assert x_test.shape == (300, 28, 28) and y_test.shape == (300,)
    for a in (x_train, y_train, x_test, y_test):
        assert a.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(y_train, minlength=10), [100] * 10)
    np.testing.assert_array_equal(np.bincount(y_test, minlength=10), [30] * 10)
    assert x_train.max() == 255 and 40 < x_train.mean() < 110  # real images, not blank
    size = sum(os.path.getsize(p) for p in fashion_mnist_small.DATA_DIR.iterdir())
    assert size < 700_000


def test_shipped_diabetes():
    x, y = diabetes.load_data()
    assert x.shape == (442, 10) and y.shape == (442,)
    assert x.dtype == np.float32 and y.dtype == np.float32
    assert y.min() == 25 and y.max() == 346
    assert set(np.unique(x[:, 1])) == {1.0, 2.0}  # sex, unstandardized


@pytest.mark.skipif(not os.path.isdir("/usr/share/datasets/fashion-mnist"),
                    reason="Debian's dataset-fashion-mnist is not installed")
def test_real_fashion_mnist_from_debian_matches_keras_layout():
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data(
        path="/usr/share/datasets/fashion-mnist", download=False)
    assert x_train.shape == (60000, 28, 28) and y_train.shape == (60000,)
    assert x_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
    assert x_train.dtype == y_train.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(y_test), [1000] * 10)
    # The shipped subset really is drawn from these files.
    (xs, ys), _ = fashion_mnist_small.load_data()
    flat = x_train.reshape(60000, -1)
    hit = np.flatnonzero((flat == xs[0].reshape(-1)).all(axis=1))
    assert hit.size >= 1 and y_train[hit[0]] == ys[0]


# ---------------------------------------------------------------- synthetic

def test_spirals_shape_balance_determinism():
    x, y = make_spirals(501, noise=0.05, seed=3)
    assert x.shape == (501, 2) and x.dtype == np.float32 and y.dtype == np.int32
    assert abs(int((y == 0).sum()) - int((y == 1).sum())) <= 1
    x2, y2 = make_spirals(501, noise=0.05, seed=3)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(x, make_spirals(501, noise=0.05, seed=4)[0])
    # Noise-free points lie within the unit disc (the radius is sqrt of a uniform draw).
    xc, yc = make_spirals(2000, noise=0.0, seed=0)
    assert np.abs(np.hypot(xc[:, 0], xc[:, 1])).max() <= 1.0 + 1e-6


def test_moons_match_sklearn_geometry():
    x, y = make_moons(200, noise=0.0, seed=0)
    assert x.shape == (200, 2) and x.dtype == np.float32
    np.testing.assert_array_equal(np.bincount(y), [100, 100])
    upper = x[y == 0]
    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0, atol=1e-6)
    lower = x[y == 1]
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1, lower[:, 1] - 0.5), 1.0, atol=1e-6)
    np.testing.assert_array_equal(make_moons(200, 0.2, seed=1)[0], make_moons(200, 0.2, seed=1)[0])


def test_regression_is_linear_in_informative_features():
    x, y, w = make_regression(300, n_features=8, n_informative=3, bias=2.5, seed=1, coef=True)
    assert x.shape == (300, 8) and y.shape == (300,) and w.shape == (8,)
    assert x.dtype == y.dtype == np.float32
    assert np.count_nonzero(w) == 3 and np.all(w[3:] == 0)
    np.testing.assert_allclose(y, x @ w + 2.5, rtol=1e-4, atol=1e-3)
    _, y2 = make_regression(50, n_features=4, n_targets=3, noise=1.0, seed=0)
    assert y2.shape == (50, 3)


@pytest.mark.parametrize("call, message", [
    (lambda: make_spirals(1), "n_samples must be an integer >= 2, got 1"),
    (lambda: make_moons(10, noise=-1), "noise must be a finite number >= 0"),
    (lambda: make_regression(10, n_features=0), "n_features must be an integer >= 1"),
    (lambda: make_spirals(10, turns=float("nan")), "turns"),
])
def test_generators_reject_bad_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_keras_style_access():
    import fastmlp as keras

    assert keras.datasets.fashion_mnist.load_data is fashion_mnist.load_data
    assert keras.datasets.mnist.load_data is mnist.load_data
