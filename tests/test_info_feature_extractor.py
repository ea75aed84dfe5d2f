"""``lrp info`` on a model whose output is a map (an ONNX feature extractor, a segmentation
network) says so, and what a target selects there, instead of listing the map's values as
classes ("classes: 144 outputs, unnamed")."""

from __future__ import annotations

import pytest

from lrpcore.cli.main import main


def test_info_says_a_map_holds_class_scores_per_pixel(tmp_path, capsys):
    pytest.importorskip("onnx")
    from hostile_files import save_feature_extractor

    model = save_feature_extractor(tmp_path / "backbone.onnx", 8)
    assert main(["info", str(model)]) == 0
    out = capsys.readouterr().out
    assert "144" not in out and "raw scores" not in out
    assert "output: a 6×6×4 map per sample (4 class scores per pixel, the last axis), a " \
           "segmentation model's: a target selects the pixels of a class" in out
    assert "classes: 4 outputs, unnamed" in out
    assert main(["info", "mnist-lenet5"]) == 0  # a classifier still lists its classes
    out = capsys.readouterr().out
    assert "classes (10): 0, 1, 2" in out and "output: raw scores" in out
