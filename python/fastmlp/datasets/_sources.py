"""Finding a data set's files on disk, or downloading them with SHA-256 verification.

Search order (first directory holding all the files wins):
  1. the ``path`` argument;
  2. ``$FASTMLP_DATA`` and its ``<name>`` subdirectory;
  3. the user cache ``~/.cache/fastmlp/<name>`` (``$XDG_CACHE_HOME`` honoured);
  4. system data packages (Debian's ``/usr/share/datasets/<name>``);
  5. a download from the canonical mirrors into the user cache.
Each file may be stored gzip-compressed (``.gz``) or raw; the IDX reader detects which.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from fastmlp import _atomic

DOWNLOAD_TIMEOUT_S = 20.0


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """Where a data set's four IDX files come from and how to check them."""

    name: str                     # cache subdirectory and $FASTMLP_DATA subdirectory
    aliases: Tuple[str, ...]      # other subdirectory names to look in (e.g. "fashion_mnist")
    files: Dict[str, str]         # role -> file stem, "x_train" -> "train-images-idx3-ubyte"
    sha256: Dict[str, str]        # stem + ".gz" -> SHA-256 of the file the mirrors serve
    mirrors: Tuple[str, ...]      # base URLs ending in "/", tried in order
    system_dirs: Tuple[str, ...]  # directories of OS data packages
    install_hint: str             # the OS package command, if there is one


class DatasetNotFoundError(FileNotFoundError):
    """The data set is not on disk and could not be downloaded; the message says how to get it."""


def cache_dir(name: str) -> Path:
    """``$XDG_CACHE_HOME/fastmlp/<name>`` (default ``~/.cache/fastmlp/<name>``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "fastmlp" / name


def candidate_dirs(spec: DatasetSpec, path: Optional[os.PathLike] = None) -> List[Path]:
    """The directories searched, in order (step 5, the download, targets `cache_dir`)."""
    dirs: List[Path] = []
    if path is not None:
        dirs.append(Path(path))
    env = os.environ.get("FASTMLP_DATA")
    if env:
        root = Path(env)
        dirs += [root] + [root / sub for sub in (spec.name,) + spec.aliases]
    dirs.append(cache_dir(spec.name))
    dirs += [Path(d) for d in spec.system_dirs]
    return dirs


def _find_in(directory: Path, stems: Sequence[str]) -> Optional[Dict[str, Path]]:
    """Map each stem to its file in `directory` (``.gz`` preferred), or None if any is missing."""
    found: Dict[str, Path] = {}
    for stem in stems:
        for candidate in (directory / (stem + ".gz"), directory / stem):
            if candidate.is_file():
                found[stem] = candidate
                break
        else:
            return None
    return found


def sha256_of(path: os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_url(url: str, dest: Path, timeout: float = DOWNLOAD_TIMEOUT_S) -> None:
    """Copy `url` to `dest`. Module-level so tests can replace it: they must not use the network."""
    with urllib.request.urlopen(url, timeout=timeout) as response, open(dest, "wb") as out:
        shutil.copyfileobj(response, out)


def download_file(urls: Sequence[str], dest: Path, sha256: str) -> None:
    """Download to a temporary file beside `dest`, verify its SHA-256, then rename atomically.

    Tries each URL in turn; raises OSError listing every failure if none gives the right bytes.
    A file with the wrong digest is deleted and never becomes `dest`.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    _atomic.remove_stale_temps(str(dest.parent))  # left by an interrupted download
    errors = []
    for url in urls:
        # Mode 0666 minus the umask, as a plain open() gives (mkstemp's 0600 would make a
        # shared data directory unreadable to others).
        fd, tmp_name = _atomic.create_temp(str(dest.parent), dest.name)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            fetch_url(url, tmp)
            got = sha256_of(tmp)
            if got != sha256:
                errors.append(f"{url}: SHA-256 mismatch (got {got}, expected {sha256})")
                continue
            os.replace(tmp, dest)
            return
        except (OSError, urllib.error.URLError, ValueError) as exc:
            errors.append(f"{url}: {exc}")
        finally:
            if tmp.exists():
                tmp.unlink()
    raise OSError(f"could not download {dest.name}:\n  " + "\n  ".join(errors))


def _not_found_message(spec: DatasetSpec, searched: Sequence[Path], why: str) -> str:
    names = ", ".join(stem + "[.gz]" for stem in spec.files.values())
    steps = []
    if spec.install_hint:
        steps.append(spec.install_hint)
    steps += [f"put the four files ({names}) in a directory and set FASTMLP_DATA to it, "
              f"or pass path=<that directory>",
              f"or copy them to {cache_dir(spec.name)}"]
    return (f"{spec.name} not found. Searched: {', '.join(str(d) for d in searched)}. "
            f"Download failed: {why}\nTo get it:\n  - " + "\n  - ".join(steps))


def locate(spec: DatasetSpec, path: Optional[os.PathLike] = None,
           download: bool = True) -> Dict[str, Path]:
    """Return role -> file path for the data set, downloading into the cache if needed.

    With an explicit `path`, only that directory is searched: a user who names a directory
    wants those files, and silently using others would hide a mistake.
    """
    stems = list(spec.files.values())
    searched = [Path(path)] if path is not None else candidate_dirs(spec)
    for directory in searched:
        found = _find_in(directory, stems)
        if found is not None:
            return {role: found[stem] for role, stem in spec.files.items()}
    if path is not None:
        raise DatasetNotFoundError(
            f"{spec.name}: {os.fspath(path)} does not hold all of "
            f"{', '.join(stem + '[.gz]' for stem in stems)}")
    if not download or os.environ.get("FASTMLP_NO_DOWNLOAD", "0") not in ("", "0"):
        raise DatasetNotFoundError(_not_found_message(
            spec, searched, "downloads disabled (download=False or FASTMLP_NO_DOWNLOAD set)"))
    target = cache_dir(spec.name)
    try:
        for stem in stems:
            dest = target / (stem + ".gz")
            if not dest.is_file():
                download_file([m + stem + ".gz" for m in spec.mirrors], dest,
                              spec.sha256[stem + ".gz"])
    except OSError as exc:
        raise DatasetNotFoundError(_not_found_message(spec, searched, str(exc))) from exc
    return {role: target / (stem + ".gz") for role, stem in spec.files.items()}
