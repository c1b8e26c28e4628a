"""Customer-success coverage: tiers by policy, CSM books, tech-touch campaigns, health alerts.

Each month (after billing and the satisfaction drift):

* every ``reassign_every_months`` the coverage policy (:mod:`simlib.tiers`, by name; the built-in
  ones in :mod:`simlib.model.coverage.policies`) re-assigns
  every account's tier; high- and low-touch accounts are placed in CSM books (at most
  ``max_book`` accounts of a tier per CSM; accounts beyond the team's room fall to the next tier
  down). Between re-assignments new accounts are tiered with the cut-offs of the last one.
* tech-touch accounts due a campaign get one (no CSM hours; tooling cost per account-month);
* the health score ``satisfaction - champion_signal x champion_lost + noise`` (noise ~ N(0,
  ``alerts.noise``), keyed by account and month) below ``alerts.threshold`` raises an alert for an
  account of an alerting tier outside its cool-down; alerts arrive spread over the month and go to
  the CSM team's priority queue (:mod:`simlib.model.coverage.team`), ahead of scheduled work;
* with ``coverage.digital.hours_per_week`` > 0, tech-touch accounts alert too and their
  alerts go to a pooled digital-CS queue with those hours (:class:`~.team.DigitalDesk`);
* CS cost of the month: CSM salaries plus tech-touch tooling (plus the digital pool's hours).

With the ``by_capacity`` policy or ``coverage.growth.enabled``, each re-assignment counts the
accounts moved to a higher tier (``tier_promotions``) and to a lower one (``tier_demotions``)
in the monthly table, and each account's promotions (``promotions``) in the accounts table;
``covered_accounts`` is the month's alive accounts in a CSM book (high or low touch).

A touch closes part of the gap to full satisfaction, with diminishing returns within a quarter:
the k-th touch of a quarter has effect ``e / (1 + diminishing x (k - 1))`` and moves satisfaction
``s <- s + effect x (1 - s)``. An account whose alert was served within ``save_window_months``
of a renewal at which it would churn stays with probability ``save_probability``.

The per-account loops run in the kernels chosen once per run
(:func:`simlib.model.coverage.kernels.get_kernels`: compiled with numba, or numpy).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtri

from ...engine import Actor, Simulation, register_actor
from ...scenario import Scenario
from ...tiers import ALWAYS_TOUCHED, COVERAGE_POLICIES, HIGH, LOW, NONE, TECH, TIER_CODES
from ..renewal import RenewalDesk
from .kernels import get_kernels, numpy_backend
from .team import WEEK, CSMTeam, DigitalDesk, Job

__all__ = ["CoverageActor", "apply_touch"]

NEVER = -1_000_000


def apply_touch(
    sim: Simulation, rows: NDArray[np.intp], effect: float | NDArray[np.float64]
) -> None:
    """Apply one touch of base ``effect`` (one for all, or one a row) to ``rows``, with
    diminishing returns per quarter."""
    book = sim.book
    numpy_backend.apply_touch(
        book.satisfaction, book.touches_quarter, rows, effect, sim.scenario.coverage.diminishing
    )


@register_actor
class CoverageActor(Actor):
    name: ClassVar[str] = "coverage"
    order: ClassVar[int] = 80

    @classmethod
    def enabled(cls, scenario: Scenario) -> bool:
        cov = scenario.coverage
        return cov.policy != "none" or cov.requests.per_month > 0

    def __init__(self, sim: Simulation) -> None:
        super().__init__(sim)
        book, ledger = sim.book, sim.ledger
        cfg = sim.scenario.coverage
        book.add_column("csm", np.int32, -1, report=True)
        book.add_column("next_touch", np.float64, np.inf)
        book.add_column("touches", np.int32, 0, report=True)
        book.add_column("tech_touches", np.int32, 0, report=True)
        book.add_column("touches_quarter", np.int16, 0)
        book.add_column("last_alert", np.int32, NEVER)
        book.add_column("served_month", np.int32, NEVER)
        book.add_column("initial_tier", np.int8, -1, report=True)
        book.add_column("tier_changes", np.int16, 0, report=True)
        for name in (
            "touches_done",
            "touches_skipped",
            "tech_touches",
            "alerts_raised",
            "alerts_served",
            "requests_served",
            "saves",
            "backlog",
        ):
            ledger.declare(name, integer=True)
        for name in ("csm_hours_available", "csm_hours_worked", "csm_utilization"):
            ledger.declare(name)
        # tier moves at re-assignments, counted when tiers can move by capacity or growth
        self._track_moves = cfg.growth.enabled or cfg.policy == "by_capacity"
        if self._track_moves:
            book.add_column("promotions", np.int16, 0, report=True)
            ledger.declare("tier_promotions", integer=True)
            ledger.declare("tier_demotions", integer=True)
            ledger.declare("covered_accounts", integer=True)
        self.kernels = get_kernels()  # numba's or numpy's, for the whole run
        self._cadence = np.zeros(len(TIER_CODES))  # months between touches, by tier code
        for code, spec in ((HIGH, cfg.tiers.high), (LOW, cfg.tiers.low), (TECH, cfg.tiers.tech)):
            self._cadence[code] = spec.cadence_weeks * WEEK
        self.team = CSMTeam(sim, self, self.kernels)
        self._rows_seen = 0  # the book's rows at the end of the last open_month
        self._alerting_tier = np.zeros(len(TIER_CODES), dtype=bool)  # by tier code
        self._alerting_tier[[TIER_CODES[t] for t in cfg.alerts.tiers]] = True
        self.digital = DigitalDesk(sim, self) if cfg.digital.hours_per_week > 0 else None
        if self.digital is not None:  # tech-touch accounts alert, to the digital pool
            self._alerting_tier[TECH] = True
        self.cutoffs: tuple[float, float] | None = None
        self.booked: NDArray[np.intp] = np.empty(0, dtype=np.intp)  # rows in a CSM book
        self._alerts_served = ledger["alerts_served"]
        self._served: list[int] = []
        self._served_batches: list[NDArray[np.intp]] = []
        renewal = sim.actor("renewal")
        if isinstance(renewal, RenewalDesk) and cfg.alerts.save_probability > 0:
            renewal.add_save_handler(self.save)

    def start(self):
        return self.team.start()

    def touch_counts(self, rows: NDArray[np.intp]) -> NDArray[np.int64]:
        """CS touches each row has had so far: CSM touches and served alerts (``touches``) plus
        tech-touch campaigns (``tech_touches``), counted when their effect lands (a weekly plan,
        a served alert's flush, a month's campaigns). Read-only: a mechanism that acts on
        touches compares two readings."""
        book = self.sim.book
        return book.touches[rows].astype(np.int64) + book.tech_touches[rows]

    def touch(self, rows: NDArray[np.intp], effect: float | NDArray[np.float64]) -> None:
        """:func:`apply_touch` to ``rows`` (distinct), for this run."""
        apply_touch(self.sim, rows, effect)

    # -- tiers and books -----------------------------------------------------------------------
    def _assign(self, month: int) -> None:
        sim, book = self.sim, self.sim.book
        cfg = sim.scenario.coverage
        rows = book.alive_index()
        policy = COVERAGE_POLICIES[cfg.policy]
        tiers = policy(sim, rows)
        tiers = self._fit_books(rows, tiers)
        if self._track_moves:
            self._count_moves(rows, tiers, month)
        self._set_tiers(rows, tiers, month)
        self.team.set_books(self.booked)

    def _count_moves(self, rows: NDArray[np.intp], tiers: NDArray[np.int8], month: int) -> None:
        """Promotions and demotions among ``rows`` (already tiered) moving to ``tiers``."""
        book, ledger = self.sim.book, self.sim.ledger
        old = book.tier[rows]
        had = book.initial_tier[rows] >= 0
        up = had & (tiers > old)
        book.promotions[rows[up]] += 1
        ledger.add("tier_promotions", month, int(np.count_nonzero(up)))
        ledger.add("tier_demotions", month, int(np.count_nonzero(had & (tiers < old))))

    def _fit_books(self, rows: NDArray[np.intp], tiers: NDArray[np.int8]) -> NDArray[np.int8]:
        """Place high/low accounts in CSM books (largest MRR first); overflow falls a tier."""
        book = self.sim.book
        cfg = self.sim.scenario.coverage
        count = cfg.csm.count
        tiers, self.booked = self.kernels.place_in_books(
            rows,
            tiers,
            book.mrr,
            book.csm,
            count,
            count * cfg.tiers.high.max_book,
            count * cfg.tiers.low.max_book,
        )
        return tiers

    def _set_tiers(self, rows: NDArray[np.intp], tiers: NDArray[np.int8], month: int) -> None:
        """New tiers for ``rows``; accounts entering a touched tier get their first touch spread
        over one cadence (keyed draws)."""
        sim, book = self.sim, self.sim.book
        self.kernels.set_tiers(
            rows,
            tiers,
            month,
            book.tier,
            book.initial_tier,
            book.tier_changes,
            book.next_touch,
            book.key,
            sim.streams.key("coverage_schedule"),
            self._cadence,
        )

    def _tier_new_accounts(self, month: int) -> None:
        book = self.sim.book
        # accounts arrive only in the month calls of actors before this one: the rows added
        # since this actor's last month
        seen = self._rows_seen
        rows = seen + np.flatnonzero(
            book.alive[seen:] & (book.start_month[seen:] == month) & (book.initial_tier[seen:] < 0)
        )
        if rows.size == 0:
            return
        cfg = self.sim.scenario.coverage
        # new accounts join CSM books only at the next re-assignment: tech touch, or none
        if cfg.policy in ALWAYS_TOUCHED:
            tiers = np.full(rows.size, TECH, dtype=np.int8)
        else:
            tiers = COVERAGE_POLICIES[cfg.policy](self.sim, rows)
            tiers = np.where(tiers >= LOW, TECH, tiers).astype(np.int8)
        self._set_tiers(rows, tiers, month)

    # -- monthly work --------------------------------------------------------------------------
    def open_month(self, month: int) -> None:
        sim, book, ledger = self.sim, self.sim.book, self.sim.ledger
        cfg = sim.scenario.coverage
        self.team.catch_up()
        self.flush_served()
        self._refresh_arrays()
        if month % 3 == 0:
            book.touches_quarter[:] = 0
        if cfg.policy != "none":
            if month % cfg.reassign_every_months == 0:
                self._assign(month)
            else:
                self._tier_new_accounts(month)
        # tiers stay as they are for the month
        if self._track_moves:  # alive accounts in a CSM book (high or low touch)
            ledger.set("covered_accounts", month, int(np.count_nonzero(book.alive[self.booked])))
        tech_alive = self._tech_month(month, cfg.policy != "none")
        if cfg.policy != "none" and cfg.alerts.enabled:
            self._raise_alerts(month)
        self.team.schedule_requests(month)
        self._rows_seen = book.n
        cost = (
            cfg.csm.count * cfg.csm.cost_per_month
            + tech_alive * cfg.tiers.tech.cost_per_account_month
        )
        if self.digital is not None:
            cost += self.digital.cost_per_month
        ledger.add("cs_cost", month, cost)
        ledger.add("csm_hours_available", month, cfg.csm.count * cfg.csm.hours_per_week / WEEK)

    def _tech_month(self, month: int, campaigns: bool) -> int:
        """The alive tech-touch accounts (returned: their count), and with ``campaigns`` a
        campaign for those due one."""
        sim, book = self.sim, self.sim.book
        spec = sim.scenario.coverage.tiers.tech
        campaigns = campaigns and spec.cadence_weeks > 0
        count, done = self.kernels.tech_month(
            book.alive,
            book.tier,
            book.next_touch,
            month + 1,
            spec.cadence_weeks * WEEK,
            campaigns,
            book.satisfaction,
            book.touches_quarter,
            book.tech_touches,
            spec.touch_effect,
            sim.scenario.coverage.diminishing,
        )
        if campaigns:
            sim.ledger.add("tech_touches", month, done)
        return count

    def _raise_alerts(self, month: int) -> None:
        sim, book = self.sim, self.sim.book
        cfg = sim.scenario.coverage.alerts
        alerting_tier = self._alerting_tier
        if alerting_tier[NONE] or alerting_tier[TECH]:
            rows = np.flatnonzero(book.alive & alerting_tier[book.tier])
        else:  # high and low touch accounts are those in CSM books (rows ascending)
            rows = self.booked
        rows, health, u = self.kernels.alert_screen(
            rows,
            book.alive,
            book.tier,
            alerting_tier,
            book.last_alert,
            month,
            max(cfg.cooldown_months, 1),
            book.satisfaction,
            book.champion_lost,
            cfg.champion_signal,
            book.key,
            sim.streams.key("health"),
            cfg.threshold,
            cfg.noise,
        )
        if u is not None:  # the noise, inverted for the rows that could alert only
            health = health + cfg.noise * ndtri(u)
        self._alert(rows[health < cfg.threshold], month)

    def _alert(self, alerting: NDArray[np.intp], month: int) -> None:
        """Raise alerts for ``alerting`` (rows ascending) this month."""
        sim, book = self.sim, self.sim.book
        book.last_alert[alerting] = month
        at = month + sim.streams.uniform("alert_time", book.key[alerting], month)
        if self.digital is not None:  # tech touch to the digital pool, the rest to the CSMs
            tech = book.tier[alerting] == TECH
            self.digital.schedule(alerting[tech], at[tech], month)
            alerting, at = alerting[~tech], at[~tech]
        sim.ledger.add("alerts_raised", month, alerting.size)
        if alerting.size:
            self.team.schedule_alerts(alerting, at)

    def alert_served(self, job: Job, when: float) -> None:
        """Called by the team when a CSM has worked an alert, at time ``when`` (its effect
        lands at the next weekly plan or month start, whichever comes first)."""
        sim = self.sim
        month = min(int(when), sim.horizon - 1)
        self._alerts_served[month] += 1
        if self._alive[job.row]:  # the book does not grow within a month: arrays stay valid
            self._served_month[job.row] = month
            self._served.append(job.row)

    def _refresh_arrays(self) -> None:
        self._alive = self.sim.book.column("alive")
        self._served_month = self.sim.book.column("served_month")

    def flush_served(self) -> None:
        """Apply the satisfaction effect of alerts served since the last flush."""
        if self.digital is not None:
            self.digital.release(self.sim.env.now)
        if not self._served and not self._served_batches:
            return
        book = self.sim.book
        cfg = self.sim.scenario.coverage
        batches = [np.array(self._served, dtype=np.intp)] if self._served else []
        batches += self._served_batches
        rows = batches[0] if len(batches) == 1 else np.concatenate(batches)
        self._served.clear()
        self._served_batches.clear()
        self.kernels.flush(
            rows,
            book.alive,
            book.satisfaction,
            book.touches_quarter,
            book.touches,
            cfg.alerts.effect,
            cfg.diminishing,
        )

    def save(self, leaving: NDArray[np.intp], month: int) -> NDArray[np.intp]:
        """Renewal save handler: recently served accounts stay with ``save_probability``."""
        sim, book = self.sim, self.sim.book
        cfg = sim.scenario.coverage.alerts
        self.team.catch_up()
        saved = self.kernels.saves(
            leaving,
            month,
            book.served_month,
            cfg.save_window_months,
            book.key,
            sim.streams.key("coverage_save"),
            cfg.save_probability,
        )
        if saved.size:
            sim.ledger.add("saves", month + 1, saved.size)
        return saved

    def close_month(self, month: int) -> None:
        self.team.close_month(month)

    def finish(self) -> None:
        self.team.close_month(self.sim.horizon - 1)
        led = self.sim.ledger
        avail = led["csm_hours_available"]
        led["csm_utilization"][:] = np.divide(
            led["csm_hours_worked"], avail, out=np.zeros_like(avail), where=avail > 0
        )
