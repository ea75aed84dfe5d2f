"""The conservation diagnosis: warnings that name the layer and the cause, and none for the
healthy presets (issue 17)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from slow_lrp import Unstabilised

import lrpcore
from lrpcore.explain import Explainer, resolve_rules
from lrpcore.insight import diagnose as dg
from lrpcore.layers import Linear, Rect
from lrpcore.model import Sequential
from lrpcore.presets import PRESETS

MODELS = Path(__file__).resolve().parents[1] / "models"
BUNDLED = sorted(p.name for p in MODELS.glob("*.npz"))


@pytest.fixture(scope="module")
def digits():
    return lrpcore.open_dataset("mnist-sample").images(np.arange(64))


@pytest.fixture(scope="module")
def lenet_forward(digits):
    model = lrpcore.load_model(MODELS / "mnist-lenet5.npz")
    return Explainer(model).forward(digits)


def test_alphabeta_at_sum_pools_is_blamed_on_the_pools(lenet_forward):
    d = dg.diagnose(lenet_forward, "alphabeta:2")
    assert not d.ok
    assert [f.layer for f in d.findings] == [8, 5, 2]
    assert {f.kind for f in d.findings} == {"created"}
    assert {f.cause for f in d.findings} == {"alphabeta-sumpool"}
    assert all(f.factor == pytest.approx(2.0, rel=1e-6) for f in d.findings)
    assert 6.0 < d.total_ratio < 12.0  # 2³ at the pools, times what the convolutions add
    assert d.layer == 8
    text = "\n".join(d.warnings())
    assert "layer 8" in text and "sum pool" in text and "α" in text
    assert d.summary().startswith("⚠") and "8, 5, 2" in d.summary()


@pytest.mark.parametrize("model_file", BUNDLED)
@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_healthy_presets_do_not_warn(model_file, preset, digits):
    fwd = Explainer(lrpcore.load_model(MODELS / model_file)).forward(digits)
    d = dg.diagnose(fwd, preset)
    assert d.ok, d.warnings()
    for i in range(4):  # single samples, as the GUI checks them
        one = Explainer(fwd.explainer.model).forward(digits[i:i + 1])
        assert dg.diagnose(one, preset).ok


@pytest.mark.parametrize("rule", ["epsilon:0.01", "alphabeta:1", "zplus", "gamma:0.25", "flat"])
def test_conserving_rules_do_not_warn(rule, lenet_forward):
    assert dg.diagnose(lenet_forward, rule).ok


def test_large_epsilon_is_named(lenet_forward):
    d = dg.diagnose(lenet_forward, "epsilon:5")
    assert not d.ok
    assert {f.kind for f in d.findings} == {"absorbed"}
    assert d.findings[0].cause == "large-epsilon"


def _cancelling_model(bias=0.0):
    """One hidden unit whose pre-activation is a near-total cancellation of two inputs."""
    w1 = np.array([[1.0], [-1.0 + 1e-9]])
    return Sequential([Linear(w1, np.array([bias])), Rect(), Linear(np.array([[1.0]]),
                                                                  np.array([0.0]))])


def test_tiny_epsilon_on_a_near_zero_denominator_blows_up():
    fwd = Explainer(_cancelling_model()).forward(np.array([[1.0, 1.0]]), raw=True)
    d = dg.diagnose(fwd, "simple")
    assert [(f.layer, f.kind, f.cause) for f in d.findings] == [(0, "blowup", "tiny-epsilon")]
    assert d.findings[0].magnitude > 1e6
    # z⁺ does not explode, but its stabiliser (1e-6) swallows an output of 1e-9
    assert [f.cause for f in dg.diagnose(fwd, "zplus").findings] == ["tiny-outputs"]


def test_zero_denominator_is_reported_not_raised():
    model = Sequential([Linear(np.array([[1.0], [-1.0]]), np.array([0.0])),
                        Linear(np.array([[1.0]]), np.array([1.0]))])
    fwd = Explainer(model).forward(np.array([[1.0, 1.0]]), raw=True)
    d = dg.diagnose(fwd, Unstabilised())  # ε = 0: the parser refuses it
    found = {f.layer: (f.kind, f.cause) for f in d.findings}
    assert found[0] == ("nonfinite", "zero-denominator")
    assert found[1] == ("absorbed", "bias")  # z = 0 + bias 1: the bias takes everything


def test_a_large_bias_is_named():
    model = Sequential([Linear(np.array([[1.0], [1.0]]), np.array([6.0])), Rect(),
                        Linear(np.array([[1.0]]), np.array([0.0]))])
    fwd = Explainer(model).forward(np.array([[1.0, 1.0]]), raw=True)
    d = dg.diagnose(fwd, "epsilon:1e-6")
    assert [(f.layer, f.kind, f.cause) for f in d.findings] == [(0, "absorbed", "bias")]


def test_batches_add_up_to_the_whole(lenet_forward, digits):
    ex = lenet_forward.explainer
    config = resolve_rules(ex.layers, "alphabeta:3")
    acc = dg.Accumulator(ex.layers, config)
    for a in range(0, 64, 16):
        fwd = ex.forward(digits[a:a + 16])
        _, trace = fwd.relevance(config, trace=True)
        acc.add(trace, fwd.activations)
    whole = dg.diagnose(lenet_forward, config)
    # equal up to rounding: BLAS may sum a batch of 16 in another order than one of 64
    # (OpenBLAS's AVX-512 kernels: a ratio differed in its 16th digit)
    assert _close(acc.result().to_dict(), whole.to_dict())


def _close(a, b) -> bool:
    """Equal structures whose floats agree to 1e-12 relatively."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_close(a[k], b[k])
                                                                     for k in a)
    if isinstance(a, list | tuple):
        return isinstance(b, list | tuple) and len(a) == len(b) and all(
            _close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return a == b or abs(a - b) <= 1e-12 * max(abs(a), abs(b))
    return a == b


def test_a_rare_sample_does_not_alarm_a_batch():
    config = resolve_rules([Linear(np.eye(2), np.zeros(2))], "simple")
    layers = [Linear(np.eye(2), np.zeros(2))]
    n = 100
    sums = np.ones((n, 2))
    sums[0, 0] = 5.0  # one sample of a hundred gains relevance
    d = dg._diagnose(sums, np.abs(sums), np.ones((n, 2), bool), layers, config, None, [None])
    assert d.ok
    sums[:10, 0] = 5.0
    d = dg._diagnose(sums, np.abs(sums), np.ones((n, 2), bool), layers, config, None, [None])
    assert [f.samples for f in d.findings] == [10]


def test_the_registry_ends_with_a_catch_all():
    keys = [c.key for c in dg.CAUSES]
    assert len(keys) == len(set(keys))
    assert keys[-1] == "unknown"


def test_lrp_explain_warns_on_stderr_and_in_the_sidecar(tmp_path, digits, capsys):
    from lrpcore.cli.main import main

    x = tmp_path / "x.npy"
    np.save(x, digits[:8])
    out = tmp_path / "R.npy"
    assert main(["explain", str(MODELS / "mnist-lenet5.npz"), str(x), "--out", str(out),
                 "--rule", "alphabeta:2"]) == 0
    err = capsys.readouterr().err
    assert "warning" in err and "layer 8" in err and "sum pool" in err
    side = json.loads(Path(str(out) + ".json").read_text())
    assert side["diagnosis"]["ok"] is False
    assert [f["layer"] for f in side["diagnosis"]["findings"]] == [8, 5, 2]

    out2 = tmp_path / "R2.npy"
    assert main(["explain", str(MODELS / "mnist-lenet5.npz"), str(x), "--out", str(out2),
                 "--rule", "EpsilonPlus"]) == 0
    assert "warning" not in capsys.readouterr().err
    assert json.loads(Path(str(out2) + ".json").read_text())["diagnosis"]["ok"] is True


def test_a_warning_describes_a_few_layers_and_numbers_the_rest():
    """EfficientNet-Lite0 with ε flags some 25 layers for one cause: their descriptions
    filled the Conservation panel and stderr; four are described, the rest numbered."""
    from lrpcore.insight.diagnose import LISTED, Diagnosis, Finding

    found = tuple(Finding(k, f"Convolution {k}", "created", 1.5, 1.0, 3, 3, "bias",
                          "the layer's biases give relevance") for k in range(30, 0, -1))
    text = Diagnosis("epsilon:0.01", 3, 0.07, found).warnings()[1]
    assert text.count("(created)") == LISTED
    assert f"and {30 - LISTED} more layers (" in text and text.endswith("give relevance")
    assert all(str(k) in text for k in range(1, 31))


def test_a_bias_taking_negative_relevance_is_absorption():
    """Explaining an output below zero, a bias that takes most of the (negative) relevance
    absorbs it: the warning said "ΣR ×0.25 (created) — the layer's biases give relevance"
    (review: `--target "Egyptian cat"` on a coffee cup)."""
    model = Sequential([Linear(np.array([[-1.0], [-1.0]]), np.array([-6.0])),
                        Linear(np.array([[1.0]]), np.array([0.0]))])
    fwd = Explainer(model).forward(np.array([[1.0, 1.0]]), raw=True)
    d = dg.diagnose(fwd, "epsilon:1e-6")
    assert [(f.layer, f.kind, f.cause) for f in d.findings] == [(0, "absorbed", "bias")]
    assert d.findings[0].factor == pytest.approx(0.25, rel=1e-4)
    assert "take relevance" in d.findings[0].reason


def test_the_bias_hint_does_not_prescribe_the_rule_in_use():
    """z⁺ counts positive biases in its denominator, so they take relevance under z⁺ itself:
    the hint "z⁺, γ or αβ ignore negative biases" told a z⁺ user to use z⁺."""
    model = Sequential([Linear(np.array([[1.0], [1.0]]), np.array([6.0])), Rect(),
                        Linear(np.array([[1.0]]), np.array([0.0]))])
    fwd = Explainer(model).forward(np.array([[1.0, 1.0]]), raw=True)
    for rule in ("zplus", "gamma:0.25", "alphabeta:1"):
        d = dg.diagnose(fwd, rule)
        found = d.findings + d.expected  # z⁺'s own loss is expected, not warned about
        assert [(f.layer, f.kind, f.cause) for f in found] == [(0, "absorbed", "bias")]
        assert d.ok == (rule != "gamma:0.25")
        reason = found[0].reason
        assert "positive biases" in reason and "ignore negative biases" not in reason, reason
    reason = dg.diagnose(fwd, "epsilon:1e-6").findings[0].reason
    assert "z⁺, γ or αβ ignore negative biases" in reason
