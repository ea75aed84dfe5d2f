"""Pixel-flipping on colour photographs (channels-first models with a per-channel mean/std, as
EfficientNet-Lite0): the black baseline, channel layout of the sweep's maps, bounded passes."""

from __future__ import annotations

import numpy as np
import pytest
from colour_models import colour_graph_model

from lrpcore.explain import Explainer
from lrpcore.insight import evaluate_methods, flip_curves
from lrpcore.insight.faithfulness import FlipScorer
from lrpcore.insight.pixelflip import baseline_value, rows_per_pass


@pytest.fixture(scope="module")
def photos():
    return np.random.default_rng(3).integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)


def test_background_is_black_in_every_channel_of_a_normalised_model():
    """0 in model units is the mean colour (mid grey) of an ImageNet model, not black."""
    spec = colour_graph_model().input_spec
    black = spec.preprocess(np.zeros((1, 16, 16, 3), dtype=np.uint8))
    value = baseline_value(spec, "background")
    np.testing.assert_allclose(np.asarray(value), black[0, :, 0, 0], rtol=1e-12)
    assert np.ptp(np.asarray(value)) > 0.1  # one value per channel
    assert baseline_value(spec, "zero") == 0.0


@pytest.mark.parametrize("scorer", [False, True])
def test_flipping_everything_to_background_gives_the_black_image_output(photos, scorer):
    """The last step of a curve that flips every pixel is the model's output on a black
    photograph (both the evaluate path and the sweep's scorer)."""
    model = colour_graph_model()
    ex = Explainer(model, "numpy", "float64")
    X = ex.prepare(photos)
    t = np.array([1, 4, 7])
    if scorer:
        s = FlipScorer(ex, X, t, steps=4, baseline="background")
        out = s.curves(None, "random").outputs
    else:
        out = flip_curves(ex, X, None, t, steps=4, per_step=64, baseline="background",
                          order="random").outputs
    black = ex.forward(np.zeros((3, 16, 16, 3), dtype=np.uint8)).outputs()
    np.testing.assert_allclose(out[:, -1], black[np.arange(3), t], rtol=1e-9, atol=1e-9)
    assert not np.allclose(out[:, -1], ex.forward(ex.prepare(np.full(
        (3, 16, 16, 3), 128, dtype=np.uint8)), raw=True).outputs()[np.arange(3), t], atol=1e-3)


@pytest.mark.parametrize("baseline", ["background", "noise"])
def test_sweep_scorer_reads_colour_maps_in_the_models_layout(photos, baseline):
    """FlipScorer ranks a C×H×W map's pixels as flip_curves does (it transposed the map to
    H×W×C and the grid then read that as C×H×W: the ranking of a 3-channel photograph
    was scrambled)."""
    model = colour_graph_model()
    ex = Explainer(model, "numpy", "float64")
    X = ex.prepare(photos)
    fwd = ex.forward(X, raw=True)
    R = fwd.relevance("EpsilonPlus")
    assert R.shape[1:] == (3, 16, 16)
    t = fwd.predictions()
    scorer = FlipScorer(ex, X, t, steps=8, baseline=baseline)
    for order in ("relevance", "least"):
        ours = scorer.curves(R, order).outputs
        ref = flip_curves(ex, X, R, t, steps=8, per_step=scorer.per_step, baseline=baseline,
                          region="raw", order=order).outputs
        np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-9)


def test_perturbed_photographs_run_in_bounded_parallel_passes(monkeypatch):
    """A batch of 256 perturbed photographs ran as one forward pass (~1.5 GB for
    EfficientNet-Lite0, 10× slower): passes are now as large as Explainer.passes allows and
    each runs in one shard per CPU thread."""
    model = colour_graph_model(side=224)
    ex = Explainer(model, "numpy", "float32", threads=2)
    limit = rows_per_pass(ex, (3, 224, 224), 256)
    assert 2 <= limit < 64
    seen = []
    run = ex.run_layers

    def spy(a):
        seen.append(a.shape[0])
        return run(a)

    monkeypatch.setattr(ex, "run_layers", spy)
    x = np.random.default_rng(0).integers(0, 256, (2, 224, 224, 3), dtype=np.uint8)
    res = evaluate_methods(ex, x, ["epsilon:0.01"], steps=5, per_step=16, patch=None,
                           batch_size=256)
    rows = sum(r.outputs.size for r in res)
    assert sum(seen) == rows
    assert max(seen) <= limit and len(seen) >= 2 * (rows // limit)
    # the same curves as one sample at a time
    monkeypatch.setattr(ex, "run_layers", run)
    one = evaluate_methods(ex, x, ["epsilon:0.01"], steps=5, per_step=16, patch=None,
                           batch_size=1)
    for a, b in zip(res, one, strict=True):
        scale = np.abs(b.outputs).max()
        np.testing.assert_allclose(a.outputs, b.outputs, rtol=0, atol=1e-5 * scale)


@pytest.fixture
def forward_sizes(monkeypatch):
    """The batch sizes of every graph forward pass the test runs, in order."""
    from lrpcore.graph_explain import GraphExplainer

    sizes = []
    real = GraphExplainer.forward

    def spy(self, x, raw=False):
        sizes.append(len(x))
        return real(self, x, raw)

    monkeypatch.setattr(GraphExplainer, "forward", spy)
    return sizes


def test_sanity_check_explains_photographs_in_bounded_passes(forward_sizes):
    """The sanity check ran its batch of up to 256 samples as one forward pass (64
    EfficientNet-Lite0 photographs: 1.7 GB); it now takes Explainer.passes' sizes."""
    from lrpcore.insight.sanity import cascading_randomisation

    model = colour_graph_model(side=224)
    a, b = Explainer(model, "numpy", "float32").passes((256, 3, 224, 224), 256)[0]
    limit = b - a
    assert limit < 64
    n = limit + 3  # two passes
    x = np.random.default_rng(1).integers(0, 256, (n, 224, 224, 3), dtype=np.uint8)
    res = cascading_randomisation(model, x, "epsilon:0.01", keep_maps=2)
    assert max(forward_sizes) <= limit and sum(forward_sizes) == n * (len(res.steps) + 1)


def test_a_sweep_too_large_to_keep_its_forward_passes_runs_them_per_setting(monkeypatch,
                                                                          forward_sizes):
    """A sweep kept every forward pass of all its samples for all settings (256 photographs:
    7 GB); beyond KEEP_FORWARD_BYTES it runs them again for each setting, with the same
    ranking and scores."""
    from lrpcore.insight import sweep as sweep_module
    from lrpcore.insight.sweep import run_sweep

    model = colour_graph_model()
    calls = forward_sizes
    x = np.random.default_rng(2).integers(0, 256, (4, 16, 16, 3), dtype=np.uint8)
    kw = {"params": {"epsilon": [1e-6, 0.1]}, "steps": 5, "dtype": "float64"}
    kept = run_sweep(model, x, "epsilon", **kw)
    assert calls == [4]  # one pass serves both settings
    calls.clear()
    monkeypatch.setattr(sweep_module, "KEEP_FORWARD_BYTES", 1)
    again = run_sweep(model, x, "epsilon", **kw)
    assert calls == [4, 4, 4]  # targets, then once per setting
    assert [r.label for r in again.rows] == [r.label for r in kept.rows]
    np.testing.assert_allclose([r.score for r in again.rows], [r.score for r in kept.rows],
                               rtol=1e-12)
