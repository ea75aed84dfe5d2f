"""Text from a crafted file is never rendered as HTML by the insight tools (fresh hostile
review): an ONNX node named ``<img src="...">``, a SpRAy result whose class says so and an
error quoting such a file name made Qt load that picture (``/dev/zero`` reads until the
allocation crashes the explorer). A 400×400 picture stands for it here: had it been loaded, the
label would be hundreds of pixels high."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

onnx = pytest.importorskip("onnx")

PICTURE = "picture.png"
MARKUP = f'<img src="{PICTURE}">'


@pytest.fixture
def picture(tmp_path, monkeypatch):
    from PIL import Image

    Image.fromarray(np.zeros((400, 400), np.uint8)).save(tmp_path / PICTURE)
    monkeypatch.chdir(tmp_path)  # the src is relative: no "/" in a file name
    return tmp_path / PICTURE


def _small(widget) -> bool:
    return widget.sizeHint().height() < 100


def test_an_onnx_node_name_is_no_markup_in_the_rule_table_and_concepts(make_window, qtbot,
                                                                       tmp_path, picture):
    from test_onnx_graph_hostile import _model

    def rename(m):
        m.graph.node[2].name = MARKUP  # the residual Add: the concept layer below the Gemm

    path = tmp_path / "named.onnx"
    onnx.save(_model(mutate=rename), str(path))
    data = tmp_path / "images.npy"
    np.save(data, np.random.default_rng(0).integers(0, 256, (4, 8, 8, 3)).astype(np.uint8))
    window = make_window(model=path, dataset=data)
    table = window.findChild(object, "layerRuleTable")
    tips = [table.item(r, c).toolTip() for r in range(table.rowCount())
            for c in range(3) if table.item(r, c) is not None]
    assert any("img src" in tip for tip in tips)  # the node is named, as text
    assert not any("<img" in tip for tip in tips)
    with qtbot.waitSignal(window.insight["concepts"].updated, timeout=60000):
        panel = window.insight.show("concepts")
    k = next(i for i, n in enumerate(window.state.model.nodes) if n.name == "fc")
    panel.set_layer(k)
    qtbot.waitUntil(lambda: panel.result is not None and panel.result.layer == k,
                    timeout=60000)
    label = panel.composition_label
    assert MARKUP in label.text() and _small(label), label.sizeHint()


def test_a_spray_result_and_an_error_naming_markup_are_shown_as_text(make_window, qtbot,
                                                                     tmp_path, picture):
    from lrpcore.spray import SprayResult

    window = make_window()
    panel = window.insight.show("spray")
    n = 4
    rng = np.random.default_rng(0)
    SprayResult(np.arange(n), np.zeros(n, np.int64), rng.random((n, 28, 28)),
                rng.random((n, 4)), np.array([0, 0, 1, 1]), np.array([0.0, 0.5, 1.0]),
                rng.random((n, 2)), meta={"class": MARKUP}).save(tmp_path / "s.npz")
    assert panel.open(str(tmp_path / "s.npz")) is not None
    assert MARKUP in panel.summary.text() and _small(panel.summary), panel.summary.sizeHint()
    bad = tmp_path / f"{MARKUP}.npz"
    bad.write_bytes(b"not a result")
    assert panel.open(str(bad)) is None
    assert MARKUP in panel.error_label.text() and _small(panel.error_label)
    assert panel.error_label.textFormat() == Qt.TextFormat.PlainText


def test_a_spray_result_that_cannot_be_saved_says_so(make_window, tmp_path):
    # the ExportError escaped the Save button's slot: a traceback on stderr, nothing shown
    from lrpcore.spray import SprayResult

    window = make_window()
    panel = window.insight.show("spray")
    n = 4
    rng = np.random.default_rng(0)
    panel.show_result(SprayResult(np.arange(n), np.zeros(n, np.int64), rng.random((n, 28, 28)),
                                  rng.random((n, 4)), np.array([0, 0, 1, 1]),
                                  np.array([0.0, 0.5, 1.0]), rng.random((n, 2))))
    folder = tmp_path / "taken.npz"
    folder.mkdir()  # a folder where the file should go
    assert panel.save(str(folder)) is None
    assert str(folder) in panel.last_error and panel.error_label.isVisible()
    assert panel.save(str(tmp_path / "s.npz")) == str(tmp_path / "s.npz")
    assert panel.last_error is None
