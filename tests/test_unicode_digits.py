"""Text that ``str.isdigit`` calls digits but ``int`` refuses ("²", superscript two): typed as a
target, a layer key or a layer, named by a class folder or a temporary file, it was an
internal error (exit 1, "please report it") instead of an ordinary one-line refusal or a name.
One test, ``lrpcore.text.is_digits``, now decides what an index is."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from lrpcore.cli.main import main
from lrpcore.text import is_digits


def test_only_the_digits_0_to_9_make_an_index():
    assert is_digits("0") and is_digits("285")
    for text in ("", "²", "٣", "３", "-1", "1.0", " 1", None, 3):
        assert not is_digits(text), text


@pytest.fixture
def digits(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    np.save("x.npy", np.zeros((2, 28, 28), np.uint8))
    return tmp_path


@pytest.mark.parametrize("args, words", [
    (["explain", "mnist-lenet5", "x.npy", "--out", "R.npy", "--target", "²"],
     ["--target '²'", "class index"]),
    (["explain", "mnist-lenet5", "x.npy", "--out", "R.npy", "--layer-rule", "²=flat"],
     ["'²'", "layer"]),
    (["concepts", "mnist-lenet5", "x.npy", "--out", "c", "--layer", "²"], ["'²'", "layer"]),
])
def test_a_superscript_digit_is_refused_in_one_line(digits, capsys, args, words):
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "internal error" not in err
    for word in words:
        assert word in err
    assert sorted(p.name for p in digits.iterdir()) == ["x.npy"]


def test_a_class_folder_named_by_a_superscript_is_a_name(digits, capsys):
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(digits / "a.png")
    (digits / "photos" / "²").mkdir(parents=True)
    (digits / "a.png").rename(digits / "photos" / "²" / "a.png")
    assert main(["explain", "mnist-lenet5", "photos", "--out", "R.npy"]) == 0
    assert np.load(digits / "R.npy").shape[0] == 1


def test_a_temporary_file_named_with_a_superscript_is_not_one_of_ours(tmp_path):
    """The next write into the folder looks at every ``.tmp-lrp-PID-…`` name there; one such
    name made every write into that folder an internal error."""
    from lrpcore.fileio import _owner, atomic_write_text

    (tmp_path / ".tmp-lrp-²-@host-x").write_text("")
    assert _owner(".tmp-lrp-²-@host-x") == (None, None)
    atomic_write_text(tmp_path / "out.txt", "done")
    assert (tmp_path / "out.txt").read_text() == "done"
    assert (tmp_path / ".tmp-lrp-²-@host-x").exists()  # not ours: never removed


def test_a_remembered_figure_scale_of_a_superscript_falls_back():
    from lrpgui.flows import DEFAULT_FIGURE_SCALE, figure_scale

    assert figure_scale("²") == DEFAULT_FIGURE_SCALE
    assert figure_scale("3") == 3


def test_a_condition_keyed_by_a_superscript_digit_is_a_rule_error_naming_it():
    """A condition on a graph model keyed "²" was read as an index and failed inside int()."""
    import numpy as np
    import pytest

    from lrpcore.errors import RuleError
    from lrpcore.explain import Explainer, resolve_rules
    from lrpcore.zoo import mnist_resnet

    model = mnist_resnet()
    ex = Explainer(model, threads=1)
    x = np.zeros((1,) + tuple(model.input_spec.shape))
    fwd = ex.forward(x, raw=True)
    with pytest.raises(RuleError, match="²"):
        fwd.relevance(resolve_rules(ex.layers, "EpsilonPlus"), "pred",
                      condition={"²": np.ones(16)})
