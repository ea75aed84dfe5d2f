"""Earlier reviews' leftovers in the explorer (stop 23, the cli helper's): a folder of
photographs with one broken file could not be opened at all."""

from __future__ import annotations

import numpy as np


def test_a_folder_with_a_broken_photo_opens_and_the_window_names_it(make_window, qtbot,
                                                                    monkeypatch, tmp_path,
                                                                    dialogs_shown):
    """The explorer refused the whole folder ('Cannot open dataset: …/c0/d0.png: cannot decode
    the image …'). It opens the other photographs and says which one was left out and why,
    in a warning box and in the status bar."""
    from PIL import Image

    import lrpcore

    digits = lrpcore.open_dataset("mnist-test").images(np.arange(6))
    for k, img in enumerate(digits):
        (tmp_path / "photos" / f"c{k % 2}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(img.reshape(28, 28)).save(tmp_path / "photos" / f"c{k % 2}" / f"d{k}.png")
    (tmp_path / "photos" / "c0" / "d0.png").write_bytes(b"not an image")
    warned = []
    monkeypatch.setattr("lrpgui.dialogs.show_warning",
                        lambda parent, title, message: warned.append((title, message)))
    window = make_window()
    assert window.open_dataset(str(tmp_path / "photos"))
    qtbot.waitUntil(lambda: window.state.explanation is not None, timeout=20000)
    assert len(window.state.dataset) == 5 and not dialogs_shown
    (title, text), = warned
    assert "1 image cannot be read and is left out: c0/d0.png (cannot decode the image: not " \
        "a valid PNG or JPEG file); the other 5 are used" in text
    assert text.startswith(str(tmp_path / "photos"))
    assert any("c0/d0.png" in c for c in window.session.concerns())
