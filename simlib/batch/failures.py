"""What can fail in a batch: a small set of kinds, and one record per failure.

A failure is recorded and the batch goes on; :class:`Failure` is what the index page lists, what
``simlib batch`` prints and what makes its exit code 1. It reads as attributes
(``failure.kind``) or, as the index template and older callers do, as a mapping
(``failure["kind"]``).
"""

from __future__ import annotations

import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any

__all__ = ["Failure", "FailureKind", "error_text"]


class FailureKind(StrEnum):
    """Which part of a batch failed (the value is the word shown on the page and printed)."""

    SCENARIO = "scenario"  # loading or simulating a scenario
    NOTEBOOK = "notebook"  # a scenario's notebook (executing it or rendering its HTML)
    BATCH_NOTEBOOK = "batch notebook"  # a batch-level notebook, or no scenario to give it
    INDEX_CHART = "index chart"  # the index page's charts (the page is written without them)


@dataclass(frozen=True)
class Failure(Mapping[str, Any]):
    """One failed part of a batch: its kind, its name, a one-line error, the traceback and links
    (``href``/``text``, relative to the batch folder) to what it left behind."""

    kind: FailureKind
    name: str
    error: str
    detail: str = ""
    links: list[dict[str, str]] = field(default_factory=list)

    @classmethod
    def from_exception(
        cls,
        kind: FailureKind,
        name: str,
        exc: BaseException,
        links: list[dict[str, str]] | None = None,
    ) -> Failure:
        head, detail = error_text(exc)
        return cls(kind, name, head, detail, links or [])

    def __getitem__(self, key: str) -> Any:
        if key not in self._keys():
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys())

    def __len__(self) -> int:
        return len(self._keys())

    @classmethod
    def _keys(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


def error_text(exc: BaseException) -> tuple[str, str]:
    """An exception as (one line of at most 500 characters, the last 4000 of its traceback)."""
    first = str(exc).strip().splitlines()
    head = f"{type(exc).__name__}: {first[0] if first else ''}".strip()
    if hasattr(exc, "ename") and hasattr(exc, "evalue"):  # papermill's execution error
        head = f"{exc.ename}: {exc.evalue}"
    detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-4000:]
    return head[:500], detail
