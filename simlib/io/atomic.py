"""Atomic writes: a reader never sees a half-written file or folder.

Everything is written under a temporary name in the destination's own folder (so the final
rename stays on one file system) and renamed into place only once complete; on any error the
temporary file or folder is removed and what was at the destination is left as it was.

* :func:`write_text_atomic` writes a text file (flushed and synced before the rename);
* :func:`atomic_file` hands out a temporary path to write with any writer (``to_parquet``,
  ``to_csv``, papermill) and renames it into place when the block ends without error;
* :func:`atomic_new_folder` hands out a temporary folder that becomes the destination folder; when
  another process created the destination meanwhile, theirs is kept (for entries that any two
  writers write identically, such as cache entries).

Replacing an existing *folder* in one step (a result folder) needs more care, an atomic
exchange where the system has one: :class:`simlib.results.atomic_folder` does that.

**Temporary names** are ``.NAME.tmp-HOST-PID-XXXXXXXX``: hidden, beside ``NAME``, with a tag of
this machine's host name (6 hex digits) and the writer's process id. A writer killed with
``kill -9`` cannot remove its temporary; the next write of the same destination does, once the
name's process is no longer running on this machine (:func:`remove_stale_beside`). A
temporary of another machine (a shared drive) or of a name without a writer is removed when it
is an hour old.

**Permissions** follow the user's umask: a file is created ``0o666 & ~umask`` and a folder
``0o777 & ~umask``, as ``open`` and ``mkdir`` would (the ``tempfile`` calls behind the temporary
names create ``0600``/``0700``; the mode is set before the rename).

**Errors** name the destination the user gave, never a temporary name: a destination that
cannot be used at all (no permission, a read-only file system, a folder where a file is to go)
is a :class:`~simlib.errors.UserInputError` (exit code 2), a write that fails midway (disk full,
input/output error) a :class:`~simlib.errors.StorageError` (exit code 1).
"""

from __future__ import annotations

import contextlib
import errno
import glob
import hashlib
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from ..errors import SimlibError, StorageError, UserInputError

__all__ = [
    "atomic_file",
    "atomic_new_folder",
    "file_mode",
    "folder_mode",
    "pid_alive",
    "remove_stale_beside",
    "remove_stale_temporaries",
    "storage_error",
    "temp_prefix",
    "write_text_atomic",
]

#: A temporary whose writer cannot be checked (another machine's) is left this long (seconds).
STALE_SECONDS = 3600.0
_HOST = hashlib.sha256(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:6]
#: errno values meaning "this destination cannot be used" (a user error) rather than "the write
#: failed midway" (a storage error)
_UNUSABLE = {
    errno.EACCES,
    errno.EPERM,
    errno.EROFS,
    errno.ENOTDIR,
    errno.EISDIR,
    errno.EEXIST,
    errno.ENAMETOOLONG,
    errno.ELOOP,
}


def _umask() -> int:
    """The process's umask, read without changing it where the system tells (Linux), else by
    setting and restoring it (briefly to 0o077: a file another thread creates meanwhile is
    private, never more open than asked)."""
    with (
        contextlib.suppress(OSError, ValueError),
        open("/proc/self/status", encoding="ascii", errors="replace") as fh,
    ):
        for line in fh:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    old = os.umask(0o077)
    os.umask(old)
    return old


def file_mode() -> int:
    """The mode ``open`` gives a new file under the user's umask (``0o666 & ~umask``)."""
    return 0o666 & ~_umask()


def folder_mode() -> int:
    """The mode ``mkdir`` gives a new folder under the user's umask (``0o777 & ~umask``)."""
    return 0o777 & ~_umask()


def temp_prefix(dest: Path) -> str:
    """``.NAME.tmp-HOST-PID-``: the start of a temporary name beside ``dest`` naming its writer."""
    return f".{dest.name}.tmp-{_HOST}-{os.getpid()}-"


def pid_alive(pid: int) -> bool:
    """True when a process with id ``pid`` runs on this machine (another user's counts)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, another user's (or the check is not allowed): assume alive
        return True
    return True


def _writer_gone(path: Path, prefix: str, now: float) -> bool:
    """True when the temporary ``path`` (its name starting ``prefix``) belongs to no live writer:
    this machine's, with a process id that is not running; else when it is an hour old."""
    host, _, rest = path.name[len(prefix) :].partition("-")
    pid, _, _ = rest.partition("-")
    if host == _HOST and pid.isdigit():
        return int(pid) != os.getpid() and not pid_alive(int(pid))
    try:
        return now - path.lstat().st_mtime > STALE_SECONDS
    except OSError:
        return False


def remove_stale_temporaries(folder: Path, pattern: str = ".*.tmp-*") -> list[Path]:
    """Remove the temporaries in ``folder`` matching the glob ``pattern`` whose writers are gone
    (see the module docstring); returns them. Errors are ignored (a temporary that cannot be
    removed now is tried again next time)."""
    now = time.time()
    removed = []
    with contextlib.suppress(OSError):
        for path in Path(folder).glob(pattern):
            start = path.name.rfind(".tmp-")
            if start < 0 or not _writer_gone(path, path.name[: start + 5], now):
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def remove_stale_beside(dest: Path) -> list[Path]:
    """Remove the stale temporaries of ``dest`` (``.NAME.tmp-*`` beside it); returns them."""
    return remove_stale_temporaries(dest.parent, f"{glob.escape(f'.{dest.name}.tmp-')}*")


def storage_error(dest: Path, exc: OSError, what: str = "this file") -> SimlibError:
    """The error to raise when writing ``dest`` failed with ``exc``: a
    :class:`~simlib.errors.UserInputError` when the destination cannot be used at all, else a
    :class:`~simlib.errors.StorageError`; either names ``dest`` (never a temporary name)."""
    reason = exc.strerror or str(exc)
    if exc.errno in _UNUSABLE:
        return UserInputError(f"{dest}: cannot write there ({reason})")
    return StorageError(f"{dest}: cannot write {what} ({reason}); what it held before is unchanged")


def _refuse_folder(dest: Path) -> None:
    if dest.is_dir():
        raise UserInputError(f"{dest}: is a folder; give the name of a file to write")


def _temporary_file(dest: Path, suffix: str = "") -> tuple[int, str]:
    """A new temporary file beside ``dest`` (mode from the umask), after removing stale ones."""
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_beside(dest)
        fd, name = tempfile.mkstemp(prefix=temp_prefix(dest), suffix=suffix, dir=dest.parent)
    except OSError as exc:
        raise storage_error(dest, exc) from None
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, file_mode())
        else:  # pragma: no cover - Windows
            os.chmod(name, file_mode())
    except OSError:
        pass  # a file system without modes (FAT, some network drives)
    return fd, name


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` via a temporary file in the same folder + rename.

    A reader never sees a half-written file; on error the temporary file is removed and an
    existing file at ``path`` is left as it was. A destination that cannot be used (a folder
    that cannot be created or written, a folder at ``path``) raises :class:`UserInputError`, a
    write that fails midway (disk full) :class:`StorageError`; both name ``path``.
    """
    dest = Path(path)
    _refuse_folder(dest)
    fd, tmp = _temporary_file(dest)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise storage_error(dest, exc) from exc
        raise
    return dest


@contextlib.contextmanager
def atomic_file(path: str | Path) -> Iterator[Path]:
    """``with atomic_file(dest) as tmp:`` write ``tmp``; on success it replaces ``dest``.

    ``tmp`` is a hidden name beside ``dest`` with the same suffix (writers that choose a format
    by the suffix still do). On error ``tmp`` is removed and ``dest`` left as it was; an
    ``OSError`` of the writer or the rename becomes a :class:`UserInputError` or
    :class:`StorageError` naming ``dest`` (see :func:`storage_error`).
    """
    dest = Path(path)
    _refuse_folder(dest)
    fd, name = _temporary_file(dest, dest.suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, dest)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise storage_error(dest, exc) from exc
        raise


@contextlib.contextmanager
def atomic_new_folder(path: str | Path, what: str = "this folder") -> Iterator[Path]:
    """``with atomic_new_folder(dest) as tmp:`` fill the folder ``tmp``; on success it becomes
    ``dest``. ``what``: how errors name the destination ("this cache entry", say).

    When ``dest`` already exists as a folder by then (another process got there first), that
    folder is kept and ``tmp`` dropped: use it for entries that every writer writes alike. On
    error ``tmp`` is removed; an ``OSError`` becomes an error naming ``dest`` (see
    :func:`storage_error`).
    """
    dest = Path(path)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=temp_prefix(dest), dir=dest.parent))
        with contextlib.suppress(OSError):
            os.chmod(tmp, folder_mode())
    except OSError as exc:
        raise storage_error(dest, exc, what) from None
    try:
        yield tmp
        try:
            os.rename(tmp, dest)
        except OSError:
            if not dest.is_dir():
                raise
            shutil.rmtree(tmp, ignore_errors=True)  # stored by someone else meanwhile
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError):
            raise storage_error(dest, exc, what) from exc
        raise
