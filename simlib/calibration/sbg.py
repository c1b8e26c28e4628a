"""The shifted-beta-geometric (sBG) churn model: closed forms, customer value and a fitted model.

The kit's churn model is the sBG model of Fader & Hardie (2007), "How to project customer
retention", Journal of Interactive Marketing 21(1): each account churns at each renewal with its
own probability ``theta ~ Beta(alpha, beta)``, drawn once. With ``T`` the renewal (1, 2, ...) at
which an account leaves and ``B`` the beta function:

* ``P(T = t) = B(alpha + 1, beta + t - 1) / B(alpha, beta)``  (churn at renewal t, t >= 1)
* ``S(t) = P(T > t) = B(alpha, beta + t) / B(alpha, beta)``  (still a customer after t renewals)
* ``r(t) = S(t) / S(t - 1) = (beta + t - 1) / (alpha + beta + t - 1)``  (retention rate at t)

A *period* is the time between two renewals: ``period_months = K`` months (1 = monthly
contracts, 12 = annual).

Customer value: with a discount rate ``d`` per period and payments at the start of each period
(at acquisition and at each renewal survived), Fader & Hardie (2010), "Customer-base valuation in
a contractual setting: the perils of ignoring heterogeneity", Marketing Science 29(1), give

* ``DEL(d) = sum_{t>=0} S(t) / (1+d)^t = 2F1(1, beta; alpha + beta; 1/(1+d))``
* ``DERL(d, n) = sum_{t>=n} [S(t) / S(n-1)] / (1+d)^(t-n)
  = (beta + n - 1) / (alpha + beta + n - 1) x 2F1(1, beta + n; alpha + beta + n; 1/(1+d))``

the discounted expected (residual) number of payments of a new account, and of an account that
has made ``n - 1`` renewals, valued just before its ``n``-th renewal. Multiply by the margin per
period (currency per period) for a value.

:class:`SBGFit` is a fitted distribution (see :mod:`simlib.calibration.fitting`) with these
closed forms as methods and the JSON record ``simlib calibrate`` prints.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import betaln

__all__ = [
    "SBGFit",
    "churn_probability",
    "discounted_expected_lifetime",
    "discounted_expected_residual_lifetime",
    "period_discount_rate",
    "retention_rate",
    "survival",
]

# --------------------------------------------------------------------------------------------
# Closed forms


def _as_array(t: Any) -> NDArray[np.float64]:
    return np.asarray(t, dtype=np.float64)


def survival(alpha: float, beta: float, t: Any) -> NDArray[np.float64]:
    """``S(t) = B(alpha, beta + t) / B(alpha, beta)``: share of a cohort alive after t renewals."""
    t = _as_array(t)
    return np.exp(betaln(alpha, beta + t) - betaln(alpha, beta))


def churn_probability(alpha: float, beta: float, t: Any) -> NDArray[np.float64]:
    """``P(T = t) = B(alpha + 1, beta + t - 1) / B(alpha, beta)``: churn at renewal t (t >= 1)."""
    t = _as_array(t)
    return np.exp(betaln(alpha + 1.0, beta + t - 1.0) - betaln(alpha, beta))


def retention_rate(alpha: float, beta: float, t: Any) -> NDArray[np.float64]:
    """``r(t) = (beta + t - 1) / (alpha + beta + t - 1)``: share renewing at renewal t (t >= 1)."""
    t = _as_array(t)
    return (beta + t - 1.0) / (alpha + beta + t - 1.0)


def period_discount_rate(annual_rate: float, period_months: int) -> float:
    """Discount rate per renewal period of ``period_months`` months: ``(1 + annual)^(K/12) - 1``."""
    return (1.0 + annual_rate) ** (period_months / 12.0) - 1.0


def _hyp2f1_1(b: float, c: float, z: float, rtol: float = 1e-15) -> float:
    """Gauss ``2F1(1, b; c; z)`` for ``0 <= z < 1``, ``b, c > 0``, by its series.

    Term ``k`` is ``(b)_k / (c)_k z^k``; successive terms shrink by ``z (b+k)/(c+k)``, so once
    ``c >= b`` the tail after term ``k`` is at most ``term_k z / (1 - z)`` and the sum stops when
    that bound falls below ``rtol`` of the sum. (``scipy.special.hyp2f1`` returns ``inf`` for
    some shapes met here, e.g. alpha = 50, beta = 100.)
    """
    if not 0.0 <= z < 1.0:
        raise ValueError(f"2F1 needs 0 <= z < 1, got {z}")
    if z == 0.0:
        return 1.0
    log_z = math.log(z)
    total = 0.0
    log_term = 0.0  # log of term k (term 0 = 1)
    k = 0
    chunk = 4096
    tail_factor = z / (1.0 - z)
    max_terms = 50_000_000
    while k < max_terms:
        j = np.arange(k, k + chunk, dtype=np.float64)
        steps = np.log(b + j) - np.log(c + j) + log_z  # log(term_{j+1} / term_j)
        logs = log_term + np.concatenate(([0.0], np.cumsum(steps[:-1])))
        terms = np.exp(logs)
        total += float(terms.sum())
        log_term = float(logs[-1] + steps[-1])
        k += chunk
        ratio_ok = c >= b or (b + k) / (c + k) * z < 1.0
        if ratio_ok and math.exp(log_term) * tail_factor <= rtol * total:
            return total
        chunk = min(chunk * 2, 1 << 20)
    raise ValueError(f"2F1(1, {b}; {c}; {z}) did not converge; is the discount rate too small?")


def discounted_expected_lifetime(alpha: float, beta: float, discount_rate: float) -> float:
    """DEL = 2F1(1, beta; alpha + beta; 1/(1+d)) (Fader & Hardie 2010, Marketing Science 29(1)).

    The expected discounted number of payments (periods paid, the first at acquisition,
    undiscounted) of a new account; ``discount_rate`` ``d`` is per renewal period (> 0).
    """
    if not discount_rate > 0:
        raise ValueError(f"the discount rate per period must be > 0, got {discount_rate}")
    return _hyp2f1_1(beta, alpha + beta, 1.0 / (1.0 + discount_rate))


def discounted_expected_residual_lifetime(
    alpha: float, beta: float, discount_rate: float, renewal: int
) -> float:
    """DERL(d, n) = (b+n-1)/(a+b+n-1) x 2F1(1, b+n; a+b+n; 1/(1+d)) (Fader & Hardie 2010).

    The expected discounted number of future payments of an account that has made ``n - 1``
    renewals, valued just before renewal ``n`` (``renewal`` = n >= 1; the payment at that
    renewal, if it renews, is undiscounted). ``discount_rate`` is per renewal period (> 0).
    """
    if not discount_rate > 0:
        raise ValueError(f"the discount rate per period must be > 0, got {discount_rate}")
    n = int(renewal)
    if n < 1:
        raise ValueError(f"renewal must be >= 1, got {renewal}")
    r = (beta + n - 1.0) / (alpha + beta + n - 1.0)
    return r * _hyp2f1_1(beta + n, alpha + beta + n, 1.0 / (1.0 + discount_rate))


# --------------------------------------------------------------------------------------------
# The fitted distribution


@dataclass
class SBGFit:
    """A fitted sBG churn distribution for one group (segment) of accounts.

    ``alpha``, ``beta``: shapes of the Beta distribution of the churn probability per renewal
    period; ``alpha_se``, ``beta_se``: standard errors from the inverse observed information;
    ``n``: accounts (the cohort size for a retention table); ``churned``: churn events seen;
    ``periods``: the longest duration observed, in periods; ``period_months``: months per period.
    """

    group: str | None
    alpha: float
    beta: float
    alpha_se: float
    beta_se: float
    covariance: NDArray[np.float64]
    log_likelihood: float
    n: int
    churned: int
    periods: int
    period_months: int = 1
    converged: bool = True
    warnings: list[str] = field(default_factory=list)
    #: the model checks (:func:`simlib.calibration.models.model_checks`), when they were run
    checks: dict[str, Any] | None = None

    @property
    def mean_churn(self) -> float:
        """Mean churn probability per renewal period, alpha / (alpha + beta)."""
        return self.alpha / (self.alpha + self.beta)

    def survival(self, t: Any) -> NDArray[np.float64]:
        """S(t): share of a new cohort still subscribed after t renewal periods."""
        return survival(self.alpha, self.beta, t)

    def churn_probability(self, t: Any) -> NDArray[np.float64]:
        """P(T = t): share of a new cohort churning at renewal t."""
        return churn_probability(self.alpha, self.beta, t)

    def retention_rate(self, t: Any) -> NDArray[np.float64]:
        """r(t): share of those alive after t - 1 renewals who renew at renewal t."""
        return retention_rate(self.alpha, self.beta, t)

    def discounted_expected_lifetime(self, discount_rate: float) -> float:
        """DEL at ``discount_rate`` per period (see the module docstring)."""
        return discounted_expected_lifetime(self.alpha, self.beta, discount_rate)

    def discounted_expected_residual_lifetime(self, discount_rate: float, renewal: int) -> float:
        """DERL at ``discount_rate`` per period for an account about to make renewal ``n``."""
        return discounted_expected_residual_lifetime(self.alpha, self.beta, discount_rate, renewal)

    def to_dict(self, annual_discount_rate: float = 0.1) -> dict[str, Any]:
        """The contract's JSON record (plus mean churn, DEL, DERL and diagnostics)."""
        d = period_discount_rate(annual_discount_rate, self.period_months)
        derl_at = (1, 2, 3, 6, 12, 24)
        return {
            "group": self.group,
            "alpha": json_number(self.alpha),
            "beta": json_number(self.beta),
            "alpha_se": json_number(self.alpha_se),
            "beta_se": json_number(self.beta_se),
            "log_likelihood": json_number(self.log_likelihood),
            "n": int(self.n),
            "period_months": int(self.period_months),
            "churned": int(self.churned),
            "periods_observed": int(self.periods),
            "mean_churn": json_number(self.mean_churn),
            "alpha_beta_correlation": json_number(
                self.covariance[0, 1] / (self.alpha_se * self.beta_se)
                if self.alpha_se > 0 and self.beta_se > 0
                else float("nan")
            ),
            "annual_discount_rate": annual_discount_rate,
            "discount_rate_per_period": json_number(d),
            "del": json_number(self.discounted_expected_lifetime(d)),
            "derl": {
                str(n): json_number(self.discounted_expected_residual_lifetime(d, n))
                for n in derl_at
            },
            "converged": self.converged,
            "warnings": list(self.warnings),
            "model": "sbg",
        } | ({"checks": self.checks} if self.checks is not None else {})


def json_number(x: float) -> float | None:
    """A float for JSON: None for NaN or infinity (JSON has neither)."""
    x = float(x)
    return x if math.isfinite(x) else None
