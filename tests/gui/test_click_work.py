"""The work one click on a photograph costs, counted (not timed): one forward and one backward
pass however many views show the answer (heatmap, diagnosis, Conservation panel), a rule
change reuses the forward pass, one heatmap and one overlay render, and hidden docks do
nothing. Counting wrappers around the engine's passes, the views' renders and the overlay."""

from __future__ import annotations

import numpy as np
import pytest
from colour_models import colour_graph_model, write_photos

from .waiting import settle


class Counter:
    """Wrap ``owner.name`` (a method) so that every call is counted."""

    def __init__(self, monkeypatch, owner, name):
        real = getattr(owner, name)
        self.calls = 0

        def counted(*args, **kwargs):
            self.calls += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(owner, name, counted)

    def take(self) -> int:
        n, self.calls = self.calls, 0
        return n


@pytest.fixture
def passes(monkeypatch):
    """Counters of forward passes (any explainer) and backward passes (any forward pass)."""
    import importlib

    explain = importlib.import_module("lrpcore.explain")  # the module, not lrpcore.explain()
    graph_explain = importlib.import_module("lrpcore.graph_explain")
    return {
        "forward": [Counter(monkeypatch, explain.Explainer, "forward"),
                    Counter(monkeypatch, graph_explain.GraphExplainer, "forward")],
        "backward": [Counter(monkeypatch, explain.Forward, "propagate"),
                     Counter(monkeypatch, graph_explain.GraphForward, "propagate")],
    }


def taken(passes):
    return {k: sum(c.take() for c in cs) for k, cs in passes.items()}


@pytest.fixture
def photo_files(tmp_path):
    import lrpcore

    model = tmp_path / "colour-graph.npz"
    lrpcore.save_model(colour_graph_model(), model)
    return model, write_photos(tmp_path / "photos")


def click(qtbot, window, index):
    s = window.state
    with qtbot.waitSignal(window.explanation_shown, timeout=20000,
                          check_params_cb=lambda i: i == index):
        s.sample_index = index


def test_one_forward_and_one_backward_pass_per_click(make_window, photo_files, qtbot,
                                                     passes, monkeypatch):
    from lrpgui.widgets.colour_panel import ColourPanel

    overlays = Counter(monkeypatch, ColourPanel, "_render")
    window = make_window(*photo_files)
    settle(qtbot, window.controller)
    assert window.colour_dock.isVisible()
    taken(passes)
    overlays.take()
    renders = window.views.render_count
    click(qtbot, window, 1)
    settle(qtbot, window.controller)
    assert taken(passes) == {"forward": 1, "backward": 1}
    assert window.views.render_count == renders + 1  # one heatmap render
    assert overlays.take() == 1  # one overlay render
    assert window.state.explanation.diagnosis is not None  # checked from the same trace
    timings = window.state.explanation.timings
    assert set(timings) == {"forward", "relevance", "diagnosis", "prepare"}
    assert window.state.diagnosis is window.state.explanation.diagnosis

    # another rule on the same photograph: the forward pass is reused
    window.state.rule = "alphabeta:1"
    qtbot.waitUntil(lambda: window.state.relevance is not None, timeout=20000)
    settle(qtbot, window.controller)
    assert taken(passes) == {"forward": 0, "backward": 1}
    assert window.state.explanation.forward_reused


def test_conservation_panel_reads_the_clicks_trace(make_window, photo_files, qtbot, passes):
    """With the Conservation panel open, a click still costs one forward and one backward
    pass, and the panel shows the sums of that very pass."""
    from lrpcore.insight import conservation_from_trace

    from .insight_helpers import open_tool, rerun

    window = make_window(*photo_files)
    panel = open_tool(qtbot, window, "conservation")
    settle(qtbot, window.controller)
    taken(passes)
    rerun(qtbot, panel, lambda: setattr(window.state, "sample_index", 2))
    settle(qtbot, window.controller)
    assert taken(passes) == {"forward": 1, "backward": 1}
    assert panel.result.request.index == 2
    # the same numbers a fresh traced pass gives
    from lrpcore.explain import Explainer

    s = window.state
    ex = Explainer(s.model, "numpy", s.dtype)
    fwd = ex.forward(s.dataset.images(np.array([2])))
    _, trace = fwd.relevance(s.rule, s.target, trace=True)
    want = conservation_from_trace(trace, ex.layers)
    got = panel.result.rows
    assert [r.layer for r in got] == [r.layer for r in want]
    np.testing.assert_allclose([r.sum_in for r in got], [r.sum_in for r in want],
                               rtol=1e-9, atol=1e-12)


def test_hidden_overlay_dock_draws_nothing(make_window, qtbot, monkeypatch):
    """A greyscale model hides the colour dock; clicks then render no overlay (it is drawn
    once the dock is shown again)."""
    from lrpgui.widgets.colour_panel import ColourPanel

    overlays = Counter(monkeypatch, ColourPanel, "_render")
    window = make_window()
    settle(qtbot, window.controller)
    assert not window.colour_dock.isVisible()
    overlays.take()
    click(qtbot, window, 3)
    click(qtbot, window, 4)
    assert overlays.take() == 0
    assert window.colour.rendered is None or window.colour.rendered_for is not \
        window.state.explanation
    window.colour_dock.show()
    qtbot.waitUntil(lambda: window.colour.rendered_for is window.state.explanation,
                    timeout=20000)
    assert overlays.take() == 1


def test_heatmap_is_shown_before_its_diagnosis(make_window, photo_files, qtbot, monkeypatch):
    """The conservation check of a click's trace runs after its heatmap is on display (it
    cost about a sixth of a photograph's click), and a newer click cancels it."""
    import threading

    from lrpgui import services

    window = make_window(*photo_files)
    settle(qtbot, window.controller)
    held, real = threading.Event(), services.diagnose_trace
    calls = []

    def waiting(*args, **kwargs):
        calls.append(1)
        held.wait(20)
        return real(*args, **kwargs)

    monkeypatch.setattr(services, "diagnose_trace", waiting)
    renders = window.views.render_count
    click(qtbot, window, 2)  # returns once the heatmap is on display
    s = window.state
    assert s.explanation.index == 2 and s.diagnosis is None and s.explanation.diagnosis is None
    assert window.busy.isVisibleTo(window)  # the CPU still works on the check
    held.set()
    qtbot.waitUntil(lambda: s.diagnosis is not None, timeout=20000)
    settle(qtbot, window.controller)
    assert s.explanation.diagnosis is s.diagnosis and s.explanation.index == 2
    assert window.views.render_count == renders + 1  # the diagnosis redraws nothing
    assert not window.busy.isVisibleTo(window)
    assert len(calls) == 1
