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
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ..errors import UserInputError

__all__ = ["atomic_file", "atomic_new_folder", "write_text_atomic"]


def _temporary_file(dest: Path, suffix: str = "") -> tuple[int, str]:
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        return tempfile.mkstemp(prefix=f".{dest.name}.tmp-", suffix=suffix, dir=dest.parent)
    except OSError as exc:
        raise UserInputError(f"{dest}: cannot write there ({exc.strerror})") from None


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` via a temporary file in the same folder + rename.

    A reader never sees a half-written file; on error the temporary file is removed and an
    existing file at ``path`` is left as it was. A folder that cannot be created or written
    raises :class:`UserInputError` naming it.
    """
    dest = Path(path)
    fd, tmp = _temporary_file(dest)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return dest


@contextlib.contextmanager
def atomic_file(path: str | Path) -> Iterator[Path]:
    """``with atomic_file(dest) as tmp:`` write ``tmp``; on success it replaces ``dest``.

    ``tmp`` is a hidden name beside ``dest`` with the same suffix (writers that choose a format
    by the suffix still do). On error ``tmp`` is removed and ``dest`` left as it was. A folder
    that cannot be created or written raises :class:`UserInputError` naming it.
    """
    dest = Path(path)
    fd, name = _temporary_file(dest, dest.suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_new_folder(path: str | Path) -> Iterator[Path]:
    """``with atomic_new_folder(dest) as tmp:`` fill the folder ``tmp``; on success it becomes
    ``dest``.

    When ``dest`` already exists as a folder by then (another process got there first), that
    folder is kept and ``tmp`` dropped: use it for entries that every writer writes alike. On
    error ``tmp`` is removed. A folder that cannot be created raises :class:`UserInputError`.
    """
    dest = Path(path)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-{os.getpid()}-", dir=dest.parent))
    except OSError as exc:
        raise UserInputError(f"{dest.parent}: cannot write there ({exc.strerror})") from None
    try:
        yield tmp
        try:
            os.rename(tmp, dest)
        except OSError:
            if not dest.is_dir():
                raise
            shutil.rmtree(tmp, ignore_errors=True)  # stored by someone else meanwhile
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
