"""The Python API starts from the same rule as `lrp explain` and the explorer when no rule is
given: a graph model's explanation without ``rule`` is its convention's composite
(EpsilonPlus), not the toolbox's z-rule on every layer (review: `lrpcore.explain(resnet, x)`
drew a plain z-rule map while `lrp explain resnet.onnx` drew EpsilonPlus)."""

from __future__ import annotations

import numpy as np

import lrpcore
from lrpcore import zoo


def _digits(n=2):
    return np.random.default_rng(0).integers(0, 256, (n, 28, 28, 1), dtype=np.uint8)


def test_graph_model_without_rule_uses_its_default_rule():
    model = zoo.mnist_resnet(seed=1)
    assert lrpcore.default_settings(model)["rule"] == "EpsilonPlus"
    x = _digits()
    default = lrpcore.explain(model, x, dtype="float64")
    plus = lrpcore.explain(model, x, rule="EpsilonPlus", dtype="float64")
    simple = lrpcore.explain(model, x, rule="simple", dtype="float64")
    assert np.abs(simple - plus).max() > 1e-6 * np.abs(plus).max()  # the two differ here
    np.testing.assert_array_equal(default, plus)
    fwd = lrpcore.Explainer(model, dtype="float64").forward(x)
    np.testing.assert_array_equal(fwd.relevance(), plus)


def test_toolbox_model_without_rule_keeps_the_z_rule():
    model = lrpcore.load_model("mnist-lenet5")
    x = _digits()
    np.testing.assert_array_equal(lrpcore.explain(model, x),
                                  lrpcore.explain(model, x, rule="simple"))


def test_pixel_flipping_in_python_starts_from_the_commands_defaults():
    """`evaluate_methods` without settings flips as `lrp evaluate` and the GUI's panel do
    (pixelflip.DEFAULTS: 50 steps of 16, black background, the raw image only, patches fitted
    to the image size); it flipped 100 single pixels of the padded input at 0 in model units,
    0.2 % of a photograph (review)."""
    from lrpcore.insight import evaluate_methods
    from lrpcore.insight.pixelflip import DEFAULTS

    model = lrpcore.load_model("mnist-lenet5")
    x = lrpcore.open_dataset("mnist-test").images(range(3))
    explicit = {k: DEFAULTS[k] for k in ("steps", "per_step", "baseline", "region", "random")}
    default = evaluate_methods(model, x, ["epsilon:0.01"], dtype="float64")
    want = evaluate_methods(model, x, ["epsilon:0.01"], patch=None, dtype="float64", **explicit)
    assert [r.label for r in default] == [r.label for r in want]
    for a, b in zip(default, want, strict=True):
        np.testing.assert_array_equal(a.flipped, b.flipped)
        np.testing.assert_array_equal(a.outputs, b.outputs)
    assert default[0].outputs.shape == (3, 50)  # 784 raw pixels / 16 = 49 steps + the start
