"""An acceptance review as a new LRP user (stop 22): what the commands and the API said wrongly
or not at all — a preset given parameters, αβ set off balance, the gradient rule on a whole
model, a layer that takes no rule, maps whose recorded inputs moved, a figure of one sample's
maps, and boolean targets."""

from __future__ import annotations

import numpy as np
import pytest

import lrpcore
from lrpcore.cli.main import main
from lrpcore.errors import RuleError
from lrpcore.explain import resolve_rules


@pytest.mark.parametrize("spec", ["EpsilonPlus:3", "epsilongammabox:0.5"])
def test_a_preset_given_parameters_is_named_as_a_preset(spec):
    """``--rule EpsilonPlus:3`` said "unknown rule 'EpsilonPlus': choose one of … or a
    preset" — it is a preset, one that takes no parameters."""
    layers = lrpcore.Explainer(lrpcore.load_model("mnist-lenet5")).layers
    with pytest.raises(RuleError) as err:
        resolve_rules(layers, spec)
    text = str(err.value)
    assert "takes no parameters" in text and "--layer-rule" in text
    assert "unknown rule" not in text


def test_an_unknown_rule_is_still_unknown():
    layers = lrpcore.Explainer(lrpcore.load_model("mnist-lenet5")).layers
    with pytest.raises(RuleError, match="unknown rule 'foo'"):
        resolve_rules(layers, "foo:1")


def test_alphabeta_off_balance_is_named_as_such(tmp_path, capsys):
    """``alphabeta:2:3`` (α − β = −1) flips the sign at every layer by its own formula; the
    warning blamed the data ("conserves only where a neuron has both positive and negative
    contributions; here many have one sign only")."""
    x = tmp_path / "x.npy"
    np.save(x, lrpcore.open_dataset("mnist-test").images(range(4)))
    assert main(["explain", "mnist-lenet5", str(x), "--out", str(tmp_path / "R.npy"),
                 "--rule", "alphabeta:2:3"]) == 0
    err = capsys.readouterr().err
    assert "α − β = -1" in err and "conserves only with α − β = 1" in err
    assert "one sign only" not in err
    assert main(["explain", "mnist-lenet5", str(x), "--out", str(tmp_path / "R2.npy"),
                 "--rule", "alphabeta:2"]) == 0  # balanced: the sum pool's own cause
    err = capsys.readouterr().err
    assert "at a sum pool after a ReLU" in err and "α − β" not in err


@pytest.fixture
def moved_inputs(tmp_path, capsys):
    """Relevance whose sidecar names a dataset file that was moved away since."""
    x = tmp_path / "digits.npy"
    np.save(x, lrpcore.open_dataset("mnist-test").images(range(3)))
    r = tmp_path / "R.npy"
    assert main(["explain", "mnist-lenet5", str(x), "--out", str(r)]) == 0
    x.rename(tmp_path / "elsewhere.npy")
    capsys.readouterr()
    return r


def test_side_by_side_says_why_the_recorded_inputs_are_missing(moved_inputs, tmp_path, capsys):
    """'--side-by-side needs --input' beside a sidecar that names the inputs left the user
    guessing why they were not found."""
    assert main(["render", str(moved_inputs), "--side-by-side", "--out",
                 str(tmp_path / "h.png")]) == 2
    err = capsys.readouterr().err
    assert "--side-by-side needs --input" in err
    assert "digits.npy" in err and "sidecar names" in err
    assert not (tmp_path / "h.png").exists()


@pytest.mark.parametrize("command", ["render", "figure"])
def test_maps_drawn_without_their_recorded_inputs_say_so(moved_inputs, tmp_path, capsys,
                                                         command):
    """The heatmap was drawn without its input (no outline, no input column) in silence."""
    assert main([command, str(moved_inputs), "--out", str(tmp_path / "h.png")]) == 0
    err = capsys.readouterr().err
    assert f"lrp {command}: note:" in err and "digits.npy" in err and "give --input" in err


def test_the_gradient_rule_on_a_whole_model_is_named_as_such(tmp_path, capsys):
    """``--rule gradient`` (the unnormalised transposed map, meant for a functional pool) on
    LeNet-5 blamed the convolutions' biases ("gradient conserves only without bias") and
    found no cause at the sum pools ("cause not recognised")."""
    x = tmp_path / "x.npy"
    np.save(x, lrpcore.open_dataset("mnist-test").images(range(4)))
    assert main(["explain", "mnist-lenet5", str(x), "--out", str(tmp_path / "R.npy"),
                 "--rule", "gradient"]) == 0
    err = capsys.readouterr().err
    assert "the gradient rule sends relevance back unnormalised" in err
    assert "cause not recognised" not in err and "conserves only without bias" not in err


def test_a_figure_of_one_samples_maps_counts_maps(tmp_path, capsys):
    """``lrp figure c/conditional.npy`` (three concepts of sample 7) said "3 samples"."""
    out = tmp_path / "c"
    assert main(["concepts", "mnist-lenet5", "mnist-test", "--layer", "convolution1",
                 "--sample", "7", "--top", "3", "--references", "0", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["figure", str(out / "conditional.npy"), "--colormap", "bwr", "--out",
                 str(tmp_path / "f.png")]) == 0
    assert "(3 maps of sample 7 × 1 colormap)" in capsys.readouterr().out


def test_a_layer_that_takes_no_rule_names_the_nearest_that_does():
    """``--layer-rule 0=flat`` on an ONNX export names its channels-last step (layer 0, the
    Pad of the first Conv comes next); the error said to choose a Linear, Convolution or
    pooling layer but not which one that is."""
    from colour_models import colour_graph_model

    layers = lrpcore.Explainer(colour_graph_model()).layers
    with pytest.raises(RuleError, match=r"takes no rule.*\(the nearest: layer 2, 'stem'\)"):
        resolve_rules(layers, "epsilon", {0: "flat"})


@pytest.mark.parametrize("target", [True, np.bool_(True), [True, False, True, False]])
def test_a_boolean_target_is_no_class(target):
    """``explain(..., target=True)`` explained class 1 (and a boolean mask classes 0 and 1)
    in silence; ``parse_target`` already refused booleans for the commands."""
    from lrpcore.errors import ShapeError

    model = lrpcore.load_model("mnist-lenet5")
    x = lrpcore.open_dataset("mnist-test").images(range(4))
    with pytest.raises(ShapeError, match="target classes must be whole numbers, got booleans"):
        lrpcore.explain(model, x, target=target)


def test_target_errors_spell_classes():
    """'target classs must be whole numbers'."""
    from lrpcore.errors import ShapeError

    model = lrpcore.load_model("mnist-lenet5")
    x = lrpcore.open_dataset("mnist-test").images(range(4))
    with pytest.raises(ShapeError, match="^target classes must be whole numbers$"):
        lrpcore.explain(model, x, target=3.5)
    with pytest.raises(ShapeError, match="^2 target classes given for 4 samples$"):
        lrpcore.explain(model, x, target=np.array([1, 2]))
