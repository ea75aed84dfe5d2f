"""Small defects other helpers found in stop 28 (channels that are no whole numbers, an empty
channel list served another's references, threads unchecked, a launch message as long as its
value, --region's help promising negative slices): each test failed before its fix."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest

import lrpcore
from lrpcore import relmax
from lrpcore.cli.main import main
from lrpcore.concepts import check_channels
from lrpcore.errors import RuleError, ShapeError
from lrpcore.explain import Explainer

ZOO = Path(__file__).parent / "data" / "zoo"


@pytest.mark.parametrize("channel", [1.5, True, "a", None])
def test_a_channel_that_is_no_whole_number_is_refused_in_words(channel):
    """int() made 1.5 and True channel 1, and 'a' a bare ValueError."""
    with pytest.raises(ShapeError, match=r"channels: .* is no channel; a channel is a whole "):
        check_channels([0, channel], 5)


def test_whole_channels_of_any_number_type_stay_accepted():
    assert check_channels([2.0, np.int64(3), 4], 5) == [2, 3, 4]


@pytest.mark.parametrize("asked", [[], [2.5]])
def test_references_of_no_channel_or_a_broken_one_are_not_served_another_entry(
        tmp_path, monkeypatch, asked):
    """channels=[] was 'covered' by the cached entry of channel 2, and 2.5 keyed as 2."""
    monkeypatch.setenv("LRP_CACHE_DIR", str(tmp_path))
    ex = Explainer(lrpcore.load_model("mnist-lenet5"), "numpy")
    x = lrpcore.open_dataset("mnist-sample").images(slice(0, 6))
    relmax.references(ex, x, 3, "epsilon:0.01", n=2, dataset_id="d", channels=[2])
    with pytest.raises(ShapeError, match="channels: "):
        relmax.references(ex, x, 3, "epsilon:0.01", n=2, dataset_id="d", channels=asked)


def test_compute_references_refuses_an_empty_channel_list():
    ex = Explainer(lrpcore.load_model("mnist-lenet5"), "numpy")
    x = lrpcore.open_dataset("mnist-sample").images(slice(0, 2))
    with pytest.raises(ShapeError, match="channels: the list is empty; give the channels"):
        relmax.compute_references(ex, x, 3, n=1, channels=[])


@pytest.mark.parametrize("threads", [-1, 0, 2.5, True, "2"])
def test_explainer_refuses_a_thread_count_that_is_no_whole_number_of_at_least_one(threads):
    """threads=-1 or 2.5 were taken silently."""
    model = lrpcore.load_model("mnist-lenet5")
    with pytest.raises(RuleError, match=r"threads must be a whole number of at least 1 \(or "
                                        r"None: every core\), got "):
        Explainer(model, "numpy", threads=threads)


def test_explainer_takes_a_whole_thread_count():
    model = lrpcore.load_model("mnist-lenet5")
    assert Explainer(model, "numpy", threads=np.int64(1)).threads == 1


def test_a_refused_launch_option_is_shown_cut_short():
    """A 5,000-digit --region made a 5,000-character message."""
    pytest.importorskip("PySide6")
    from lrpgui.app import _apply_options

    class State:
        dataset = labels = None

        def __setattr__(self, name, value):
            raise ShapeError("not a box inside the map")

    window = argparse.Namespace(state=State())
    args = argparse.Namespace(rule=None, colormap=None, sample=None, dtype=None,
                              region="0:" + "9" * 5000 + ",0:4", misclassified=False)
    (problem,) = _apply_options(window, args)
    assert problem.startswith("--region 0:999") and problem.endswith(
        "…: not a box inside the map") and len(problem) < 100, problem


def test_region_help_says_no_negative_values_and_the_equals_form_reaches_the_check(
        tmp_path, capsys):
    """The help said "Python's slices", but a negative start is no box of the map (and
    '--region -4:16,0:16' is argparse's 'expected one argument')."""
    with pytest.raises(SystemExit):
        main(["explain", "--help"])
    assert "but never negative" in " ".join(capsys.readouterr().out.split())
    pytest.importorskip("onnx")
    x = tmp_path / "x.npy"
    np.save(x, np.random.RandomState(0).rand(1, 16, 16, 3).astype(np.float32))
    assert main(["explain", str(ZOO / "keras_seg_tf2onnx.onnx"), str(x), "--raw",
                 "--region=-4:16,0:16", "--out", str(tmp_path / "r.npy")]) == 2
    err = capsys.readouterr().err
    assert "region rows -4:16, columns 0:16 is not a box inside the 16×16 output map" in err
    assert len(err.strip().splitlines()) == 1, err


def test_lrp_explains_first_help_example_runs_as_written(tmp_path, monkeypatch, capsys):
    """`lrp explain --help`'s example named LeNet-5.txt, a file no install provides (the toolbox's
    own): a reader copying it got 'no such file'. It names the bundled model and runs, given
    the digits.npy it reads."""
    import shlex

    monkeypatch.chdir(tmp_path)
    np.save("digits.npy", lrpcore.open_dataset("mnist-sample").images(slice(0, 2)))
    with pytest.raises(SystemExit):
        main(["explain", "--help"])
    help_text = capsys.readouterr().out
    line = next(ln for ln in help_text.splitlines() if ln.strip().startswith("lrp explain "))
    assert main(shlex.split(line)[1:]) == 0
    assert (tmp_path / "R.npy").is_file() and any((tmp_path / "heatmaps").glob("*.png"))
