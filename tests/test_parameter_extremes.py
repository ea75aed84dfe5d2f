"""Parameters at their extremes get a message about the parameter, not about something else:
an α or γ of 1e308 overflows (it is not "a division by zero"), a sweep whose one step flips the
whole image names no "best", and more SpRAy clusters than samples is refused instead of
quietly giving one cluster."""

from __future__ import annotations

import numpy as np
import pytest

from lrpcore import open_dataset
from lrpcore.cli.main import main


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    d = open_dataset("mnist-sample")
    folder = tmp_path_factory.mktemp("digits")
    np.save(folder / "x.npy", d.images(np.arange(6)))
    np.save(folder / "y.npy", np.asarray(d.labels)[:6])
    return folder / "x.npy", folder / "y.npy"


@pytest.mark.parametrize("rule, named", [
    ("alphabeta:1e308", "alphabeta's α = 1e+308 is too large"),
    ("gamma:1e308", "gamma's γ = 1e+308 is too large"),
])
def test_huge_rule_parameters_are_named_as_the_cause(digits, tmp_path, capsys, rule, named):
    x, _ = digits
    out = tmp_path / "R.npy"
    assert main(["explain", "mnist-dense-rect", str(x), "--rule", rule, "--out",
                 str(out)]) == 2
    err = capsys.readouterr().err
    assert named in err and "overflowed float64" in err and "division by zero" not in err
    assert not out.exists()


def test_a_parameter_that_is_zero_in_float32_is_named(tmp_path, capsys):
    """epsilon:1e-50 is 0 in float32: the division by zero was blamed on epsilon:0 in general,
    without saying that the ε given vanishes in the dtype chosen."""
    x = tmp_path / "zeros.npy"
    np.save(x, np.zeros((2, 28, 28)))
    out = tmp_path / "R.npy"
    args = ["explain", "mnist-lenet5", str(x), "--rule", "epsilon:1e-50", "--out", str(out)]
    assert main([*args, "--dtype", "float32"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "epsilon's ε = 1e-50 is 0 in float32" in err and "or float64" in err
    assert not out.exists()
    assert main([*args, "--dtype", "float64"]) == 0  # 1e-50 is a number there


def test_only_a_parameter_above_the_threshold_is_blamed():
    """Usual values (ε 0.1, α 2) leave the division-by-zero message; of several large ones the
    largest is named."""
    from lrpcore.explain import largest_parameter
    from lrpcore.rules import parse_rule

    assert largest_parameter([None, parse_rule("epsilon:0.1"), parse_rule("alphabeta:2")]) \
        is None
    rule, param, value = largest_parameter([parse_rule("gamma:5e3"), parse_rule("epsilon:1e4")])
    assert (rule.name, param.name, value) == ("epsilon", "epsilon", 1e4)


@pytest.mark.parametrize("flags", [["--per-step", "100000"], ["--per-step", "784"],
                                   ["--steps", "1"]])
def test_sweep_whose_one_step_flips_everything_names_no_best(digits, capsys, flags):
    x, _ = digits
    assert main(["sweep", "mnist-dense-rect", str(x), "--rule", "epsilon", "--quiet",
                 *flags]) == 2
    captured = capsys.readouterr()
    assert "best" not in captured.out
    assert "flips all 784 pixels of a sample in one step" in captured.err
    assert "--per-step below 784" in captured.err


def test_sweep_of_two_steps_still_ranks(digits, capsys):
    x, _ = digits
    assert main(["sweep", "mnist-dense-rect", str(x), "--rule", "epsilon", "--quiet",
                 "--per-step", "783"]) == 0
    assert "best: --rule epsilon:" in capsys.readouterr().out


@pytest.mark.parametrize("k", ["6", "50"])
def test_spray_refuses_as_many_clusters_as_samples(digits, tmp_path, capsys, k):
    pytest.importorskip("sklearn")
    x, y = digits
    out = tmp_path / "s.npz"
    assert main(["spray", "mnist-dense-rect", str(x), "--labels", str(y), "--k", k,
                 "--embedding", "none", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{k} clusters of 6 samples" in err and "at most 5" in err
    assert not out.exists()


def test_spray_k_below_the_samples_still_clusters(digits, tmp_path, capsys):
    pytest.importorskip("sklearn")
    x, y = digits
    out = tmp_path / "s.npz"
    assert main(["spray", "mnist-dense-rect", str(x), "--labels", str(y), "--k", "2",
                 "--neighbours", "3", "--embedding", "none", "--out", str(out)]) == 0
    assert "6 samples → 2 clusters" in capsys.readouterr().out
