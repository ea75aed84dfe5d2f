"""The README's `--trace` figures for the shared MNIST ResNet are what `lrp explain --trace`
prints (acceptance review: the README said /layer1/Add sent 56 % to its convolution and that
the downsample convolution held "0.03 of the 3.2" crossing its depth; the trace of the first
test digits printed 51.4–66.5 % and 0.25–1.4 of 2.2–4.4)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from shared_data import shared_path

import lrpcore
from lrpcore.cli.main import main

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _trace(tmp_path, capsys, n):
    model = shared_path("models", "torch_onnx", "mnist_resnet.onnx")
    x = tmp_path / "x.npy"
    np.save(x, lrpcore.open_dataset("mnist-test").images(range(n)))
    assert main(["explain", str(model), str(x), "--out", str(tmp_path / "R.npy"),
                 "--trace"]) == 0
    return capsys.readouterr().out


def test_readme_trace_figures_are_printed(tmp_path, capsys):
    out = _trace(tmp_path, capsys, 8)
    shares = [float(s) for s in
              re.findall(r"↳ from node 8: ([\d.]+) %\s+[\d.e+-]+\s+/layer1/conv2/Conv", out)]
    assert len(shares) == 8
    first = shares[0]
    assert f"sends {first:.1f} %" in README and f"and {100 - first:.1f} % to the skip" in README
    assert f"{min(shares):.1f}–{max(shares):.1f} % over the first eight" in README
    row = next(line for line in out.splitlines()
               if line.rstrip().endswith("/layer2/downsample/downsample.0/Conv")
               and not line.lstrip().startswith("↳"))
    numbers = row.split()
    r_in, cut = float(numbers[6]), float(numbers[10])
    assert f"passes on {r_in:.2f} of the {cut:.2f} crossing" in README
