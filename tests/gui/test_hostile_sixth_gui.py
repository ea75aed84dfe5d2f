"""A sixth hostile review, in the window: a model the explorer cannot explain is refused in
one line when it is opened."""

from __future__ import annotations

import numpy as np
import pytest

from .waiting import settle


def test_a_feature_extractor_is_an_error_in_the_window(make_window, qtbot, tmp_path):
    pytest.importorskip("onnx")
    from hostile_files import save_feature_extractor

    model = save_feature_extractor(tmp_path / "backbone.onnx", 28)
    window = make_window(model=model, wait=False)
    qtbot.waitUntil(lambda: bool(window.last_error), timeout=20000)
    assert "not a vector of class scores" in window.last_error and str(model) in window.last_error
    assert window.state.model is None or window.state.model_path != str(model)
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
