"""The stop-23 acceptance review in the window: what a new user met opening a cluster's
relevance store."""

from __future__ import annotations

import numpy as np
import pytest
from colour_models import colour_graph_model

import lrpcore

pytest.importorskip("distributed")
pytest.importorskip("zarr")


@pytest.fixture
def toy_store(toy_files, tmp_path):
    """An ``R.zarr`` of the toy digit model on the toy digits, made on an in-process cluster."""
    import distributed

    from lrpcore import distributed as dist

    model, images = toy_files
    source, _ = dist.open_source(images)
    out = tmp_path / "R.zarr"
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=1,
                            dashboard_address=None) as client:
        args = {"model": str(model), "backend": "numpy", "dtype": "float64",
                "rule": "epsilon:0.01", "layer_rules": {}, "target": "pred", "raw": False,
                "batch_size": 32, "source": source}
        assert dist.explain_to_store(args, out, client=client, progress=False).failed == []
    return out


def test_a_store_opens_over_data_its_model_does_not_fit_without_a_question(
        make_window, qtbot, toy_store, toy_files, tmp_path, close_dataset_questions):
    """With colour images open, opening a store of digits asked "Close the dataset … and open
    the model? Then open data that fits it: …" — the store brings its own data, so the
    question was beside the point, and answering Cancel (as the fixture does) refused the
    store. It now opens the store's model and data as the menu item says."""
    model = tmp_path / "colour-graph.npz"
    lrpcore.save_model(colour_graph_model(), model)
    photos = tmp_path / "photos.npy"  # arrays are not fitted to a model, as folders are
    np.save(photos, np.random.default_rng(0).integers(0, 256, (4, 16, 16, 3), dtype=np.uint8))
    window = make_window(model, photos)
    assert window.open_relevance_store(toy_store)
    assert close_dataset_questions == []
    qtbot.waitUntil(lambda: window.state.explanation is not None
                    and window.state.explanation.precomputed, timeout=20000)
    assert window.state.model_path.endswith(str(toy_files[0].name))
    assert window.state.dataset_name.endswith(str(toy_files[1].name))
