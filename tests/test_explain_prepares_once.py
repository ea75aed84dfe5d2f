"""Explainer.explain prepares each batch once: since the script-facing checks (as_samples, the
raw-values warning) went into Explainer.forward, explain's passes were prepared and checked
again on their way in (three prepares a digit, a fifth of the explorer's click)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import lrpcore
from lrpcore.explain import Explainer

RESNET = Path(__file__).parent / "data" / "zoo" / "resnet_ts.onnx"  # a graph model


@pytest.mark.parametrize("name", ["mnist-lenet5", str(RESNET)])
def test_explain_prepares_a_batch_once(monkeypatch, name):
    if name.endswith(".onnx"):
        pytest.importorskip("onnx")
    model = lrpcore.load_model(name)
    ex = Explainer(model, "numpy", "float64")
    shape = (3, *model.input_spec.raw_shape)
    x = (np.random.default_rng(0).random(shape) * 255).astype(np.uint8)
    expected = ex.explain(x, "epsilon:0.01")
    calls = []
    original = Explainer.prepare

    def counting(self, batch, raw=False):
        calls.append(raw)
        return original(self, batch, raw)

    monkeypatch.setattr(Explainer, "prepare", counting)
    again = ex.explain(x, "epsilon:0.01")
    assert calls == [False]
    np.testing.assert_array_equal(again, expected)
    calls.clear()
    ex.forward(x)  # the public forward still prepares (and checks) what a script passes
    assert calls == [False]
