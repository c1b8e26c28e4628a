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
before every new write) puts it back.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import StorageError, UserInputError
from .scenario import Scenario, scenario_hash, to_yaml

__all__ = ["SimulationResult", "atomic_folder", "package_versions", "recover_folder"]

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
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, another user's
        return True
    return True


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
            for stale in _left_aside(self.dest):  # superseded: ``dest`` holds a result
                shutil.rmtree(stale, ignore_errors=True)
            self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.dest.name}.tmp-", dir=parent))
        except OSError as exc:
            raise UserInputError(f"{parent}: cannot write results there ({exc.strerror})") from None
        return self.tmp

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            if isinstance(exc, OSError):
                raise _storage_error(self.dest, exc) from exc
            return
        old = None
        try:
            if self.dest.exists() and _exchange(self.tmp, self.dest):
                # one step: ``dest`` went from the earlier result to the new one; ``tmp`` now
                # holds the earlier one
                shutil.rmtree(self.tmp, ignore_errors=True)
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
            shutil.rmtree(old, ignore_errors=True)


def _storage_error(dest: Path, exc: OSError) -> StorageError:
    reason = exc.strerror or str(exc)
    return StorageError(
        f"{dest}: cannot write results ({reason}); nothing was written there and what the folder "
        "held before is unchanged"
    )


@dataclass
class SimulationResult:
    """The tables of one or more replications of one scenario.

    ``monthly``: one row per (scenario, replication, month); ``accounts``: one row per
    (scenario, replication, account_id); ``summary``: one row per (scenario, replication).
    Column definitions: CONTRACT.md and :mod:`simlib.metrics`.
    """

    scenario: Scenario
    seed: int
    monthly: pd.DataFrame
    accounts: pd.DataFrame
    summary: pd.DataFrame
    wall_seconds: float = 0.0
    events_processed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

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
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        return cls(
            scenario=load_scenario(folder / "resolved.yaml"),
            seed=int(manifest["seed"]),
            monthly=pd.read_parquet(folder / "monthly.parquet"),
            accounts=pd.read_parquet(folder / "accounts.parquet"),
            summary=pd.read_parquet(folder / "summary.parquet"),
            wall_seconds=float(manifest.get("wall_seconds", 0.0)),
            events_processed=int(manifest.get("simpy_events", 0)),
        )
