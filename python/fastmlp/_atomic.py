"""Atomic file writes, shared by every writer of fastmlp files (models, weights, downloads).

A file is written to a temporary beside the target, flushed to disk and renamed over it, so a
crash leaves either the old file or the new one. Temporaries are named
``.<target name>.<host>-<pid>-<random>.fastmlp-tmp``: a writer killed mid-write (``kill -9``,
power loss) leaves one behind, and the next write to the same directory removes those whose
writer, a process on this host, no longer runs. Nothing else is ever removed: not other names,
not other hosts' temporaries (a shared directory), not those of live processes.

Temporaries are created with mode 0666 and the umask applied by the kernel (as a plain
``open()`` would); when the target exists its permission bits are kept.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import socket
import stat
from typing import BinaryIO, Callable, Tuple

TEMP_SUFFIX = ".fastmlp-tmp"
_TEMP_NAME = re.compile(r"^\..+\.(?P<host>[0-9a-f]{8})-(?P<pid>[0-9]{1,10})-[0-9a-f]{8}"
                        + re.escape(TEMP_SUFFIX) + r"$")
# The target's name is shortened in the temporary's so the whole stays under NAME_MAX (255).
_MAX_BASE = 120


def _host_tag() -> str:
    return hashlib.sha256(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError, OverflowError):  # someone else's, or not checkable
        return True
    return True


def remove_stale_temps(directory: str) -> int:
    """Removes this host's fastmlp temporaries in ``directory`` whose writing process is dead;
    returns how many. Errors (a race with another cleaner, permissions) are ignored."""
    if os.name != "posix":  # os.kill(pid, 0) is not a liveness test elsewhere
        return 0
    host, me, removed = _host_tag(), os.getpid(), 0
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return 0
    for entry in entries:
        match = _TEMP_NAME.match(entry.name) if entry.name.endswith(TEMP_SUFFIX) else None
        if match is None or match["host"] != host:
            continue
        pid = int(match["pid"])
        try:
            if pid == me or _alive(pid) or not entry.is_file(follow_symlinks=False):
                continue
            os.unlink(entry.path)
            removed += 1
        except OSError:
            pass
    return removed


def create_temp(directory: str, target_name: str) -> Tuple[int, str]:
    """A new temporary file in ``directory`` for ``target_name``: (open fd, path)."""
    base = target_name[:_MAX_BASE]
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) \
        | getattr(os, "O_NOFOLLOW", 0)
    host, pid = _host_tag(), os.getpid()
    while True:
        path = os.path.join(directory, f".{base}.{host}-{pid}-{secrets.token_hex(4)}"
                                       f"{TEMP_SUFFIX}")
        try:
            return os.open(path, flags, 0o666), path
        except FileExistsError:
            continue


def _keep_mode(fd: int, target: str) -> None:
    """Gives the new file the target's permission bits, as rewriting it in place would."""
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except OSError:  # no target yet: the umask-applied mode from create_temp stands
        return
    try:
        os.fchmod(fd, mode)
    except (OSError, AttributeError):  # not supported on this platform / file system
        pass


def _fsync_directory(directory: str) -> None:
    try:  # makes the rename itself durable; not possible on every platform
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def write_atomically(path: str, write: Callable[[BinaryIO], None]) -> None:
    """Calls ``write(f)`` on a temporary beside ``path``, then fsyncs and renames it over
    ``path``. On any failure the temporary is removed and an existing file is untouched."""
    directory = os.path.dirname(os.path.abspath(path))
    remove_stale_temps(directory)
    fd, tmp = create_temp(directory, os.path.basename(path))
    try:
        _keep_mode(fd, path)
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_directory(directory)
