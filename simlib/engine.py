"""The engine: one simpy ``Environment`` per replication; accounts as columns, actors as processes.

Time is measured in months (simpy time 1.0 = one month). The :class:`Calendar` is a simpy process
that turns each month over at whole-month times with *urgent* priority, so it runs before any
other actor waking at the same instant. At the turn from month ``m - 1`` to ``m`` it calls, in a
fixed order of ``(phase, order)``:

1. ``close_month(m - 1)`` of every actor (the renewal desk makes the churn decisions due at the
   end of month ``m - 1``); decisions due at the end of the last month lie beyond the horizon;
2. ``open_month(m)`` of every actor: pending MRR changes take effect, new accounts arrive, the
   month is billed, then satisfaction drifts and champions move during the month.

A ``close_month`` call may schedule an MRR change for the month being opened
(:meth:`Simulation.change_mrr_by`; a save offer at a renewal, say): it is billed in that month.
MRR changes are deltas that compose, applied in the order :meth:`Simulation.change_mrr_by`
documents, so two mechanisms changing one account in one month never clobber each other. Right
after billing, every registered *snapshot* (:func:`register_snapshot`) may keep arrays for the
metrics (the NRR cohort of :mod:`simlib.metrics` is one).

Per-account work in those calls is vectorized over the account book. Actors that make discrete
decisions inside a month (the CSM team working its queue, the deal desk deciding approval chains)
are ordinary simpy processes started by :meth:`Actor.start`; they spend an event only where the
rest of the model could see the decision (a job end before a weekly plan, the deals due before the
turn of a month) and batch the decisions in between, so simpy events grow with weeks and months,
not with accounts x months, nor even with decisions. A new mechanism is a new :class:`Actor`
subclass registered with :func:`register_actor`: no edit to the engine.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections import defaultdict
from collections.abc import Callable, Generator
from dataclasses import dataclass
from heapq import heappush
from typing import Any, ClassVar

import numpy as np
import simpy
from numpy.typing import NDArray
from simpy.events import NORMAL, URGENT

from .account import BOOK_LIMIT, AccountBook
from .errors import SimulationError
from .ledger import Ledger
from .registry import Registry
from .rng import Streams, replication_seed
from .scenario import Scenario

__all__ = [
    "ACTORS",
    "RUN_INPUTS",
    "SNAPSHOTS",
    "Actor",
    "MonthTick",
    "Simulation",
    "load_run_inputs",
    "register_actor",
    "register_run_input",
    "register_snapshot",
]


#: Bytes glibc's malloc keeps beyond the top of its heap when the heap grows or shrinks
#: (``mallopt(M_TOP_PAD)``; glibc's default is 128 KiB), see :func:`pad_heap`.
HEAP_PAD = 32 << 20
_M_TOP_PAD = -2  # glibc's malloc.h
_heap_padded = False


def pad_heap() -> None:
    """Let glibc's malloc keep :data:`HEAP_PAD` bytes of freed heap instead of handing them
    back to the system at once, for the rest of the process.

    A month's work allocates and frees temporary arrays of a few hundred KB, one per numpy
    operation over the alive rows; with glibc's default pad each of those is returned when
    freed and page-faulted in again when the next one is allocated (about 330,000 page faults
    in one run of the ``all`` benchmark case at 100,000 accounts, 41,000 with the pad). Changes
    no number. Called once per process by :meth:`Simulation.run`; does nothing off Linux, when
    the environment sets ``MALLOC_TOP_PAD_`` itself, or with ``SIMLIB_HEAP_PAD=0``.
    """
    global _heap_padded
    if _heap_padded:
        return
    _heap_padded = True
    if (
        not sys.platform.startswith("linux")
        or "MALLOC_TOP_PAD_" in os.environ
        or os.environ.get("SIMLIB_HEAP_PAD", "1") == "0"
    ):
        return
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the process's C library
    except (OSError, AttributeError):  # no C library with mallopt to call
        return
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    mallopt(_M_TOP_PAD, HEAP_PAD)


class MonthTick(simpy.events.Event):
    """A timeout scheduled with urgent priority: the calendar's turn of the month."""

    def __init__(self, env: simpy.Environment, delay: float) -> None:
        super().__init__(env)
        self._ok = True
        self._value = None
        env.schedule(self, URGENT, delay)


class CountingEnvironment(simpy.Environment):
    """A simpy Environment that counts the events it processes (for the benchmark)."""

    def __init__(self) -> None:
        super().__init__(initial_time=0.0)
        self.events_processed = 0

    def step(self) -> None:
        self.events_processed += 1
        super().step()

    def at(self, time: float) -> simpy.events.Event:
        """An event that fires at the absolute simulation ``time`` (normal priority).

        Unlike ``timeout(time - now)`` it lands on ``time`` exactly, so that a process can fold
        two waits in a row into one event without moving the instant the second one ends.
        """
        if time < self._now:
            raise SimulationError(f"cannot schedule an event at {time} before now ({self._now})")
        event = simpy.events.Event(self)
        event._ok = True
        event._value = None
        heappush(self._queue, (time, NORMAL, next(self._eid), event))
        return event


class Actor:
    """A mechanism of the model. Subclasses override what they need.

    ``order`` places the actor's month calls among the others (lower first). ``enabled`` says
    whether a scenario switches the actor on.
    """

    name: ClassVar[str] = "actor"
    order: ClassVar[int] = 100

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim

    @classmethod
    def enabled(cls, scenario: Scenario) -> bool:
        return True

    def start(self) -> Generator[Any, Any, Any] | None:
        """Return a simpy process generator to run beside the calendar, or None."""
        return None

    def open_month(self, month: int) -> None:
        """Called at the start of ``month`` (after earlier actors' calls)."""

    def close_month(self, month: int) -> None:
        """Called at the end of ``month`` (decisions that take effect at its end)."""

    def finish(self) -> None:
        """Called once after the last month."""


#: Every mechanism of the model, by name (see :mod:`simlib.registry`).
ACTORS: Registry[type[Actor]] = Registry("actor")


def register_actor(cls: type[Actor]) -> type[Actor]:
    """Class decorator: make an actor available to every simulation, by its ``name``."""
    return ACTORS.add(cls.name, cls)


@dataclass
class PendingChange:
    """An MRR change waiting for its billing month: ``mrr`` is a delta added to the MRR the
    account has when the change is applied (``absolute=False``), or the new MRR itself."""

    rows: NDArray[np.intp]
    mrr: NDArray[np.float64]
    plan: NDArray[np.int16] | None
    absolute: bool = False


#: ``snapshot(sim, month) -> {name: array} | None``, called right after each month is billed;
#: what it returns is kept in ``sim.snapshots`` for the metrics (the NRR cohort, say).
Snapshot = Callable[["Simulation", int], "dict[str, NDArray] | None"]
SNAPSHOTS: Registry[Snapshot] = Registry("snapshot")


def register_snapshot(name: str) -> Callable[[Snapshot], Snapshot]:
    """Decorator: take ``snapshot(sim, month)`` of every replication after each billing."""
    return SNAPSHOTS.register(name)


#: ``loader(scenario) -> data | None``: data a mechanism reads from outside the scenario (an
#: imported customer book, say), read once per run before the replications and handed to each
#: of them (to workers that may not see this machine's disk) as ``sim.inputs[name]``.
RunInputLoader = Callable[[Scenario], Any]
RUN_INPUTS: Registry[RunInputLoader] = Registry("run input")


def register_run_input(name: str) -> Callable[[RunInputLoader], RunInputLoader]:
    """Decorator: ``loader(scenario)`` reads run input ``name`` (None: the scenario has none)."""
    return RUN_INPUTS.register(name)


def load_run_inputs(scenario: Scenario) -> dict[str, Any]:
    """Every run input the scenario needs, read now (a bad file raises here, before any run)."""
    loaded = {name: loader(scenario) for name, loader in RUN_INPUTS.items()}
    return {name: data for name, data in loaded.items() if data is not None}


class Simulation:
    """One replication of one scenario: the book, the ledger, the streams and the actors."""

    def __init__(
        self,
        scenario: Scenario,
        seed: int = 0,
        replication: int = 0,
        on_month: Callable[[int], None] | None = None,
        actors: list[str] | None = None,
        inputs: dict[str, Any] | None = None,
    ) -> None:
        self.scenario = scenario
        #: run inputs (:func:`load_run_inputs`): given by the experiment layer, else read here
        self.inputs = inputs if inputs is not None else load_run_inputs(scenario)
        self.seed = seed
        self.replication = replication
        self.horizon = scenario.horizon_months
        self.streams = Streams(replication_seed(seed, replication))
        expected = scenario.population.initial_accounts + int(
            1.2 * scenario.acquisition.new_accounts_per_month * self.horizon + 64
        )
        # half as much again for referrals, which compound: a row's memory is touched only when
        # the row is used (AccountBook.append), so the margin costs address space, not memory,
        # and spares copying the whole book when it outgrows the estimate late in a run
        self.book = AccountBook(capacity=max(expected, min(expected + expected // 2, BOOK_LIMIT)))
        self.ledger = Ledger(self.horizon)
        self.env = CountingEnvironment()
        self.month = 0
        self.segments = list(scenario.segment_table())
        self.monthly_discount = (1.0 + scenario.economics.annual_discount_rate) ** (-1.0 / 12.0)
        self._pending: dict[int, list[PendingChange]] = defaultdict(list)
        self._closing = False  # the calendar is calling close_month (self.month is the next)
        self._closing_changes = 0
        self._on_month = on_month
        self.snapshots: dict[str, NDArray] = {}
        names = actors if actors is not None else list(ACTORS)
        classes = sorted(
            (ACTORS[n] for n in names if ACTORS[n].enabled(scenario)), key=lambda c: c.order
        )
        self.actors: list[Actor] = []
        for cls in classes:  # one by one: an actor may look up those set up before it
            self.actors.append(cls(self))

    # -- services for actors -----------------------------------------------------------------
    def actor(self, name: str) -> Actor | None:
        """The running actor with that name, if it is switched on."""
        return next((a for a in self.actors if a.name == name), None)

    def change_mrr_by(
        self,
        rows: NDArray[np.intp],
        delta: NDArray[np.float64],
        effective_month: int,
        plan: NDArray[np.int16] | None = None,
    ) -> None:
        """Add ``delta`` (currency per month) to the MRR of ``rows`` from ``effective_month``.

        Changes compose: several mechanisms may change one account in one month, and each delta
        is added to the MRR the account has when it is applied, in this documented order:

        1. the changes decided while the calendar closed the previous month (renewal saves), in
           the order they were decided;
        2. then the changes scheduled earlier for the month, in the order they were scheduled.

        MRR never falls below 0 (each step is floored at 0). A ``plan`` given with a change sets
        the account's plan (the last change giving one wins). At that month the change is booked
        as expansion or contraction MRR for accounts still alive; changes that would take effect
        beyond the horizon are dropped. The month must be a later one, or, from a
        ``close_month`` call, the month being opened (billed in that month).
        """
        self._schedule(
            PendingChange(np.asarray(rows), np.asarray(delta, np.float64), plan), effective_month
        )

    def change_mrr(
        self,
        rows: NDArray[np.intp],
        new_mrr: NDArray[np.float64],
        effective_month: int,
        plan: NDArray[np.int16] | None = None,
    ) -> None:
        """Set the MRR of ``rows`` to ``new_mrr`` from ``effective_month``, in the order of
        :meth:`change_mrr_by` (a set replaces what earlier changes of that month made; prefer
        deltas, which compose)."""
        change = PendingChange(np.asarray(rows), np.asarray(new_mrr, np.float64), plan, True)
        self._schedule(change, effective_month)

    def _schedule(self, change: PendingChange, effective_month: int) -> None:
        closing = self._closing and effective_month == self.month
        if effective_month <= self.month and not closing:
            raise SimulationError(
                f"an MRR change must take effect in a later month than {self.month}"
                + (" (or in it, from a close_month call)" if effective_month == self.month else "")
            )
        if effective_month < self.horizon:
            pending = self._pending[effective_month]
            if closing:  # decided at the turn of the month: booked first, in decision order
                pending.insert(self._closing_changes, change)
                self._closing_changes += 1
            else:
                pending.append(change)

    def _apply_pending(self, month: int) -> None:
        book, ledger = self.book, self.ledger
        for change in self._pending.pop(month, []):
            alive = book.alive[change.rows]
            rows = change.rows[alive]
            old = book.mrr[rows]
            new = change.mrr[alive] if change.absolute else np.maximum(old + change.mrr[alive], 0.0)
            delta = new - old
            ledger.add("expansion_mrr", month, float(delta[delta > 0].sum()))
            ledger.add("contraction_mrr", month, float(-delta[delta < 0].sum()))
            book.mrr[rows] = new
            if change.plan is not None:
                book.plan[rows] = change.plan[alive]

    def _bill(self, month: int) -> None:
        """Revenue is billed in advance: every account alive at the start of the month pays."""
        book, ledger = self.book, self.ledger
        mrr = book.mrr  # 0 for churned accounts and rows not yet used
        billed = float(mrr.sum())
        book.revenue += mrr
        book.discounted_revenue += mrr * (self.monthly_discount**month)
        active = int(np.count_nonzero(book.alive))
        ledger.set("active_accounts", month, active)
        ledger.set("revenue", month, billed)
        ledger.set("mrr", month, billed)
        ledger.set("arpa", month, billed / active if active else 0.0)
        ledger.set(
            "mean_satisfaction",
            month,
            float(book.satisfaction[book.alive].mean()) if active else float("nan"),
        )

    # -- the calendar ------------------------------------------------------------------------
    def _calendar(self) -> Generator[simpy.events.Event, Any, None]:
        for month in range(self.horizon):
            self.month = month
            if month > 0:
                self._closing, self._closing_changes = True, 0
                for actor in self.actors:
                    actor.close_month(month - 1)
                self._closing = False
            self._apply_pending(month)
            for actor in self.actors:
                if actor.order >= BILLING_ORDER:
                    break
                actor.open_month(month)
            self._bill(month)
            for snapshot in SNAPSHOTS.values():
                taken = snapshot(self, month)
                if taken:
                    self.snapshots.update(taken)
            for actor in self.actors:
                if actor.order >= BILLING_ORDER:
                    actor.open_month(month)
            if self._on_month is not None:
                self._on_month(month)
            yield MonthTick(self.env, 1.0)

    def run(self) -> Simulation:
        """Run the replication to the horizon; returns itself (tables via :mod:`simlib.metrics`)."""
        pad_heap()
        self.env.process(self._calendar())
        for actor in self.actors:
            proc = actor.start()
            if proc is not None:
                self.env.process(proc)
        self.env.run(until=self.horizon)
        for actor in self.actors:
            actor.finish()
        return self


#: Actors with ``order`` below this open their month before billing (acquisition), the rest after.
BILLING_ORDER = 50
