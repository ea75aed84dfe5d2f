"""`python -m lrpcore.watermark OUT_DIR` (the README's Clever Hans example) writes the model
and its data only: it left the training loop's resumable `watermark-model.ckpt.npz` beside
them (acceptance review), a file nothing reads."""

from __future__ import annotations

from lrpcore import watermark


def test_the_script_writes_the_model_and_its_data_only(tmp_path, capsys):
    assert watermark.main([str(tmp_path / "wm")]) == 0
    assert sorted(p.name for p in (tmp_path / "wm").iterdir()) == [
        "watermark-model.npz", "watermark_images.npy", "watermark_labels.npy",
        "watermark_marked.npy"]
