"""The lab's answer against each uncertain key (:class:`simlib.lab.Robustness`), one panel per
key: retention - expansion at each sampled setting (currency per opening account, its pooled
95 % interval as a bar), coloured by the answer there, with the flip marked where the answer
changes along that key."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

__all__ = ["robustness"]

#: Colour of each answer (colour-blind safe: blue, orange, grey).
_COLOURS = {"retention": "#0072B2", "expansion": "#E69F00", "unsure": "#999999"}


def robustness(rob: Any, currency: str = "USD") -> Figure:
    """One panel per uncertain key of ``rob`` (a :class:`simlib.lab.Robustness`): x the key's
    value at each sample, y retention - expansion (currency per opening account over the
    horizon) with its interval; a dashed line at each flip's threshold."""
    from . import _figure, _money

    keys = list(rob.uncertain)
    fig, axes = _figure(1, len(keys), size=(5.2 * len(keys), 3.6), squeeze=False)
    frame = rob.samples
    y = (frame["retention"] - frame["expansion"]).to_numpy(dtype=np.float64)
    low = frame["difference_low"].to_numpy(dtype=np.float64)
    high = frame["difference_high"].to_numpy(dtype=np.float64)
    flips = {f["key"]: f for f in rob.flips}
    for ax, key in zip(axes[0], keys, strict=True):
        x = frame[key].to_numpy(dtype=np.float64)
        for answer, colour in _COLOURS.items():
            m = (frame["dominant"] == answer).to_numpy()
            if not m.any():
                continue
            err = np.vstack([y[m] - low[m], high[m] - y[m]])
            err = np.where(np.isfinite(err), err, 0.0)
            ax.errorbar(x[m], y[m], yerr=err, fmt="o", capsize=3, color=colour, label=answer)
        ax.axhline(0, color="black", lw=1)
        if key in flips:
            t = flips[key]["threshold"]
            ax.axvline(t, color="black", ls="--", lw=1)
            ax.annotate(
                f"flip at about {t:.3g}",
                (t, 1),
                xycoords=("data", "axes fraction"),
                xytext=(4, -12),
                textcoords="offset points",
                fontsize=9,
            )
        ax.yaxis.set_major_formatter(_money(currency))
        ax.set_xlabel(key)
        ax.set_ylabel(f"retention - expansion ({currency} per opening account)")
        ax.legend(title="answer", fontsize=8, loc="best")
    fig.suptitle("The answer across plausible settings of the uncertain links")
    return fig
