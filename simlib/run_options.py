"""How a run is run: one frozen object threaded through the experiment layer.

:class:`RunOptions` gathers what every experiment entry point (``simulate``, ``compare``,
``sweep``, ``tornado``, ``global_sensitivity`` and the lab's functions) needs to run
replications: how many, which seed, the overrides applied to every scenario, where they run
(executor, workers, scheduler), the cache, the adaptive stopping rule (target half-widths and a
cap) and the progress bar. The entry points still take these as keywords; they build one
``RunOptions`` at the top and hand it down, so a new run option is one new field here, not an
edit to a dozen signatures. A prepared object may be passed as ``options=`` instead::

    opts = RunOptions(replications=20, seed=7, executor="dask", workers=8)
    simlib.simulate("b2b_saas", options=opts)
    simlib.compare(["b2b_saas", "coverage_tiered"], options=opts.replace(replications=40))

Passing ``options=`` together with any of the keywords it holds is an error (one of the two
would be ignored without a word).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from .errors import UserInputError
from .executors import Executor

__all__ = [
    "DEFAULT_MAX_REPLICATIONS",
    "RunOptions",
    "accepts_run_options",
    "accepts_run_options_except",
    "as_overrides",
]

#: Cap on replications when adding them until a target half-width is met.
DEFAULT_MAX_REPLICATIONS = 200

CacheArg = Any  # ResultCache | str | Path | bool | None (ResultCache lives in simlib.cache)
ExecutorArg = str | Executor


@dataclass(frozen=True)
class RunOptions:
    """Run options (see the module docstring). ``overrides``: ``KEY=VALUE`` strings applied
    to every scenario; ``target_ci``: ``(figure, half-width)`` pairs (a mapping is accepted)."""

    replications: int = 1
    seed: int = 0
    overrides: tuple[str, ...] = ()
    executor: ExecutorArg = "local"
    workers: int | None = None
    scheduler: str | None = None
    cache: CacheArg = None
    target_ci: tuple[tuple[str, float], ...] = ()
    max_replications: int = DEFAULT_MAX_REPLICATIONS
    progress: bool = False
    #: also record the account-month panel of each replication (``simlib run --panel``)
    panel: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.target_ci, Mapping):
            object.__setattr__(self, "target_ci", tuple(self.target_ci.items()))
        elif self.target_ci is None:
            object.__setattr__(self, "target_ci", ())
        if not isinstance(self.overrides, tuple):
            object.__setattr__(self, "overrides", tuple(as_overrides(self.overrides)))
        if isinstance(self.cache, Path):
            object.__setattr__(self, "cache", str(self.cache))
        self._check()

    def _check(self) -> None:
        if isinstance(self.replications, bool) or not isinstance(self.replications, int):
            raise UserInputError(f"replications must be a whole number, got {self.replications!r}")
        if self.replications < 1:
            raise UserInputError(f"replications must be >= 1, got {self.replications}")
        if self.workers is not None and self.workers < 1:
            raise UserInputError(f"workers must be >= 1, got {self.workers}")
        if self.max_replications < 1:
            raise UserInputError(f"max_replications must be >= 1, got {self.max_replications}")

    @property
    def targets(self) -> dict[str, float] | None:
        """``target_ci`` as a mapping (None when no target is set)."""
        return dict(self.target_ci) if self.target_ci else None

    @property
    def override_list(self) -> list[str] | None:
        """``overrides`` as a list (None when there are none)."""
        return list(self.overrides) if self.overrides else None

    @classmethod
    def of(
        cls,
        replications: int = 1,
        seed: int = 0,
        overrides: Mapping[str, Any] | Sequence[str] | None = None,
        executor: ExecutorArg = "local",
        workers: int | None = None,
        scheduler: str | None = None,
        cache: CacheArg = None,
        target_ci: Mapping[str, float] | None = None,
        max_replications: int = DEFAULT_MAX_REPLICATIONS,
        progress: bool = False,
        panel: bool = False,
    ) -> RunOptions:
        """RunOptions from an entry point's keywords (overrides as a mapping or ``KEY=VALUE``
        strings, targets as a mapping)."""
        return cls(
            replications,
            seed,
            tuple(as_overrides(overrides)),
            executor,
            workers,
            scheduler,
            cache,
            tuple((target_ci or {}).items()),
            max_replications,
            progress,
            panel,
        )

    def replace(self, **changes: Any) -> RunOptions:
        """A copy with some options changed (the object itself never changes)."""
        return dataclasses.replace(self, **changes)


#: The keyword names an entry point may take instead of ``options=``.
FIELDS = tuple(f.name for f in dataclasses.fields(RunOptions))

F = TypeVar("F", bound=Callable[..., Any])


def accepts_run_options(fn: F) -> F:
    """Decorator for an entry point with an ``options`` keyword and some of :data:`FIELDS` as
    keywords: refuses a call that gives both ``options=`` and one of those keywords."""
    return accepts_run_options_except()(fn)


def accepts_run_options_except(*names: str) -> Callable[[F], F]:
    """:func:`accepts_run_options` for an entry point whose keywords ``names`` share a field's
    name but mean something else (``progress`` as a callback, say)."""

    def decorate(fn: F) -> F:
        signature = inspect.signature(fn)
        own = [n for n in FIELDS if n in signature.parameters and n not in names]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if kwargs.get("options") is not None:
                bound = signature.bind_partial(*args, **kwargs).arguments
                both = [name for name in own if name in bound]
                if both:
                    raise UserInputError(
                        f"{fn.__name__}: give run options either as options= or as keywords, "
                        f"not both ({', '.join(both)} given beside options=)"
                    )
            return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def as_overrides(values: Mapping[str, Any] | Sequence[str] | None) -> list[str]:
    """Overrides for :func:`simlib.load_scenario` from a mapping (dotted key -> value) or a
    list of ``"key=value"`` strings."""
    if not values:
        return []
    if isinstance(values, Mapping):
        return [f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in values.items()]
    return [str(v) for v in values]
