"""`lrp bench --models resnt` listed every architecture and bundled model but did not say
which one was meant, as `lrp explain --rule EpsilonPlsu` does ('did you mean EpsilonPlus?'):
both ask one helper (lrpcore.text.closest_name)."""

from __future__ import annotations

import pytest

from lrpcore.bench import bench_model
from lrpcore.cli.main import main
from lrpcore.errors import ModelFormatError
from lrpcore.rules import closest_rule_name
from lrpcore.text import closest_name


@pytest.mark.parametrize(("typed", "meant"), [("resnt", "resnet"), ("ResNet", "resnet"),
                                              ("lenet-5", "lenet5"),
                                              ("mnist-lenet", "mnist-lenet5")])
def test_a_mistyped_benchmark_model_is_named(typed, meant):
    with pytest.raises(ModelFormatError) as err:
        bench_model(typed)
    assert str(err.value).startswith(f"unknown benchmark model {typed!r} (did you mean "
                                     f"{meant}?): an architecture of lenet5, long-rect")


def test_nothing_close_gives_no_guess(capsys):
    assert main(["bench", "--models", "nothing-here"]) == 2
    err = capsys.readouterr().err
    assert "unknown benchmark model 'nothing-here': an architecture of" in err, err
    assert "did you mean" not in err


def test_the_helper_keeps_the_spelling_of_the_names_given():
    assert closest_name("epsilonplsu", ["EpsilonPlus", "Epsilon"]) == "EpsilonPlus"
    assert closest_name("x", ["EpsilonPlus"]) is None
    assert closest_rule_name("EpsilonPlsu") == "EpsilonPlus"  # rules ask it too
