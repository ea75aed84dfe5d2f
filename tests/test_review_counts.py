"""Summary lines count in words a reader trusts: `lrp evaluate efficientnet-lite0 photo.jpg`
said "1 samples × 5 steps", `lrp sweep` "(1 pixels each)"."""

from __future__ import annotations

import numpy as np

from lrpcore.cli.main import main


def test_one_sample_and_one_step_are_singular(tmp_path, capsys):
    digit = tmp_path / "one.npy"
    np.save(digit, np.random.default_rng(0).integers(0, 256, (1, 28, 28), np.uint8))
    assert main(["evaluate", "mnist-dense-rect", str(digit), "--steps", "1", "--per-step", "3",
                 "--rule", "epsilon:0.01", "--no-random", "--csv",
                 str(tmp_path / "f.csv"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "1 sample × 1 step of 3 pixels, 1 curve in" in out, out
    assert main(["sweep", "mnist-dense-rect", str(digit), "--rule", "epsilon",
                 "--param", "epsilon=0.01", "--steps", "1", "--per-step", "1", "--n", "1",
                 "--quiet"]) == 0
    out = capsys.readouterr()
    assert "1 setting × 1 sample × 1 step (1 pixel each) in" in out.out + out.err


def test_the_demo_names_classes_the_model_names(tmp_path, capsys):
    """`lrp demo --model efficientnet-lite0 --dataset natural-images` listed "predicted
    class 971": the classes by number only, while every other command names them."""
    from colour_models import colour_graph_model

    import lrpcore

    model, data = tmp_path / "colour.npz", tmp_path / "photos.npy"
    lrpcore.save_model(colour_graph_model(), model)
    np.save(data, np.random.default_rng(0).integers(0, 256, (3, 16, 16, 3), np.uint8))
    assert main(["demo", "--model", str(model), "--dataset", str(data), "--out",
                 str(tmp_path / "demo"), "--count", "3", "--batch", "2"]) == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("sample ")]
    names = colour_graph_model().class_names
    for line in lines:
        k = int(line.split("predicted class ")[1].split(" ")[0])
        assert line.endswith(f"predicted class {k} ({names[k]})"), line
    assert lines
