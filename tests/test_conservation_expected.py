"""The conservation check tells z⁺'s own loss from a leak. Under EpsilonPlus the positive
biases in z⁺'s denominator take relevance at EfficientNet-Lite0's depthwise convolutions and
the MNIST ResNet's convolutions (as zennit computes it): that warned on every photograph and
every digit, teaching users to ignore warnings. It is reported as expected now, while settings
and explanations that really break conservation still warn."""

from __future__ import annotations

import numpy as np
import pytest
from shared_data import shared_path

import lrpcore
from lrpcore.cli.main import main
from lrpcore.insight.diagnose import Diagnosis, diagnose
from lrpcore.layers import Linear, Rect
from lrpcore.model import Sequential
from lrpcore.rules import ZPlus


@pytest.fixture(scope="module")
def resnet():
    model = lrpcore.load_model(shared_path("models", "torch_onnx", "mnist_resnet.onnx"))
    with np.load(shared_path("reference", "mnist_resnet_dev.npz")) as data:
        x = data["x"][:8]
    return model, lrpcore.Explainer(model, "numpy", "float64").forward(x, raw=True)


def test_zplus_bias_loss_on_the_resnet_is_expected_not_warned(resnet):
    _, fwd = resnet
    d = diagnose(fwd, "EpsilonPlus")
    assert d.ok and d.warnings() == [] and d.summary() == ""
    assert len(d.expected) >= 3 and all(f.cause == "bias" and f.kind == "absorbed"
                                        and 0 < f.factor < 1 for f in d.expected)
    assert d.notes() and "expected" in d.notes()[0]
    assert 0 < d.total_ratio < 1  # the loss is still measured and recorded
    again = Diagnosis.from_dict(d.to_dict())  # a sidecar's diagnosis keeps them apart
    assert again.ok and len(again.expected) == len(d.expected)


@pytest.mark.parametrize("rule", ["epsilon:0.01", "EpsilonAlpha2Beta1", "epsilon:5"])
def test_settings_that_break_conservation_still_warn(resnet, rule):
    _, fwd = resnet
    d = diagnose(fwd, rule)
    assert not d.ok and d.warnings() and not d.expected  # none of it taken for z⁺'s own


def test_a_zplus_that_creates_relevance_still_warns(resnet, monkeypatch):
    """A broken z⁺ (relevance doubled, as no z⁺ can) is no expected loss."""
    _, fwd = resnet
    real = ZPlus.linear
    monkeypatch.setattr(ZPlus, "linear", lambda self, *a: 2.0 * real(self, *a))
    d = diagnose(fwd, "EpsilonPlus")
    assert not d.ok and any(f.kind in ("created", "blowup") for f in d.findings)
    assert all(f.kind == "absorbed" for f in d.expected)


def test_a_zplus_loss_without_positive_biases_still_warns(monkeypatch):
    """Without positive biases z⁺ keeps all but its stabiliser's share: a layer that loses
    half is a leak, whatever the rule is called."""
    rng = np.random.default_rng(3)
    model = Sequential([Linear(np.abs(rng.normal(size=(64, 6))), np.zeros(6)), Rect(),
                        Linear(np.abs(rng.normal(size=(6, 3))), np.zeros(3))])
    x = rng.integers(0, 256, (4, 8, 8, 1)).astype(np.uint8)
    fwd = lrpcore.Explainer(model).forward(x)
    assert diagnose(fwd, "zplus").ok
    real = ZPlus.linear
    monkeypatch.setattr(ZPlus, "linear", lambda self, *a: 0.5 * real(self, *a))
    d = diagnose(fwd, "zplus")
    assert not d.ok and not d.expected


def test_efficientnet_photographs_explain_without_a_warning(tmp_path, capsys):
    """The flagship model's default rule on a photograph: no warning line, the expected loss
    in the sidecar's diagnosis."""
    import json

    with np.load(shared_path("reference", "efficientnet_lite0_dev.npz")) as data:
        np.save(tmp_path / "photo.npy", data["images"][:1])
    out = tmp_path / "R.npy"
    assert main(["explain", "efficientnet-lite0", str(tmp_path / "photo.npy"), "--out",
                 str(out)]) == 0
    assert "warning" not in capsys.readouterr().err
    diagnosis = json.loads((tmp_path / "R.npy.json").read_text())["diagnosis"]
    assert diagnosis["ok"] and diagnosis["expected"]
    assert all(f["expected"] and f["cause"] == "bias" for f in diagnosis["expected"])
