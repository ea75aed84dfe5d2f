"""The Concepts panel's order when the model argues against the explained class (the layer's
relevance sums to less than zero): channels by relevance, the one most *for* the class first,
shares signed against the size of the total (README, "Concepts (CRP)"; ``lrp concepts``'s
ranking.csv, best first). Checked, not changed: this pins it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from .insight_helpers import sample_raw

MODELS = Path(__file__).resolve().parents[2] / "models"


def test_concepts_rank_most_relevant_first_for_a_class_argued_against(make_window, qtbot,
                                                                       toy_files):
    import lrpcore

    window = make_window(model=MODELS / "mnist-lenet5.npz", dataset=toy_files[1])
    against = int(lrpcore.predict(window.state.model, sample_raw(window))[0].argmin())
    window.state.target = str(against)
    with qtbot.waitSignal(window.insight["concepts"].updated, timeout=60000):
        panel = window.insight.show("concepts")
    qtbot.waitUntil(lambda: panel.last_error is None and panel.result is not None
                    and panel.result.ranking.relevance.sum() < 0, timeout=60000)
    rk = panel.result.ranking
    t = panel.ranking_table
    shown = [float(t.item(i, 1).text()) for i in range(t.rowCount())]
    assert shown == sorted(shown, reverse=True)  # most relevant (most for the class) first
    assert [int(t.item(i, 0).text()) for i in range(t.rowCount())] == rk.channels.tolist()
    assert np.sum(rk.share) == pytest.approx(-1.0, rel=1e-9)  # shares signed: they add up to −100 %
    assert all((s > 0) == (r > 0) for s, r in zip(rk.share, rk.relevance, strict=True))
    # the conditional maps are those of the first channels of that order
    assert len(panel.map_outlines) == panel.result.conditional.shape[0]
    top = rk.channels[:panel.result.conditional.shape[0]]
    assert panel.channel == int(top[0])

