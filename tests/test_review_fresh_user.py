"""A fresh new-user review (stop 20): messages that named the wrong problem first, and render
and figure outputs checked only when written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import lrpcore
from lrpcore.cli.main import main
from lrpcore.errors import ShapeError
from lrpcore.io.completeness import class_count_hint

ZOO = Path(__file__).parent / "data" / "zoo"
KERAS = ZOO / "keras_tf2onnx.onnx"  # 16×16×3, channels last, 5 outputs
SEQUENCE = ZOO / "keras_seq_tf2onnx.onnx"  # 32×4, a sequence of 4 channels


@pytest.fixture
def labelled_digits(tmp_path):
    """28×28 digits with labels 0…9, as mnist-test (which fits neither Keras model)."""
    rng = np.random.default_rng(0)
    np.save(tmp_path / "d_images.npy", rng.integers(0, 256, (10, 28, 28, 1), dtype=np.uint8))
    np.save(tmp_path / "d_labels.npy", np.arange(10))
    return tmp_path / "d_images.npy"


def test_samples_that_do_not_fit_are_named_before_their_labels(labelled_digits):
    """Digits offered to a 16×16×3 model of 5 classes: the explorer's question said "label 7
    of sample 0 is out of range", not that 28×28×1 samples cannot feed the model at all."""
    pytest.importorskip("onnx")
    model = lrpcore.load_model(KERAS)
    with pytest.raises(ShapeError, match=r"28×28×1 .* raw 16×16×3"):
        lrpcore.check_fits(model, lrpcore.open_dataset(labelled_digits))


def test_a_graph_model_is_not_asked_whether_it_is_a_cut_toolbox_file():
    """An ONNX model of 5 outputs on MNIST's ten classes is a model of another task; an ONNX
    file cannot load cut short, so the toolbox .txt sentence does not belong there."""
    pytest.importorskip("onnx")
    hint = class_count_hint(lrpcore.load_model(KERAS), lrpcore.open_dataset("mnist-sample"))
    assert "a model of another task" in hint and ".txt" not in hint and "cut" not in hint


def test_explain_refuses_samples_before_warning_about_them(tmp_path, capsys):
    """Photographs for a sequence model: the error alone, not first a warning that their
    values exceed the model's range and then that they do not fit."""
    pytest.importorskip("onnx")
    assert main(["explain", str(SEQUENCE), "natural-images", "--out",
                 str(tmp_path / "R.npy")]) == 2
    err = capsys.readouterr().err
    assert "do not fit the model" in err
    assert "warning" not in err
    assert not (tmp_path / "R.npy").exists()


@pytest.fixture
def relevance(tmp_path):
    R = np.random.default_rng(1).normal(size=(2, 28, 28, 1))
    np.save(tmp_path / "R.npy", R)
    return tmp_path / "R.npy"


@pytest.mark.parametrize("command", ["render", "figure"])
def test_render_and_figure_refuse_an_existing_output_in_the_commands_words(
        tmp_path, capsys, relevance, command):
    """The library's "pass overwrite=True / --overwrite" reached the command line."""
    out = tmp_path / "hm.png"
    out.write_bytes(b"kept")
    assert main([command, str(relevance), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "file exists (use --overwrite to replace it)" in err
    assert "overwrite=True" not in err
    assert out.read_bytes() == b"kept"


@pytest.mark.parametrize("command", ["render", "figure"])
def test_render_and_figure_never_replace_the_input_they_read(tmp_path, capsys, command):
    """``--input photo.png --out photo.png --overwrite`` replaced the photograph with its
    heatmap; an output that is a file the command reads is refused, as ``lrp explain`` does."""
    from PIL import Image

    photo = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(2).integers(0, 256, (28, 28), np.uint8)).save(photo)
    before = photo.read_bytes()
    R = tmp_path / "R.npy"
    np.save(R, np.random.default_rng(3).normal(size=(1, 28, 28, 1)))
    assert main([command, str(R), "--input", str(photo), "--out", str(photo),
                 "--overwrite"]) == 2
    assert "is also a file this command reads" in capsys.readouterr().err
    assert photo.read_bytes() == before


def test_the_close_dataset_question_keeps_its_sentences_apart(tmp_path):
    """A model of 5 classes for MNIST-shaped data: the refusal of the labels has no full
    stop, and the question read "… labels go up to 9 Close the dataset mnist-sample …"."""
    from lrpcore.layers import Flatten, Linear
    from lrpcore.spec import InputSpec
    from lrpgui.session import Session
    from lrpgui.state import AppState

    five = lrpcore.Sequential([Flatten(), Linear(np.full((784, 5), 0.1), np.zeros(5))],
                              InputSpec(shape=(28, 28, 1), raw_shape=(28, 28, 1)))
    path = tmp_path / "five.npz"
    lrpcore.save_model(five, path)
    session = Session(AppState(), cancel=lambda _kind: None)
    session.open_model(lrpcore.bundled.default_model_path())
    session.open_dataset("mnist-sample")
    asked = []
    session.open_model(path, close_unfitting=lambda *q: asked.append(q) or True)
    question = asked[0][1]
    assert "out of range" in question and "labels go up to 9. Close the dataset" in question
