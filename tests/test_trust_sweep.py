"""Faithfulness scoring, parameter grids and sweeps (issue 17)."""

from __future__ import annotations

import shlex
from pathlib import Path

import numpy as np
import pytest

import lrpcore
from lrpcore.errors import RuleError
from lrpcore.explain import Explainer
from lrpcore.insight import params as P
from lrpcore.insight.faithfulness import FlipScorer
from lrpcore.insight.pixelflip import flip_curves
from lrpcore.insight.sweep import csv_text, run_sweep
from lrpcore.insight.tasks import Cancelled

MODELS = Path(__file__).resolve().parents[1] / "models"


@pytest.fixture(scope="module")
def digits():
    return lrpcore.open_dataset("mnist-sample").images(np.arange(0, 5000, 250))  # 20 samples


@pytest.fixture(scope="module")
def lenet():
    return lrpcore.load_model(MODELS / "mnist-lenet5.npz")


@pytest.mark.parametrize("model_file", ["mnist-lenet5.npz", "mnist-dense-rect.npz"])
@pytest.mark.parametrize("baseline", ["background", "noise"])
@pytest.mark.parametrize("order", ["relevance", "least", "random"])
def test_incremental_first_layer_equals_plain_pixel_flipping(model_file, baseline, order,
                                                             digits):
    ex = Explainer(lrpcore.load_model(MODELS / model_file), "numpy", "float64")
    X = ex.prepare(digits[:6])
    fwd = ex.forward(X, raw=True)
    R = fwd.relevance("epsilon:0.01")
    t = fwd.predictions()
    scorer = FlipScorer(ex, X, t, steps=15, baseline=baseline, rows_per_pass=40)
    assert scorer._route is not None  # the fast route is the one under test
    ours = scorer.curves(R, order).outputs
    ref = flip_curves(ex, X, R, t, steps=15, per_step=scorer.per_step, baseline=baseline,
                      region="raw", order=order).outputs
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-9)
    plain = FlipScorer(ex, X, t, steps=15, baseline=baseline, incremental=False)
    np.testing.assert_allclose(plain.curves(R, order).outputs, ref, rtol=1e-9, atol=1e-9)


def test_curves_cover_the_image_and_score_is_morf_minus_lerf(lenet, digits):
    ex = Explainer(lenet, "numpy", "float64")
    X = ex.prepare(digits[:4])
    fwd = ex.forward(X, raw=True)
    R = fwd.relevance("EpsilonPlus")
    scorer = FlipScorer(ex, X, fwd.predictions(), steps=10)
    assert scorer.flipped[-1] == 784  # the raw 28×28 digit, padding excluded
    f = scorer.score(R, "x")
    np.testing.assert_allclose(f.morf.outputs[:, -1], f.lerf.outputs[:, -1])  # both: all gone
    assert f.score == pytest.approx(f.morf.aopc - f.lerf.aopc)
    rand = scorer.curves(R, "random").aopc
    assert f.morf.aopc > rand > f.lerf.aopc  # LRP beats a random order both ways


def test_grids_of_rules_and_presets(lenet):
    layers = Explainer(lenet).layers
    assert [p.name for p in P.parameters_of(layers, "EpsilonGammaBox")] == ["epsilon", "gamma"]
    g = P.grid(layers, "EpsilonGammaBox")
    assert len(g) == 15  # the 5 γ × 3 ε of the issue
    s = P.make_setting(layers, "EpsilonGammaBox", {"gamma": 0.1})
    assert s.rule == "EpsilonGammaBox" and s.layer_rules == {3: "gamma:0.1", 6: "gamma:0.1",
                                                              9: "gamma:0.1"}
    assert "gamma:0.1" in s.config(layers).description
    same = P.make_setting(layers, "EpsilonGammaBox", {"gamma": 0.25, "epsilon": 1e-6})
    assert same.layer_rules == {} and same.label == "EpsilonGammaBox γ=0.25, ε=1e-06"
    assert [s.rule for s in P.grid(layers, "alphabeta:2")] == [
        "alphabeta:1", "alphabeta:2", "alphabeta:3"]
    first = P.make_setting(layers, "EpsilonGammaBox", {"gamma": 0.5}, group="first")
    assert first is None  # the first convolution has zᴮ: no γ there
    last = P.make_setting(layers, "EpsilonGammaBox", {"gamma": 0.5}, group="last")
    assert last.layer_rules == {9: "gamma:0.5"} and "[last]" in last.label
    assert P.group_layers(layers, "middle") == [2, 3, 5, 6, 8]
    with pytest.raises(RuleError, match="does not use alpha"):
        P.grid(layers, "EpsilonGammaBox", {"alpha": [1, 2]})
    with pytest.raises(RuleError, match="not a number"):
        P.parse_values("gamma=0,x")
    with pytest.raises(RuleError, match="unknown parameter"):
        P.parse_values("beta=1")
    with pytest.raises(RuleError, match="no parameter"):
        P.grid(layers, "zplus")


def test_sweep_parameters_come_from_the_rule_registry(lenet, monkeypatch):
    """Symbols, ranges and default grids are the rule registry's (lrpcore.rules), not a copy:
    a rule registered later is swept without touching lrpcore.insight.params."""
    from dataclasses import dataclass
    from typing import ClassVar

    from lrpcore import rules

    for p in P.sweepable():
        declared = [q for q in rules.rule_class(p.rules[0]).params if q.name == p.name]
        assert declared == [p.spec] and p.grid == p.spec.sweep and p.symbol == p.spec.label
    assert [p.name for p in P.sweepable()] == ["epsilon", "alpha", "gamma"]
    assert P.find_param("ε").name == P.find_param("eps").name == "epsilon"
    with pytest.raises(RuleError, match="use 'simple'"):  # the registry's range and hint
        P.parse_values("epsilon=0,0.1")

    @dataclass(frozen=True)
    class Damped(rules.Rule):  # a plug-in rule with a parameter of its own
        damping: float = 0.5
        name: ClassVar[str] = "damped"
        params: ClassVar[tuple] = (rules.Parameter("damping", "δ", 0.5, minimum=0.0,
                                                   maximum=1.0, sweep=(0.25, 0.75)),)

    monkeypatch.setitem(rules.RULES, "damped", Damped)
    layers = Explainer(lenet).layers
    assert [s.rule for s in P.grid(layers, "damped")] == ["damped:0.25", "damped:0.75"]
    assert P.parse_values("δ=0,1") == ("damping", (0.0, 1.0))
    with pytest.raises(RuleError, match="≤ 1"):
        P.parse_values("damping=2")


def test_sweep_ranks_best_first_and_keeps_maps(lenet, digits):
    seen = []
    res = run_sweep(lenet, digits[:8], "alphabeta:2", steps=8, keep_maps=3,
                    on_row=lambda row, done, total: seen.append((done, total)))
    assert seen == [(1, 3), (2, 3), (3, 3)]
    scores = [r.score for r in res.rows]
    assert scores == sorted(scores, reverse=True)
    assert res.rows[0].maps.shape == (3, 32, 32, 1)
    conserved = {r.setting.rule: r.diagnosis.ok for r in res.rows}
    assert conserved == {"alphabeta:1": True, "alphabeta:2": False, "alphabeta:3": False}
    text = csv_text(res)
    assert text.splitlines()[0].startswith("rank,setting,rule")
    assert len(text.splitlines()) == 4


def test_sweep_stops_when_cancelled(lenet, digits):
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(Cancelled):
        run_sweep(lenet, digits[:4], "EpsilonGammaBox", steps=4, cancel=cancel)


def test_lrp_sweep_cli(tmp_path, capsys):
    from lrpcore.cli.main import main

    assert main(["sweep", "mnist-lenet5", "mnist-sample", "--rule", "EpsilonGammaBox",
                 "--param", "gamma=0,0.25", "--n", "6", "--steps", "5", "--csv"]) == 0
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    assert lines[0].startswith("rank,") and len(lines) == 3
    assert "best: --rule EpsilonGammaBox" in err
    assert "EpsilonGammaBox γ=0 " in err and "EpsilonGammaBox γ=0.25 " in err
    path = tmp_path / "s.csv"
    assert main(["sweep", "mnist-lenet5", "mnist-sample", "--rule", "alphabeta:1", "--n", "4",
                 "--steps", "4", "--csv", str(path), "--quiet"]) == 0
    assert path.read_text().count("\n") == 4
    assert main(["sweep", "mnist-lenet5", "mnist-sample", "--rule", "EpsilonGammaBox",
                 "--param", "gamma=a"]) == 2
    assert "not a number" in capsys.readouterr().err
    assert main(["sweep", "no-such-model", "mnist-sample", "--rule", "zplus"]) == 2
    assert "no-such-model: no such file or bundled model" in capsys.readouterr().err


def test_channels_first_graph_flipping_equals_plain_flipping():
    """A channels-first graph model flips the same pixels as a channels-last one would."""
    from lrpcore.zoo import mnist_resnet

    model = mnist_resnet()
    ex = Explainer(model, "numpy", "float64")
    x = lrpcore.open_dataset("mnist-sample").images(np.arange(0, 5000, 1700))
    X = ex.prepare(x)
    assert X.shape[1:] == (1, 28, 28)
    fwd = ex.forward(X, raw=True)
    R = fwd.relevance("epsilon:0.01")
    t = fwd.predictions()
    scorer = FlipScorer(ex, X, t, steps=6)
    assert scorer.grid.image == (28, 28, 1)
    curves = scorer.curves(R).outputs
    # by hand: flip the ranked pixels in image layout, feed channels-first
    rank = np.argsort(-R.reshape(len(x), -1), axis=1, kind="stable")
    img = X.transpose(0, 2, 3, 1).reshape(len(x), -1).copy()
    for k in range(1, 7):
        flipped = img.copy()
        for i in range(len(x)):
            flipped[i, rank[i, :k * scorer.per_step]] = 0.0  # the background value here
        y = ex.forward(flipped.reshape(len(x), 28, 28, 1).transpose(0, 3, 1, 2), raw=True)
        np.testing.assert_allclose(curves[:, k], y.outputs()[np.arange(len(x)), t],
                                   rtol=1e-9, atol=1e-9)


def test_best_setting_names_a_graphs_layers_by_node_name():
    """lrp sweep printed a graph model's best setting with node indices (--layer-rule 27=…),
    which 'lrp info' lists beside names that survive a re-export; a name that is not plain (a
    duplicate, glob characters, a number) stays an index, and every option is shell-quoted."""
    setting = P.Setting("EpsilonGammaBox", "middle", {"gamma": 0.5}, "EpsilonGammaBox",
                        {1: "gamma:0.5", 2: "gamma:0.5", 3: "epsilon:0.1", 0: "flat"})
    names = ["/stem/Conv", "/layer1/conv1/Conv", "dup", "dup"]
    words = shlex.split(setting.cli_args(names))
    assert words == ["--rule", "EpsilonGammaBox", "--layer-rule", "/layer1/conv1/Conv=gamma:0.5",
                     "--layer-rule", "2=gamma:0.5", "--layer-rule", "3=epsilon:0.1",
                     "--layer-rule", "/stem/Conv=flat"]
    glob = P.Setting("EpsilonPlus", "all", {}, "EpsilonPlus", {"conv*": "zplus", 0: "flat"})
    assert shlex.split(glob.cli_args()) == ["--rule", "EpsilonPlus", "--layer-rule",
                                            "conv*=zplus", "--layer-rule", "0=flat"]
    assert "'conv*=zplus'" in glob.cli_args()  # the shell leaves the glob to the engine


def test_lrp_sweep_on_a_graph_model_prints_node_names(capsys):
    from shared_data import shared_path

    from lrpcore.cli.cmd_explain import parse_layer_rules
    from lrpcore.cli.main import main

    onnx_file = shared_path("models", "torch_onnx", "mnist_resnet.onnx")
    assert main(["sweep", str(onnx_file), "mnist-sample", "--n", "4", "--rule",
                 "EpsilonGammaBox", "--group", "middle", "--param", "gamma=0.5",
                 "--steps", "4", "--quiet"]) == 0
    best = [line for line in capsys.readouterr().out.splitlines() if line.startswith("best:")]
    words = shlex.split(best[0][len("best:"):])
    assert "/layer1/conv1/Conv=gamma:0.5" in words
    model = lrpcore.load_model(onnx_file)
    layers = Explainer(model).layers
    named = lrpcore.resolve_rules(layers, words[1], parse_layer_rules(words[3::2]))
    assert named.rules[model.node_names.index("/layer1/conv1/Conv")].spec() == "gamma:0.5"
