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


def test_compare_names_the_region_and_its_prediction(make_window, qtbot, tmp_path):
    """Compare's info line said "predicted 2 (share of pixels 0.6)" of the whole map while its
    maps explained a region's pixels (and the region's class): it names the region, the class
    at the most pixels inside it and that class's share of them."""
    from .insight_helpers import open_tool, rerun

    window, images = _segment_window(make_window, tmp_path)
    s = window.state
    y = lrpcore.Explainer(s.model, dtype=s.dtype).forward(images).outputs()
    # a box whose own class differs from the whole map's
    boxes = [(r, r + 4, c, c + 4) for r in range(0, 16, 4) for c in range(0, 16, 4)]
    whole = int(predicted_classes(y)[0])
    region = next(b for b in boxes if int(predicted_classes(y, region=b)[0]) != whole)
    inside = int(predicted_classes(y, region=region)[0])
    s.region = region
    qtbot.waitUntil(lambda: s.relevance is not None, timeout=20000)
    view = open_tool(qtbot, window, "compare")
    rerun(qtbot, view, view.refresh)
    y0, y1, x0, x1 = region
    share = class_scores(y[:, y0:y1, x0:x1])[0][inside]  # of the box's pixels
    assert (f"predicted {inside} in rows {y0}:{y1}, columns {x0}:{x1} "
            f"(share of pixels {share:.4g})") in view.info.text()
    s.region = None  # the whole map again: its class and share, no region named
    qtbot.waitUntil(lambda: s.relevance is not None, timeout=20000)
    rerun(qtbot, view, view.refresh)
    assert f"predicted {whole} (share of pixels {class_scores(y)[0].max():.4g})" \
        in view.info.text()


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
