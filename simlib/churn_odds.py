"""The churn odds at a renewal, as a sum of registered log-odds terms.

At each renewal the renewal desk asks every registered :class:`ChurnOddsTerm` that the scenario
switches on for its contribution to the log-odds of churn, and adds them in ``(order, name)``
order::

    logit(p) = sum_k term_k(rows)

Built in (each registered by the module of its mechanism):

====  ================  =====================================================  ===================
order name              contribution to logit(p)                               module
====  ================  =====================================================  ===================
0     ``base_risk``     logit(risk), risk ~ Beta(alpha, beta) per account      model/renewal.py
10    ``satisfaction``  churn.satisfaction_effect x (fit - satisfaction), or   model/satisfaction.py
                        x (churn.satisfaction_reference - satisfaction)
15    ``tenure``        d[n] of churn.tenure_profile at renewal number n       model/tenure.py
                        (early-life churn; off when the profile is all 0)
20    ``champion``      log(champion.churn_odds_multiplier) x champion_lost    model/champion.py
30    ``price_rise``    pricing.churn_elasticity x log(new / old price) at     model/pricing.py
                        the renewal that moves the price (off by default)
40    ``lost_usage``    usage.churn_effect x usage_lost (log usage that        model/engagement.py
                        unwanted offers took away)
====  ================  =====================================================  ===================

A term returns ``None`` when it adds nothing for these rows (an effect of 0, no champion lost):
when only the base term contributes, the desk uses the base probability itself, with no round
trip through logit and expit, so p = risk to the bit and the shifted-beta-geometric survival
S(t) = B(alpha, beta + t) / B(alpha, beta) holds exactly (Fader & Hardie 2007).

A new mechanism that moves churn registers one more term in its own module; the renewal desk is
not edited (``price_rise`` in model/pricing.py is one)::

    @register_churn_odds_term("price_rise", order=30, enabled=_on)
    def _price_rise(sim, rows):
        rise = _movers(sim, rows, month)  # the rise each row faces at this renewal, or 0
        return elasticity * np.log1p(rise) if rise.any() else None
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit, logit

from .registry import Registry

if TYPE_CHECKING:
    from .engine import Simulation
    from .scenario import Scenario

__all__ = [
    "CHURN_ODDS_TERMS",
    "ChurnOddsTerm",
    "churn_probability",
    "register_churn_odds_term",
]

#: ``contribution(sim, rows) -> log-odds per row`` (or None: nothing for these rows).
Contribution = Callable[["Simulation", NDArray[np.intp]], NDArray[np.float64] | None]


def _always(scenario: Scenario) -> bool:
    return True


@dataclass(frozen=True)
class ChurnOddsTerm:
    """One registered term. ``base``: the term whose own probability is used when it is the
    only one contributing (``probability(sim, rows)``); exactly one base term is expected."""

    name: str
    order: int
    contribution: Contribution
    enabled: Callable[[Scenario], bool] = _always
    probability: Callable[[Simulation, NDArray[np.intp]], NDArray[np.float64]] | None = None


#: The churn-odds terms, by name.
CHURN_ODDS_TERMS: Registry[ChurnOddsTerm] = Registry("churn-odds term")


def register_churn_odds_term(
    name: str,
    order: int,
    enabled: Callable[[Scenario], bool] = _always,
) -> Callable[[Contribution], Contribution]:
    """Decorator: ``contribution(sim, rows) -> log-odds | None`` becomes term ``name``."""

    def add(fn: Contribution) -> Contribution:
        CHURN_ODDS_TERMS.add(name, ChurnOddsTerm(name, order, fn, enabled))
        return fn

    return add


def register_base_term(
    name: str,
    probability: Callable[[Simulation, NDArray[np.intp]], NDArray[np.float64]],
) -> None:
    """Register the base term (order 0): its log-odds are logit(probability), clipped to
    [1e-12, 1 - 1e-12] so that a probability of 0 or 1 stays finite."""

    def contribution(sim: Simulation, rows: NDArray[np.intp]) -> NDArray[np.float64]:
        return logit(np.clip(probability(sim, rows), 1e-12, 1 - 1e-12))

    CHURN_ODDS_TERMS.add(name, ChurnOddsTerm(name, 0, contribution, _always, probability))


def active_terms(scenario: Scenario) -> list[ChurnOddsTerm]:
    """The terms a scenario switches on, in the order they are added."""
    terms = [t for t in CHURN_ODDS_TERMS.values() if t.enabled(scenario)]
    return sorted(terms, key=lambda t: (t.order, t.name))


def churn_probability(
    sim: Simulation, rows: NDArray[np.intp], terms: list[ChurnOddsTerm]
) -> NDArray[np.float64]:
    """p = expit(sum of the terms' log-odds) for ``rows`` (see the module docstring)."""
    base = next((t for t in terms if t.probability is not None), None)
    extra = [
        c for t in terms if t is not base for c in [t.contribution(sim, rows)] if c is not None
    ]
    if base is not None and not extra:
        assert base.probability is not None
        return base.probability(sim, rows)
    z = base.contribution(sim, rows) if base is not None else np.zeros(rows.size)
    assert z is not None  # a base term's contribution is the logit of its probability
    for c in extra:
        z = z + c
    return np.asarray(expit(z), dtype=np.float64)
