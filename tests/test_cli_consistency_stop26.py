"""The ``lrp`` commands' shared options (stop 26): what one command took and another did not,
or took with another meaning."""

from __future__ import annotations

import numpy as np
import pytest
from shared_data import shared_path

from lrpcore.cli.main import build_parser, main


def _digits(tmp_path, n=4):
    path = tmp_path / "x.npy"
    np.save(path, np.load(shared_path("data", "mnist_test_images.npy"))[:n])
    return str(path)


def test_evaluate_takes_layer_rules_as_explain(tmp_path, capsys):
    """``lrp evaluate`` had no ``--layer-rule`` (explain, concepts, spray, sweep and sanity
    took it): a composite tuned with it could not be scored. It applies to every LRP rule,
    names ONNX nodes as the others do, and is refused where only baselines are scored."""
    resnet = str(shared_path("models", "torch_onnx", "mnist_resnet.onnx"))
    x = _digits(tmp_path)
    base = ["evaluate", resnet, x, "--n", "4", "--steps", "2", "--no-random", "--quiet"]
    assert main([*base, "--csv", str(tmp_path / "a.csv")]) == 0
    assert main([*base, "--csv", str(tmp_path / "b.csv"), "--layer-rule", "/conv1/*=flat"]) == 0
    plain = (tmp_path / "a.csv").read_text().splitlines()[1:]
    ruled = (tmp_path / "b.csv").read_text().splitlines()[1:]
    assert all("=flat" in row for row in ruled) and not any("flat" in r for r in plain)
    capsys.readouterr()
    assert main([*base, "--rule", "sensitivity", "--layer-rule", "0=flat"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--layer-rule needs an LRP rule" in err, err
