"""``lrp info`` on a feature extractor (an ONNX model whose output is a map, not class scores)
says so, in the words every explaining path refuses it with, instead of listing the map's
values as classes ("classes: 144 outputs, unnamed")."""

from __future__ import annotations

import pytest

from lrpcore.cli.main import main


def test_info_says_a_feature_map_is_no_class_scores(tmp_path, capsys):
    pytest.importorskip("onnx")
    from hostile_files import save_feature_extractor

    model = save_feature_extractor(tmp_path / "backbone.onnx", 8)
    assert main(["info", str(model)]) == 0
    out = capsys.readouterr().out
    assert "classes" not in out and "raw scores" not in out
    assert "output: the model's output is a 6×6×4 map per sample, not a vector of class " \
           "scores" in out
    assert main(["info", "mnist-lenet5"]) == 0  # a classifier still lists its classes
    out = capsys.readouterr().out
    assert "classes (10): 0, 1, 2" in out and "output: raw scores" in out
