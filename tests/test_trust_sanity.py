"""Cascading model-parameter randomisation (Adebayo et al., 2018; issue 17)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from cli_help import help_words

import lrpcore
from lrpcore.insight import sanity as S

MODELS = Path(__file__).resolve().parents[1] / "models"


@pytest.fixture(scope="module")
def digits():
    return lrpcore.open_dataset("mnist-sample").images(np.arange(0, 5000, 200))  # 25 samples


@pytest.fixture
def lenet():
    return lrpcore.load_model(MODELS / "mnist-lenet5.npz")


def test_randomising_never_touches_the_loaded_model(lenet, digits):
    before = [np.array(layer.W, copy=True) for layer in lenet.layers if layer.weighted]
    R0 = lrpcore.explain(lenet, digits[:4], "epsilon:0.01")
    copy = S.randomised_copy(lenet, [9, 6], seed=1)
    assert copy.layers[9] is not lenet.layers[9] and copy.layers[0] is lenet.layers[0]
    assert not np.allclose(copy.layers[9].W, lenet.layers[9].W)
    S.cascading_randomisation(lenet, digits[:4], "epsilon:0.01")
    after = [layer.W for layer in lenet.layers if layer.weighted]
    for a, b in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(lrpcore.explain(lenet, digits[:4], "epsilon:0.01"), R0)


def test_spearman_and_ssim_by_hand():
    a = np.array([[1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0]])
    b = np.array([[10.0, 20.0, 30.0, 40.0], [4.0, 3.0, 2.0, 1.0]])
    np.testing.assert_allclose(S.spearman_rows(a, b), [1.0, -1.0])
    m = np.random.default_rng(0).normal(size=(2, 12, 12))
    np.testing.assert_allclose(S.ssim_rows(m, 3 * m), [1.0, 1.0])
    assert np.all(S.ssim_rows(m, m[::-1]) < 0.5)


def test_epsilon_passes_and_zplus_fails_on_lenet(lenet, digits):
    """ε depends on the model; z⁺ keeps its picture while the top layers are random (as
    Sixt et al. 2020 explain)."""
    steps = []
    eps = S.cascading_randomisation(lenet, digits, "epsilon:0.01",
                                    on_step=lambda s, d, t: steps.append((d, t)))
    assert steps == [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]
    assert eps.steps[0].spearman_median == pytest.approx(1.0)
    assert eps.passed, eps.verdict()
    assert eps.steps[-1].spearman_median < 0.3
    zplus = S.cascading_randomisation(lenet, digits, "zplus")
    assert not zplus.passed
    assert zplus.verdict().startswith("FAIL")
    assert zplus.steps[2].similar()


def test_flat_fails_everywhere(digits):
    model = lrpcore.load_model(MODELS / "mnist-dense-rect.npz")
    assert not S.cascading_randomisation(model, digits[:8], "flat").passed


def test_lrp_sanity_cli(tmp_path, capsys, monkeypatch):
    from lrpcore.cli.main import main

    monkeypatch.chdir(tmp_path)
    assert main(["sanity", "mnist-lenet5", "mnist-sample", "--rule", "epsilon:0.01", "--n", "8",
                 "--csv", "--plot"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[0].startswith("step,randomised_layers")
    assert len(out.strip().splitlines()) == 6
    assert "PASS" in err or "FAIL" in err
    png = tmp_path / "mnist-lenet5-sanity-epsilon_0.01.png"
    assert png.is_file() and png.read_bytes()[:4] == b"\x89PNG"
    assert main(["sanity", "mnist-lenet5", "mnist-sample", "--rule", "epsilon:0.01", "--n", "8",
                 "--plot"]) == 2  # exists
    assert "exists" in capsys.readouterr().err
    assert main(["sanity", "mnist-lenet5", "mnist-sample", "--rule", "bogus"]) == 2


def test_lrp_sanity_exits_non_zero_when_the_rule_fails(tmp_path, capsys, monkeypatch):
    """A failed check is not a success: z⁺ fails on LeNet-5 (it exited 0 with "FAIL"), ε
    passes; the code is neither 1 (internal error) nor 2 (bad input) and --help names it."""
    from lrpcore.cli.cmd_sanity import CHECK_FAILED
    from lrpcore.cli.main import main

    monkeypatch.chdir(tmp_path)
    args = ["sanity", "mnist-lenet5", "mnist-sample", "--n", "8", "--quiet", "--csv",
            str(tmp_path / "s.csv")]
    assert main(args + ["--rule", "zplus"]) == CHECK_FAILED == 3
    out = capsys.readouterr().out
    assert "FAIL: zplus" in out and (tmp_path / "s.csv").is_file()  # the results are kept
    assert main(args + ["--rule", "epsilon:0.01", "--overwrite"]) == 0
    assert "PASS: epsilon:0.01" in capsys.readouterr().out
    assert "3 when it fails the check" in help_words(capsys, ["sanity"])


def test_samples_are_spread_over_a_sorted_dataset():
    from lrpcore.insight.tasks import spread_indices

    assert spread_indices(10, 3).tolist() == [0, 4, 9]  # 4.5 rounds to even
    assert spread_indices(3, 10).tolist() == [0, 1, 2]
    assert spread_indices(0, 5).size == 0
    labels = lrpcore.open_dataset("mnist-sample").labels  # sorted by class
    assert len(set(labels[spread_indices(len(labels), 64)])) == 10


def test_graph_models_are_randomised_as_graphs():
    """A residual graph (NCHW, merges) keeps its nodes when randomised; the check and the
    sweep run on it."""
    from lrpcore.graph import GraphModel
    from lrpcore.insight.diagnose import diagnose
    from lrpcore.insight.sweep import run_sweep
    from lrpcore.zoo import mnist_resnet

    model = mnist_resnet()
    x = lrpcore.open_dataset("mnist-sample").images(np.arange(0, 5000, 1250))
    weighted = S.weighted_layers(model)
    copy = S.randomised_copy(model, weighted[-2:], seed=3)
    assert isinstance(copy, GraphModel) and copy.node_names == model.node_names
    assert copy.nodes[weighted[-1]].layer is not model.nodes[weighted[-1]].layer
    res = S.cascading_randomisation(model, x, "epsilon:0.01", dtype="float64")
    assert len(res.steps) == len(weighted) + 1
    assert res.steps[0].maps.shape[1:] == (28, 28)
    fwd = lrpcore.Explainer(model).forward(x)
    assert diagnose(fwd, "EpsilonPlus").ok
    sweep = run_sweep(model, x, "EpsilonGammaBox", params={"gamma": [0, 0.25]}, steps=4,
                      dtype="float64")
    assert len(sweep.rows) == 2 and all(np.isfinite(r.score) for r in sweep.rows)


def test_the_step_table_keeps_its_columns_past_nine_steps():
    """`lrp sanity` on a graph model lists a dozen steps or more; "10. top 10 random (to layer
    2)" shifted its numbers one place right of the rows above (review)."""
    from types import SimpleNamespace

    from lrpcore.cli.cmd_sanity import step_lines

    def step(label):
        return SimpleNamespace(label=label, spearman_abs_median=0.5, ssim_abs_median=0.25,
                               similar=lambda threshold: False)

    labels = ["original"] + [f"top {k} random (to layer {200 - 20 * k})" for k in range(1, 12)]
    lines = step_lines(SimpleNamespace(steps=[step(t) for t in labels], threshold=0.5))
    assert len(lines) == 12
    assert len({line.index("Spearman") for line in lines}) == 1
    assert len({line.index(".") for line in lines}) == 1
