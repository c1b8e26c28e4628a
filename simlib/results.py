"""Simulation results: the three tidy tables, and writing them to a folder atomically.

A result folder holds ``monthly.parquet``, ``accounts.parquet``, ``summary.parquet``,
``summary.csv``, ``resolved.yaml`` and, written last, ``manifest.json``. The folder is first
written under a temporary name beside its destination and then renamed into place, so a reader
never sees a half-written result: a folder without ``manifest.json`` is not a result.

An earlier result at the destination is swapped with the new one in one step where the system
allows it (Linux: ``renameat2`` with ``RENAME_EXCHANGE``), so the destination always holds a
complete result. Elsewhere the earlier result is first moved aside (``.NAME.old-PID``) and the
new one renamed in; a process killed between the two leaves the destination missing and the
earlier result aside, and :func:`recover_folder` (called by :meth:`SimulationResult.read` and
before every new write) puts it back. An earlier result is removed ``manifest.json`` first, so a
removal cut short never leaves a folder that reads as a result with tables missing; a result
folder read with a table missing is reported as incomplete (:class:`~simlib.errors.DataError`).

A destination is written only when it is absent, an empty folder or a folder of simlib results
(:func:`is_results_folder`: it holds ``manifest.json``); a file, a symbolic link or a folder of
anything else is refused (:class:`~simlib.errors.UserInputError`, exit code 2) and left alone.
Temporary folders of writers that are gone are removed before each write
(:func:`simlib.io.atomic.remove_stale_beside`); folders are created with the user's umask.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import DataError, StorageError, UserInputError
from .io.atomic import folder_mode, pid_alive, remove_stale_beside, storage_error, temp_prefix
from .io.locks import exclusive_lock
from .scenario import Scenario, scenario_hash, to_yaml

__all__ = [
    "SimulationResult",
    "atomic_folder",
    "check_destination",
    "is_results_folder",
    "locked_destination",
    "package_versions",
    "recover_folder",
]

#: The files of a result folder besides ``manifest.json`` (written last).
RESULT_FILES = (
    "monthly.parquet",
    "accounts.parquet",
    "summary.parquet",
    "summary.csv",
    "resolved.yaml",
)

_PACKAGES = ("simlib", "simpy", "numpy", "pandas", "pyarrow", "pydantic", "scipy", "PyYAML")


def package_versions() -> dict[str, str]:
    """Versions of Python and the packages a result depends on."""
    import platform

    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


_TABLES = ("monthly", "accounts", "summary")
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


@functools.cache
def _renameat2() -> Any:
    """libc's ``renameat2`` (Linux, glibc >= 2.28), or None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


def _exchange(a: Path, b: Path) -> bool:
    """Swap ``a`` and ``b`` (both must exist) in one atomic step. False where the system or the
    file system cannot (then nothing happened); other failures raise OSError."""
    fn = _renameat2()
    if fn is None:
        return False
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.ENOENT):
        return False  # not supported here (or ``b`` vanished): the two-step way decides
    raise OSError(err, os.strerror(err), str(b))


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # this process is not between the two renames any more
    return pid_alive(pid)


def _discard(folder: Path) -> None:
    """Remove an earlier result, ``manifest.json`` first: cut short, what is left is no result."""
    with contextlib.suppress(OSError):
        (folder / "manifest.json").unlink()
    shutil.rmtree(folder, ignore_errors=True)


def is_results_folder(path: str | Path) -> bool:
    """True when ``path`` is a folder that simlib wrote results into: it holds ``manifest.json``
    (``simlib run``, ``compare`` and ``sweep`` all write one, last)."""
    path = Path(path)
    return path.is_dir() and not path.is_symlink() and (path / "manifest.json").is_file()


def check_destination(dest: str | Path) -> None:
    """Refuse (:class:`UserInputError`, exit code 2) a destination that a result folder must
    not replace: a file, a symbolic link, or a folder that holds something and no simlib
    results. Absent, an empty folder or a folder of results is fine (a result replaces it)."""
    dest = Path(dest)
    if dest.is_symlink():
        raise UserInputError(
            f"{dest}: is a symbolic link; give the folder itself (or a new name) as --out"
        )
    if not dest.exists():
        return
    if not dest.is_dir():
        raise UserInputError(
            f"{dest}: is a file, not a folder of simlib results; it is left as it is: give "
            "another --out (a new name, or a folder simlib wrote results into)"
        )
    if is_results_folder(dest):
        return
    try:
        empty = next(os.scandir(dest), None) is None
    except OSError as exc:
        raise UserInputError(f"{dest}: cannot read this folder ({exc.strerror})") from None
    if not empty:
        raise UserInputError(
            f"{dest}: holds files but no simlib results (no manifest.json); it is left as it "
            "is: give another --out (a new name, or a folder simlib wrote results into)"
        )


def _left_aside(dest: Path) -> list[Path]:
    """Earlier results moved aside (``.NAME.old-PID``) by processes that are gone, newest first."""
    prefix = f".{dest.name}.old-"
    found = []
    try:
        siblings = list(dest.parent.iterdir())
    except OSError:
        return []
    for path in siblings:
        pid = path.name[len(prefix) :]
        if path.name.startswith(prefix) and pid.isdigit() and not _alive(int(pid)):
            found.append(path)
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


@contextlib.contextmanager
def locked_destination(dest: str | Path, what: str = "another simlib run") -> Iterator[None]:
    """Hold the lock ``.NAME.lock`` beside the result folder ``dest`` for the block: a second
    command writing ``dest`` meanwhile is refused (:class:`UserInputError`, exit code 2, naming
    ``dest`` and the holder's process id; see :mod:`simlib.io.locks`). Creates ``dest``'s parent
    folders, and removes those it created when the block ends without ``dest`` written."""
    dest = Path(dest)
    created = [p for p in (dest.parent, *dest.parent.parents) if not p.exists()]
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserInputError(
            f"{dest.parent}: cannot write results there ({exc.strerror})"
        ) from None
    try:
        with exclusive_lock(dest.parent / f".{dest.name}.lock", dest, what):
            yield
    finally:
        if not dest.exists():
            for folder in created:  # innermost first; stops at the first one not empty
                try:
                    folder.rmdir()
                except OSError:
                    break


def recover_folder(dest: str | Path) -> bool:
    """Put back an earlier result that an interrupted replacement left aside.

    When ``dest`` is missing but a complete earlier result (with ``manifest.json``) waits beside
    it as ``.NAME.old-PID`` and process PID is gone, it is renamed back to ``dest``. Returns
    True when something was restored.
    """
    dest = Path(dest)
    if dest.exists():
        return False
    for path in _left_aside(dest):
        if (path / "manifest.json").is_file():
            try:
                os.rename(path, dest)
            except OSError:
                continue
            return True
    return False


class atomic_folder:  # noqa: N801 - used like a function in a with-statement
    """``with atomic_folder(dest) as tmp:`` write into ``tmp``; on success it becomes ``dest``.

    An existing ``dest`` is replaced only after the new folder is complete, by an atomic swap
    where the system has one (Linux), else by moving it aside first; on any error the temporary
    folder is removed and ``dest`` is left as it was.
    """

    def __init__(self, dest: str | Path) -> None:
        self.dest = Path(dest)

    def __enter__(self) -> Path:
        parent = self.dest.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
            recover_folder(self.dest)  # an earlier run killed while replacing it
            check_destination(self.dest)
            for stale in _left_aside(self.dest):  # superseded: ``dest`` holds a result
                _discard(stale)
            remove_stale_beside(self.dest)  # of writers killed before they finished
            self.tmp = Path(tempfile.mkdtemp(prefix=temp_prefix(self.dest), dir=parent))
        except OSError as exc:
            raise UserInputError(f"{parent}: cannot write results there ({exc.strerror})") from None
        with contextlib.suppress(OSError):  # mkdtemp's 0700 would ignore the user's umask
            os.chmod(self.tmp, folder_mode())
        return self.tmp

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            try:
                check_destination(self.dest)  # something else put there while writing
            except UserInputError:
                shutil.rmtree(self.tmp, ignore_errors=True)
                raise
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            if isinstance(exc, OSError):
                raise _storage_error(self.dest, exc) from exc
            return
        self._swap()

    def _swap(self) -> None:
        """Put the complete ``tmp`` at ``dest`` (see the class docstring)."""
        old = None
        try:
            if self.dest.exists() and _exchange(self.tmp, self.dest):
                # one step: ``dest`` went from the earlier result to the new one; ``tmp`` now
                # holds the earlier one
                _discard(self.tmp)
                return
            if self.dest.exists():
                old = self.dest.with_name(f".{self.dest.name}.old-{os.getpid()}")
                os.replace(self.dest, old)
            os.replace(self.tmp, self.dest)
        except OSError as err:
            if old is not None and not self.dest.exists():
                os.replace(old, self.dest)  # put the earlier result back
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise _storage_error(self.dest, err) from err
        if old is not None:
            _discard(old)


def _storage_error(dest: Path, exc: OSError) -> StorageError | UserInputError:
    reason = exc.strerror or str(exc)
    error = storage_error(dest, exc, "results")
    if isinstance(error, UserInputError):
        return error  # the destination cannot be used at all (permissions, a read-only disk)
    return StorageError(
        f"{dest}: cannot write results ({reason}); nothing was written there and what the folder "
        "held before is unchanged"
    )


@dataclass
class SimulationResult:
    """The tables of one or more replications of one scenario.

    ``monthly``: one row per (scenario, replication, month); ``accounts``: one row per
    (scenario, replication, account_id); ``summary``: one row per (scenario, replication);
    ``panel`` (runs with ``panel=True`` only, else None): one row per (replication, account,
    month alive), see :mod:`simlib.model.panel`. Column definitions: CONTRACT.md and
    :mod:`simlib.metrics`.
    """

    scenario: Scenario
    seed: int
    monthly: pd.DataFrame
    accounts: pd.DataFrame
    summary: pd.DataFrame
    wall_seconds: float = 0.0
    events_processed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    panel: pd.DataFrame | None = None

    @property
    def replications(self) -> int:
        return int(self.summary["replication"].nunique())

    @property
    def account_months(self) -> int:
        """Account-months simulated: the sum of active accounts over months and replications."""
        return int(self.monthly["active_accounts"].sum())

    def manifest(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario.name,
            "scenario_hash": scenario_hash(self.scenario),
            "seed": self.seed,
            "replications": self.replications,
            "horizon_months": self.scenario.horizon_months,
            "wall_seconds": round(self.wall_seconds, 3),
            "account_months": self.account_months,
            "simpy_events": self.events_processed,
            "versions": package_versions(),
            **self.extra,
        }

    def write(self, out_dir: str | Path) -> Path:
        """Write every table, ``resolved.yaml`` and (last) ``manifest.json`` to ``out_dir``."""
        dest = Path(out_dir)
        with atomic_folder(dest) as tmp:
            self.monthly.to_parquet(tmp / "monthly.parquet", index=False)
            self.accounts.to_parquet(tmp / "accounts.parquet", index=False)
            self.summary.to_parquet(tmp / "summary.parquet", index=False)
            self.summary.to_csv(tmp / "summary.csv", index=False)
            if self.panel is not None:
                self.panel.to_parquet(tmp / "panel.parquet", index=False)
            (tmp / "resolved.yaml").write_text(to_yaml(self.scenario), encoding="utf-8")
            (tmp / "manifest.json").write_text(
                json.dumps(self.manifest(), indent=2, ensure_ascii=False), encoding="utf-8"
            )
        return dest

    @classmethod
    def read(cls, folder: str | Path) -> SimulationResult:
        """Read a result folder written by :meth:`write` (refuses one without a manifest)."""
        from .scenario import load_scenario

        folder = Path(folder)
        recover_folder(folder)  # a replacement interrupted between its two steps
        manifest_path = folder / "manifest.json"
        if not manifest_path.is_file():
            raise UserInputError(f"{folder}: not a complete result (no manifest.json)")
        missing = [name for name in RESULT_FILES if not (folder / name).is_file()]
        if missing:
            raise DataError(
                f"{folder}: incomplete result folder: {', '.join(missing)} missing beside "
                "manifest.json; write the result again"
            )
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            tables = {t: pd.read_parquet(folder / f"{t}.parquet") for t in _TABLES}
        except (OSError, ValueError) as exc:  # pyarrow's errors are ValueErrors too
            raise DataError(f"{folder}: unreadable result folder ({exc})") from None
        panel = None
        if (folder / "panel.parquet").is_file():
            try:
                panel = pd.read_parquet(folder / "panel.parquet")
            except (OSError, ValueError) as exc:
                raise DataError(f"{folder}: unreadable panel.parquet ({exc})") from None
        return cls(
            scenario=load_scenario(folder / "resolved.yaml"),
            seed=int(manifest["seed"]),
            panel=panel,
            **tables,
            wall_seconds=float(manifest.get("wall_seconds", 0.0)),
            events_processed=int(manifest.get("simpy_events", 0)),
        )
