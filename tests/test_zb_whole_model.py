"""Plain zB as the rule of a whole model: zB takes the model's input range as its bounds and is
meant for the layer that reads the input; ``--rule zb`` put it on every hidden layer too (the
per-layer ``'*=zb'`` was already refused). Refused alike by the Python API and the command
line, with the remedies; a model whose every linear layer reads the input takes it."""

from __future__ import annotations

import numpy as np
import pytest

import lrpcore
from lrpcore.cli.main import main
from lrpcore.layers import Linear, Rect
from lrpcore.model import Sequential


def test_plain_zb_on_a_deep_model_is_refused_with_the_remedies(lenet, capsys, tmp_path):
    x = np.zeros((1, 28, 28, 1), np.uint8)
    with pytest.raises(lrpcore.RuleError) as info:
        lrpcore.explain(lenet, x, rule="zb")
    text = str(info.value)
    assert "--layer-rule 0=zb" in text and "EpsilonGammaBox" in text and "layer 2" in text
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "R.npy"
    assert main(["explain", "mnist-lenet5", str(tmp_path / "x.npy"), "--rule", "zb",
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "EpsilonGammaBox" in err and not out.exists()


def test_what_the_refusal_offers_works(lenet):
    """The remedies: zB on the input layer with another rule elsewhere, the preset, explicit
    bounds (the user's choice, on any layer), or per-layer rules over every hidden layer,
    which leave plain zb on the input layer alone."""
    x = np.random.default_rng(0).integers(0, 256, (2, 28, 28, 1)).astype(np.uint8)
    with pytest.raises(lrpcore.RuleError):
        lrpcore.explain(lenet, x, rule="zb")
    first = lrpcore.explain(lenet, x, rule="epsilon:0.01", layer_rules={0: "zb"})
    assert np.isfinite(first).all()
    assert np.isfinite(lrpcore.explain(lenet, x, rule="EpsilonGammaBox")).all()
    assert np.isfinite(lrpcore.explain(lenet, x, rule="zb:-1:1")).all()
    hidden = {i: "epsilon:0.01" for i, layer in enumerate(lenet.analysis_layers())
              if layer.role == "linear" and i > 0}
    np.testing.assert_array_equal(lrpcore.explain(lenet, x, rule="zb", layer_rules=hidden),
                                  first)


def test_a_model_whose_only_linear_layer_reads_the_input_takes_plain_zb(lenet):
    """A logistic regression: zB's home is its one layer, and the input range bounds it
    (LeNet-5's hidden layers refuse it)."""
    with pytest.raises(lrpcore.RuleError):
        lrpcore.resolve_rules(lenet.analysis_layers(), "zb")
    rng = np.random.default_rng(1)
    model = Sequential([Linear(rng.normal(size=(64, 3)), rng.normal(size=3)), Rect()])
    x = rng.integers(0, 256, (2, 8, 8, 1)).astype(np.uint8)
    lo, hi = model.input_spec.value_range
    np.testing.assert_array_equal(lrpcore.explain(model, x, rule="zb"),
                                  lrpcore.explain(model, x, rule=f"zb:{lo!r}:{hi!r}"))
