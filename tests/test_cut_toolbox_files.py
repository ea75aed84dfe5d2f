"""A toolbox .txt cut exactly at a line end parses as a complete, smaller model (the format has
no end marker). What can tell: a last layer that gives no classifier's scores, an output count
other than the classes of a dataset that names all of its task's (MNIST's digits), a sidecar's
class names, and a map output (refused at explain time). Every cut of LeNet-5 and of a dense
toolbox network is caught by one of them, but a lost trailing SoftMax, which explains alike;
complete models raise no false alarm."""

from __future__ import annotations

import re

import numpy as np
import pytest
from shared_data import shared_path

import lrpcore
from lrpcore.cli.main import main
from lrpcore.errors import LRPError, ModelFormatError
from lrpcore.io.completeness import class_count_hint, ending_hint
from lrpcore.io.toolbox_txt import write_toolbox_txt

CUT = "cut short"


def cuts(text):
    """The text cut before each layer header but the first: every cut at a layer's end."""
    starts = [m.start() for m in re.finditer(r"^[A-Z][A-Za-z]+", text, re.M)]
    return [text[:s] for s in starts[1:]]


def caught(path, digits, mnist) -> bool:
    try:
        model = lrpcore.load_model(path)
    except ModelFormatError:
        return True
    if ending_hint(model) or class_count_hint(model, mnist):
        return True
    try:
        lrpcore.explain(model, digits)
    except LRPError:  # e.g. a 1×1×10 map where a vector of scores was expected
        return True
    return False


@pytest.fixture(scope="module")
def mnist():
    return lrpcore.open_dataset("mnist-sample")


@pytest.mark.parametrize("source", ["lenet5", "dense"])
def test_every_cut_at_a_layer_end_is_caught(tmp_path, mnist, source):
    if source == "lenet5":
        text = shared_path("models", "lrp_toolbox", "LeNet-5.txt").read_text()
    else:
        write_toolbox_txt(lrpcore.load_model("mnist-dense-rect"), tmp_path / "full.txt")
        text = (tmp_path / "full.txt").read_text()
    digits = mnist.images(slice(0, 2))
    full = tmp_path / "model.txt"
    full.write_text(text)
    assert not caught(full, digits, mnist)  # the complete file: no false alarm
    want = lrpcore.explain(lrpcore.load_model(full), digits)
    missed = []
    for k, cut in enumerate(cuts(text)):
        path = tmp_path / f"cut{k}.txt"
        path.write_text(cut)
        if not caught(path, digits, mnist):
            # harmless only when it explains alike: a trailing SoftMax lost (LRP drops it)
            got = lrpcore.explain(lrpcore.load_model(path), digits)
            if got.shape != want.shape or not np.array_equal(got, want):
                missed.append(k)
    assert not missed, f"cuts loaded silently: {missed}"


def test_complete_models_raise_no_hint(mnist):
    for name in ("mnist-lenet5", "mnist-dense-rect", "mnist-dense-tanh", "mnist-maxnet"):
        model = lrpcore.load_model(name)
        assert ending_hint(model) is None and class_count_hint(model, mnist) is None, name
    xor = lrpcore.load_model(shared_path("models", "lrp_toolbox", "xor_net_small.txt"))
    assert ending_hint(xor) is None


def test_the_commands_say_so(tmp_path, capsys):
    model = lrpcore.load_model("mnist-dense-rect")
    write_toolbox_txt(model, tmp_path / "full.txt")
    hidden, head = cuts((tmp_path / "full.txt").read_text())[1:3]  # after Rect; after Linear
    (tmp_path / "rect.txt").write_text(hidden)
    assert main(["info", str(tmp_path / "rect.txt")]) == 0
    err = capsys.readouterr().err
    assert "rect.txt" in err and "ends with Rect" in err and CUT in err
    (tmp_path / "linear.txt").write_text(head)
    assert main(["explain", str(tmp_path / "linear.txt"), "mnist-sample", "--out",
                 str(tmp_path / "R.npy")]) == 0
    err = capsys.readouterr().err
    assert "100 outputs" in err and "10 classes" in err and CUT in err
    # the digits as a plain array name no classes: nothing to compare, nothing said
    np.save(tmp_path / "x.npy", lrpcore.open_dataset("mnist-sample").images(slice(0, 2)))
    assert main(["explain", str(tmp_path / "linear.txt"), str(tmp_path / "x.npy"), "--out",
                 str(tmp_path / "R2.npy")]) == 0
    assert CUT not in capsys.readouterr().err


def test_a_sidecar_with_class_names_refuses_a_cut_file(tmp_path, capsys):
    write_toolbox_txt(lrpcore.load_model("mnist-dense-rect"), tmp_path / "full.txt")
    (tmp_path / "m.txt").write_text(cuts((tmp_path / "full.txt").read_text())[2])
    (tmp_path / "m.json").write_text('{"class_names": ["0","1","2","3","4","5","6","7","8",'
                                     '"9"]}')
    assert main(["info", str(tmp_path / "m.txt")]) == 2
    err = capsys.readouterr().err
    assert "m.json" in err and "10 class names for a model with 100 outputs" in err


def test_a_graph_model_ending_in_log_softmax_is_not_called_cut_short():
    """A graph declares its outputs: PyTorch's MNIST example ends in log_softmax, and
    ``lrp info`` asked whether that genuine export was cut short (GraphModel is a chain
    subclass, so the chain's test reached it)."""
    from pathlib import Path

    path = Path(__file__).parent / "data" / "zoo" / "logsoftmax_ts.onnx"
    model = lrpcore.load_model(path)
    assert model.is_graph and ending_hint(model) is None
