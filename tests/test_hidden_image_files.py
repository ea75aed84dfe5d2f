"""Hidden files in an image folder are not samples: a macOS copy to a USB stick or network
share leaves an AppleDouble ``._photo.jpg`` beside every photo, and one of them made the whole
folder unreadable ("cannot decode the image"), while hidden class folders were already skipped
(review)."""

from __future__ import annotations

import numpy as np
from PIL import Image

import lrpcore


def test_hidden_files_are_skipped(tmp_path):
    rng = np.random.default_rng(0)
    for folder in (tmp_path / "flat", tmp_path / "classes" / "cat"):
        folder.mkdir(parents=True)
        Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)).save(
            folder / "photo.jpg")
        (folder / "._photo.jpg").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X")
        (folder / ".hidden.png").write_bytes(b"not a png")
    flat = lrpcore.open_dataset(tmp_path / "flat")
    assert len(flat) == 1 and flat.images([0]).shape == (1, 20, 30, 3)
    labelled = lrpcore.open_dataset(tmp_path / "classes")
    assert len(labelled) == 1 and labelled.class_names == ["cat"]
