"""Satisfaction (health score) drift: mean reversion toward product fit, with noise.

Each month, for every account alive, in logit space (so satisfaction stays inside (0, 1)):
``z <- z + reversion x (logit(fit) - z) + volatility x eps``, ``eps ~ N(0, 1)`` keyed by account
and month (stream ``satisfaction``). This is an Ornstein-Uhlenbeck process sampled monthly.
With ``satisfaction.uplift = u`` the level is ``fit + u`` (clipped to (0.001, 0.999)) instead of
``fit``: satisfaction is raised without changing the fit that the churn link measures it against.

The churn link is the ``satisfaction`` churn-odds term registered here (:mod:`simlib.churn_odds`),
added to the log-odds of churn at a renewal:

* ``churn.satisfaction_effect x (fit - satisfaction)`` with ``churn.satisfaction_reference``
  null (the default): the gap to the account's own product fit. Fit is latent (no CRM records
  it), so this form cannot be fitted from data; an account churns at its base risk whenever it
  sits at its fit.
* ``churn.satisfaction_effect x (reference - satisfaction)`` with a reference level r (0-1):
  the gap to one documented health level for every account. The base risk is then the risk of
  an account at health r, and the churn link is a logistic regression of churn at a renewal on
  the observed health level, logit p = logit(risk) + effect x r - effect x health, whose slope
  (-effect) a panel of CRM health scores and churn flags identifies; set r to the mean health of
  the accounts the base churn distribution was fitted on, so that the intercept keeps its
  meaning. Product fit still sets where satisfaction drifts, so it still moves churn, through
  the satisfaction level it produces.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit, logit

from ..churn_odds import register_churn_odds_term
from ..engine import Actor, Simulation, register_actor
from ..scenario import Scenario

__all__ = ["SatisfactionActor"]


@register_actor
class SatisfactionActor(Actor):
    name: ClassVar[str] = "satisfaction"
    order: ClassVar[int] = 60

    @classmethod
    def enabled(cls, scenario: Scenario) -> bool:
        return scenario.satisfaction.enabled

    def open_month(self, month: int) -> None:
        cfg = self.sim.scenario.satisfaction
        book = self.sim.book
        rows = book.alive_index()
        if rows.size == 0:
            return
        z = logit(book.satisfaction[rows])
        z *= 1.0 - cfg.reversion
        if cfg.uplift:  # a satisfaction programme: drift toward fit + uplift (simlib.lab)
            level = np.clip(book.fit[rows] + cfg.uplift, 1e-3, 1 - 1e-3)
            z += cfg.reversion * logit(level)
        else:
            z += cfg.reversion * book.fit_logit[rows]
        if cfg.volatility > 0:
            noise = self.sim.streams.normal("satisfaction", book.key[rows], month)
            noise *= cfg.volatility
            z += noise
        s = expit(z, out=z)
        book.satisfaction[rows] = np.clip(s, 1e-6, 1 - 1e-6, out=s)


@register_churn_odds_term("satisfaction", order=10)
def _satisfaction_gap(sim: Simulation, rows: NDArray[np.intp]) -> NDArray[np.float64] | None:
    """``satisfaction_effect x (level - satisfaction)`` (log-odds), the level being the
    account's fit or ``churn.satisfaction_reference``: below it an account churns more."""
    churn = sim.scenario.churn
    effect = churn.satisfaction_effect
    if effect == 0:
        return None
    book = sim.book
    if churn.satisfaction_reference is not None:
        return effect * (churn.satisfaction_reference - book.satisfaction[rows])
    return effect * (book.fit[rows] - book.satisfaction[rows])
