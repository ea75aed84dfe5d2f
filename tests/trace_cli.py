"""`lrp explain --trace` on the shared ONNX ResNet, as the trace tests read its printout."""

from __future__ import annotations

import numpy as np
from shared_data import shared_path

from lrpcore.cli.main import main


def resnet_trace(tmp_path, capsys, samples) -> str:
    """The printout of ``lrp explain mnist_resnet.onnx --trace`` (EpsilonPlus, float64) for the
    first ``samples`` reference inputs; skips the test without ../shared."""
    model = shared_path("models", "torch_onnx", "mnist_resnet.onnx")
    x = np.load(shared_path("reference", "mnist_resnet_dev.npz"))["x"][:samples]
    np.save(tmp_path / "x.npy", x)
    assert main(["explain", str(model), str(tmp_path / "x.npy"), "--raw", "--out",
                 str(tmp_path / "R.npy"), "--trace", "--rule", "EpsilonPlus",
                 "--dtype", "float64"]) == 0
    return capsys.readouterr().out
