"""Stop 28, core6: a channels-first graph model saved without a spec loads back; the CLI's
refusal of data of another size names the sidecar; ``lrp info`` says what the output is when
the input is unknown; a cancelling output sum is said as the blow-up's cause."""

from __future__ import annotations

import numpy as np
import pytest

import lrpcore
from lrpcore.errors import ShapeError
from lrpcore.graph import GraphModel, Node
from lrpcore.graph_layers import ToChannelsLast
from lrpcore.layers import Convolution


def _channels_first_conv():
    """ToChannelsLast → 3×3 conv of 3 channels: a 3×3 input happens to end in a 1×1 map,
    which the toolbox's guess took for an H×W×C input of 3×3×3."""
    conv = Convolution(np.random.default_rng(0).normal(size=(3, 3, 3, 4)), np.zeros(4))
    return GraphModel([Node("nhwc", ToChannelsLast(), ("x",), "h"),
                       Node("conv", conv, ("h",), "y")], "x", "y")


def test_a_channels_first_model_saved_without_a_spec_loads_back(tmp_path):
    """save → load failed: "'layout' NHWC contradicts the model, which takes NCHW". No
    toolbox guess is made for a C×H×W input, so nothing contradicting is saved."""
    model = _channels_first_conv()
    assert model.input_spec is None
    path = tmp_path / "g.npz"
    lrpcore.save_model(model, path)
    back = lrpcore.load_model(path)
    assert back.input_spec is None and back.node_names == model.node_names
    x = np.random.default_rng(1).normal(size=(2, 3, 5, 5))
    assert np.allclose(back.forward(x), model.forward(x))


def _fully_convolutional(path):
    """A toolbox text model of two valid 3×3 convolutions and 4 classes per pixel: its file
    records no input size (its layers take any of 5×5 or more)."""
    from lrpcore.io.toolbox_txt import write_toolbox_txt
    from lrpcore.layers import Rect

    rng = np.random.default_rng(0)
    write_toolbox_txt(lrpcore.Sequential([
        Convolution(rng.normal(0, 0.5, (3, 3, 1, 6)), rng.normal(0, 0.1, 6)), Rect(),
        Convolution(rng.normal(0, 0.5, (3, 3, 6, 4)), rng.normal(0, 0.1, 4))]), path)
    return path


def test_explain_with_data_of_another_size_names_the_sidecar_that_fixes_it(tmp_path, capsys):
    """The explorer's dataset refusal named the sidecar that makes the data's size the model's
    (a size guessed from the layers, 5×5); ``lrp explain`` refused 20×20 tiles with no word of
    it. Both now say the same words; with the sidecar the command explains them."""
    import json

    from lrpcore.cli.main import main
    from lrpcore.io.datasets import check_fits

    model = _fully_convolutional(tmp_path / "fcn.txt")
    tiles = np.random.default_rng(1).integers(0, 256, (3, 20, 20)).astype(np.uint8)
    np.save(tmp_path / "tiles.npy", tiles)  # H×W tiles: the channel axis left out
    out = tmp_path / "R.npy"
    hint = 'which take 20×20×1 too: a sidecar fcn.json of {"input": {"shape": [20, 20, 1]}}'
    assert main(["explain", str(model), str(tmp_path / "tiles.npy"), "--out", str(out)]) == 2
    said = capsys.readouterr().err
    assert "tiles.npy: samples of shape 20×20×1 do not fit" in said and hint in said
    assert not out.exists()
    loaded = lrpcore.load_model(model)
    with pytest.raises(ShapeError) as python:
        lrpcore.explain(loaded, tiles[..., None])
    with pytest.raises(ShapeError) as explorer:  # the explorer's dataset check
        check_fits(loaded, tiles[..., None])
    assert hint in str(python.value) and hint in str(explorer.value)
    (tmp_path / "fcn.json").write_text(json.dumps({"input": {"shape": [20, 20, 1]}}))
    assert main(["explain", str(model), str(tmp_path / "tiles.npy"), "--out", str(out)]) == 0
    assert np.load(out).shape == (3, 20, 20, 1)


def test_info_on_a_model_of_unknown_input_does_not_call_its_output_a_vector(tmp_path, capsys):
    """``lrp info`` on a graph that records no input shape said "output: raw scores", as of a
    classifier, though its last convolution gives a map of them per pixel. It now says the
    shape follows from the input's, which the file does not record, and the sidecar that
    gives it."""
    from lrpcore.cli.main import main
    from lrpcore.layers import Pad

    conv = Convolution(np.random.default_rng(2).normal(size=(3, 3, 3, 4)), np.zeros(4))
    path = tmp_path / "g.npz"
    lrpcore.save_model(GraphModel([Node("nhwc", ToChannelsLast(), ("x",), "h"),
                                   Node("pad", Pad((1, 1, 1, 1)), ("h",), "p"),
                                   Node("conv", conv, ("p",), "y")], "x", "y"), path)
    assert lrpcore.load_model(path).input_spec is None
    assert main(["info", str(path)]) == 0
    output = [line for line in capsys.readouterr().out.splitlines()
              if line.startswith("output:")]
    assert output == ["output: raw scores; their shape (one per class, or a map of them per "
                      "pixel) follows from the input's, which the file does not record (a "
                      "sidecar g.json's \"input\" gives it)"]


def test_a_cancelling_output_sum_is_named_as_the_blow_ups_cause():
    """Explaining every output at once (target output) of scores +1 and −0.999 gives an
    initial relevance of sum 0.001: each layer's |R| is then "25× the output" without any
    rule making it large, and the diagnosis blamed "a tiny ε on near-zero denominators". It
    now names the cancelling sum; a real tiny-ε blow-up keeps its cause."""
    from lrpcore.explain import Explainer
    from lrpcore.insight import diagnose as dg
    from lrpcore.layers import Linear, Rect

    model = lrpcore.Sequential([
        Linear(np.array([[3.0, -2.0], [-2.0, 3.0]]), np.zeros(2)), Rect(),
        Linear(np.array([[1.0, 0.0], [0.0, -0.999]]), np.zeros(2))])
    fwd = Explainer(model).forward(np.array([[1.0, 1.0]]), raw=True)
    found = dg.diagnose(fwd, "epsilon:0.01", target="output").findings
    assert [(f.layer, f.kind, f.cause) for f in found] == [(0, "blowup", "cancelling-output")]
    assert found[0].magnitude > 1000  # against the sum 0.001 ...
    assert "Σ|R| is 2e+03× |ΣR|" in found[0].reason  # ... of relevance of both signs
    assert "this layer's is 4.9×, under a blow-up's 25×" in found[0].reason
    assert dg.diagnose(fwd, "epsilon:0.01", target=0).ok  # one class: nothing cancels
    w1 = np.array([[1.0], [-1.0 + 1e-9]])  # z ≈ 1e-9 against ε = 0: a real blow-up
    tiny = lrpcore.Sequential([Linear(w1, np.zeros(1)), Rect(),
                               Linear(np.array([[1.0]]), np.zeros(1))])
    fwd = Explainer(tiny).forward(np.array([[1.0, 1.0]]), raw=True)
    assert [f.cause for f in dg.diagnose(fwd, "simple", target="output").findings] == [
        "tiny-epsilon"]
