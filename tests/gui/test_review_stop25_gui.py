"""Stop 25's acceptance review of the explorer: defects found by using it as a new researcher
(ONNX graph models, photographs, the MNIST test set)."""

from __future__ import annotations

import re
from dataclasses import replace

from colour_models import colour_graph_model


def long_named_graph():
    """The colour graph model with ONNX node names as PyTorch exports write them."""
    model = colour_graph_model()
    model.nodes = [replace(node, name=f"/features/features.{k}/block/block.1/{node.name}")
                   for k, node in enumerate(model.nodes)]
    return model


def layer_spans(summary):
    """(start, end, tooltip) of each layer's line in the summary's document."""
    from PySide6.QtGui import QTextCursor

    text = summary.toPlainText()
    spans, cursor = [], QTextCursor(summary.document())
    for position in range(1, len(text) + 1):
        cursor.setPosition(position)
        tip = cursor.charFormat().toolTip()  # the format of the character before position
        if not re.match(r"\d+ ", tip):  # not a layer's line (the file's, or none)
            continue
        if spans and spans[-1][2] == tip and spans[-1][1] == position - 1:
            spans[-1] = (spans[-1][0], position, tip)
        else:
            spans.append((position - 1, position, tip))
    return spans


def on_one_line(document, start, end) -> bool:
    block = document.findBlock(start)
    layout = block.layout()
    first = layout.lineForTextPosition(start - block.position()).lineNumber()
    last = layout.lineForTextPosition(end - 1 - block.position()).lineNumber()
    return block.contains(end - 1) and first == last


def test_long_node_names_in_the_model_summary_are_shortened_in_the_middle(qtbot):
    """In the ~240-pixel browser dock the summary's 4-column table left the layer column
    40–70 px, so node names such as '/features/features.3/block/block.1/Conv' and shapes
    ('224×22' / '4×3') broke in the middle of words. Each layer's line now takes the whole
    width, shortened in the middle (its kind at the start, the node at the end), with the full
    text in its tooltip; it is fitted again when the dock is resized."""
    from lrpgui.widgets.model_summary import ModelSummary

    model = long_named_graph()
    summary = ModelSummary(objectName="modelSummary")
    qtbot.addWidget(summary)
    summary.resize(240, 400)
    summary.show()
    summary.show_model(model, "/data/exports/a-long-model-file-name-from-pytorch.onnx")
    qtbot.waitUntil(summary.fitted, timeout=5000)  # to the width its scrollbar leaves
    text = summary.toPlainText()
    spans = layer_spans(summary)
    assert len(spans) == len(model.layers)
    for k, (start, end, tip) in enumerate(spans):
        node = model.nodes[k]
        assert tip == f"{k} {node.layer.describe()} ({node.name})"
        shown = text[start:end]
        assert "…" in shown and shown.startswith(f"{k} ") and tip.endswith(shown[-4:])
        assert on_one_line(summary.document(), start, end), shown
    assert summary.horizontalScrollBar().maximum() == 0
    for shape in model.shapes():  # shapes are whole, never broken
        assert "×".join(map(str, shape)) in text

    summary.resize(900, 400)  # wide enough: every line in full, once the resize settles
    qtbot.waitUntil(summary.fitted, timeout=5000)
    text = summary.toPlainText()
    assert [text[s:e] for s, e, _t in layer_spans(summary)] == \
        [t for _s, _e, t in layer_spans(summary)]


def test_digits_scaled_to_0_1_are_named_in_the_status_bar(make_window, toy_files, tmp_path):
    """ToTensor's digits (floats in [0, 1]) opened for LeNet-5 were scaled a second time:
    a blank input, every sample explained as the same class, and not a word (``lrp explain``
    warns of it). The status bar now says so; 8-bit digits say nothing."""
    from pathlib import Path

    import numpy as np

    lenet = Path(__file__).resolve().parents[2] / "models" / "mnist-lenet5.npz"
    window = make_window(model=lenet)
    assert "preprocessed" not in window.state.status and window.session.concerns() == []
    scaled = tmp_path / "tensor_digits.npy"
    np.save(scaled, np.load(toy_files[1]).astype(np.float32) / 255)
    assert window.open_dataset(str(scaled)) is True
    status = window.state.status
    assert status.startswith("⚠ tensor_digits.npy: values in [0, 0.9") and \
        "look preprocessed already" in status and "rescale them to [0, 255]" in status

    sixteen_bit = tmp_path / "deep_digits.npy"  # beyond the raw range: named too
    np.save(sixteen_bit, np.load(toy_files[1]).astype(np.uint16) * 257)
    assert window.open_dataset(str(sixteen_bit)) is True
    assert "deep_digits.npy: values in [0, 6" in window.state.status
    assert "exceed the model's raw input range [0, 255]" in window.state.status


def test_a_rule_switch_updates_the_layer_table_in_one_change(make_window, qtbot):
    """Switching the rule rewrote each rule cell in seven item changes (text, data, flags,
    colour, font, tooltip), and the view and its fit-to-contents header measured every row
    after each: EfficientNet-Lite0's 112 rows held the GUI thread 0.5–1 s per switch. The
    cells now change in one batch that the view hears of once."""
    window = make_window()
    table = window.rules.layer_table
    assert table.rowCount() >= 5
    changes = []
    table.model().dataChanged.connect(lambda *args: changes.append(args))
    with qtbot.waitSignal(window.state.events.relevance, timeout=20000,
                          check_params_cb=lambda r: r is not None):
        window.state.rule = "alphabeta:2"
    assert [table.item(r, 3).text() for r in range(table.rowCount())].count("alphabeta:2") >= 2
    assert 1 <= len(changes) <= 2, len(changes)


def test_escape_on_the_batch_export_progress_cancels_it(make_window, qtbot, tmp_path,
                                                        monkeypatch):
    """Escape reaches the batch export's progress dialog as QDialog's reject() wherever the
    dialog's own Escape shortcut does not fire (the dialog shown but not the active window: an
    X server without a window manager, seen under xvfb): it hid the dialog without emitting
    ``canceled``, and the export went on out of sight and wrote all its files. The README says
    Escape stops it and removes what it wrote."""
    from PySide6.QtWidgets import QWidget

    from lrpgui import services

    from .waiting import HeldAfterFirst

    window = make_window()
    window.batch_chunk = 10
    gate = HeldAfterFirst(monkeypatch, services, "model_read")  # held until Escape is pressed
    out = tmp_path / "out"
    out.mkdir()
    with qtbot.waitSignal(window.export_cancelled, timeout=30000):
        window.batch_export(str(out), scope="filtered", formats=("png", "npy"))
        dialog = window.findChild(QWidget, "exportProgress")
        qtbot.waitUntil(lambda: dialog.value() > 0, timeout=20000)
        dialog.reject()  # what QDialog.keyPressEvent does with Escape
        assert not dialog.isVisible()
        gate.release()
    assert list(out.iterdir()) == []


def test_a_refused_layer_rule_leaves_the_status_bar_once_a_valid_one_is_typed(
        make_window, qtbot, dialogs_shown):
    """"Invalid setting: layer 0: epsilon: ε must be > 0, got -1" stayed in the status bar
    after a valid rule had been typed into the same cell and explained, as if it had been
    refused too."""
    window = make_window()
    table = window.rules.layer_table
    table.item(0, 3).setText("epsilon:-1")
    assert dialogs_shown and "ε must be > 0" in window.statusBar().currentMessage()
    assert window.state.layer_rules == {}
    with qtbot.waitSignal(window.state.events.relevance, timeout=20000,
                          check_params_cb=lambda r: r is not None):
        table.item(0, 3).setText("epsilon:0.5")
    assert window.state.layer_rules == {0: "epsilon:0.5"}
    assert "Invalid setting" not in window.statusBar().currentMessage()
    assert "Invalid setting" not in window.state.status


def test_class_boxes_fit_the_classes_of_the_model_now_open(qtbot):
    """The grid's class filters (and the target box) were measured once, at their first
    show: after EfficientNet-Lite0's 1000 class names they stayed ~250 px wide for the MNIST
    ResNet's ten digits ("predicted [any            ▾]")."""
    from lrpgui.widgets.class_choice import ClassChoice

    def box(names):
        choice = ClassChoice(objectName="predClassFilter")
        qtbot.addWidget(choice)
        choice.set_entries(["any", *names], [None, *range(len(names))])
        return choice

    digits = [str(k) for k in range(10)]
    reused = box([f"a rather long ImageNet class name {k}" for k in range(1000)])
    reused.show()
    wide = reused.sizeHint().width()
    reused.set_entries(["any", *digits], [None, *range(10)])
    fresh = box(digits)
    fresh.show()
    assert reused.sizeHint().width() == fresh.sizeHint().width() < wide


def test_a_warning_about_the_data_keeps_what_opening_it_said(make_window, toy_files, tmp_path):
    """The warnings about what was opened replaced what the open itself had said: unlabelled
    ToTensor digits opened while the true class was explained showed only the raw-values
    warning, and "Target true class → predicted class: … has no labels" was lost."""
    from pathlib import Path

    import numpy as np

    lenet = Path(__file__).resolve().parents[2] / "models" / "mnist-lenet5.npz"
    window = make_window(model=lenet)
    window.state.target = "true"
    scaled = tmp_path / "tensor_digits.npy"
    np.save(scaled, np.load(toy_files[1]).astype(np.float32) / 255)
    assert window.open_dataset(str(scaled)) is True
    status = window.state.status
    assert status.startswith("⚠ tensor_digits.npy: values in") and "preprocessed" in status
    assert "Target true class → predicted class: tensor_digits.npy has no labels" in status


def test_the_conservation_table_is_filled_in_one_change(make_window, qtbot):
    """Each cell set in the Conservation panel's table (nine per layer) made the view and its
    fit-to-contents header measure every row again: with the panel open on EfficientNet-Lite0
    every click held the GUI thread ~6 s (1,170 cells). The view now hears of them once."""
    from .insight_helpers import open_tool, rerun

    window = make_window()
    panel = open_tool(qtbot, window, "conservation")
    table = panel.table
    changes = []
    table.model().dataChanged.connect(lambda *args: changes.append(args))
    rerun(qtbot, panel, lambda: setattr(window.state, "sample_index", 3))
    assert table.rowCount() >= 5 and table.item(table.rowCount() - 1, 1).text()
    assert 1 <= len(changes) <= 2, len(changes)
