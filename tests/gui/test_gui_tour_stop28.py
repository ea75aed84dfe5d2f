"""Stop 28's tour of the explorer as a new user, README in hand: a segmentation model's region
in Compare, the recorded accuracy worded alike by lrp info and the explorer, and what the tour
met on the way."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import lrpcore
from lrpcore.map_targets import class_scores, predicted_classes

SEGMENT = Path(__file__).resolve().parents[1] / "data" / "zoo" / "segment_ts.onnx"


def _segment_window(make_window, tmp_path):
    """The segmentation fixture on a photograph whose map predicts several classes."""
    pytest.importorskip("onnx")
    from segment_photos import photo_with_an_absent_class

    first, _ = photo_with_an_absent_class(lrpcore.load_model(SEGMENT))
    data = tmp_path / "photos.npy"
    np.save(data, first[None])
    return make_window(model=str(SEGMENT), dataset=data), first[None]


def _region_of_another_class(state, images):
    """(outputs, the whole map's class, a 4×4 box whose own class differs, that class)."""
    y = lrpcore.Explainer(state.model, dtype=state.dtype).forward(images).outputs()
    boxes = [(r, r + 4, c, c + 4) for r in range(0, 16, 4) for c in range(0, 16, 4)]
    whole = int(predicted_classes(y)[0])
    region = next(b for b in boxes if int(predicted_classes(y, region=b)[0]) != whole)
    return y, whole, region, int(predicted_classes(y, region=region)[0])


def test_compare_names_the_region_and_its_prediction(make_window, qtbot, tmp_path):
    """Compare's info line said "predicted 2 (share of pixels 0.6)" of the whole map while its
    maps explained a region's pixels (and the region's class): it names the region, the class
    at the most pixels inside it and that class's share of them, and its cells frame the box
    as the main views do (they showed no box at all)."""
    from .insight_helpers import open_tool, rerun

    window, images = _segment_window(make_window, tmp_path)
    s = window.state
    y, whole, region, inside = _region_of_another_class(s, images)
    s.region = region
    qtbot.waitUntil(lambda: s.relevance is not None, timeout=20000)
    view = open_tool(qtbot, window, "compare")
    rerun(qtbot, view, view.refresh)
    y0, y1, x0, x1 = region
    share = class_scores(y[:, y0:y1, x0:x1])[0][inside]  # of the box's pixels
    assert (f"predicted {inside} in rows {y0}:{y1}, columns {x0}:{x1} "
            f"(share of pixels {share:.4g})") in view.info.text()
    # the box is framed on the input and on every map, as on the main views (16×16 input
    # and map: the same pixels)
    frames = [view.input_frame, *(view._frames[cell] for cell in view.cell_maps)]
    assert len(frames) == 1 + len(view.result.comparison.rows)
    for frame in frames:
        assert frame.isVisible() and frame.rect().getCoords() == (x0, y0, x1, y1)
    s.region = None  # the whole map again: its class and share, no region named
    qtbot.waitUntil(lambda: s.relevance is not None, timeout=20000)
    rerun(qtbot, view, view.refresh)
    assert f"predicted {whole} (share of pixels {class_scores(y)[0].max():.4g})" \
        in view.info.text()
    assert not any(f.isVisible() for f in [view.input_frame, *view._frames.values()])


def test_lrp_info_and_the_explorer_call_a_files_accuracy_the_same(capsys):
    """lrp info said "accuracy: 98.34 % …" where the explorer's model summary says "recorded
    accuracy: 98.34 % …" of the same figure (recorded in the file, not measured on the data
    open): both say "recorded accuracy"."""
    from lrpcore.cli.main import main
    from lrpgui.widgets.model_summary import summary_html

    model = lrpcore.load_model("mnist-lenet5")
    assert main(["info", "mnist-lenet5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    line = next(x for x in lines if "98.34 %" in x)
    assert line.startswith("recorded accuracy: 98.34 %")
    assert line in summary_html(model, "mnist-lenet5.npz").replace("&nbsp;", " ")


def _fully_convolutional(path):
    """A toolbox text model of two valid 3×3 convolutions and 4 classes per pixel: its file
    records no input size (its layers take any of 5×5 or more)."""
    from lrpcore.io.toolbox_txt import write_toolbox_txt
    from lrpcore.layers import Convolution, Rect

    rng = np.random.default_rng(0)
    model = lrpcore.Sequential([
        Convolution(rng.normal(0, 0.5, (3, 3, 1, 6)), rng.normal(0, 0.1, 6)), Rect(),
        Convolution(rng.normal(0, 0.5, (3, 3, 6, 4)), rng.normal(0, 0.1, 4))])
    write_toolbox_txt(model, path)
    return path


def test_a_map_model_of_any_size_says_how_the_data_fixes_its_size(make_window, qtbot,
                                                                 tmp_path, dialogs_shown):
    """A fully convolutional model whose file records no input size is read at the smallest
    size its layers take (5×5, a 1×1 map): 20×20 data was refused as not that size, with no
    word that the layers take it. The refusal now names the sidecar that makes the data's size
    the model's; with it the model opens on the data and its region control boxes the
    16×16 map."""
    import json

    model = _fully_convolutional(tmp_path / "fcn.txt")
    data = tmp_path / "tiles.npy"
    np.save(data, np.random.default_rng(1).integers(0, 256, (3, 20, 20, 1)).astype(np.uint8))
    window = make_window()  # the toy classifier and its data
    before = window.state.model
    assert not window.open_model(str(model))
    assert window.state.model is before and window.isVisible()
    want = '{"input": {"shape": [20, 20, 1]}}'
    sidecar = tmp_path / "fcn.json"
    window.close_dataset()
    assert window.open_model(str(model))
    assert window.rules.region.map_shape() == (1, 1)  # the smallest size, until data comes
    window.open_dataset(str(data))
    problem = window.last_error
    assert "tiles.npy" in problem and "20×20×1" in problem
    assert f"a sidecar fcn.json of {want} makes it the model's" in problem
    sidecar.write_text(json.dumps(json.loads(want)))
    window = make_window(model=model, dataset=data)
    s = window.state
    assert window.rules.region.isVisibleTo(window.rules)
    assert window.rules.region.map_shape() == (16, 16)
    with qtbot.waitSignal(s.events.explanation, timeout=20000,
                          check_params_cb=lambda r: r is not None and r.request.region):
        s.region = (0, 8, 8, 16)
    want_r = lrpcore.explain(s.model, np.load(data)[:1], rule=s.rule, dtype=s.dtype,
                             region=(0, 8, 8, 16))[0]
    np.testing.assert_allclose(s.relevance, want_r, rtol=1e-9, atol=1e-12)


def test_a_model_with_no_input_shape_is_refused_at_open_saying_how_to_give_one(
        make_window, tmp_path, dialogs_shown):
    """A model that records no input shape (a native graph whose header's "input" is null) opened,
    and every explanation and the accuracy line then failed with "the model's input format is
    unknown: pass raw=True (--raw)", advice for Python and the command line. It is refused at
    open, naming the file and the sidecar that gives it a shape; the model open stays."""
    import json

    from lrpcore.graph import GraphModel, Node
    from lrpcore.graph_layers import ToChannelsLast
    from lrpcore.layers import Convolution, Pad

    path = tmp_path / "g.npz"
    conv = Convolution(np.random.default_rng(2).normal(size=(3, 3, 3, 4)), np.zeros(4))
    # channels first and padded, as an ONNX import of a PyTorch net: no size is guessed
    lrpcore.save_model(GraphModel([Node("nhwc", ToChannelsLast(), ("x",), "h"),
                                   Node("pad", Pad((1, 1, 1, 1)), ("h",), "p"),
                                   Node("conv", conv, ("p",), "y")], "x", "y"), path)
    with np.load(path) as z:  # the header's input null, as save_native writes a size guessed
        members = dict(z)     # that does not fit the layers
    header = json.loads(str(members["header"]))
    header["input"] = None
    members["header"] = np.array(json.dumps(header))
    np.savez(path, **members)
    assert lrpcore.load_model(path).input_spec is None
    window = make_window()
    before = window.state.model
    assert not window.open_model(str(path))
    assert window.state.model is before and window.isVisible()
    assert window.last_error.startswith(f"{path}: the model records no input shape")
    assert "its sidecar g.json" in window.last_error and "--raw" not in \
        window.last_error.split("(lrp explain")[0]


def test_spray_times_its_first_pass_and_asks_with_an_estimate(make_window, qtbot, monkeypatch,
                                                              long_run_questions):
    """"Run SpRAy over 10,000 samples?" said only that it "takes minutes": EfficientNet's
    photographs take hours where digits take seconds. One pass of the run (its second: the
    first carries the start-up) is now timed in the background and the question estimates
    the explaining from it (the clustering, which a
    part cannot time, stays "minutes"); No starts nothing, Yes runs."""
    from lrpgui.insight import spray_window

    monkeypatch.setattr(spray_window, "ASK_FROM", 100)  # the toy data's 120 count as many
    monkeypatch.setattr(spray_window, "BATCH", 40, raising=False)  # first pass: 40
    ticks = iter([0.0, 45.0, 100.0, 145.0])  # each timed pass "takes" 45 s
    monkeypatch.setattr(spray_window, "clock", lambda: next(ticks), raising=False)
    window = make_window()
    panel = window.insight.show("spray")
    n = len(window.state.dataset)
    assert n == 120 and panel.class_box.currentData() is None
    long_run_questions.answer = False
    panel.run_button.click()
    qtbot.waitUntil(lambda: len(long_run_questions) == 1, timeout=60000)
    question = long_run_questions[0][1]
    # 45 s for 40 of 120 samples: 135 s for all of them
    assert f"explains 120 samples of {window.state.dataset_name} (about 2 min, going by one " \
           "pass over 40 of them: 45 s)" in question
    assert "takes minutes" in question
    qtbot.waitUntil(lambda: not panel.busy())
    assert panel.result is None and panel.progress.text() == ""  # nothing ran, none shown
    long_run_questions.answer = True
    with qtbot.waitSignal(panel.updated, timeout=120000):
        panel.run_button.click()
    assert len(long_run_questions) == 2 and len(panel.result.indices) == n
    assert next(ticks, None) is None  # a pass was timed before each question


def test_the_region_box_shows_a_typed_region_whole_in_a_small_window(qtbot, tmp_path):
    """At 1024×700 the region row's "draw" and "whole map" buttons took 80 pixels each and
    left the box 51: even "0:8,0:8" was cut, and the README's example "10:40,20:60" showed
    as "10:40,2". The buttons are sized to their words and the box shows it whole."""
    from PySide6.QtWidgets import QStyle, QStyleOptionFrame

    from .waiting import window_at

    pytest.importorskip("onnx")
    data = tmp_path / "photos.npy"
    np.save(data, np.full((2, 16, 16, 3), 128, np.uint8))
    window = window_at(qtbot, SEGMENT, data, 1024, 700)
    control = window.rules.region
    assert control.isVisible()
    edit = control.edit
    edit.setText("10:40,20:60")
    option = QStyleOptionFrame()
    edit.initStyleOption(option)
    room = edit.style().subElementRect(QStyle.SubElement.SE_LineEditContents, option,
                                       edit).width() - 4  # QLineEdit's own 2-pixel margins
    assert room >= edit.fontMetrics().horizontalAdvance(edit.text()), room
    for button in (control.draw_button, control.reset_button):  # their words still whole
        assert button.width() >= button.fontMetrics().horizontalAdvance(button.text())


def test_the_sweep_of_a_segmentation_model_says_why_not_before_its_rule(make_window, qtbot,
                                                                         tmp_path):
    """Run in the sweep window on a segmentation model said "EpsilonPlus has no parameter to
    sweep (ε, γ or α)": the researcher changed the rule only to be told next that a sweep
    follows one class score per sample. The map is said first, whatever the rule."""
    window, _ = _segment_window(make_window, tmp_path)
    assert window.state.rule == "EpsilonPlus"  # the graph models' start: no parameter
    panel = window.insight.show("sweep")
    panel.run_button.click()
    qtbot.waitUntil(lambda: panel.last_error is not None and not panel.busy(), timeout=20000)
    assert panel.last_error.startswith("a sweep follows one class score per sample; this "
                                       "segmentation model's output is a 16×16×4 map")
    assert window.isVisible()


def test_the_composition_line_of_concepts_keeps_a_long_node_name_readable(make_window, qtbot,
                                                                            tmp_path):
    """Concepts' line over the composition table ("channel 1 from layer 2 (/stem/stem.0/Conv):")
    was one line in a 255-pixel column: the node's name was cut at the column's edge. It
    wraps (two lines at most, the rest elided) and its tooltip holds it whole."""
    window, _ = _segment_window(make_window, tmp_path)
    panel = window.insight.show("concepts", (1100, 760))
    qtbot.waitUntil(lambda: panel.result is not None or panel.last_error is not None,
                    timeout=60000)
    assert panel.last_error is None, panel.last_error
    qtbot.waitUntil(lambda: panel.result.composition is not None, timeout=60000)
    label = panel.composition_label
    text = label.text()
    assert text.startswith("channel ") and "/" in text and label.toolTip() == text
    width = label.contentsRect().width()
    assert label.fontMetrics().horizontalAdvance(text) > width  # the case: a long line
    lines = label.shown_lines()
    assert 1 < len(lines) <= 2
    # the layout gives it their height (once it has handled the new text)
    qtbot.waitUntil(lambda: label.height() >= len(lines) * label.fontMetrics().lineSpacing(),
                    timeout=5000)
    assert all(label.fontMetrics().horizontalAdvance(line) <= width for line in lines)


def test_concepts_frames_the_region_its_maps_explain(make_window, qtbot, tmp_path):
    """The Concepts panel's conditional heatmaps explained a region's pixels with nothing on
    them to say so (the main views and Compare frame it): each map frames the box, and none
    is framed for the whole map."""
    window, _ = _segment_window(make_window, tmp_path)
    s = window.state
    s.region = (2, 10, 4, 12)
    qtbot.waitUntil(lambda: s.relevance is not None, timeout=20000)
    panel = window.insight.show("concepts", (1100, 760))
    qtbot.waitUntil(lambda: panel.result is not None and panel.result.region == s.region,
                    timeout=60000)
    assert panel.last_error is None, panel.last_error
    assert len(panel.map_frames) == len(panel.result.conditional) > 0
    for frame in panel.map_frames:  # a 16×16 input and map: the same pixels
        assert frame.isVisible() and frame.rect().getCoords() == (4, 2, 12, 10)
    s.region = None
    qtbot.waitUntil(lambda: panel.result.region is None and bool(panel.map_frames),
                    timeout=60000)
    assert not any(frame.isVisible() for frame in panel.map_frames)


def test_the_overlay_frames_the_region_as_the_views_do(make_window, qtbot, tmp_path):
    """The colour panel's overlay (heatmap over the photograph) showed a region's heatmap
    with no frame, beside the input and heatmap views that frame it."""
    window, _ = _segment_window(make_window, tmp_path)
    s, panel = window.state, window.colour
    qtbot.waitUntil(panel.isVisible, timeout=20000)  # a colour model's explanation shows it
    with qtbot.waitSignal(s.events.explanation, timeout=20000,
                          check_params_cb=lambda r: r is not None and r.request.region):
        s.region = (0, 6, 3, 16)
    qtbot.waitUntil(lambda: panel.rendered_for is s.explanation, timeout=20000)
    assert panel.frame.isVisible() and panel.frame.rect().getCoords() == (3, 0, 16, 6)
    with qtbot.waitSignal(s.events.explanation, timeout=20000,
                          check_params_cb=lambda r: r is not None and r.request.region is None):
        window.rules.region.reset_button.click()
    qtbot.waitUntil(lambda: panel.rendered_for is s.explanation, timeout=20000)
    assert not panel.frame.isVisible()


def test_spray_draws_its_box_where_the_user_drags(make_window, qtbot, monkeypatch):
    """SpRAy's scatter said "drag the box to filter the sample grid", but the box was placed
    hidden after every run and shown only by scripts (select_rect): a user had no box to
    drag. A left drag over the points draws it; released, the grid lists the samples inside;
    "Show all samples" lifts the filter."""
    from .test_segmentation_gui import _drag

    window = make_window()
    panel = window.insight.show("spray", (1200, 820))
    panel.k_spin.setValue(2)
    with qtbot.waitSignal(panel.updated, timeout=120000):
        panel.run_button.click()
    r = panel.result
    assert not panel.box.isVisible()
    e = r.embedding
    lo, hi = e.min(axis=0), e.max(axis=0)
    a, b = lo + (hi - lo) * 0.1, lo + (hi - lo) * 0.6
    view = panel.scatter_plot.getPlotItem().getViewBox()
    qtbot.waitUntil(lambda: all(view.viewRange()[i][0] <= lo[i] and view.viewRange()[i][1]
                                >= hi[i] for i in (0, 1)), timeout=5000)  # drawn: in view
    _drag(monkeypatch, panel.scatter_plot, view, tuple(a), tuple(b))
    assert panel.box.isVisible()
    (x0, y0), (w, h) = panel.box.pos(), panel.box.size()
    assert np.allclose([x0, y0, x0 + w, y0 + h], [*a, *b], rtol=0.05, atol=0.05 * (hi - lo).max())
    inside = (e[:, 0] >= x0) & (e[:, 0] <= x0 + w) & (e[:, 1] >= y0) & (e[:, 1] <= y0 + h)
    assert 0 < inside.sum() < len(e)
    assert window.state.filter_subset == tuple(sorted(r.indices[inside].tolist()))
    panel.clear_button.click()
    assert window.state.filter_subset is None and not panel.box.isVisible()


def test_concepts_says_what_its_maps_explain(make_window, qtbot, tmp_path):
    """The Concepts panel ranked channels and drew conditional heatmaps without a word of
    what they explain (which class, which region, which rule), where every other view says
    it: a line over the maps names the layer, the explained class as the main view's title
    does, the region and the rule."""
    from lrpcore.explain import Explainer, resolve_rules

    window, images = _segment_window(make_window, tmp_path)
    s = window.state
    s.region = (8, 16, 0, 16)
    qtbot.waitUntil(lambda: s.relevance is not None, timeout=20000)
    panel = window.insight.show("concepts", (1100, 760))
    qtbot.waitUntil(lambda: panel.result is not None and panel.result.region == s.region,
                    timeout=60000)
    y = Explainer(s.model, dtype=s.dtype).forward(images).outputs()
    inside = int(predicted_classes(y, region=s.region)[0])
    description = resolve_rules(Explainer(s.model).layers, s.rule, {}).description
    text = panel.maps_title.text
    assert f"channels of {panel.result.ranking.name} for predicted class {inside} in rows " \
           f"8:16, columns 0:16, {description}" in text
    assert "predicted class" in window.views.heat_title.text  # the main view's words


def test_spray_over_a_relevance_store_asks_without_saying_it_explains(make_window,
                                                                       long_run_questions):
    """Over a relevance store nothing is explained (its heatmaps are read), yet the question
    said "explains 2,500 samples": it says it reads their stored heatmaps, and no pass is
    timed for it (the clustering is the long part)."""
    window = make_window()
    panel = window.insight.show("spray")
    long_run_questions.answer = False
    assert not panel._confirm_large(2500, None)
    question = long_run_questions[0][1]
    assert "reads the stored heatmaps of 2,500 samples" in question
    assert "explains" not in question and "takes minutes" in question


def test_escape_stops_drawing_a_region(make_window, qtbot, tmp_path):
    """"draw" turned a drag on the views into a box with no way out from the keyboard (only a
    second click on the button): Escape stops drawing, and only while drawing does the
    region take it."""
    from PySide6.QtCore import Qt

    window, _ = _segment_window(make_window, tmp_path)
    control = window.rules.region
    control.draw_button.click()
    assert window.views.drawing
    window.activateWindow()
    qtbot.waitActive(window)
    qtbot.keyClick(window.focusWidget() or window, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not window.views.drawing, timeout=5000)
    assert not control.draw_button.isChecked() and not control.stop_drawing.isEnabled()
    assert window.state.region is None  # nothing drawn, nothing explained anew


def test_cancelling_spray_while_it_times_its_first_pass_says_so(make_window, qtbot,
                                                                monkeypatch, long_run_questions):
    """Cancel while a long run's first pass was being timed left "Timing the first samples …
    to estimate a run over 120…" on display, as if it went on: the line says the run was
    cancelled, and no question is asked."""
    import threading

    from lrpgui.insight import spray_window

    gate = threading.Event()

    def timing(*args, **_kw):  # a first pass that lasts until the test has cancelled it
        token = next(a for a in args if hasattr(a, "cancelled"))
        gate.wait(20)
        token.check()

    monkeypatch.setattr(spray_window, "ASK_FROM", 100)
    monkeypatch.setattr(spray_window, "first_pass_task", timing)
    window = make_window()
    panel = window.insight.show("spray")
    panel.run_button.click()
    qtbot.waitUntil(lambda: panel.summary.text().startswith("Timing"), timeout=10000)
    assert panel.cancel_button.isEnabled()
    panel.cancel_button.click()
    gate.set()
    qtbot.waitUntil(lambda: not panel.busy(), timeout=10000)
    assert panel.summary.text().startswith("Run cancelled. ")
    assert "Timing" not in panel.summary.text()
    assert not long_run_questions and panel.result is None


def test_the_region_box_counts_as_lrp_explain_region_says(qtbot, tmp_path, capsys):
    """The region box's tooltip said "Python's slices" after --region's help had learnt to
    say "never negative" (negative numbers are refused in both): one wording for both now."""
    from lrpcore.cli.main import main

    from .waiting import window_at

    pytest.importorskip("onnx")
    data = tmp_path / "photos.npy"
    np.save(data, np.full((2, 16, 16, 3), 128, np.uint8))
    window = window_at(qtbot, SEGMENT, data, 1024, 700)
    with pytest.raises(SystemExit):
        main(["explain", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    tip = window.rules.region.edit.toolTip()
    counting = "counted from 0, ends excluded, as Python's slices but never negative"
    assert counting in help_text and counting in tip, tip


def test_the_scores_plot_shows_the_regions_shares(make_window, qtbot, tmp_path):
    """With a region set, the scores plot's bars were the whole map's shares and its red bar
    the whole map's class while ▼ and the title followed the region: the bars are now the
    shares of the region's pixels, the red one the class at the most of them."""
    window, images = _segment_window(make_window, tmp_path)
    s = window.state
    y, whole, region, inside = _region_of_another_class(s, images)
    with qtbot.waitSignal(s.events.explanation, timeout=20000,
                          check_params_cb=lambda r: r is not None and r.request.region):
        s.region = region
    plot = window.scores
    np.testing.assert_allclose(plot.heights, class_scores(y, region=region)[0])
    red = [k for k, brush in zip(plot.shown_classes, plot.bars.opts["brushes"],
                                                 strict=True)
           if brush.color().getRgb()[:3] == (200, 40, 40)]
    assert red == [inside]


def test_the_readme_says_what_the_frame_on_a_smaller_map_is(tmp_path):
    """On a 16×16 map of a 20×20 input (valid convolutions) the frame on the input is the box
    scaled, not offset to the map pixels' receptive fields; the README called it scaling and
    said no more, as if it framed what the box's pixels see. Its example is the code's: the
    frame of 0:8,0:8 and the rows the flat rule reaches from that box."""
    from lrpgui.widgets.region_control import box_on_image

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text("utf-8")
    y0, y1, x0, x1 = box_on_image((0, 8, 0, 8), (20, 20), (16, 16))
    assert (y0, x0) == (0, 0) and y1 == x1
    assert f"the box 0:8,0:8 is framed over input rows and columns 0:{y1:g}" in readme
    # what the box's map pixels see: the flat rule spreads over whole receptive fields
    import json

    path = _fully_convolutional(tmp_path / "fcn.txt")
    (tmp_path / "fcn.json").write_text(json.dumps({"input": {"shape": [20, 20, 1]}}))
    x = np.random.default_rng(1).integers(0, 256, (1, 20, 20, 1)).astype(np.uint8)
    R = lrpcore.explain(lrpcore.load_model(path), x, rule="flat", target="output",
                        region=(0, 8, 0, 8))[0, ..., 0]
    rows = np.nonzero(np.abs(R).sum(axis=1))[0]
    seen = f"0:{rows.max() + 1}"
    assert rows.min() == 0 and seen != f"0:{y1:g}"  # the frame is no receptive field
    assert f"sees rows {seen}" in readme


def test_an_idle_progress_bar_is_hidden_and_keeps_its_place(make_window, qtbot):
    """Concepts' bar beside "Find references" (and every tool's before its first Run) was a
    blank box that looked like an empty text field: an idle bar is hidden, keeping its place
    so Run and Cancel stay put, shown while a job runs and after it ends, hidden when it is
    cancelled."""
    from .insight_helpers import open_tool

    window = make_window()
    panel = open_tool(qtbot, window, "concepts")
    jobs = panel.refs
    bars = [p.jobs for p in window.insight.panels.values() if p.jobs is not None] + [jobs]
    assert all(not j.progress.isVisibleTo(j.progress.parentWidget()) for j in bars)
    assert all(j.progress.sizePolicy().retainSizeWhenHidden() for j in bars)
    where = jobs.run_button.pos()
    jobs.started(8)
    assert jobs.progress.isVisible() and jobs.run_button.pos() == where
    jobs.finished()
    assert jobs.progress.isVisible() and jobs.progress.text() == "100%"
    jobs.started(8)
    jobs.cancelled()
    assert not jobs.progress.isVisible() and jobs.run_button.pos() == where


def test_compare_heads_its_tiles_with_the_class_every_map_explains(make_window, qtbot):
    """One class column's title ("predicted class 7") sat over the input tile alone and read
    as the input's title: it heads all the tiles now ("every map explains …", spanning them),
    and the input tile is titled "input"."""
    from .insight_helpers import open_tool, rerun

    window = make_window()
    view = open_tool(qtbot, window, "compare")
    rules = ["epsilon:0.01", "flat", "gradxinput"]
    rerun(qtbot, view, lambda: view.set_rules(rules))
    title = view._titles[0]
    explained = view.result.comparison.rows[0].titles[0]
    assert title.text == f"every map explains class {explained}"
    maps = [view._cells[(r, 0)][0].sceneBoundingRect() for r in range(len(rules))]
    qtbot.waitUntil(lambda: title.sceneBoundingRect().width()
                    > view.input_box.sceneBoundingRect().width() * 2, timeout=5000)
    head, tiles = title.sceneBoundingRect(), [view.input_box.sceneBoundingRect(), *maps]
    assert head.bottom() <= min(t.top() for t in tiles) + 1
    assert head.left() <= tiles[0].left() + 1
    assert head.right() >= max(t.right() for t in tiles) - 1
    assert any(getattr(item, "text", None) == "input" for item in view.canvas.ci.items)
