"""Stop 24's acceptance review of the explorer: defects found by using it as a new user."""

from __future__ import annotations

import shutil

import numpy as np


def test_a_refusal_leaves_the_status_bar_when_a_file_opens(make_window, toy_files, tmp_path,
                                                           dialogs_shown):
    """A dataset the model cannot take is refused in the status bar; the digits opened next
    were shown under "Dataset does not fit the model: …" for 8 s, as if refused too."""
    window = make_window()
    colour = tmp_path / "photos.npy"
    np.save(colour, np.zeros((3, 16, 16, 3), dtype=np.uint8))
    assert window.open_dataset(str(colour)) is False
    assert "photos.npy" in window.state.status and "photos.npy" in dialogs_shown[-1][1]
    assert "does not fit" in window.statusBar().currentMessage()  # shortened in the middle

    digits = tmp_path / "more_images.npy"
    shutil.copy(toy_files[1], digits)
    assert window.open_dataset(str(digits)) is True
    assert "photos.npy" not in window.state.status
    assert "does not fit" not in window.statusBar().currentMessage()


def test_a_status_set_by_the_open_itself_stays(make_window, toy_files, tmp_path):
    """Only the refusal goes: what opening the file says (here: no labels, so the true
    class target became the predicted class) is kept."""
    window = make_window()
    window.state.target = "true"
    window.open_dataset(str(tmp_path / "missing.npy"))  # refused: no such file
    unlabelled = tmp_path / "drawings.npy"
    np.save(unlabelled, np.load(toy_files[1])[:5])
    assert window.open_dataset(str(unlabelled)) is True
    assert "drawings.npy has no labels" in window.state.status
