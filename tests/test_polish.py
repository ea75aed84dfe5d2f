"""Late polish: an --out folder named as such, a final LogSoftmax's by-design loss reported
as expected (not warned), and a 1-D sequence input's layout in ``lrp info``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lrpcore.cli.main import main

ZOO = Path(__file__).parent / "data" / "zoo"


@pytest.fixture
def samples(tmp_path):
    with np.load(ZOO / "logsoftmax.npz") as data:
        np.save(tmp_path / "x.npy", data["x"])
    return tmp_path / "x.npy"


@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]])
def test_explain_out_naming_a_folder_says_it_is_a_folder(tmp_path, capsys, samples, overwrite):
    """'file exists (use --overwrite …)' sent the user to an option that cannot help."""
    folder = tmp_path / "results"
    folder.mkdir()
    assert main(["explain", str(ZOO / "logsoftmax_ts.onnx"), str(samples), "--raw",
                 "--out", str(folder), *overwrite]) == 2
    err = capsys.readouterr().err
    assert "results: is a folder" in err and "give a file path" in err
    assert "file exists" not in err
    assert folder.is_dir() and not any(folder.iterdir())  # nothing written into it


def test_a_final_log_softmax_is_reported_as_expected_not_warned(tmp_path, capsys, samples):
    """Its gradient sums to zero by design (zennit's numerics): a note beside the warnings and
    the sidecar's 'expected', never a warning of its own."""
    out = tmp_path / "R.npy"
    assert main(["explain", str(ZOO / "logsoftmax_ts.onnx"), str(samples), "--raw",
                 "--out", str(out)]) == 0
    err = capsys.readouterr().err.splitlines()
    gradient = [line for line in err if "as its gradient" in line]
    assert gradient and all(line.startswith("lrp explain: note: expected: layer 12")
                            for line in gradient)
    diagnosis = json.loads((tmp_path / "R.npy.json").read_text())["diagnosis"]
    assert "gradient-layer" not in {f["cause"] for f in diagnosis["findings"]}
    # the dense layer below it: its biases' share against a sum of zero (tests/test_leftovers)
    assert [f["cause"] for f in diagnosis["expected"]] == ["gradient-layer",
                                                           "after-gradient-layer"]


@pytest.mark.parametrize("name, text", [
    ("sequence_ts.onnx", "input layout: N×4×32 (C×L, channels first, sequence"),
    ("keras_seq_tf2onnx.onnx", "input layout: N×32×4 (L×C, channels last, sequence"),
])
def test_info_describes_a_sequence_input_layout(capsys, name, text):
    """An N×C×L input was described as '(flat)': a user would flatten it and be refused."""
    assert main(["info", str(ZOO / name)]) == 0
    out = capsys.readouterr().out
    assert text in out
    assert "(flat)" not in next(line for line in out.splitlines()
                                if line.startswith("input layout:"))
