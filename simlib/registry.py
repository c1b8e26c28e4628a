"""One registry type for every extension point of the kit.

Actors (mechanisms), coverage policies, offer kinds, churn-odds terms and summary metrics are
each kept in a :class:`Registry`: a mapping from a name to what was registered under
it. A new mechanism, policy, offer kind or metric is a new module (or function) that registers
itself; the engine, the experiment layer and the reports find it by name and are never edited.

Names registered twice with different objects are refused (two modules silently replacing each
other's mechanism would change results without a word); :meth:`Registry.replace` (or item
assignment) says it on purpose. Unknown names give a :class:`~simlib.errors.UnknownNameError` that lists what is
registered and suggests the closest name.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator, MutableMapping
from typing import Generic, TypeVar

from .errors import UnknownNameError

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(MutableMapping[str, T], Generic[T]):
    """Named plug-ins of one ``kind`` ("actor", "coverage policy", ...), in registration order."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    # -- Mapping -----------------------------------------------------------------------------
    def __getitem__(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError(self.unknown_message(name)) from None

    def __setitem__(self, name: str, item: T) -> None:  # = replace (monkeypatch.setitem)
        self.replace(name, item)

    def __delitem__(self, name: str) -> None:
        del self._items[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self._items)})"

    # -- registration ------------------------------------------------------------------------
    def add(self, name: str, item: T) -> T:
        """Register ``item`` as ``name``; refuses a name taken by a different item."""
        if not name or not isinstance(name, str):
            raise ValueError(f"a {self.kind} needs a non-empty name, got {name!r}")
        if name in self._items and self._items[name] is not item:
            raise ValueError(
                f"a {self.kind} named {name!r} is registered already; "
                f"use replace() to swap it on purpose"
            )
        self._items[name] = item
        return item

    def replace(self, name: str, item: T) -> T:
        """Register ``item`` as ``name`` whether or not the name is taken."""
        self._items[name] = item
        return item

    def remove(self, name: str) -> None:
        """Forget ``name`` (tests and notebooks that register a plug-in for a while)."""
        self._items.pop(name, None)

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator form of :meth:`add`: ``@REGISTRY.register("name")``."""

        def decorate(item: T) -> T:
            return self.add(name, item)

        return decorate

    # -- lookup helpers ----------------------------------------------------------------------
    def suggestion(self, name: str) -> str | None:
        """The registered name closest to ``name`` (a likely typo), if any is close."""
        close = difflib.get_close_matches(str(name), list(self._items), n=1)
        return close[0] if close else None

    def unknown_message(self, name: str) -> str:
        """ "unknown <kind> 'x' (did you mean 'y'?); allowed: a, b, c"."""
        hint = self.suggestion(name)
        did_you_mean = f" (did you mean {hint!r}?)" if hint else ""
        allowed = ", ".join(sorted(self._items)) or "none registered"
        return f"unknown {self.kind} {name!r}{did_you_mean}; allowed: {allowed}"
