"""The pixel-flipping plot (`lrp evaluate --plot`) keeps its texts apart.

The plot's rows below the axis were placed for 14-pixel bitmap glyphs; with the scalable
figure font (30-pixel lines) the axis label "pixels flipped" was drawn over the legend's first
entry. Every text row must stay a band of its own.
"""

from types import SimpleNamespace

import numpy as np

from lrpcore.insight.plot import curve_plot


def _result(label, slope):
    flipped = np.arange(0, 101)
    return SimpleNamespace(label=label, unit=1, flipped=flipped,
                           mean_curve=16.0 - slope * flipped, aopc=slope * 50)


def _ink_bands(rows_inked):
    bands, inside = 0, False
    for inked in rows_inked:
        if inked and not inside:
            bands += 1
        inside = inked
    return bands


def test_axis_label_and_legend_entries_do_not_overlap():
    results = [_result("simple", 0.18), _result("epsilon:0.01", 0.17), _result("random", 0.03)]
    img = curve_plot(results, title="pixel-flipping")
    ink = (img < 200).any(axis=2)
    axis_row = np.flatnonzero(ink.sum(axis=1) > img.shape[1] // 2)[-1]
    axis_col = np.flatnonzero(ink[:axis_row].sum(axis=0) > axis_row // 2)[0]
    below = ink[axis_row + 1:, axis_col:]  # right of the y tick labels
    # tick labels, the axis label, then one row per legend entry: 2 + 3 bands of ink
    assert _ink_bands(below.any(axis=1)) == 2 + len(results)

