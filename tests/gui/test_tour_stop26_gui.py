"""Stop 26's tour of the explorer: the overlay preview at 1024×700, a long accuracy hint, the
Conservation table floating, the SpRAy window while it runs, and cosmetics (eigengap ticks,
idle progress bars, Compare's one-column grid, class names in the scores plot)."""

from __future__ import annotations

import pytest
from colour_models import colour_graph_model, write_photos
from PySide6.QtWidgets import QApplication

from .waiting import window_at


@pytest.fixture
def colour_files(tmp_path):
    import lrpcore

    path = tmp_path / "colour.npz"
    lrpcore.save_model(colour_graph_model(), path)
    return path, write_photos(tmp_path / "photos")


def drawn_side(panel) -> float:
    """The shorter side, in pixels, of the overlay picture as drawn in the preview."""
    rect = panel.item.mapRectToScene(panel.item.boundingRect())
    return min(rect.width(), rect.height())


def test_the_overlay_preview_is_a_picture_at_1024_by_700(qtbot, colour_files):
    """At 1024×700 the preview was a 66-pixel strip under the Explanation dock (its picture
    about 45 pixels): channels above and opacity below took the dock's height. Where the dock
    is wider than tall the controls stand beside the picture; the rule table keeps its rows."""
    from lrpgui.widgets.layer_table import MIN_ROWS

    window = window_at(qtbot, *colour_files, 1024, 700)
    qtbot.waitUntil(window.colour_dock.isVisible)
    panel = window.colour
    qtbot.waitUntil(lambda: panel.rendered is not None, timeout=5000)
    QApplication.processEvents()
    assert drawn_side(panel) >= 110, drawn_side(panel)
    table = window.rules.layer_table
    assert table.viewport().height() / table.rowHeight(0) >= MIN_ROWS - 0.05
    for control in (panel.channels, panel.export_button):  # whole, on screen
        assert control.isVisible() and control.width() >= control.sizeHint().width()
    assert panel.opacity.width() >= 80  # a slider that can be dragged
    # a tall dock (floating) puts the controls back under the picture, which takes the width
    window.colour_dock.setFloating(True)
    window.colour_dock.resize(360, 620)
    qtbot.waitUntil(lambda: drawn_side(panel) >= 300, timeout=5000)


def test_a_long_accuracy_hint_leaves_the_model_summary_its_room(qtbot, tmp_path):
    """Class subfolders that name none of the model's classes: the accuracy line's hint took
    nine lines of the Browser dock at 1024×700, and the model summary and the lists shrank
    to make room. The line shows three lines at most, its end elided (the tooltip has it
    whole); its text stays the whole hint."""
    import lrpcore
    from lrpcore.io.datasets import folder_labels_hint

    path = tmp_path / "colour.npz"
    lrpcore.save_model(colour_graph_model(), path)
    write_photos(tmp_path / "labelled" / "cats")
    write_photos(tmp_path / "labelled" / "cups")
    window = window_at(qtbot, path, tmp_path / "labelled", 1024, 700)
    browser = window.browser
    label = browser.accuracy_label
    hint = folder_labels_hint(["cats", "cups"], window.state.model)
    assert hint in label.text() and label.toolTip() == hint
    QApplication.processEvents()
    line = label.fontMetrics().lineSpacing()
    assert label.height() <= 3 * line + 4, (label.height(), line)
    assert browser.summary.height() >= browser.summary.minimumHeight()
    shown = label.shown_lines()
    assert len(shown) == 3 and shown[-1].endswith("…")
    assert "".join(shown).replace(" ", "").startswith("accuracyon")
    summary_with_hint = browser.summary.height()
    window.open_dataset(str(tmp_path / "labelled" / "cats"))  # no hint: one line
    qtbot.waitUntil(lambda: "subfolders" not in label.text(), timeout=20000)
    qtbot.waitUntil(lambda: not window.controller.pending("predict"), timeout=20000)
    QApplication.processEvents()
    assert len(label.shown_lines()) < 3
    assert summary_with_hint >= browser.summary.height() - 2 * line


def long_named_colour_model():
    """The colour graph model with ONNX node names as PyTorch exports write them."""
    from dataclasses import replace

    model = colour_graph_model()
    model.nodes = [replace(node, name=f"/features/features.{k}/block/block.1/{node.name}")
                   for k, node in enumerate(model.nodes)]
    return model


@pytest.mark.parametrize("which", ["lenet", "graph"])
def test_the_conservation_table_fits_its_floating_window(make_window, qtbot, tmp_path,
                                                        toy_files, which):
    """Floating at its own size (760 wide) the table scrolled sideways: LeNet-5's "in / f(x)"
    was cut, and a graph model's node and cut columns were out of sight. The headers take two
    lines and the type and node columns share what is left, shortened in the middle (the
    whole text in each cell's tooltip)."""
    import lrpcore

    from .insight_helpers import open_tool

    if which == "lenet":
        window = make_window("mnist-lenet5")
    else:
        path = tmp_path / "named.npz"
        lrpcore.save_model(long_named_colour_model(), path)
        window = make_window(path, write_photos(tmp_path / "photos"))
    panel = open_tool(qtbot, window, "conservation")
    dock = window.insight.docks["conservation"]
    assert dock.isFloating() and dock.width() <= 760
    table = panel.table
    qtbot.waitUntil(lambda: table.horizontalScrollBar().maximum() == 0, timeout=5000)
    shown = [c for c in range(table.columnCount()) if not table.isColumnHidden(c)]
    right = max(table.columnViewportPosition(c) + table.columnWidth(c) for c in shown)
    assert right <= table.viewport().width()
    metrics = table.fontMetrics()
    for r in range(table.rowCount()):
        for c in shown:
            item = table.item(r, c)
            if item is None or not item.text():
                continue
            if metrics.horizontalAdvance(item.text()) > table.columnWidth(c) - 4:
                assert item.toolTip() and item.text() in item.toolTip(), (r, c, item.text())


def test_the_spray_window_says_what_it_is_running(make_window, qtbot, monkeypatch):
    """While Run went on, the line above the plots kept "Run clusters the heatmaps of a class
    (or Open a saved result)." (or the last run's clusters, as if they were this run's). It
    says now what runs (class, rule, clusters) and how far it got; the clusters of the last
    run are said to be the last run's; a cancelled run says so."""
    import threading

    from lrpgui.insight import spray_window

    window = make_window()
    panel = window.insight.show("spray")
    gate, real = threading.Event(), spray_window.spray_task

    def held(*args, **kwargs):
        token = next(a for a in args if hasattr(a, "cancelled"))  # before the region
        token.progress(3, 12, None)  # as spray reports its samples
        gate.wait(20)
        return real(*args, **kwargs)

    monkeypatch.setattr(spray_window, "spray_task", held)
    panel.class_box.setCurrentIndex(panel.class_box.findData(2))
    panel.k_spin.setValue(2)
    panel.run_button.click()
    qtbot.waitUntil(lambda: "3/12" in panel.summary.text(), timeout=10000)
    text = panel.summary.text()
    assert text.startswith("Running") and "class 2" in text and window.state.rule in text
    assert "2 clusters" in text and "Run clusters" not in text
    with qtbot.waitSignal(panel.updated, timeout=60000):
        gate.set()
    done = panel.summary.text()
    assert "Running" not in done and "→ 2 clusters" in done

    gate.clear()
    panel.k_spin.setValue(0)
    panel.run_button.click()  # a second run: the first one's clusters stay on display
    qtbot.waitUntil(lambda: "3/12" in panel.summary.text(), timeout=10000)
    text = panel.summary.text()
    assert "k chosen by the eigengap" in text and "last run" in text
    panel.cancel_button.click()
    assert "Running" not in panel.summary.text() and "cancelled" in panel.summary.text()
    gate.set()
    from .waiting import settle

    settle(qtbot, window.controller)
    assert "→ 2 clusters" in panel.summary.text()


@pytest.mark.parametrize("n", [3, 6, 10, 30])
def test_the_eigengap_plot_ticks_whole_indices(make_window, n):
    """Three eigenvalues were ticked at 1.0, 1.5, 2.0, 2.5, 3.0: no eigenvalue is number 1.5."""
    panel = make_window().insight.show("spray")
    axis = panel.eigen_plot.getAxis("bottom")
    levels = axis.tickValues(0.8, n + 0.2, 300)  # n eigenvalues, as the plot ranges them
    ticks = [v for _spacing, values in levels for v in values]
    assert ticks and all(float(v).is_integer() for v in ticks), levels
    assert {1.0, float(n)} <= set(ticks) or n > 10


def test_progress_bars_say_nothing_before_a_job(make_window, qtbot):
    """Concepts showed "0%" beside "Find references" before any search (so did every tool's
    bar before its first Run), read as a search that had found nothing. The bars are blank
    until a job starts, show its share done while it runs and after, and are blank again
    when it is cancelled."""
    from .insight_helpers import open_tool

    window = make_window()
    open_tool(qtbot, window, "concepts")
    bars = [panel.jobs for panel in window.insight.panels.values() if panel.jobs is not None]
    bars.append(window.insight.panels["concepts"].refs)
    assert len(bars) >= 5
    for jobs in bars:
        assert jobs.progress.text() == "", jobs.progress.objectName()
    jobs = bars[-1]
    jobs.started(8)
    jobs.step(2, 8)
    assert jobs.progress.text() == "25%"
    jobs.finished()
    assert jobs.progress.text() == "100%"
    jobs.started(8)
    jobs.cancelled()
    assert jobs.progress.text() == ""


def test_compare_lays_one_class_column_out_as_tiles(make_window, qtbot):
    """Five rules for the explained class were five rows of one column: 84-pixel maps one
    under the other in a 1100-pixel window (here the offscreen screen's 760), most of it
    empty. The input and the maps are
    tiles now, several to a line, each titled with its rule and scale."""
    from .insight_helpers import open_tool, rerun

    window = make_window()
    view = open_tool(qtbot, window, "compare")
    rules = ["epsilon:0.01", "alphabeta:2", "flat", "sensitivity", "gradxinput"]
    rerun(qtbot, view, lambda: view.set_rules(rules))
    assert window.insight.docks["compare"].isFloating()

    def cells():
        return [view._cells[(r, 0)][0].sceneBoundingRect() for r in range(len(rules))]

    qtbot.waitUntil(lambda: min(c.width() for c in cells()) >= 150, timeout=5000)
    assert len({round(c.left()) for c in cells()}) >= 3  # side by side, not one column
    assert [label.text for label in view._row_labels] == rules
    assert all(label.text.startswith("±") for label in view._scale_labels)
    for r, rect in enumerate(cells()):  # each title over its own map
        name = view._row_labels[r].sceneBoundingRect()
        assert name.bottom() <= rect.top() + 1 and rect.left() - 1 <= name.center().x()
        assert name.center().x() <= rect.right() + 1
    view.set_mode("all")  # classes as columns: the grid of rows and columns again
    qtbot.waitUntil(lambda: view._grid_shape == (len(rules), 10), timeout=20000)
    lefts = {round(view._cells[(r, 0)][0].sceneBoundingRect().left()) for r in range(5)}
    assert len(lefts) == 1


@pytest.mark.parametrize("kind, name", [("png", "heat.jpg"), ("png", "heat"),
                                        ("npy", "relevance.txt"), ("overlay", "ov")])
def test_an_export_is_named_as_what_it_writes(make_window, tmp_path, dialogs_shown, kind,
                                             name):
    """Export PNG to "heat.jpg" wrote PNG bytes under that name (to "heat": a file no
    viewer opens), .npy to "relevance.txt" likewise; 'lrp' refuses --out heatmap.jpg. The
    export is refused, naming the file and the suffix, and writes nothing."""
    from lrpgui.flows import SINGLE_EXPORTS, file_suffix

    window = make_window()
    assert window.export(kind, str(tmp_path / name)) == []
    suffix = file_suffix(SINGLE_EXPORTS[kind].filters)
    (title, text), = dialogs_shown
    assert str(tmp_path / name) in text and f"…{suffix}" in text
    assert [p.name for p in tmp_path.iterdir()] == ["settings"]


def test_the_save_dialog_gives_a_name_typed_without_suffix_the_filters(monkeypatch,
                                                                      tmp_path):
    """Typed "heat" in Export PNG's dialog: the file is heat.png (Qt's dialog adds no suffix
    by itself, and the export refuses a PNG under another name); where heat.png exists (no
    "replace?" was asked of it), the name stays "heat" for the export to refuse."""
    from PySide6.QtWidgets import QFileDialog

    from lrpgui import dialogs

    typed = str(tmp_path / "heat")
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a: (typed, a[3]))
    ask = dialogs.ask_save_file
    assert ask(None, "Export PNG", str(tmp_path / "h.png"), "PNG (*.png)") == typed + ".png"
    assert ask(None, "Export", str(tmp_path / "r.npy"), "NumPy (*.npy)") == typed + ".npy"
    (tmp_path / "heat.png").write_bytes(b"")
    assert ask(None, "Export PNG", str(tmp_path / "h.png"), "PNG (*.png)") == typed
    typed = str(tmp_path / "heat.jpg")  # a suffix of its own: left to the export to refuse
    assert ask(None, "Export PNG", str(tmp_path / "h.png"), "PNG (*.png)") == typed


def test_concepts_titles_a_small_share_in_tenths_of_a_percent():
    """EfficientNet's 1280-channel head: the top channels each hold ~0.3 % of the relevance
    and every map was titled "ch … · 0%" (whole percent) beside a table saying 0.3 %."""
    from lrpgui.insight.concepts_panel import map_title, share_text

    assert map_title(461, 0.0031) == "ch 461 · 0.3%"
    assert map_title(14, 0.253) == "ch 14 · 25.3%" and share_text(-0.122) == "-12.2%"
    assert share_text(-0.00001) == "0.0%" and share_text(0.0) == "0.0%"
