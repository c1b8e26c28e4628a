"""Settings of mechanisms added as plug-ins: the ``extensions`` block of a scenario.

A mechanism that is not part of the kit defines its settings as a :class:`~simlib.config.base.
Strict` model beside its own code and registers it by name::

    @register_block("payment_failures")
    class PaymentFailures(Strict):
        monthly_rate: Probability = Field(default=0.0, description="...")

A scenario then sets it under ``extensions.payment_failures`` (``--set
extensions.payment_failures.monthly_rate=0.01`` works as for any key), and the mechanism reads it
with ``scenario.block("payment_failures")``, every default filled in. The configuration keeps
the block as a plain mapping: the names and values are checked at the runtime boundary
(:func:`simlib.plugins.check_plugins`), with the same key-path errors and exit code 2 as the
kit's own keys, once the mechanisms' modules are imported.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import ValidationError

from ..registry import Registry
from .base import Strict

__all__ = ["EXTENSION_BLOCKS", "extension_problems", "register_block"]

#: Settings models of plug-in mechanisms, by the name under ``extensions``.
EXTENSION_BLOCKS: Registry[type[Strict]] = Registry("extension block")

M = TypeVar("M", bound=type[Strict])


def register_block(name: str) -> Callable[[M], M]:
    """Class decorator: the settings model of plug-in mechanism ``name``."""

    def add(model: M) -> M:
        EXTENSION_BLOCKS.add(name, model)
        return model

    return add


def _problems_of(name: str, model: type[Strict], exc: ValidationError) -> list[tuple[str, str]]:
    out = []
    allowed = sorted(model.model_fields)
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"])
        key = f"extensions.{name}.{loc}" if loc else f"extensions.{name}"
        if err["type"] == "extra_forbidden":
            close = difflib.get_close_matches(str(err["loc"][-1]), allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            out.append((key, f"unknown key{hint}; allowed: {', '.join(allowed)}"))
        else:
            msg = err["msg"].removeprefix("Value error, ")
            out.append((key, f"{msg}, got {err.get('input')!r}"))
    return out


def extension_problems(extensions: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(key path, message)`` for each unregistered or invalid block under ``extensions``."""
    problems: list[tuple[str, str]] = []
    for name, values in extensions.items():
        if name not in EXTENSION_BLOCKS:
            problems.append((f"extensions.{name}", EXTENSION_BLOCKS.unknown_message(name)))
            continue
        model = EXTENSION_BLOCKS[name]
        try:
            model.model_validate(values if values is not None else {})
        except ValidationError as exc:
            problems.extend(_problems_of(name, model, exc))
    return problems
