"""The stop-23 acceptance review (a new user with zennit, Captum and iNNvestigate behind them):
what the commands said that misled."""

from __future__ import annotations

import pytest

from lrpcore.cli.main import main


@pytest.mark.parametrize("spec, function", [("gradxinput", "gradient_x_input"),
                                            ("saliency", "sensitivity")])
def test_a_gradient_baseline_given_as_rule_says_where_it_is_taken(tmp_path, capsys, spec,
                                                                  function):
    """Compare and ``lrp evaluate`` take gradient × input and sensitivity beside rules, so a
    Captum user tries ``lrp explain --rule gradxinput``: it said "unknown rule", as for a typo.
    It now says what the name is and where it is taken."""
    import numpy as np

    x = tmp_path / "x.npy"
    np.save(x, np.zeros((1, 28, 28), np.uint8))
    assert main(["explain", "mnist-lenet5", str(x), "--out", str(tmp_path / "R.npy"),
                 "--rule", spec]) == 2
    err = capsys.readouterr().err
    assert "unknown rule" not in err
    assert "gradient baseline, not an LRP rule" in err and "lrp evaluate" in err
    assert f"lrpcore.insight.{function}" in err
    assert not (tmp_path / "R.npy").exists()


def test_every_baseline_has_its_python_function_named():
    import lrpcore.insight
    from lrpcore.insight.baselines import BASELINES
    from lrpcore.rules import BASELINE_FUNCTIONS

    assert set(BASELINE_FUNCTIONS) == set(BASELINES)
    assert all(getattr(lrpcore.insight, f) is BASELINES[b]
               for b, f in BASELINE_FUNCTIONS.items())
