"""The CSM team: CSMs serving reactive work from one queue; a weekly plan for their books.

Work comes in two kinds:

* *reactive jobs* (health alerts, customer requests) wait in one team-wide priority queue
  (alerts before requests, then first come first served); each CSM takes the next job whenever
  free. The CSMs' work is run by one dispatcher that spends a simpy event only when the rest of
  the model could see it (see :meth:`CSMTeam._work_until`), not one or two per job. Working time
  runs at ``hours_per_week`` hours per week of simulated time, so a job of h hours occupies its
  CSM for h / hours_per_week weeks. With
  scheduled touches off, Poisson requests and exponential hours the team is exactly an M/M/c
  queue with c = CSMs: the waiting probability and mean wait follow Erlang's C formula (tested).
* *scheduled touches* of each CSM's own book, by tier cadence, planned once a week for the whole
  team in one vectorized pass: each CSM's budget is ``hours_per_week`` less the hours their
  reactive work took the week before (alerts come first and push scheduled work back). Touches
  beyond the budget stay due (the backlog); a touch overdue by more than a whole cadence is
  skipped and rescheduled.

Time is in months; a week is 12/52 month. The per-account loops (the weekly plan, giving
alerts to CSMs, working them) are the run's kernels (:mod:`simlib.model.coverage.kernels`).
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ...tiers import HIGH

if TYPE_CHECKING:
    from types import ModuleType

    from ...engine import Simulation
    from .actor import CoverageActor

__all__ = ["WEEK", "CSMTeam", "DigitalDesk", "Job"]

WEEK = 12.0 / 52.0  # months
PRIORITY_ALERT, PRIORITY_REQUEST = 0, 1


@dataclass(order=True)
class Job:
    """A reactive job in the queue (ordered by priority, then arrival)."""

    priority: int
    arrival: float
    seq: int
    hours: float = field(compare=False)
    row: int = field(compare=False, default=-1)  # account row; -1 for a team request
    start: float = field(compare=False, default=np.nan)


class CSMTeam:
    """The team's queue and its CSM processes (started by the coverage actor)."""

    def __init__(self, sim: Simulation, coverage: CoverageActor, kernels: ModuleType) -> None:
        self.sim = sim
        self.coverage = coverage
        self.cfg = sim.scenario.coverage
        self.env = sim.env
        self.rate = self.cfg.csm.hours_per_week / WEEK  # working hours per month
        self.queue: list[Job] = []  # arrived, waiting (best first)
        self.pending: list[tuple[float, int, Job]] = []  # arriving later, earliest first
        self._seq = itertools.count()
        self._idle: list[int] = []  # free CSMs with nothing to claim, in the order they freed
        self._busy: list[tuple[float, int, int, Job]] = []  # (end, order, CSM, job)
        self._order = itertools.count()  # scheduling order of ends (as simpy's event ids)
        self._wake: Any = None  # the dispatcher's next wake-up event, and its time
        self._wake_at = np.inf
        self._claims_due = False
        self.log: list[Job] = []  # every reactive job, for queue statistics
        self.reactive_hours = np.zeros(self.cfg.csm.count)  # this week's, per CSM
        # touch hours on a grid of 2**-20 (1.5, 0.25, ...): every sum of them is exact
        self._exact_hours = all(
            float(h * 2**20).is_integer() and h * 2**20 < 2**32
            for h in (self.cfg.tiers.high.touch_hours, self.cfg.tiers.low.touch_hours)
        )
        self.kernels = kernels  # the run's loops, numba's or numpy's
        # alerts only (no requests): one priority, first come first served, so every job's CSM
        # and start are known when the month's alerts arrive (see :meth:`_fcfs_add`)
        self.fcfs = self.cfg.requests.per_month <= 0
        # the dispatcher of alerts to CSMs, first come first served (alerts only)
        self._dispatch: Any = kernels.fcfs_dispatcher(self.cfg.csm.count) if self.fcfs else None
        # jobs whose end is not worked yet, by (end, order); those before ``_next`` are worked
        self._jobs: dict[str, NDArray[Any]] = {
            "end": np.empty(0),
            "start": np.empty(0),
            "pop": np.empty(0),  # when the CSM took the job (inf: never)
            "arrival": np.empty(0),
            "csm": np.empty(0, dtype=np.intp),
            "row": np.empty(0, dtype=np.intp),
        }
        self._job_hours = self.cfg.alerts.hours  # every alert takes these hours
        self._next = 0
        self._next_end = np.inf  # the end of job ``_next`` (inf: none)
        self._job_log: list[tuple[NDArray[np.float64], ...]] = []  # (arrival, start, pop)
        # the weekly plan's compact copy of the CSM books (see :meth:`set_books`)
        self.set_books(np.empty(0, dtype=np.intp))

    # -- queue ---------------------------------------------------------------------------------
    def add_arrivals(self, jobs: list[Job]) -> None:
        """Jobs arriving later (at ``job.arrival``); idle CSMs are woken to claim them.

        Arrivals are known ahead (a month's alerts and requests are drawn at its start), so no
        event is spent on an arrival itself: a free CSM either takes the best job that has
        arrived, or sleeps until the earliest arrival nobody has claimed and takes that one.
        """
        for job in jobs:
            heapq.heappush(self.pending, (job.arrival, job.seq, job))
        self.log.extend(jobs)
        if self._idle and not self._claims_due:  # idle CSMs claim once the month is open
            self._claims_due = True
            claims = self.env.event()
            claims.callbacks.append(self._on_claims)
            claims.succeed()

    def _next_job(self, now: float) -> Job | None:
        """Admit the arrivals up to ``now`` and pop the best waiting job, if any."""
        pending, queue = self.pending, self.queue
        while pending and pending[0][0] <= now:
            heapq.heappush(queue, heapq.heappop(pending)[2])
        return heapq.heappop(queue) if queue else None

    def queue_statistics(self, until: float | None = None, grid: int = 1000) -> dict[str, float]:
        """Arrival rate, mean wait, share that waited, and the time-average number waiting.

        The time average is measured by counting, on a grid of ``grid`` points a month, the jobs
        that have arrived and not yet started (jobs still waiting at ``until`` count to then), so
        Little's law L = lambda x W can be checked against it.
        """
        end = self.env.now if until is None else until
        if self.fcfs:
            return self._fcfs_queue_statistics(end, grid)
        jobs = [j for j in self.log if j.arrival < end]
        arrival = np.array([j.arrival for j in jobs], dtype=np.float64)
        start = np.array(
            [min(j.start, end) if j.start == j.start else end for j in jobs], dtype=np.float64
        )
        return self._statistics(arrival, start, end, grid)

    def _fcfs_queue_statistics(self, end: float, grid: int) -> dict[str, float]:
        log = self._job_log
        arrival = np.concatenate([a for a, _, _ in log]) if log else np.empty(0)
        start = np.concatenate([s for _, s, _ in log]) if log else np.empty(0)
        pop = np.concatenate([p for _, _, p in log]) if log else np.empty(0)
        sel = arrival < end
        arrival, start, pop = arrival[sel], start[sel], pop[sel]
        # a job has a start once its CSM has taken it (a job not taken yet counts to ``end``)
        start = np.where(pop < self.env.now, np.minimum(start, end), end)
        return self._statistics(arrival, start, end, grid)

    @staticmethod
    def _statistics(
        arrival: NDArray[np.float64], start: NDArray[np.float64], end: float, grid: int
    ) -> dict[str, float]:
        n = arrival.size
        if n == 0 or end <= 0:
            nan = float("nan")
            return {
                "arrivals": n,
                "window": end,
                "arrival_rate": nan,
                "mean_queue_length": nan,
                "mean_wait": nan,
                "share_waited": nan,
            }
        waits = start - arrival
        t = (np.arange(int(grid * end)) + 0.5) / grid
        waiting = np.searchsorted(np.sort(arrival), t, side="right") - np.searchsorted(
            np.sort(start), t, side="right"
        )
        return {
            "arrivals": n,
            "window": end,
            "arrival_rate": n / end,
            "mean_queue_length": float(waiting.mean()),
            "mean_wait": float(waits.mean()),
            "share_waited": float((waits > 1e-12).mean()),
        }

    # -- processes -----------------------------------------------------------------------------
    def start(self):
        """Start the CSMs' work (every CSM claims a job) and the weekly plan."""
        if self.cfg.csm.count > 0:
            self.env.process(self._first_claims())
        if self.cfg.csm.count > 0 and self.cfg.policy != "none":
            self.env.process(self._weekly())
        return None

    def schedule_alerts(self, rows: NDArray[np.intp], at: NDArray[np.float64]) -> None:
        """Alerts for ``rows`` arriving at times ``at`` within the current month (each takes
        ``alerts.hours``)."""
        if self.fcfs:
            self._fcfs_add(rows, at)
            return
        seq = self._seq
        hours = self._job_hours
        self.add_arrivals(
            [
                Job(PRIORITY_ALERT, t, next(seq), hours, row)
                for row, t in zip(rows.tolist(), at.tolist(), strict=True)
            ]
        )

    def schedule_requests(self, month: int) -> None:
        """The month's customer requests: a Poisson process (count ~ Poisson, times uniform)."""
        spec = self.cfg.requests
        if spec.per_month <= 0:
            return
        rng = self.sim.streams.generator("requests", month)
        k = int(rng.poisson(spec.per_month))
        times = month + np.sort(rng.random(k))
        if spec.distribution == "exponential":
            hours = rng.exponential(spec.hours, size=k)
        else:
            hours = np.full(k, spec.hours)
        seq = self._seq
        self.add_arrivals(
            [
                Job(PRIORITY_REQUEST, t, next(seq), h)
                for t, h in zip(times.tolist(), hours.tolist(), strict=True)
            ]
        )

    # -- the CSMs' work: one dispatcher instead of one process per CSM --------------------------
    #
    # Each CSM works one job after another: when free at time t it takes the best job that has
    # arrived, or else claims the earliest arrival nobody has claimed (and works it from its
    # arrival), or else waits for the next month's arrivals. Nothing outside the team sees a
    # job until it ends, so the dispatcher keeps the CSMs' job ends in a heap of its own and,
    # each time it runs, works through every end that comes before the next event of the rest
    # of the model (a weekly plan, the turn of a month), exactly as one simpy process per CSM
    # would have, in the same order; it then sleeps until the next end. Simpy events thus grow
    # with weeks and months, not with jobs. (An end falling on the very instant of another
    # event is worked after it; with continuous arrival times this does not happen.)

    def _first_claims(self):
        now = self.env.now
        if not self.fcfs:  # (first come first served: the dispatcher starts them all idle)
            for j in range(self.cfg.csm.count):
                self._take_next(j, now)
        self._arm()
        return
        yield  # a simpy process (started with urgent priority, as the CSM processes were)

    def _on_claims(self, _event: Any) -> None:
        """Idle CSMs claim the month's arrivals (after the calendar has opened the month)."""
        self._claims_due = False
        now = self.env.now
        self._work_until(now, inclusive=True)
        idle, self._idle = self._idle, []
        for j in idle:
            self._take_next(j, now)
        self._arm()

    def _take_next(self, j: int, now: float) -> None:
        """CSM ``j`` is free at ``now``: take a job (its end goes on the heap) or go idle."""
        job = self._next_job(now)
        if job is None:
            if not self.pending:
                self._idle.append(j)
                return
            # claim the earliest unclaimed arrival: nobody else can take it and nothing
            # arrives before it; work starts on its arrival
            job = heapq.heappop(self.pending)[2]
            job.start = now + (job.arrival - now)
        else:
            job.start = now
        end = job.start + job.hours / self.rate
        heapq.heappush(self._busy, (end, next(self._order), j, job))

    def _work_until(self, limit: float, inclusive: bool = False) -> None:
        """Work through the job ends before ``limit`` (at or before, with ``inclusive``)."""
        busy, ledger = self._busy, self.sim.ledger
        last = self.sim.horizon - 1
        while busy and (busy[0][0] < limit or (inclusive and busy[0][0] == limit)):
            end, _, j, job = heapq.heappop(busy)
            self.reactive_hours[j] += job.hours
            self._book_hours(job.start, end, job.hours)
            if job.priority == PRIORITY_ALERT:
                self.coverage.alert_served(job, end)
            else:
                ledger.add("requests_served", min(int(end), last), 1)
            self._take_next(j, end)

    def _arm(self) -> None:
        """Make sure the dispatcher wakes at the earliest job end (first come, first served:
        no wake-ups, see :meth:`catch_up`)."""
        if self.fcfs or not self._busy:
            return
        end = self._busy[0][0]
        if self._wake is not None and self._wake_at <= end:
            return
        wake = self.env.at(end)
        wake.callbacks.append(self._on_wake)
        self._wake, self._wake_at = wake, end

    def _on_wake(self, event: Any) -> None:
        if event is not self._wake:  # superseded by an earlier wake-up
            return
        self._wake, self._wake_at = None, np.inf
        self._work_until(self.env.peek())
        self._arm()

    # -- alerts only: first come first served, assigned when they arrive --------------------------
    #
    # With one priority the CSMs take the jobs in the order of their arrival (then scheduling
    # order), each the next one whenever free, and nothing that arrives later can overtake a job
    # that arrived before it. So when a month's alerts are drawn, the dispatcher can play the
    # CSMs' claims forward at once on a heap of their last jobs' ends, exactly as
    # :meth:`_take_next` would have played them one by one: which CSM takes each job, when
    # (``pop``) and when it starts and ends. Working the ends (hours, served alerts) then
    # happens a batch at a time, when something reads it (:meth:`catch_up`): no simpy event.

    def _fcfs_add(self, rows: NDArray[np.intp], at: NDArray[np.float64]) -> None:
        n = rows.size
        order = np.argsort(at, kind="stable")  # arrival, then scheduling order
        arrival = at[order]
        start = np.full(n, np.nan)
        end = np.full(n, np.inf)
        pop = np.full(n, np.inf)
        csm = np.full(n, -1, dtype=np.intp)
        dur = self._job_hours / self.rate
        self._dispatch.assign(self.env.now, arrival, dur, start, end, pop, csm)
        self._add_jobs(rows[order], arrival, start, end, pop, csm)

    def _add_jobs(
        self,
        rows: NDArray[np.intp],
        arrival: NDArray[np.float64],
        start: NDArray[np.float64],
        end: NDArray[np.float64],
        pop: NDArray[np.float64],
        csm: NDArray[np.intp],
    ) -> None:
        """File newly given-out jobs (in order of arrival) among those not worked yet."""
        new = {
            "end": end,
            "start": start,
            "pop": pop,
            "arrival": arrival,
            "csm": csm,
            "row": rows.astype(np.intp),
        }
        self._job_log.append((arrival, start, pop))  # for queue statistics (any order)
        # the jobs not worked yet, by end and then order of scheduling (older first)
        i = self._next
        merged = {k: np.concatenate([v[i:], new[k]]) for k, v in self._jobs.items()}
        by_end = np.argsort(merged["end"], kind="stable")
        self._jobs = {k: v[by_end] for k, v in merged.items()}
        self._next = 0
        self._next_end = float(self._jobs["end"][0]) if by_end.size else np.inf

    def catch_up(self) -> None:
        """Work the job ends before now (first come, first served).

        Such jobs need no simpy event at all: every job's CSM, start and end are known when it
        is scheduled, and what working an end changes (the CSM's reactive hours, hours booked,
        the served alert) is read only by the weekly plan, the turn of a month and the renewal
        save handler, which call this first. The ends are worked in the same order and
        batches of them sum the same way, so results are those of waking at every end.
        """
        if self.fcfs and self._next_end < self.env.now:
            self._fcfs_work_until(self.env.now)

    def _fcfs_work_until(self, limit: float) -> None:
        """Work the job ends before ``limit``, in one batch."""
        jobs, i = self._jobs, self._next
        ends = jobs["end"]
        stop = int(ends.searchsorted(limit))
        if stop <= i:
            return
        self._next = stop
        self._next_end = float(ends[stop]) if stop < ends.size else np.inf
        cov = self.coverage
        out = np.empty(stop - i, dtype=np.intp)
        q = self.kernels.work(
            i,
            stop,
            jobs["start"],
            ends,
            self._job_hours,
            jobs["csm"],
            jobs["row"],
            self.sim.horizon - 1,
            self.reactive_hours,
            self.sim.ledger["csm_hours_worked"],
            cov._alerts_served,
            cov._alive,
            cov._served_month,
            out,
        )
        if q:
            cov._served_batches.append(out[:q])

    def _weekly(self):
        """The team's weekly plan: scheduled touches of every book within each CSM's budget."""
        env = self.env
        weekly = self.cfg.csm.hours_per_week
        week = 0
        while True:
            self.catch_up()
            self.coverage.flush_served()
            self._plan_week(env.now, (week + 1) * WEEK, weekly)
            week += 1
            yield env.timeout(week * WEEK - env.now)

    def set_books(self, rows: NDArray[np.intp]) -> None:
        """The CSM books after a tier re-assignment: a compact copy of what the weekly plan
        reads (rows, next-touch times, CSM, and each row's tier's cadence, cost and effect),
        kept in step with the book as touches are done or skipped and accounts churn."""
        book = self.sim.book
        high, low = self.cfg.tiers.high, self.cfg.tiers.low
        self._p_rows = rows
        self._p_next = book.next_touch[rows]  # a copy (fancy indexing)
        self._p_csm = book.csm[rows]
        # each row's tier (0 high, 1 low) and the tiers' cadence, hours and effect
        self._p_tier = (book.tier[rows] != HIGH).astype(np.int8)
        self._tier_cadence = np.array([high.cadence_weeks, low.cadence_weeks]) * WEEK
        self._tier_cost = np.array([high.touch_hours, low.touch_hours])
        self._tier_effect = np.array([high.touch_effect, low.touch_effect])
        self._p_min_cadence = float(self._tier_cadence[self._p_tier].min()) if rows.size else 0.0
        self._p_churns = book.churns

    def _drop_churned(self) -> None:
        """Accounts of the books that churned (for good) are never due again."""
        book = self.sim.book
        if book.churns != self._p_churns and self._p_rows.size:
            self._p_churns = book.churns
            self._p_next[~book.alive[self._p_rows]] = np.inf

    def _plan_week(self, now: float, week_end: float, weekly: float) -> None:
        """The week's scheduled touches: each CSM's budget is ``weekly`` less this week's
        reactive hours, which are then cleared (see the kernels' ``week_plan``)."""
        sim, book, ledger = self.sim, self.sim.book, self.sim.ledger
        self._drop_churned()
        state, skipped, done, hours = self.kernels.week_plan(
            self._p_rows,
            self._p_next,
            self._p_tier,
            self._tier_cadence,
            self._tier_cost,
            self._tier_effect,
            self._p_csm,
            self._p_min_cadence,
            now,
            week_end,
            weekly,
            self.reactive_hours,
            book.satisfaction,
            book.touches_quarter,
            book.touches,
            book.next_touch,
            self.cfg.diminishing,
            self._exact_hours,
        )
        month = min(int(now), sim.horizon - 1)
        if skipped:
            ledger.add("touches_skipped", month, skipped)
        if state == 2:
            ledger.add("touches_done", month, done)
            self._book_hours(now, week_end, hours)

    def _book_hours(self, start: float, end: float, hours: float) -> None:
        """Book ``hours`` worked evenly over [start, end) into the months it spans."""
        worked = self.sim.ledger["csm_hours_worked"]
        last = self.sim.horizon - 1
        if end <= start or int(start) == int(end) or int(start) >= last:
            worked[min(int(start), last)] += hours
            return
        t = start
        while t < end and int(t) <= last:
            stop = min(end, int(t) + 1.0)
            worked[int(t)] += hours * (stop - t) / (end - start)
            t = stop

    def close_month(self, month: int) -> None:
        """Record the backlog at the end of ``month``: queued jobs plus overdue touches."""
        self.catch_up()
        # accounts alive in a CSM book are those of the compact copy not churned
        self._drop_churned()
        overdue = int(np.count_nonzero(self._p_next < month + 1))
        now = self.env.now
        if self.fcfs:  # arrived, and not yet taken by a CSM
            jobs, i = self._jobs, self._next
            waiting = int(np.count_nonzero((jobs["arrival"][i:] <= now) & (jobs["pop"][i:] >= now)))
        else:
            arrived = sum(1 for arrival, _, _ in self.pending if arrival <= now)
            waiting = len(self.queue) + arrived
        self.sim.ledger.set("backlog", month, waiting + overdue)


class DigitalDesk:
    """A pooled digital-CS queue for the health alerts of tech-touch accounts
    (``coverage.digital``; on when ``hours_per_week`` > 0).

    The pool works like one server of ``hours_per_week`` hours a week: each month's alerts, in
    order of arrival, take ``hours_per_alert`` each, first come first served, so alert k of the
    month (k = 0, 1, ...; arrivals a_k, service d = hours / pool rate, months) ends at::

        c_k = max(a_k, c_(k-1)) + d = (k + 1) d + max over j <= k of (a_j - j d)

    (the pool free at the month's start). Alerts that would end after the month are not
    answered (the account can alert again after its cool-down). An answered alert closes
    ``alerts.effect`` of the gap to full satisfaction when it ends and counts for a save at
    renewal like a CSM's. Monthly columns: ``digital_alerts_raised``, ``digital_alerts_served``,
    ``digital_hours_worked``; the pool's cost (hours x ``cost_per_hour``) is in ``cs_cost``.
    """

    def __init__(self, sim: Simulation, coverage: CoverageActor) -> None:
        cfg = sim.scenario.coverage
        spec = cfg.digital
        self.sim = sim
        self.coverage = coverage
        self.hours = cfg.alerts.hours if spec.hours_per_alert is None else spec.hours_per_alert
        self.duration = self.hours / (spec.hours_per_week / WEEK)  # months an alert takes
        csm_hour = cfg.csm.cost_per_month / (cfg.csm.hours_per_week / WEEK)
        hourly = csm_hour if spec.cost_per_hour is None else spec.cost_per_hour
        self.cost_per_month = spec.hours_per_week / WEEK * hourly
        self._ends: list[NDArray[np.float64]] = []  # answered alerts not yet released
        self._rows: list[NDArray[np.intp]] = []
        for name in ("digital_alerts_raised", "digital_alerts_served"):
            sim.ledger.declare(name, integer=True)
        sim.ledger.declare("digital_hours_worked")

    def schedule(self, rows: NDArray[np.intp], at: NDArray[np.float64], month: int) -> None:
        """The month's tech-touch alerts (``rows`` arriving at ``at``, within the month)."""
        ledger = self.sim.ledger
        ledger.add("digital_alerts_raised", month, rows.size)
        if rows.size == 0:
            return
        order = np.argsort(at, kind="stable")
        arrival, rows = at[order], rows[order]
        d = self.duration
        k = np.arange(arrival.size)
        ends = ((k + 1) * d + np.maximum.accumulate(arrival - k * d)).astype(np.float64)
        late = np.flatnonzero(ends > month + 1.0)  # the first alert the month cannot end
        served = int(late[0]) if late.size else ends.size
        if served == 0:
            return
        ledger.add("digital_alerts_served", month, served)
        ledger.add("digital_hours_worked", month, served * self.hours)
        book = self.sim.book
        answered = rows[:served]
        book.served_month[answered] = month  # renewals are decided after the month's end
        self._ends.append(ends[:served])
        self._rows.append(answered)

    def release(self, now: float) -> None:
        """Hand the alerts answered before ``now`` to the coverage actor's flush."""
        keep_ends, keep_rows = [], []
        for ends, rows in zip(self._ends, self._rows, strict=True):
            done = ends < now
            if done.all():
                self.coverage._served_batches.append(rows)
                continue
            if done.any():
                self.coverage._served_batches.append(rows[done])
            keep_ends.append(ends[~done])
            keep_rows.append(rows[~done])
        self._ends, self._rows = keep_ends, keep_rows
