"""The one target parser (lrpcore.targets) behind the CLI, the GUI state and its workers."""

from __future__ import annotations

import numpy as np
import pytest

from lrpcore.cli.common import parse_target as cli_parse
from lrpcore.errors import RuleError
from lrpcore.targets import parse_target, target_spec


@pytest.mark.parametrize("value,want", [("pred", "pred"), (" TRUE ", "true"), ("output", "output"),
                                        ("3", 3), (3, 3), (np.int64(7), 7)])
def test_targets_parse_alike_everywhere(value, want):
    assert parse_target(value) == want
    assert cli_parse(str(value)) == want
    assert target_spec(value) == str(want)
    from lrpgui.state import AppState

    s = AppState()
    s.target = value
    assert s.target == str(want)


@pytest.mark.parametrize("value", ["", "pre", "-1", -1, True, 2.5, "3.0", None,
                                   "²", "-²"])  # str.isdigit, but no int(): an internal error
def test_bad_targets_fail_with_one_message(value):
    with pytest.raises(RuleError, match="class index"):
        parse_target(value)
    if not isinstance(value, bool):  # str(True) is the word "true"
        with pytest.raises(RuleError, match="--target"):
            cli_parse(str(value))


def test_evaluate_refuses_output_as_its_target():
    with pytest.raises(RuleError, match="pred, true"):
        cli_parse("output", words=("pred", "true"))
    # also for a model with class names: a word, not an unknown class name; the usage
    # offers the names such a model takes (it said "or a class index" only)
    with pytest.raises(RuleError, match="'output' is not available here: use pred, true, a "
                                        "class index or a class name$"):
        parse_target("output", ("pred", "true"), "--target", class_names=["cat", "dog"])
    with pytest.raises(RuleError, match="not available here: use pred, true or a class index$"):
        parse_target("output", ("pred", "true"), "--target", class_names=["0", "1"])


# class names: one parser for the engine, its gradient baselines, the CLI and the GUI state


def test_imagenet_class_names_resolve_in_any_case_and_by_a_whole_word_start():
    from lrpcore.io.imagenet import imagenet_class_names

    names = list(imagenet_class_names())
    for text in ("Egyptian cat", "egyptian cat", " EGYPTIAN_CAT ", "egyptian"):
        assert parse_target(text, class_names=names) == 285
    assert parse_target("pred", class_names=names) == "pred"  # the words come first
    assert parse_target("285", class_names=names) == 285


@pytest.mark.parametrize("text,words", [
    ("cat", ["285 (Egyptian cat)", "283 (Persian cat)"]),  # not 'catamaran' by its start
    ("egiptian cat", ["285 (Egyptian cat)"]),
    ("great", ["2 (great white shark)", "246 (Great Dane)", "start of 4"]),
    ("cardigan", ["264 (Cardigan)", "474 (cardigan)", "class index"]),
])
def test_unknown_or_ambiguous_names_list_the_close_classes(text, words):
    from lrpcore.io.imagenet import imagenet_class_names

    with pytest.raises(RuleError) as err:
        parse_target(text, what="--target", class_names=list(imagenet_class_names()))
    assert str(err.value).startswith(f"--target {text!r}")
    for w in words:
        assert w in str(err.value)


def test_a_class_index_beyond_the_named_classes_is_refused():
    with pytest.raises(RuleError, match="out of range: the model has 3 classes"):
        parse_target("3", class_names=["a", "b", "c"])


def test_an_index_out_of_range_that_is_a_class_name_says_which_index_it_names():
    """Classes named "3" and "7" (image subfolders named by digit): ``--target 7`` is read as
    index 7, out of range; the error said only "0..1", not that class 1 is named "7"."""
    with pytest.raises(RuleError) as err:
        parse_target("7", what="--target", class_names=["3", "7"])
    message = str(err.value)
    assert "0..1" in message and "0 (3), 1 (7)" in message
    assert "'7' is the name of class 1: give --target 1" in message


def test_an_index_out_of_range_lists_the_named_classes():
    with pytest.raises(RuleError, match=r"\(0\.\.2: 0 \(cat\), 1 \(dog\), 2 \(bird\)\)"):
        parse_target("5", what="--target", class_names=["cat", "dog", "bird"])
    # classes named by their own index ("0".."9", models without names): no list to repeat
    with pytest.raises(RuleError, match=r"10 classes \(0\.\.9\)$"):
        parse_target("12", what="--target", class_names=[str(k) for k in range(10)])


def test_an_unknown_name_with_nothing_close_lists_the_classes_of_a_small_model():
    with pytest.raises(RuleError, match=r"classes: 0 \(3\), 1 \(7\)"):
        parse_target("seven", what="--target", class_names=["3", "7"])


def test_explain_says_which_index_a_class_named_by_a_digit_has(tmp_path, capsys):
    """The same hint from ``lrp explain`` (one line, exit 2) for a model whose classes are
    named "3" and "7"."""
    import lrpcore
    from lrpcore.cli.main import main
    from lrpcore.layers import Linear
    from lrpcore.model import Sequential

    model = Sequential([Linear(np.ones((4, 2)), np.zeros(2))])
    model.meta["class_names"] = ["3", "7"]
    lrpcore.save_model(model, tmp_path / "m.npz")
    np.save(tmp_path / "x.npy", np.zeros((1, 4)))
    code = main(["explain", str(tmp_path / "m.npz"), str(tmp_path / "x.npy"), "--out",
                 str(tmp_path / "R.npy"), "--target", "7"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "give --target 1" in err[0]
    assert not (tmp_path / "R.npy").exists()


@pytest.fixture(scope="module")
def colour():
    from colour_models import colour_graph_model

    from lrpcore.explain import Explainer

    ex = Explainer(colour_graph_model(16), "numpy")
    x = np.random.default_rng(3).integers(0, 256, (2, 16, 16, 3)).astype(np.uint8)
    return ex, ex.forward(ex.prepare(x), raw=True)


def test_the_engine_explains_a_class_by_its_name(colour):
    """Forward.relevance and the gradient baselines' seed take "Egyptian cat" (class 7 of
    the colour model) as they take 7; they refused names before (their own parsers)."""
    from lrpcore.insight.baselines import input_gradient

    _, fwd = colour
    np.testing.assert_array_equal(fwd.relevance("epsilon:0.01", "egyptian cat"),
                                  fwd.relevance("epsilon:0.01", 7))
    np.testing.assert_array_equal(input_gradient(fwd, "Egyptian cat"), input_gradient(fwd, 7))
    with pytest.raises(RuleError, match="7 \\(Egyptian cat\\)"):
        fwd.relevance("epsilon:0.01", "egyptian dog")


def test_the_one_class_tools_take_names_and_refuse_output(colour):
    from lrpcore.targets import one_class_per_sample

    ex, _ = colour
    names = ex.model.class_names
    assert one_class_per_sample("Egyptian cat", "a sweep", names) == 7
    with pytest.raises(Exception, match="a sweep follows one class per sample"):
        one_class_per_sample("all", "a sweep", names)


def test_cli_explains_a_class_named_on_the_command_line(tmp_path, capsys):
    import json

    from colour_models import colour_graph_model

    import lrpcore
    from lrpcore.cli.main import main

    model = tmp_path / "colour.npz"
    lrpcore.save_model(colour_graph_model(16), model)
    np.save(tmp_path / "x.npy", np.zeros((1, 16, 16, 3), np.uint8))
    args = ["explain", str(model), str(tmp_path / "x.npy"), "--out", str(tmp_path / "R.npy")]
    assert main(args + ["--target", "Egyptian cat"]) == 0
    assert "(target 7: Egyptian cat)" in capsys.readouterr().out
    side = json.loads((tmp_path / "R.npy.json").read_text())
    assert (side["target"], side["explained_name"]) == ("7", "Egyptian cat")
    (tmp_path / "R.npy").unlink()
    (tmp_path / "R.npy.json").unlink()
    assert main(args + ["--target", "egyptian kat"]) == 2
    err = capsys.readouterr().err
    assert "--target 'egyptian kat'" in err and "7 (Egyptian cat)" in err
    assert not (tmp_path / "R.npy").exists()


def test_gui_state_stores_a_named_class_as_its_index(colour):
    from lrpgui.state import AppState

    s = AppState()
    s.model = colour[0].model
    s.target = "EGYPTIAN CAT"
    assert s.target == "7"
    with pytest.raises(RuleError, match="no class of the model has this name"):
        s.target = "zebra"
    assert s.target == "7"


def test_spray_class_option_takes_a_name(tmp_path, capsys):
    """`lrp spray --class` goes through the same parser (a name, 'all' or an index)."""
    from lrpcore.cli.common import parse_target as cli

    names = lambda: type("M", (), {"class_names": ["zero", "one"]})()  # noqa: E731
    assert cli("One", ("all",), names, "--class") == 1
    assert cli("all", ("all",), names, "--class") == "all"
    with pytest.raises(RuleError, match="--class 2 is out of range"):
        cli("2", ("all",), names(), "--class")
