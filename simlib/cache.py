"""The replication cache: each (scenario, seed, replication) simulated once, kept on disk.

A replication is a pure function of the resolved scenario, the seed and the replication number
(and of the model's code), so its tables can be stored once and reused by every later sweep or
comparison that needs them, and an interrupted run can be finished by computing only what is
missing. The cache is a folder (default ``.cache/simlib`` in the working directory, or the
``SIMLIB_CACHE_DIR`` environment variable), laid out as a Parquet dataset partitioned by scenario::

    ROOT/<code>/<scenario>/scenario.yaml                         the resolved scenario (to read)
    ROOT/<code>/<scenario>/seed-<S>/rep-<R>/summary.parquet      one row (CONTRACT.md's summary)
                                           /monthly.parquet      one row per month
                                           /accounts.parquet     one row per account
                                           /meta.json            simpy events, seconds
    ROOT/<code>/<scenario>/seed-<S>/rep-<R>/error.json           instead: a failed replication

``<scenario>`` is :func:`simlib.scenario.scenario_hash` of the scenario with its ``name`` and
``description`` cleared (free text does not change results; tables read back carry the name asked
for). ``<code>`` fingerprints what else decides the results: the model's source files, numpy's
version and the registered actors; a change to any of them starts a fresh partition rather than
serving stale tables.

Each entry is written into a temporary folder beside its destination
(``.rep-R.tmp-HOST-PID-XXXXXXXX``, naming the writer) and renamed into place, so a run killed at
any moment never leaves a partial entry that is read back; leftover temporary folders are
ignored, and removed by the next run once their writer is no longer running (another machine's,
on a shared cache folder, once they are an hour old). Entries are created with the user's umask.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import UserInputError
from .io.atomic import (
    atomic_new_folder,
    remove_stale_temporaries,
)
from .paths import write_text_atomic
from .scenario import Scenario, scenario_hash, to_yaml

__all__ = [
    "CacheEntry",
    "ResultCache",
    "code_fingerprint",
    "default_cache_dir",
    "results_key",
]

TABLES = ("summary", "monthly", "accounts")


def default_cache_dir() -> Path:
    """``$SIMLIB_CACHE_DIR`` if set, else ``.cache/simlib`` in the working directory."""
    return Path(os.environ.get("SIMLIB_CACHE_DIR") or Path(".cache") / "simlib")


def results_key(scenario: Scenario) -> str:
    """Hash of what in a scenario decides the results (everything but name and description)."""
    return scenario_hash(scenario.model_copy(update={"name": "-", "description": ""}))


@functools.lru_cache(maxsize=1)
def _source_digest() -> str:
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package).as_posix()
        if rel.startswith("cli/"):
            continue
        digest.update(rel.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def code_fingerprint() -> str:
    """16 hex digits identifying the code that produces results in this process.

    Covers simlib's source files (the command-line modules excepted), numpy's version (its
    generators) and the registered actors (name, module and class of each).
    """
    import numpy as np

    from .engine import ACTORS

    digest = hashlib.sha256(_source_digest().encode())
    digest.update(np.__version__.encode())
    for name in sorted(ACTORS):
        cls = ACTORS[name]
        digest.update(f"{name}={cls.__module__}.{cls.__qualname__};".encode())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class CacheEntry:
    """One stored replication: its folder and whether it holds tables or an error."""

    path: Path

    @property
    def failed(self) -> bool:
        return (self.path / "error.json").is_file()

    def error(self) -> str:
        """The recorded error message of a failed replication."""
        data = json.loads((self.path / "error.json").read_text(encoding="utf-8"))
        return str(data.get("error", "unknown error"))

    def meta(self) -> dict[str, Any]:
        meta = self.path / "meta.json"
        return json.loads(meta.read_text(encoding="utf-8")) if meta.is_file() else {}

    def read(self, table: str, scenario_name: str | None = None) -> pd.DataFrame:
        """One of ``summary``, ``monthly``, ``accounts``; ``scenario`` set to ``scenario_name``."""
        df = pd.read_parquet(self.path / f"{table}.parquet")
        if scenario_name is not None and "scenario" in df.columns:
            df["scenario"] = scenario_name
        return df


class ResultCache:
    """The replication cache rooted at ``root`` (see the module docstring for the layout)."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()
        self.code = code_fingerprint()
        self._cleaned: set[Path] = set()

    def __repr__(self) -> str:
        return f"ResultCache({str(self.root)!r})"

    def scenario_dir(self, scenario: Scenario) -> Path:
        return self.root / self.code / results_key(scenario)[:32]

    def entry_path(self, scenario: Scenario, seed: int, replication: int) -> Path:
        """Folder of one replication's entry (it may not exist yet)."""
        return self.scenario_dir(scenario) / f"seed-{seed}" / f"rep-{replication:06d}"

    def get(self, scenario: Scenario, seed: int, replication: int) -> CacheEntry | None:
        """The stored entry, or None when this replication has not been stored."""
        path = self.entry_path(scenario, seed, replication)
        return CacheEntry(path) if path.is_dir() else None

    def prepare(self, scenario: Scenario, seed: int) -> None:
        """Create the scenario's folder (with ``scenario.yaml``) and clear stale temporaries."""
        folder = self.scenario_dir(scenario)
        seed_dir = folder / f"seed-{seed}"
        try:
            seed_dir.mkdir(parents=True, exist_ok=True)
            readable = folder / "scenario.yaml"
            if not readable.exists():
                write_text_atomic(readable, to_yaml(scenario))
        except OSError as exc:
            raise UserInputError(
                f"{self.root}: cannot use this cache folder ({exc.strerror}); give another with "
                "--cache-dir or switch the cache off with --no-cache"
            ) from None
        if seed_dir not in self._cleaned:
            self._cleaned.add(seed_dir)
            remove_stale_temporaries(seed_dir, ".rep-*.tmp-*")


def write_entry(
    path: str | Path,
    tables: dict[str, pd.DataFrame] | None = None,
    meta: dict[str, Any] | None = None,
    error: str | None = None,
) -> None:
    """Store one replication at ``path`` atomically: its tables, or (``error``) its failure.

    The files go to a temporary folder beside ``path`` that is then renamed to ``path``. If
    another process stored the same entry meanwhile, that entry is kept (both are identical).
    A failed write (disk full) raises :class:`~simlib.errors.StorageError` naming ``path``.
    """
    with atomic_new_folder(path, "this cache entry") as tmp:
        if error is not None:
            (tmp / "error.json").write_text(
                json.dumps({"error": error}, ensure_ascii=False), encoding="utf-8"
            )
        else:
            assert tables is not None
            for name, df in tables.items():
                df.to_parquet(tmp / f"{name}.parquet", index=False)
            (tmp / "meta.json").write_text(json.dumps(meta or {}), encoding="utf-8")
