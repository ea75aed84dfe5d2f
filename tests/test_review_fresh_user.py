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
