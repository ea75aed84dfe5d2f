"""A sixth hostile review, in the window: a model whose output is a map (it was refused in one
line when it was opened) is explained; a batch export cannot write into its image folder."""

from __future__ import annotations

import numpy as np
import pytest

from .waiting import settle


def test_a_feature_extractor_opens_and_its_map_is_explained(make_window, qtbot, tmp_path):
    """It was refused ("not a vector of class scores"); a map output is now explained pixel by
    pixel (lrpcore.map_targets): four equal channels, so every pixel predicts class 0."""
    pytest.importorskip("onnx")
    from hostile_files import save_feature_extractor

    model = save_feature_extractor(tmp_path / "backbone.onnx", 28)
    data = tmp_path / "digits.npy"
    np.save(data, np.random.default_rng(0).integers(0, 256, (3, 28, 28)).astype(np.uint8))
    window = make_window(model=model, dataset=data)
    assert window.state.model_path == str(model) and not window.last_error
    assert window.state.explanation.prediction == 0
    assert window.state.relevance.shape[:2] == (28, 28)
    assert np.abs(window.state.relevance).max() > 0
    settle(qtbot, window.controller)


def test_a_batch_export_into_the_image_folder_being_explored_is_refused(make_window, qtbot,
                                                                        tmp_path,
                                                                        dialogs_shown):
    # its heatmap PNGs were read as photos the next time the folder was opened
    from PIL import Image

    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(3):
        Image.fromarray(np.full((28, 28), 60 * i, np.uint8)).save(photos / f"{i}.png")
    window = make_window(dataset=photos)
    assert window.batch_export(str(photos), "filtered", ["png", "npy"]) == 0
    assert dialogs_shown and "inside the image folder" in dialogs_shown[-1][1]
    assert sorted(p.name for p in photos.iterdir()) == ["0.png", "1.png", "2.png"]
    settle(qtbot, window.controller)
