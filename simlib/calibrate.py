"""Calibration: fit the churn model to a company's own data.

The kit's churn model is the shifted-beta-geometric (sBG) model of Fader & Hardie (2007), "How to
project customer retention", Journal of Interactive Marketing 21(1): each account churns at each
renewal with its own probability ``theta ~ Beta(alpha, beta)``, drawn once. With ``T`` the renewal
(1, 2, ...) at which an account leaves and ``B`` the beta function:

* ``P(T = t) = B(alpha + 1, beta + t - 1) / B(alpha, beta)``  (churn at renewal t, t >= 1)
* ``S(t) = P(T > t) = B(alpha, beta + t) / B(alpha, beta)``  (still a customer after t renewals)
* ``r(t) = S(t) / S(t - 1) = (beta + t - 1) / (alpha + beta + t - 1)``  (retention rate at t)

A *period* is the time between two renewals: ``period_months = K`` months (1 = monthly contracts,
12 = annual). Two kinds of data are fitted by maximum likelihood on ``log(alpha), log(beta)``:

* a cohort retention table (columns ``period, alive``, optionally ``segment``; period 0 is the
  cohort size): ``LL = sum_t (alive(t-1) - alive(t)) log P(T=t) + alive(last) log S(last)``;
* account-level tenure data with right-censoring (a duration and a 0/1 churn event per account):
  an account that churned at renewal ``t`` contributes ``log P(T=t)``, one still active after
  ``t`` renewals contributes ``log S(t)``.

Every term is ``betaln(alpha + c, beta + e) - betaln(alpha, beta)`` with whole shifts ``c, e``,
so the gradient and the Hessian are exact in digamma / trigamma functions. Standard errors come
from the inverse of the observed information (minus the Hessian of the log-likelihood at the
maximum).

Customer value: with a discount rate ``d`` per period and payments at the start of each period
(at acquisition and at each renewal survived), Fader & Hardie (2010), "Customer-base valuation in
a contractual setting: the perils of ignoring heterogeneity", Marketing Science 29(1), give

* ``DEL(d) = sum_{t>=0} S(t) / (1+d)^t = 2F1(1, beta; alpha + beta; 1/(1+d))``
* ``DERL(d, n) = sum_{t>=n} [S(t) / S(n-1)] / (1+d)^(t-n)
  = (beta + n - 1) / (alpha + beta + n - 1) x 2F1(1, beta + n; alpha + beta + n; 1/(1+d))``

the discounted expected (residual) number of payments of a new account, and of an account that
has made ``n - 1`` renewals, valued just before its ``n``-th renewal. Multiply by the margin per
period (currency per period) for a value.

Input errors raise :class:`simlib.errors.DataError` naming the file, the CSV line (and 1-based
data row) and the column. Nothing is fitted on bad data.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from numpy.typing import NDArray
from scipy.optimize import minimize
from scipy.special import betaln, digamma, polygamma

from .errors import DataError

__all__ = [
    "CsvTable",
    "SBGFit",
    "apply_fits",
    "calibration_json",
    "churn_probability",
    "demo_retention_table",
    "discounted_expected_lifetime",
    "discounted_expected_residual_lifetime",
    "fit_accounts",
    "fit_retention",
    "fit_sbg",
    "holdout_table",
    "kaplan_meier_accounts",
    "kaplan_meier_retention",
    "parse_number",
    "period_discount_rate",
    "read_accounts",
    "read_csv",
    "read_retention",
    "retention_rate",
    "retention_table_from_accounts",
    "scenario_fragment",
    "scenario_overrides",
    "survival",
    "survival_data_from_accounts",
    "survival_gap",
]

#: Bounds of alpha and beta during the search; a fit that ends on one is flagged in ``warnings``.
_BOUNDS = (1e-5, 1e8)
#: Beyond this alpha + beta the churn probabilities of accounts hardly differ (their standard
#: deviation is below 0.3 % of the mean's scale): the fit is flagged as showing no heterogeneity.
_HOMOGENEOUS = 1e5
_KINDS = {1: "monthly", 12: "annual"}

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
# The fit


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
            "alpha": _num(self.alpha),
            "beta": _num(self.beta),
            "alpha_se": _num(self.alpha_se),
            "beta_se": _num(self.beta_se),
            "log_likelihood": _num(self.log_likelihood),
            "n": int(self.n),
            "period_months": int(self.period_months),
            "churned": int(self.churned),
            "periods_observed": int(self.periods),
            "mean_churn": _num(self.mean_churn),
            "alpha_beta_correlation": _num(
                self.covariance[0, 1] / (self.alpha_se * self.beta_se)
                if self.alpha_se > 0 and self.beta_se > 0
                else float("nan")
            ),
            "annual_discount_rate": annual_discount_rate,
            "discount_rate_per_period": _num(d),
            "del": _num(self.discounted_expected_lifetime(d)),
            "derl": {
                str(n): _num(self.discounted_expected_residual_lifetime(d, n)) for n in derl_at
            },
            "converged": self.converged,
            "warnings": list(self.warnings),
        }


def _num(x: float) -> float | None:
    """A float for JSON: None for NaN or infinity (JSON has neither)."""
    x = float(x)
    return x if math.isfinite(x) else None


@dataclass
class _Counts:
    """Sufficient statistics: churn counts at each renewal t >= 1, survivors censored after t."""

    churn_t: NDArray[np.float64]
    churn_w: NDArray[np.float64]
    cens_t: NDArray[np.float64]
    cens_w: NDArray[np.float64]

    def terms(self) -> tuple[NDArray, NDArray, NDArray]:
        """Shifts (c, e) and weights of the terms betaln(alpha + c, beta + e) - betaln(alpha, beta)."""
        c = np.concatenate([np.ones_like(self.churn_t), np.zeros_like(self.cens_t)])
        e = np.concatenate([self.churn_t - 1.0, self.cens_t])
        w = np.concatenate([self.churn_w, self.cens_w])
        keep = (w > 0) & ~((c == 0) & (e == 0))  # S(0) = 1 carries no information
        return c[keep], e[keep], w[keep]


def _loglik(a: float, b: float, c: NDArray, e: NDArray, w: NDArray) -> float:
    return float(np.sum(w * (betaln(a + c, b + e) - betaln(a, b))))


def _gradient(a: float, b: float, c: NDArray, e: NDArray, w: NDArray) -> NDArray[np.float64]:
    total = w.sum()
    s = digamma(a + b + c + e)
    ab = digamma(a + b)
    ga = np.sum(w * (digamma(a + c) - s)) + total * (ab - digamma(a))
    gb = np.sum(w * (digamma(b + e) - s)) + total * (ab - digamma(b))
    return np.array([ga, gb])


def _hessian(a: float, b: float, c: NDArray, e: NDArray, w: NDArray) -> NDArray[np.float64]:
    total = w.sum()
    s = polygamma(1, a + b + c + e)
    ab = float(polygamma(1, a + b))
    haa = np.sum(w * (polygamma(1, a + c) - s)) + total * (ab - float(polygamma(1, a)))
    hab = np.sum(w * -s) + total * ab
    hbb = np.sum(w * (polygamma(1, b + e) - s)) + total * (ab - float(polygamma(1, b)))
    return np.array([[haa, hab], [hab, hbb]])


def fit_sbg(
    churn_times: Sequence[float] | NDArray,
    churn_counts: Sequence[float] | NDArray,
    censored_times: Sequence[float] | NDArray,
    censored_counts: Sequence[float] | NDArray,
    group: str | None = None,
    period_months: int = 1,
) -> SBGFit:
    """Maximum-likelihood sBG fit from counts (Fader & Hardie 2007).

    ``churn_counts[i]`` accounts churned at renewal ``churn_times[i]`` (periods, >= 1);
    ``censored_counts[i]`` are still active after ``censored_times[i]`` renewals (periods, >= 0).
    The search runs on ``log(alpha), log(beta)`` (L-BFGS-B with the exact gradient, then Newton
    steps with the exact Hessian); standard errors are the square roots of the diagonal of the
    inverse observed information in (alpha, beta).
    """
    counts = _Counts(
        np.asarray(churn_times, dtype=np.float64),
        np.asarray(churn_counts, dtype=np.float64),
        np.asarray(censored_times, dtype=np.float64),
        np.asarray(censored_counts, dtype=np.float64),
    )
    c, e, w = counts.terms()
    n = round(float(counts.churn_w.sum() + counts.cens_w.sum()))
    churned = round(float(counts.churn_w.sum()))
    periods = int(max(counts.churn_t.max(initial=0), counts.cens_t.max(initial=0)))
    total = float(w.sum())
    scale = max(total, 1.0)

    def objective(x: NDArray) -> tuple[float, NDArray]:
        a, b = np.exp(x)
        ll = _loglik(a, b, c, e, w)
        g = _gradient(a, b, c, e, w) * np.array([a, b])
        return -ll / scale, -g / scale

    at_first = counts.churn_w[counts.churn_t == 1].sum()
    exposed = total - counts.cens_w[counts.cens_t == 0].sum()
    p1 = float(np.clip(at_first / exposed if exposed > 0 else 0.1, 1e-4, 0.9))
    bounds = [(math.log(_BOUNDS[0]), math.log(_BOUNDS[1]))] * 2
    best = None
    for a0 in (0.3, 1.0, 3.0):
        b0 = a0 * (1.0 - p1) / p1
        x0 = np.log(np.clip([a0, b0], _BOUNDS[0] * 10, _BOUNDS[1] / 10))
        res = minimize(
            objective,
            x0,
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 2000},
        )
        if best is None or res.fun < best.fun:
            best = res
    assert best is not None
    x = np.clip(best.x, bounds[0][0], bounds[0][1])
    x = _newton_polish(x, c, e, w, bounds)
    a, b = (float(v) for v in np.exp(x))
    warnings: list[str] = []
    grad_x = _gradient(a, b, c, e, w) * np.array([a, b]) / scale
    on_bound = [
        name
        for name, v in zip(("alpha", "beta"), x, strict=True)
        if v <= bounds[0][0] + 1e-3 or v >= bounds[0][1] - 1e-3
    ]
    homogeneous = a + b > _HOMOGENEOUS
    converged = bool(np.max(np.abs(grad_x)) < 1e-6) and not on_bound and not homogeneous
    if homogeneous and not (on_bound and min(a, b) <= _BOUNDS[0] * 1.01):
        warnings.append(
            f"the data show no sign of heterogeneity: alpha + beta grows without limit "
            f"(reached {a + b:.3g}) at a nearly constant churn probability of "
            f"{a / (a + b):.4g} per period; a constant churn rate fits as well, and the "
            "standard errors are unreliable"
        )
    elif on_bound:
        warnings.append(
            f"{' and '.join(on_bound)} reached the search bound {_BOUNDS}; the standard errors "
            "are unreliable"
        )
    elif not converged:
        warnings.append(f"the search stopped with gradient {grad_x.tolist()}")
    hess = _hessian(a, b, c, e, w)
    info = -hess
    cov = np.full((2, 2), np.nan)
    if np.all(np.isfinite(info)) and np.linalg.eigvalsh(info).min() > 0:
        cov = np.linalg.inv(info)
    else:
        warnings.append("the observed information is not positive definite: no standard errors")
    return SBGFit(
        group=group,
        alpha=a,
        beta=b,
        alpha_se=float(np.sqrt(cov[0, 0])),
        beta_se=float(np.sqrt(cov[1, 1])),
        covariance=cov,
        log_likelihood=_loglik(a, b, c, e, w),
        n=n,
        churned=churned,
        periods=periods,
        period_months=int(period_months),
        converged=converged,
        warnings=warnings,
    )


def _newton_polish(
    x: NDArray, c: NDArray, e: NDArray, w: NDArray, bounds: list[tuple[float, float]]
) -> NDArray:
    """Newton steps on (log alpha, log beta) with the exact Hessian, each one an improvement."""
    lo, hi = bounds[0]
    for _ in range(30):
        a, b = np.exp(x)
        g = _gradient(a, b, c, e, w)
        h = _hessian(a, b, c, e, w)
        d = np.array([a, b])
        gx = g * d
        hx = h * np.outer(d, d) + np.diag(gx)
        if not np.all(np.isfinite(hx)) or np.linalg.eigvalsh(hx).max() >= 0:
            break
        step = -np.linalg.solve(hx, gx)
        ll0 = _loglik(a, b, c, e, w)
        for _ in range(20):
            x1 = np.clip(x + step, lo, hi)
            if _loglik(*np.exp(x1), c, e, w) >= ll0:
                break
            step /= 2
        else:
            break
        done = np.max(np.abs(x1 - x)) < 1e-12
        x = x1
        if done:
            break
    return x


# --------------------------------------------------------------------------------------------
# Reading tables

#: Text cells are kept in numpy's variable-width string type: a short cell costs 16 bytes (no
#: Python object per cell), so a million-row file loads in memory of the order of its size.
_TEXT = np.dtypes.StringDType()
#: Rows gathered as Python lists before they are packed into the compact columns.
_CHUNK_ROWS = 65_536


@dataclass
class CsvTable:
    """A table read from a CSV file (cells as text) or taken from a DataFrame.

    ``columns[name]`` holds a column's cells: stripped text in a compact numpy string array for
    a CSV file, the DataFrame's values (an object array) otherwise. ``lines[i]`` is the CSV line
    number of data row ``i`` (0-based here; messages say "line L (data row i + 1)"); None for
    in-memory tables (messages say "data row i + 1").
    """

    source: str
    header: list[str]
    columns: dict[str, NDArray[Any]]
    lines: NDArray[np.int64] | None = None

    def __len__(self) -> int:
        return len(self.columns[self.header[0]]) if self.header else 0

    def where(self, i: int) -> str:
        if self.lines is not None:
            return f"line {int(self.lines[i])} (data row {i + 1})"
        return f"data row {i + 1}"

    def error(self, message: str, row: int | None = None, column: str | None = None) -> DataError:
        parts = [self.source]
        if row is not None:
            parts.append(self.where(int(row)))
        if column is not None:
            parts.append(f"column {column!r}")
        return DataError(": ".join(parts) + ": " + message)

    def require(self, columns: Iterable[str], expected: str) -> None:
        missing = [c for c in columns if c not in self.header]
        if missing:
            names = ", ".join(repr(m) for m in missing)
            found = ", ".join(repr(h) for h in self.header)
            raise self.error(
                f"missing column(s) {names}; found {found}; expected {expected}",
            )

    def values(self, column: str) -> NDArray[Any]:
        """The cells of ``column`` (a numpy array; text stripped for a CSV file)."""
        return self.columns[column]

    def cell(self, i: int, column: str) -> Any:
        """One cell (as text for a CSV file)."""
        value = self.columns[column][i]
        return str(value) if self.lines is not None else value

    def text(self, column: str) -> NDArray[Any]:
        """``column`` as stripped text (blank for an empty or missing value)."""
        values = self.columns[column]
        if values.dtype == _TEXT:
            return values
        return np.array(
            ["" if _missing(v) else str(v).strip() for v in values], dtype=_TEXT
        ).reshape(len(values))

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, source: str = "<table>") -> CsvTable:
        """A DataFrame as a table (row numbers in messages are 1-based data rows)."""
        header = [str(c) for c in frame.columns]
        columns = {h: frame.iloc[:, j].to_numpy(dtype=object) for j, h in enumerate(header)}
        return cls(source, header, columns, None)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def read_csv(path: str | Path, expected: str = "") -> CsvTable:
    """Read a UTF-8 CSV file with a header line; blank lines are skipped; cells are stripped.

    The file is read as a stream and packed column by column into compact arrays, so memory
    stays of the order of the file's size (a million rows load in well under a few hundred MB).
    Raises :class:`DataError` for an unreadable or empty file, a malformed line, a blank or
    repeated column name, a row with the wrong number of cells, or no data rows.
    """
    source = str(path)
    hint = f"; expected {expected}" if expected else ""
    try:
        fh = open(path, encoding="utf-8-sig", newline="")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise DataError(f"{source}: cannot read file: {exc.strerror}") from None
    header: list[str] | None = None
    chunks: list[list[NDArray[Any]]] = []
    pending: list[list[str]] = []
    lines: list[NDArray[np.int64]] = []
    pending_lines: list[int] = []
    count = 0

    def pack() -> None:
        if pending:
            chunks.append(
                [np.strings.strip(np.array(col, dtype=_TEXT)) for col in zip(*pending, strict=True)]
            )
            lines.append(np.array(pending_lines, dtype=np.int64))
            pending.clear()
            pending_lines.clear()

    reader = csv.reader(fh)
    try:
        with fh:
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                if header is None:
                    header = [cell.strip() for cell in row]
                    for j, name in enumerate(header):
                        if not name:
                            raise DataError(
                                f"{source}: line {reader.line_num}: column {j + 1} of the header "
                                "has no name"
                            )
                        if name in header[:j]:
                            raise DataError(
                                f"{source}: line {reader.line_num}: column {name!r} appears twice "
                                "in the header"
                            )
                    continue
                if len(row) != len(header):
                    raise DataError(
                        f"{source}: line {reader.line_num} (data row {count + 1}): has "
                        f"{len(row)} cell(s), the header has {len(header)}"
                    )
                pending.append(row)
                pending_lines.append(reader.line_num)
                count += 1
                if len(pending) >= _CHUNK_ROWS:
                    pack()
            pack()
    except csv.Error as exc:
        raise DataError(f"{source}: line {reader.line_num}: not valid CSV ({exc})") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{source}: not a UTF-8 text file (byte {exc.start})") from None
    except OSError as exc:
        raise DataError(f"{source}: cannot read file: {exc.strerror}") from None
    if header is None:
        raise DataError(f"{source}: the file is empty; it needs a header line{hint}")
    if not count:
        raise DataError(f"{source}: no data rows, only a header{hint}")
    columns: dict[str, NDArray[Any]] = {}
    for j, name in enumerate(header):  # one column at a time, freeing its chunks as it goes
        columns[name] = np.concatenate([chunk[j] for chunk in chunks])
        for chunk in chunks:
            chunk[j] = columns[name][:0]
    return CsvTable(source, header, columns, np.concatenate(lines))


def _as_table(data: str | Path | pd.DataFrame | CsvTable, expected: str) -> CsvTable:
    if isinstance(data, CsvTable):
        return data
    if isinstance(data, pd.DataFrame):
        if data.empty:
            raise DataError(f"<table>: no data rows{'; expected ' + expected if expected else ''}")
        return CsvTable.from_frame(data)
    return read_csv(data, expected)


def parse_number(table: CsvTable, i: int, column: str, value: Any) -> float:
    """One cell as a finite number, or :class:`DataError` naming the row and column."""
    if isinstance(value, (bool, np.bool_)):
        raise table.error(f"not a number: {value!r}", i, column)
    if isinstance(value, (int, float, np.integer, np.floating)):
        x = float(value)
        if math.isnan(x):
            raise table.error("empty cell; a number is needed", i, column)
    else:
        text = "" if value is None else str(value).strip()
        if not text:
            raise table.error("empty cell; a number is needed", i, column)
        try:
            x = float(text)
        except ValueError:
            raise table.error(f"not a number: {text!r}", i, column) from None
    if not math.isfinite(x):
        raise table.error(f"must be a finite number, got {value!r}", i, column)
    return x


def parse_numbers(
    table: CsvTable, column: str, blank: bool = False, rows: NDArray[np.bool_] | None = None
) -> NDArray[np.float64]:
    """A column as finite numbers (NaN for blank cells when ``blank``), or :class:`DataError`
    naming the first bad row. ``rows``: check only these rows (the others give NaN)."""
    values = table.values(column)
    n = len(values)
    use = np.ones(n, dtype=bool) if rows is None else rows
    if values.dtype == _TEXT:
        empty = values == ""
        want = use & ~empty if blank else use
        out = np.full(n, np.nan)
        try:
            with np.errstate(all="ignore"):
                parsed = values[want].astype(np.float64)
            if np.isfinite(parsed).all():
                out[want] = parsed
                return out
        except (ValueError, OverflowError):
            pass
        # locate the first bad cell (and accept whatever Python's float() accepts)
        for i in np.flatnonzero(want):
            out[i] = parse_number(table, int(i), column, str(values[i]))
        return out
    out = np.full(n, np.nan)
    for i in np.flatnonzero(use):
        v = values[i]
        if blank and (_missing(v) or (isinstance(v, str) and not v.strip())):
            continue
        out[i] = parse_number(table, int(i), column, v)
    return out


def _numbers(table: CsvTable, column: str) -> NDArray[np.float64]:
    return parse_numbers(table, column)


def _whole(table: CsvTable, column: str, what: str) -> NDArray[np.int64]:
    x = _numbers(table, column)
    bad = np.flatnonzero((x < 0) | (x != np.floor(x)) | (x > 1e12))
    if bad.size:
        i = int(bad[0])
        v = x[i]
        if v < 0:
            raise table.error(f"must be >= 0 ({what}), got {table.cell(i, column)!r}", i, column)
        if v != math.floor(v):
            raise table.error(f"must be a whole number ({what}), got {v:g}", i, column)
        raise table.error(f"is too large ({what}), got {v:g}", i, column)
    return x.astype(np.int64)


def _col(table: CsvTable, column: str) -> int:
    return table.header.index(column)


def _labels(table: CsvTable, column: str) -> NDArray[Any]:
    out = table.text(column)
    empty = np.flatnonzero(out == "")
    if empty.size:
        raise table.error("empty cell; a group name is needed", int(empty[0]), column)
    return out


def _groups(labels: NDArray[Any]) -> list[tuple[str, NDArray[np.intp]]]:
    """Each distinct label (in order of first appearance) with its rows (in row order)."""
    names, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(len(names) + 1))
    groups = [(str(names[k]), order[bounds[k] : bounds[k + 1]]) for k in range(len(names))]
    return [groups[k] for k in np.argsort(first, kind="stable")]


_RETENTION_COLUMNS = (
    "columns period, alive (period 0 first = the cohort size) and optionally segment"
)


@dataclass
class RetentionData:
    """A validated cohort retention table of one group: ``alive[t]`` after ``t`` periods."""

    group: str | None
    alive: NDArray[np.int64]

    @property
    def periods(self) -> int:
        return len(self.alive) - 1


def read_retention(
    data: str | Path | pd.DataFrame | CsvTable, group_column: str = "segment"
) -> list[RetentionData]:
    """Validate a cohort retention table (columns ``period, alive`` and optional ``segment``).

    Periods are whole numbers of renewal periods; each group needs periods 0, 1, 2, ... without
    gaps or repeats (any row order); ``alive`` is a whole count, > 0 at period 0, never rising.
    """
    table = _as_table(data, _RETENTION_COLUMNS)
    table.require(["period", "alive"], _RETENTION_COLUMNS)
    period = _whole(table, "period", "periods since the cohort started")
    alive = _whole(table, "alive", "a count of accounts")
    has_group = group_column in table.header
    groups: list[tuple[str | None, NDArray[np.intp]]] = (
        list(_groups(_labels(table, group_column)))
        if has_group
        else [(None, np.arange(len(table)))]
    )
    out: list[RetentionData] = []
    for name, rows in groups:
        idx = rows[np.argsort(period[rows], kind="stable")]
        label = f"segment {name!r}: " if name is not None else ""
        step = np.diff(period[idx])
        repeated = np.flatnonzero(step == 0)
        if repeated.size:
            k = int(repeated[0])
            i, j = int(idx[k + 1]), int(idx[k])
            raise table.error(
                f"{label}period {period[i]} appears twice (also {table.where(j)})", i, "period"
            )
        first = idx[0]
        if period[first] != 0:
            raise table.error(
                f"{label}the first period is {period[first]}; period 0 (the cohort size) is "
                "missing",
                first,
                "period",
            )
        rises = np.diff(alive[idx]) > 0
        broken = np.flatnonzero((step != 1) | rises)
        if broken.size:
            k = int(broken[0])
            prev, i = int(idx[k]), int(idx[k + 1])
            if period[i] != period[prev] + 1:
                raise table.error(
                    f"{label}period {period[i]} follows period {period[prev]}; periods must "
                    "run 0, 1, 2, ... without gaps",
                    i,
                    "period",
                )
            raise table.error(
                f"{label}alive rises from {alive[prev]} (period {period[prev]}) to "
                f"{alive[i]}; a cohort can only shrink",
                i,
                "alive",
            )
        if alive[first] == 0:
            raise table.error(f"{label}the cohort size (period 0) is 0", first, "alive")
        counts = alive[idx]
        if len(counts) < 3:
            raise table.error(
                f"{label}needs at least periods 0, 1 and 2 to tell alpha from beta, got "
                f"{len(counts)} row(s)",
                column="period",
            )
        if counts[-1] == counts[0]:
            raise table.error(f"{label}no account churned; there is nothing to fit", column="alive")
        if counts[1] == 0:
            raise table.error(
                f"{label}every account churned at the first renewal; alpha and beta cannot be "
                "told apart",
                column="alive",
            )
        out.append(RetentionData(name, counts))
    return out


def _retention_counts(d: RetentionData, fit_periods: int | None = None) -> tuple:
    alive = d.alive if fit_periods is None else d.alive[: fit_periods + 1]
    t = np.arange(1, len(alive), dtype=np.float64)
    churn = (alive[:-1] - alive[1:]).astype(np.float64)
    return t, churn, [float(len(alive) - 1)], [float(alive[-1])]


def fit_retention(
    data: str | Path | pd.DataFrame | CsvTable,
    period_months: int = 1,
    fit_periods: int | None = None,
) -> list[SBGFit]:
    """sBG fit per segment of a cohort retention table (see :func:`read_retention`).

    ``fit_periods`` = K fits on periods 0..K only (a holdout check); None uses every period.
    ``period_months``: months per renewal period (1 monthly, 12 annual).
    """
    groups = read_retention(data)
    fits = []
    for d in groups:
        if fit_periods is not None:
            _check_fit_periods(d, fit_periods, data)
        fits.append(
            fit_sbg(*_retention_counts(d, fit_periods), group=d.group, period_months=period_months)
        )
    return fits


def _check_fit_periods(d: RetentionData, k: int, data: Any) -> None:
    label = f"segment {d.group!r}: " if d.group is not None else ""
    source = data.source if isinstance(data, CsvTable) else str(data)
    if isinstance(data, pd.DataFrame):
        source = "<table>"
    if k < 2 or k >= d.periods:
        raise DataError(
            f"{source}: {label}a holdout needs 2 <= K < {d.periods} (the last period), got K = {k}"
        )
    if d.alive[k] == d.alive[0]:
        raise DataError(f"{source}: {label}no account churned in periods 1..{k}; nothing to fit")


def holdout_table(
    data: str | Path | pd.DataFrame | CsvTable,
    fit_periods: int | None = None,
    period_months: int = 1,
    fits: list[SBGFit] | None = None,
) -> pd.DataFrame:
    """Observed vs fitted (and projected) survival of a cohort retention table, tidy.

    Fits on periods 0..``fit_periods`` (every period when None) unless ``fits`` are given, and
    returns one row per (group, period) with ``months`` (= period x ``period_months``),
    ``observed_alive``, ``observed_survival``,
    ``fitted_survival`` (S(t) of the fit), ``expected_alive`` (cohort size x S(t)) and ``part``:
    ``"fit"`` for periods used in the fit, ``"holdout"`` for periods projected.
    """
    groups = read_retention(data)
    if fits is None:
        fits = fit_retention(data, period_months=period_months, fit_periods=fit_periods)
    by_group = {f.group: f for f in fits}
    frames = []
    for d in groups:
        f = by_group[d.group]
        t = np.arange(len(d.alive))
        s = f.survival(t)
        k = d.periods if fit_periods is None else fit_periods
        frames.append(
            pd.DataFrame(
                {
                    "group": d.group,
                    "period": t,
                    "months": t * f.period_months,
                    "period_months": f.period_months,
                    "observed_alive": d.alive,
                    "observed_survival": d.alive / d.alive[0],
                    "fitted_survival": s,
                    "expected_alive": d.alive[0] * s,
                    "part": np.where(t <= k, "fit", "holdout"),
                    "fit_periods": k,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


_ACCOUNT_COLUMNS = "a duration column and a 0/1 event column (1 = churned, 0 = still active)"


@dataclass
class AccountData:
    """Validated account-level data of one group, in whole renewal periods.

    ``periods[i]``: the renewal at which account i churned (``churned[i]``) or the number of
    renewals it has passed so far (still active, right-censored).
    """

    group: str | None
    periods: NDArray[np.int64]
    churned: NDArray[np.bool_]


def read_accounts(
    data: str | Path | pd.DataFrame | CsvTable,
    duration: str,
    event: str,
    group: str | None = None,
    period_months: int = 1,
) -> list[AccountData]:
    """Validate account-level tenure data and convert durations to renewal periods.

    ``duration``: tenure in months (>= 0, fractions allowed) when ``period_months`` = K > 1, or
    whole renewal periods when K = 1 (monthly: periods and months agree). An account that
    churned (event 1) after ``m`` months left at renewal ``ceil(m / K)`` (>= 1, so m > 0); one
    still active (event 0) with tenure ``m`` has passed ``floor(m / K)`` renewals. For a monthly
    account still active, the tenure is the months since it started up to its last renewal
    (its current, paid month not counted).
    """
    if period_months < 1 or int(period_months) != period_months:
        raise DataError(f"period_months must be a whole number >= 1, got {period_months}")
    table = _as_table(data, _ACCOUNT_COLUMNS)
    cols = [duration, event] + ([group] if group else [])
    table.require(cols, _ACCOUNT_COLUMNS + (f" and the group column {group!r}" if group else ""))
    dur = _numbers(table, duration)
    ev = _numbers(table, event)
    bad_duration = dur < 0
    bad_event = (ev != 0.0) & (ev != 1.0)
    bad_churn = (ev == 1.0) & (dur == 0)
    bad = np.flatnonzero(bad_duration | bad_event | bad_churn)
    if bad.size:
        i = int(bad[0])
        if bad_duration[i]:
            raise table.error(f"a duration must be >= 0, got {dur[i]:g}", i, duration)
        if bad_event[i]:
            raise table.error(
                f"must be 0 (still active) or 1 (churned), got {table.cell(i, event)!r}",
                i,
                event,
            )
        raise table.error(
            "a churned account needs a duration > 0 (it leaves at a renewal)", i, duration
        )
    churned = ev == 1.0
    k = float(period_months)
    periods = np.where(churned, np.ceil(dur / k - 1e-9), np.floor(dur / k + 1e-9)).astype(np.int64)
    groups: list[tuple[str | None, NDArray[np.intp]]] = (
        list(_groups(_labels(table, group))) if group else [(None, np.arange(len(dur)))]
    )
    out = []
    for name, mask in groups:
        p, c = periods[mask], churned[mask]
        label = f"group {name!r}: " if name is not None else ""
        if not c.any():
            raise table.error(f"{label}no account churned; there is nothing to fit", column=event)
        if not (p >= 2).any():  # only P(T=1) and S(1) terms: they fix the mean, not the spread
            raise table.error(
                f"{label}no account was seen beyond its first renewal; alpha and beta cannot be "
                "told apart",
                column=duration,
            )
        out.append(AccountData(name, p, c))
    return out


def _account_counts(d: AccountData) -> tuple:
    ct, cw = np.unique(d.periods[d.churned], return_counts=True)
    st, sw = np.unique(d.periods[~d.churned], return_counts=True)
    return ct, cw, st, sw


def fit_accounts(
    data: str | Path | pd.DataFrame | CsvTable,
    duration: str,
    event: str,
    group: str | None = None,
    period_months: int = 1,
) -> list[SBGFit]:
    """sBG fit per group from right-censored account-level data (see :func:`read_accounts`)."""
    return [
        fit_sbg(*_account_counts(d), group=d.group, period_months=period_months)
        for d in read_accounts(data, duration, event, group, period_months)
    ]


# --------------------------------------------------------------------------------------------
# Kaplan–Meier curves of the data


def kaplan_meier_retention(
    data: str | Path | pd.DataFrame | CsvTable, level: float = 0.95
) -> pd.DataFrame:
    """Kaplan–Meier curve (Greenwood bands) of each group of a cohort retention table.

    Time is in renewal periods. For a single cohort observed to its last period the curve is
    ``alive(t) / alive(0)``; the bands show its sampling error. Columns as
    :func:`simlib.survival.kaplan_meier`.
    """
    from .survival import kaplan_meier

    durations, events, groups = [], [], []
    for d in read_retention(data):
        t, churn, cens_t, cens_w = _retention_counts(d)
        dur = np.concatenate(
            [np.repeat(t, churn.astype(np.int64)), np.repeat(cens_t, int(cens_w[0]))]
        )
        durations.append(dur)
        events.append(np.arange(dur.size) < churn.sum())
        groups.append(np.full(dur.size, "all" if d.group is None else d.group, dtype=object))
    return kaplan_meier(
        np.concatenate(durations), np.concatenate(events), np.concatenate(groups), level=level
    )


def kaplan_meier_accounts(
    data: str | Path | pd.DataFrame | CsvTable,
    duration: str,
    event: str,
    group: str | None = None,
    period_months: int = 1,
    level: float = 0.95,
) -> pd.DataFrame:
    """Kaplan–Meier curves (Greenwood bands) of account-level data, time in renewal periods.

    Durations are converted to periods as in :func:`read_accounts` (an account active after t
    renewals counts as surviving renewal t).
    """
    from .survival import kaplan_meier

    parts = read_accounts(data, duration, event, group, period_months)
    return kaplan_meier(
        np.concatenate([d.periods for d in parts]),
        np.concatenate([d.churned for d in parts]),
        np.concatenate(
            [
                np.full(d.periods.size, "all" if d.group is None else d.group, dtype=object)
                for d in parts
            ]
        ),
        level=level,
    )


def survival_gap(observed: pd.DataFrame, simulated: pd.DataFrame) -> pd.DataFrame:
    """Largest gap between two Kaplan–Meier curves of each group, over the observed periods.

    ``observed``, ``simulated``: tables of :func:`simlib.survival.kaplan_meier` (time in
    renewal periods), e.g. :func:`kaplan_meier_retention` of the data and
    :func:`kaplan_meier_accounts` of a simulation. Both step curves are read at every whole
    period from 0 to the last time of ``observed`` in the group. Returns one row per group of
    ``observed``: ``group, max_abs_gap`` (|simulated - observed| survival), ``period`` (where
    it is largest), ``observed_n`` and ``simulated_n`` (accounts at risk at time 0).
    """

    def at(curve: pd.DataFrame, t: NDArray) -> NDArray[np.float64]:
        times = curve["time"].to_numpy(dtype=np.float64)
        i = np.searchsorted(times, t, side="right") - 1
        s = curve["survival"].to_numpy(dtype=np.float64)
        return np.where(i >= 0, s[np.maximum(i, 0)], 1.0)

    rows = []
    for name, obs in observed.groupby(observed["group"].astype(str), sort=False):
        sim = simulated[simulated["group"].astype(str) == name].sort_values("time")
        obs = obs.sort_values("time")
        t = np.arange(int(obs["time"].max()) + 1, dtype=np.float64)
        gap = np.abs(at(sim, t) - at(obs, t)) if len(sim) else np.full(t.size, np.nan)
        worst = int(np.nanargmax(gap)) if np.isfinite(gap).any() else 0
        rows.append(
            {
                "group": name,
                "max_abs_gap": float(gap[worst]),
                "period": int(t[worst]),
                "observed_n": int(obs["at_risk"].iloc[0]),
                "simulated_n": int(sim["at_risk"].iloc[0]) if len(sim) else 0,
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# Simulated accounts as calibration data


def survival_data_from_accounts(accounts: pd.DataFrame) -> pd.DataFrame:
    """Tenure data (``duration_months``, ``event``) from a simulation's ``accounts`` table.

    A churned account was billed ``lifetime_months`` months and left at the renewal ending its
    last month: duration = ``lifetime_months``, event 1. An account alive at the horizon was
    billed ``lifetime_months`` months but its renewal at the end of the last month lies beyond
    the horizon: it has passed ``lifetime_months - 1`` monthly renewals (and, on an annual
    contract started at ``start_month``, ``floor((lifetime_months - 1) / 12)`` annual ones):
    duration = ``lifetime_months - 1``, event 0. Keeps ``segment``, ``contract``,
    ``start_month`` and ``replication``.
    """
    churned = accounts["churned"].to_numpy(dtype=bool)
    life = accounts["lifetime_months"].to_numpy(dtype=np.int64)
    out = pd.DataFrame(
        {
            "replication": accounts["replication"].to_numpy(),
            "segment": accounts["segment"].astype(str).to_numpy(),
            "contract": accounts["contract"].astype(str).to_numpy(),
            "start_month": accounts["start_month"].to_numpy(),
            "duration_months": np.where(churned, life, life - 1),
            "event": churned.astype(np.int64),
        }
    )
    return out


def retention_table_from_accounts(
    accounts: pd.DataFrame,
    horizon_months: int,
    by: str | None = "segment",
    period_months: int = 1,
) -> pd.DataFrame:
    """The cohort retention table (``period, alive`` [, ``segment``]) of the opening book.

    Uses the accounts that started at month 0 (pooled over replications) and observes them to
    the last renewal inside the horizon: ``(horizon_months - 1) // period_months`` periods (the
    renewal at the end of the last month lies beyond the horizon). ``alive(t)`` counts accounts
    that had not churned at renewals 1..t. For an annual table, pass only annual accounts.
    """
    data = survival_data_from_accounts(accounts)
    data = data[data["start_month"] == 0]
    last = (horizon_months - 1) // period_months
    k = float(period_months)
    churned = data["event"].to_numpy() == 1
    dur = data["duration_months"].to_numpy(dtype=np.float64)
    t_churn = np.where(churned, np.ceil(dur / k), np.inf)
    keys = data[by].to_numpy() if by else np.full(len(data), None, dtype=object)
    frames = []
    for name in dict.fromkeys(keys.tolist()):
        sel = keys == name if by else np.ones(len(data), dtype=bool)
        periods = np.arange(last + 1)
        alive = (t_churn[sel][None, :] > periods[:, None]).sum(axis=1)
        frame = pd.DataFrame({"period": periods, "alive": alive})
        if by:
            frame.insert(0, "segment", name)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


#: The demo's two segments: churn per monthly renewal ~ Beta(alpha, beta).
DEMO_SEGMENTS: dict[str, dict[str, Any]] = {
    "smb": {
        "share": 0.6,
        "plans": {"standard": 100.0},
        "churn": {"monthly": {"alpha": 0.8, "beta": 12.0}},
    },
    "mid_market": {
        "share": 0.4,
        "plans": {"standard": 100.0},
        "churn": {"monthly": {"alpha": 1.5, "beta": 40.0}},
    },
}


def demo_retention_table(
    seed: int = 1, initial_accounts: int = 3000, periods: int = 24
) -> pd.DataFrame:
    """A two-segment monthly cohort retention table simulated from the ``textbook`` preset.

    Segments ``smb`` (churn ~ Beta(0.8, 12)) and ``mid_market`` (~ Beta(1.5, 40)), 60 % / 40 %
    of ``initial_accounts``, observed for ``periods`` monthly renewals.
    """
    from .experiment import simulate

    scenario = {
        "extends": "textbook",
        "name": "calibration_demo",
        "horizon_months": periods + 1,
        "population": {"initial_accounts": initial_accounts, "segments": DEMO_SEGMENTS},
    }
    result = simulate(scenario, seed=seed)
    return retention_table_from_accounts(result.accounts, periods + 1)


# --------------------------------------------------------------------------------------------
# Output: JSON, scenario fragments


def calibration_json(
    fits: Sequence[SBGFit],
    kind: str,
    source: str,
    annual_discount_rate: float = 0.1,
    holdout: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """The object ``simlib calibrate`` prints: ``{"fits": [...], ...}`` (see CONTRACT.md)."""
    records = [f.to_dict(annual_discount_rate) for f in fits]
    if holdout is not None:
        for rec in records:
            part = holdout[
                (
                    holdout["group"].isna()
                    if rec["group"] is None
                    else holdout["group"] == rec["group"]
                )
            ]
            ho = part[part["part"] == "holdout"]
            err = (ho["fitted_survival"] - ho["observed_survival"]).abs()
            rec["holdout"] = {
                "fit_periods": int(part["fit_periods"].iloc[0]),
                "periods": ho["period"].astype(int).tolist(),
                "observed_survival": [_num(v) for v in ho["observed_survival"]],
                "projected_survival": [_num(v) for v in ho["fitted_survival"]],
                "mean_abs_error": _num(err.mean()),
                "max_abs_error": _num(err.max()),
            }
    out: dict[str, Any] = {"fits": records, "kind": kind, "source": source}
    if fits and fits[0].period_months in _KINDS:
        out["overrides"] = scenario_overrides(fits)
    return out


def _round(x: float) -> float:
    return float(f"{x:.6g}")


def _shares(fits: Sequence[SBGFit]) -> list[float]:
    total = sum(f.n for f in fits)
    shares = [round(f.n / total, 6) for f in fits]
    shares[-1] = round(1.0 - sum(shares[:-1]), 9)
    return shares


def _kind(fits: Sequence[SBGFit]) -> str:
    months = {f.period_months for f in fits}
    if len(months) != 1 or next(iter(months)) not in _KINDS:
        raise ValueError(
            "scenario fragments exist for monthly (period_months 1) and annual (12) renewal "
            f"periods only, got {sorted(months)}"
        )
    return _KINDS[next(iter(months))]


def _fragment_dict(fits: Sequence[SBGFit]) -> dict[str, Any]:
    kind = _kind(fits)
    if len(fits) == 1 and fits[0].group is None:
        f = fits[0]
        return {"churn": {kind: {"alpha": _round(f.alpha), "beta": _round(f.beta)}}}
    segments = {}
    for f, share in zip(fits, _shares(fits), strict=True):
        segments[str(f.group)] = {
            "share": share,
            "churn": {kind: {"alpha": _round(f.alpha), "beta": _round(f.beta)}},
        }
    return {"population": {"segments": segments}}


def scenario_fragment(fits: Sequence[SBGFit], source: str = "") -> str:
    """YAML text to put in a scenario file (beside ``extends:``) to use the fitted churn.

    One fit without a group: ``churn.monthly`` (or ``churn.annual`` for 12-month periods).
    Several groups: ``population.segments.<group>.churn.monthly`` with each group's ``share`` of
    the accounts in the data (so the segment shares add up to 1).
    """
    lines = [
        "# Churn per renewal ~ Beta(alpha, beta), fitted by simlib calibrate (shifted-beta-",
        "# geometric model, Fader & Hardie 2007)" + (f" from {source}" if source else "") + ".",
    ]
    for f in fits:
        name = "all accounts" if f.group is None else f"{f.group}"
        lines.append(
            f"# {name}: alpha {f.alpha:.4g} (se {f.alpha_se:.2g}), beta {f.beta:.4g} "
            f"(se {f.beta_se:.2g}), n = {f.n}, mean churn {100 * f.mean_churn:.2f} % per period"
        )
    body = yaml.safe_dump(_fragment_dict(fits), sort_keys=False, allow_unicode=True, width=100)
    return "\n".join(lines) + "\n" + body


def scenario_overrides(fits: Sequence[SBGFit]) -> list[str]:
    """The same as ``--set KEY=VALUE`` strings (dotted keys, YAML values)."""
    kind = _kind(fits)
    if len(fits) == 1 and fits[0].group is None:
        f = fits[0]
        return [f"churn.{kind}.alpha={_round(f.alpha)!r}", f"churn.{kind}.beta={_round(f.beta)!r}"]
    out = []
    for f, share in zip(fits, _shares(fits), strict=True):
        prefix = f"population.segments.{f.group}"
        out.append(f"{prefix}.share={share!r}")
        out.append(f"{prefix}.churn.{kind}.alpha={_round(f.alpha)!r}")
        out.append(f"{prefix}.churn.{kind}.beta={_round(f.beta)!r}")
    return out


def apply_fits(base: Any, fits: Sequence[SBGFit], all_on_contract: bool = False) -> Any:
    """A scenario: ``base`` (preset name, path, mapping or Scenario) with the fitted churn.

    One fit without a group sets the churn of every segment. Fits by group set the churn of the
    segments of those names; when ``base`` has a single segment and the groups are not among
    its segments, that segment is cloned once per group with the group's share of the data.
    ``all_on_contract`` also puts every account on the fitted contract type (monthly for
    1-month periods, annual for 12), to compare a simulation with the data.
    """
    import copy

    from .scenario import load_scenario

    scenario = load_scenario(base)
    kind = _kind(fits)
    doc = scenario.model_dump(mode="python")
    segments = doc["population"]["segments"]
    doc["name"] = f"{scenario.name} (calibrated)"
    if all_on_contract:
        share = 1.0 if kind == "annual" else 0.0
        doc["contracts"]["annual_share"] = share
        for seg in segments.values():
            seg["annual_share"] = share
    if len(fits) == 1 and fits[0].group is None:
        values = {"alpha": fits[0].alpha, "beta": fits[0].beta}
        doc["churn"][kind] = dict(values)
        for seg in segments.values():
            seg["churn"][kind] = dict(values)
        return load_scenario(doc)
    groups = [str(f.group) for f in fits]
    if all(g in segments for g in groups):
        for f in fits:
            segments[str(f.group)]["churn"][kind] = {"alpha": f.alpha, "beta": f.beta}
        return load_scenario(doc)
    if len(segments) != 1:
        raise DataError(
            f"the groups {groups} are not segments of {scenario.name!r} ({list(segments)})"
        )
    template = next(iter(segments.values()))
    new = {}
    for f, share in zip(fits, _shares(fits), strict=True):
        seg = copy.deepcopy(template)
        seg["share"] = share
        seg["churn"][kind] = {"alpha": f.alpha, "beta": f.beta}
        new[str(f.group)] = seg
    doc["population"]["segments"] = new
    return load_scenario(doc)
