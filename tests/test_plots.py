"""The chart theme: Japanese scenario names render wherever a CJK font is installed."""

from __future__ import annotations

import io
import warnings

import matplotlib
import pytest

matplotlib.use("Agg")

from simlib import plots


def test_japanese_names_render_with_an_installed_cjk_font():
    plots.set_theme()
    families = matplotlib.rcParams["font.family"]
    assert families[0] == "DejaVu Sans"
    if len(families) == 1:
        pytest.skip("no CJK font installed (Debian: fonts-ipafont-gothic or fonts-noto-cjk)")
    assert set(families[1:]) <= set(plots.CJK_FAMILIES)
    fig, ax = plots._figure()
    ax.set_title("解約率 by 世界 segment")
    ax.set_xlabel("月 (months)")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing glyph is a UserWarning
        fig.savefig(io.BytesIO(), format="png")
