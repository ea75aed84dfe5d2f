"""A model of 100,000 classes (the explorer's cap) lists every class in the target box, the
grid's filters, Compare and SpRAy. Entries added one by one cost ~35 µs each and the target
list was rebuilt at every change of target; these tests check the lists' behaviour: complete,
found by name and number, and left alone when only the target changes."""

from __future__ import annotations

import numpy as np
import pytest

import lrpcore

N = 100_000


@pytest.fixture(scope="module")
def big_files(tmp_path_factory):
    from lrpcore.layers import Flatten, Linear
    from lrpcore.spec import InputSpec

    folder = tmp_path_factory.mktemp("classes")
    rng = np.random.default_rng(0)
    names = [f"kind {k}" for k in range(N)]
    names[31_415] = "Egyptian cat, the one"
    model = lrpcore.Sequential([Flatten(), Linear(rng.normal(0, 0.1, (4, N)), np.zeros(N))],
                               InputSpec(shape=(2, 2), raw_shape=(2, 2)),
                               meta={"class_names": names})
    lrpcore.save_model(model, folder / "many.npz")
    np.save(folder / "many_images.npy", rng.integers(0, 256, (12, 2, 2)).astype(np.uint8))
    np.save(folder / "many_labels.npy", rng.integers(0, N, 12).astype(np.int64))
    return folder / "many.npz", folder / "many_images.npy"


def _changes(combo) -> list:
    """Every rebuild of ``combo``'s list (reset, rows added or removed)."""
    seen = []
    model = combo.model()
    for signal in (model.modelReset, model.rowsInserted, model.rowsRemoved):
        signal.connect(lambda *_a, _s=seen: _s.append(1))
    return seen


def test_every_class_is_listed_and_found(make_window, big_files, qtbot):
    from lrpgui.widgets.class_choice import typed_entry

    window = make_window(model=big_files[0], dataset=big_files[1])
    s, box = window.state, window.rules.target_selector
    assert box.count() == N + 3  # predicted, true, all outputs, then every class
    assert box.itemText(3) == "class kind 0" and box.itemText(N + 2) == "class kind 99999"
    assert box.itemData(N + 2) == "99999" and box.findData("99999") == N + 2
    assert box.findData("true") == 1 and box.findData(99999) == N + 2
    assert box.isEditable()  # typed names complete
    box.setCurrentText("class kind 77777")
    assert s.target == "77777"
    assert typed_entry(box, "egyptian cat, the one") == 31_415 + 3
    rebuilt = _changes(box)
    s.target = "123"  # a change of target selects; the list stays
    s.target = "pred"
    assert not rebuilt and box.currentData() == "pred"
    assert s.relevance is None or s.target == "pred"

    grid = window.grid
    for combo in (grid.true_filter, grid.pred_filter):
        assert combo.objectName() in ("trueClassFilter", "predClassFilter")
        assert combo.count() == N + 1 and combo.itemText(N) == "99999 kind 99999"
        assert combo.findData(None) == 0 and combo.findData(99_999) == N
    s.filter_pred = 31_415
    assert grid.pred_filter.currentIndex() == 31_416
    assert grid.pred_filter.currentText() == "31415 Egyptian cat, the one"
    s.filter_pred = None

    compare = window.insight["compare"]
    assert compare.class_a.count() == N and compare.class_b.currentData() == 1
    compare.set_pair("Egyptian cat, the one", 99_999)
    assert compare.pair() == (31_415, 99_999)
    spray = window.insight["spray"]
    assert spray.class_box.count() == N + 1 and spray.class_box.findData(5) == 6

    from lrpgui.widgets.model_summary import summary_html

    text = summary_html(s.model, str(big_files[0]))
    assert "kind 99" in text and "kind 99999" not in text and "(100,000 classes)" in text


def test_tiles_are_as_wide_as_the_widest_label():
    """The grid's tiles are measured on the longest names only while a longer name can
    still be wider; the result is that of measuring every name."""
    from PySide6.QtGui import QFont, QFontMetrics

    from lrpgui.widgets.sample_grid import widest_label

    metrics = QFontMetrics(QFont())
    cases = [["1", "iiiiiiiiii", "WWWWWWW"], [str(k) for k in range(5000)],
             ["a"] * 3 + ["MMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMM"], []]
    for names in cases:
        every = max((metrics.horizontalAdvance(f"?→{n} ✗") for n in names), default=0)
        assert widest_label(metrics, names, 10_000) >= every - 2
        assert widest_label(metrics, names, 10_000) <= every
        assert widest_label(metrics, names, 40) >= min(every, 40)
