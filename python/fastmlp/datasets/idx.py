"""Reader and writer for the IDX format of the MNIST family (http://yann.lecun.com/exdb/mnist/).

An IDX file is a 4-byte magic number ``00 00 <type> <ndim>``, then ``ndim`` big-endian uint32
dimensions, then the array in C order, big-endian. Files may be gzip-compressed; compression is
detected from the content (the gzip magic bytes), never from the file name.

The reader validates everything before trusting it: the magic number, the element type, the
number of dimensions, that the payload the header promises is not absurd (checked before any
allocation), and that the file holds exactly that payload — no less (truncated) and no more
(trailing data means the header is wrong). Memory follows the data actually present, never the
header's claim: a raw file's size is compared with the claim before allocating, and a gzip
stream (whose own length field is only the size modulo 4 GiB, and as trustworthy as the header)
is decompressed into a buffer that grows with what arrives. Every failure is a ValueError naming
the file.
"""

from __future__ import annotations

import gzip
import os
import typing as _typing
import zlib

import numpy as np

if _typing.TYPE_CHECKING:
    from typing import BinaryIO, Union

    PathLike = Union[str, "os.PathLike[str]"]

__all__ = ["DEFAULT_MAX_BYTES", "IDX_DTYPES", "is_gzip", "read_idx", "write_idx"]

# IDX element type codes -> big-endian NumPy dtypes (from the format specification).
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"
# The largest payload the reader allocates unless told otherwise: 4 GiB is ~25x full MNIST, so a
# header claiming more is far likelier to be corrupt than real.
DEFAULT_MAX_BYTES = 1 << 32
_CHUNK = 1 << 20
_MAX_DEFLATE_RATIO = 1032  # deflate's best case: 258-byte matches coded in ~2 bits


def is_gzip(path: PathLike) -> bool:
    """Whether the file starts with the gzip magic bytes."""
    with open(path, "rb") as f:
        return f.read(2) == _GZIP_MAGIC


def _read_exact(stream: BinaryIO, n: int, path: PathLike, what: str) -> bytes:
    data = stream.read(n)
    if len(data) != n:
        raise ValueError(f"{os.fspath(path)}: truncated IDX file: {what} needs {n} bytes, "
                         f"only {len(data)} present")
    return data


def _parse_header(stream: BinaryIO, path: PathLike, max_bytes: int):
    """Read and check the magic number and dimensions; return (dtype, shape, payload bytes)."""
    magic = _read_exact(stream, 4, path, "the magic number")
    if magic[0] != 0 or magic[1] != 0:
        raise ValueError(f"{os.fspath(path)}: not an IDX file: magic number {magic.hex()} "
                         "does not start with 0000")
    dtype = IDX_DTYPES.get(magic[2])
    if dtype is None:
        raise ValueError(f"{os.fspath(path)}: unknown IDX element type 0x{magic[2]:02x} "
                         f"(expected one of {', '.join(f'0x{c:02x}' for c in IDX_DTYPES)})")
    ndim = magic[3]
    if ndim == 0:
        raise ValueError(f"{os.fspath(path)}: IDX header declares 0 dimensions")
    raw_dims = _read_exact(stream, 4 * ndim, path, f"the {ndim} dimensions")
    shape = tuple(int(d) for d in np.frombuffer(raw_dims, dtype=">u4"))
    # Python ints: the product cannot overflow, so the size guard below is exact.
    nbytes = dtype.itemsize
    for d in shape:
        nbytes *= d
    if nbytes > max_bytes:
        raise ValueError(f"{os.fspath(path)}: IDX header declares shape {shape} "
                         f"({nbytes} bytes), more than the {max_bytes}-byte limit; "
                         "the file is corrupt or not an IDX file")
    return dtype, shape, nbytes


def _read_payload(stream: BinaryIO, path: PathLike, dtype: np.dtype, shape, nbytes: int,
                  capacity: int):
    """Read exactly `nbytes` in chunks, then insist on end of file. The buffer starts at
    `capacity` bytes and doubles as data arrives, so a header claiming more than the stream
    holds costs at most twice what the stream really holds."""
    out = np.empty(min(nbytes, capacity), dtype=np.uint8)
    pos = 0
    while pos < nbytes:
        if pos == out.size:
            grown = np.empty(min(nbytes, 2 * out.size), dtype=np.uint8)
            grown[:pos] = out
            out = grown
        got = stream.readinto(memoryview(out)[pos:pos + _CHUNK])
        if not got:
            raise ValueError(f"{os.fspath(path)}: truncated IDX file: header declares shape "
                             f"{shape} ({nbytes} data bytes), only {pos} present")
        pos += got
    if stream.read(1):
        raise ValueError(f"{os.fspath(path)}: IDX file has data beyond the {nbytes} bytes its "
                         f"header declares for shape {shape}")
    return out.view(dtype).reshape(shape).astype(dtype.newbyteorder("="), copy=False)


def read_idx(path: PathLike, max_bytes: int = DEFAULT_MAX_BYTES) -> np.ndarray:
    """Read an IDX file (raw or gzip-compressed) into a native-endian NumPy array.

    Raises ValueError naming the file on a wrong magic number, an unknown element type, an
    absurd declared size (more than `max_bytes`), a truncated or over-long file, or a corrupt
    gzip stream; FileNotFoundError if it does not exist.
    """
    compressed = is_gzip(path)
    opener = gzip.open if compressed else open
    try:
        with opener(path, "rb") as stream:
            dtype, shape, nbytes = _parse_header(stream, path, max_bytes)
            if not compressed:
                expected = 4 + 4 * len(shape) + nbytes
                actual = os.path.getsize(path)
                if actual != expected:
                    kind = "truncated IDX file" if actual < expected else "IDX file too long"
                    raise ValueError(f"{os.fspath(path)}: {kind}: header declares shape {shape} "
                                     f"so the file should be {expected} bytes, it is {actual}")
                return _read_payload(stream, path, dtype, shape, nbytes, nbytes)
            # Deflate expands at most 1032x: a claim beyond that is a lie, refused at once. Below
            # it, the buffer starts small and grows with the data that really arrives.
            compressed_size = os.path.getsize(path)
            if nbytes > _MAX_DEFLATE_RATIO * compressed_size:
                raise ValueError(f"{os.fspath(path)}: IDX header declares shape {shape} "
                                 f"({nbytes} bytes), more than a gzip file of {compressed_size} "
                                 "bytes can hold; the file is corrupt")
            return _read_payload(stream, path, dtype, shape, nbytes, _CHUNK)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise ValueError(f"{os.fspath(path)}: corrupt or truncated gzip stream ({exc})") from exc


def write_idx(path: PathLike, array: np.ndarray, compress: bool = False) -> None:
    """Write `array` as an IDX file (gzip-compressed if `compress`); used for tests and subsets."""
    array = np.asarray(array)
    codes = {dt.newbyteorder("="): code for code, dt in IDX_DTYPES.items()}
    code = codes.get(array.dtype.newbyteorder("="))
    if code is None:
        raise ValueError(f"array dtype {array.dtype} has no IDX type code")
    if array.ndim == 0 or array.ndim > 255:
        raise ValueError(f"array must have 1 to 255 dimensions, got {array.ndim}")
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    payload = np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()
    if compress:
        # mtime=0 keeps the output byte-identical across runs.
        with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0,
                                                    compresslevel=9) as f:
            f.write(header + payload)
    else:
        with open(path, "wb") as f:
            f.write(header + payload)
