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


def _digit_folder(root):
    """Two class subfolders named in words, which name none of a digit model's classes."""
    import numpy as np
    from PIL import Image

    for name in ("seven", "two"):
        (root / name).mkdir(parents=True)
        Image.fromarray(np.zeros((28, 28), np.uint8)).save(root / name / "a.png")
    return root


def test_the_folder_labels_hint_gives_examples_of_the_models_own_classes(tmp_path, capsys):
    """Subfolders 'seven' and 'two' under a digit model were told to be named "a class name
    such as 'Egyptian cat', or an index such as '285'": ImageNet's, which LeNet-5 has not. The
    examples are now the model's own (its class 9, named '9': an index alone), ImageNet's
    for an ImageNet model."""
    import lrpcore
    from lrpcore.io.datasets import folder_labels_hint

    folder = _digit_folder(tmp_path / "digits")
    model = lrpcore.load_model("mnist-lenet5")
    assert main(["explain", "mnist-lenet5", str(folder), "--target", "true", "--out",
                 str(tmp_path / "R.npy")]) == 2
    err = capsys.readouterr().err
    assert "an index such as '9'" in err
    assert "285" not in err and "Egyptian cat" not in err
    hint = lrpcore.open_dataset(folder, model=model).unlabelled_hint(model)
    assert hint.endswith("(an index such as '9')")

    class Named:  # a model naming its classes: one of its names is the example
        class_names = [f"kind {k}, synonym" for k in range(3)]
        n_classes = 3

    assert folder_labels_hint(["a"], Named()).endswith(
        "(a class name such as 'kind 2', or an index such as '2')")


def test_target_true_without_labels_in_python_says_how_to_give_them():
    """``lrpcore.explain(model, x, target="true")`` said only "target 'true' needs the samples'
    labels": the keyword that takes them was left to the docstring."""
    import numpy as np

    import lrpcore
    from lrpcore.errors import ShapeError

    model = lrpcore.load_model("mnist-lenet5")
    x = np.zeros((2, 28, 28), np.uint8)
    with pytest.raises(ShapeError, match="pass labels="):
        lrpcore.explain(model, x, target="true")
    R = lrpcore.explain(model, x, target="true", labels=np.array([3, 4]))
    assert R.shape == (2, 32, 32, 1)
