"""An exclusive lock on an output folder, so two commands never write into one folder at once.

:func:`exclusive_lock` holds an advisory lock (``flock``) on a small lock file that holds the
holder's process id. The system releases it when the holder ends in any way (``kill -9``
included), so a lock is never left behind by a dead process; a second process asking for it
meanwhile gets a :class:`~simlib.errors.UserInputError` (exit code 2) naming the folder and the
holder's process id. The lock file is removed when the lock is released (a lock file left by a
killed holder is harmless: the next holder takes it over).

Where ``fcntl`` is missing (Windows) the lock file is created exclusively instead, and one whose
process is no longer running is taken over.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from ..errors import UserInputError
from .atomic import file_mode, pid_alive

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["exclusive_lock"]


def _holder(path: Path) -> str:
    """The process id written in the lock file ``path`` (``"?"`` when unreadable)."""
    try:
        text = path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return "?"
    return text if text.isdigit() else "?"


def _busy(folder: Path, what: str, pid: str) -> UserInputError:
    holder = f"process {pid}" if pid != "?" else "another process"
    return UserInputError(
        f"{folder}: {what} is already writing here ({holder}); wait for it to finish or give "
        "another --out"
    )


def _flock(path: Path) -> int | None:
    """An open descriptor of ``path`` holding its lock, or None when another process holds it.
    Retries when the file was removed by a releasing holder between opening and locking."""
    assert fcntl is not None
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, file_mode())
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # locked a file that its last holder had just removed: try again


def _exclusive_create(path: Path) -> int | None:  # pragma: no cover - Windows
    """Create ``path`` exclusively (taking over one whose process is gone), or None."""
    for _ in range(2):
        try:
            return os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, file_mode())
        except FileExistsError:
            pid = _holder(path)
            if pid.isdigit() and pid_alive(int(pid)):
                return None
            path.unlink(missing_ok=True)
    return None


@contextlib.contextmanager
def exclusive_lock(path: str | Path, folder: str | Path, what: str) -> Iterator[None]:
    """Hold the lock file ``path`` for the block, or raise :class:`UserInputError` naming
    ``folder`` (the folder it guards) and the holder when another process (``what``: a
    description such as ``"a batch"``) holds it. The folder holding ``path`` must exist."""
    path = Path(path)
    try:
        fd = _flock(path) if fcntl is not None else _exclusive_create(path)
    except OSError as exc:
        raise UserInputError(f"{folder}: cannot lock this folder ({exc.strerror})") from None
    if fd is None:
        raise _busy(Path(folder), what, _holder(path))
    try:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        yield
    finally:
        with contextlib.suppress(OSError):
            path.unlink()  # before the lock goes: a waiting process then retries on a new file
        os.close(fd)
