"""Found by the ninth hostile review in the window: each test failed before its fix."""

from __future__ import annotations

import json

import numpy as np
import pytest

import lrpcore

from .waiting import settle

pytest.importorskip("onnx")


def _export(folder, sidecar=None):
    """A PyTorch-style 3×6×6 ONNX classifier in ``folder`` (its sidecar, if given)."""
    from hostile_files import save_onnx_graph
    from onnx import helper, numpy_helper

    rng = np.random.RandomState(0)
    folder.mkdir()
    nodes = [helper.make_node("Conv", ["x", "W"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("GlobalAveragePool", ["r"], ["p"]),
             helper.make_node("Flatten", ["p"], ["f"]),
             helper.make_node("MatMul", ["f", "G"], ["y"])]
    inits = [numpy_helper.from_array(rng.randn(4, 3, 3, 3).astype(np.float32), "W"),
             numpy_helper.from_array(rng.randn(4, 2).astype(np.float32), "G")]
    path = save_onnx_graph(folder / "m.onnx", nodes, inits, [1, 3, 6, 6], [1, 2])
    if sidecar is not None:
        (folder / "m.json").write_text(json.dumps(sidecar))
    return path


def test_an_array_in_the_models_layout_is_read_again_for_the_next_model(make_window, qtbot,
                                                                       tmp_path):
    """An N×C×H×W array opened for one PyTorch model is read back as the raw images that
    model's preprocessing maps to it. A second model of the same input shape but another
    normalisation (its sidecar's mean/std) kept the first model's reading: it drew other
    images and explained other values than the array's (the README: "the relevance is that
    of the array itself"). The array is now read again for the model that opens."""
    first = _export(tmp_path / "first")
    second = _export(tmp_path / "second", {"input": {"mean": [0.5, 0.5, 0.5],
                                                     "std": [0.25, 0.25, 0.25]}})
    fed = np.random.RandomState(1).rand(3, 3, 6, 6)
    np.save(tmp_path / "fed.npy", fed)
    window = make_window(model=first, dataset=tmp_path / "fed.npy")
    assert "model's own input" in window.state.status
    explained = []
    window.state.events.explanation.connect(
        lambda r: explained.append(r) if r is not None and r.request.model is not None
        and r.request.model.source == str(second) else None)
    assert window.open_model(str(second))
    qtbot.waitUntil(lambda: bool(explained), timeout=20000)
    settle(qtbot, window.controller)
    s = window.state
    spec = s.model.input_spec
    images = s.dataset.images(np.array([0]))
    np.testing.assert_allclose(spec.preprocess(images), fed[:1], rtol=0, atol=1e-9)
    want = lrpcore.explain(s.model, fed[:1], raw=True, rule=s.rule, dtype=s.dtype)[0]
    np.testing.assert_allclose(s.relevance, want.transpose(1, 2, 0), rtol=1e-4,
                               atol=1e-6 * np.abs(want).max())


def test_a_relevance_store_whose_run_names_no_target_is_named_damaged(tmp_path):
    """A store whose run attributes lack "target" (edited by hand) was refused by the
    explorer as "R.zarr: KeyError: 'target'", an internal fault's words; now it is named a
    damaged relevance store, saying what it lacks."""
    pytest.importorskip("zarr")
    from hostile_files import finished_relevance_store

    from lrpgui.session import OpenError, Session
    from lrpgui.state import AppState

    path = finished_relevance_store(tmp_path / "R.zarr")  # its run records no target
    with pytest.raises(OpenError) as info:
        Session(AppState()).open_relevance_store(path)
    text = str(info.value)
    assert text.startswith(str(path)) and "damaged relevance store" in text
    assert "'target'" in text and "KeyError" not in text
