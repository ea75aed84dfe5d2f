"""Stop 26's lead: leftovers of stop 25's reviews (Swin's shape arithmetic). Each test failed
before the fix it guards."""

from __future__ import annotations

import numpy as np
import pytest
from hostile_files import one_line, save_onnx_graph

import lrpcore
from lrpcore.cli.main import main

onnx = pytest.importorskip("onnx")
from onnx import helper, numpy_helper  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402

C = 2


@pytest.mark.parametrize("fmod,dividend,divisor", [
    (0, -5, 3),   # Python's %: the divisor's sign, 1 (C's fmod would give −2)
    (1, 5, -3),   # C's fmod: the dividend's sign, 2 (Python's % would give −1)
])
def test_mod_of_constants_is_evaluated_at_import(tmp_path, fmod, dividend, divisor):
    """torchvision's Swin pads each side by (window − H % window) % window, computed with Mod
    in the graph: it was refused as 'Mod on inputs that are neither data nor constants'
    although both were constants. Mod folds with ONNX's two sign conventions, and the pads it
    computes give the reference evaluator's output."""
    a = np.array([0, 0, 0, dividend, 0, 0, 4, 0], np.int64)
    b = np.array([1, 1, 1, divisor, 1, 1, 3, 1], np.int64)
    inits = [numpy_helper.from_array(a, "a"), numpy_helper.from_array(b, "b"),
             numpy_helper.from_array(np.ones((C, 1, 1, 1), np.float32), "W")]
    nodes = [helper.make_node("Mod", ["a", "b"], ["pads"], name="mod", fmod=fmod),
             helper.make_node("Pad", ["x", "pads"], ["p"], name="pad"),
             helper.make_node("Conv", ["p", "W"], ["c"], name="conv", group=C),
             helper.make_node("Flatten", ["c"], ["y"], name="flat")]
    pads = np.fmod(a, b) if fmod else np.mod(a, b)
    side = int(3 + pads[3] + pads[7])
    path = save_onnx_graph(tmp_path / "m.onnx", nodes, inits, [1, C, 3, 3],
                           [1, int(C * (3 + pads[2] + pads[6]) * side)])
    x = np.random.default_rng(0).random((1, C, 3, 3)).astype(np.float32)
    want = ReferenceEvaluator(str(path)).run(None, {"x": x})[0]
    model = lrpcore.load_model(path)
    got = lrpcore.Explainer(model, dtype="float64").forward(x.astype(np.float64),
                                                           raw=True).outputs()
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_an_unfoldable_operator_on_constants_says_so(tmp_path, capsys):
    """An operator of constants that the import does not evaluate was blamed on inputs
    'neither data nor constants'; the error now says they are constants and which
    operators the import evaluates."""
    inits = [numpy_helper.from_array(np.array([2, 3], np.int64), "a"),
             numpy_helper.from_array(np.ones((C, 1, 1, 1), np.float32), "W")]
    nodes = [helper.make_node("BitShift", ["a", "a"], ["s"], name="shift", direction="LEFT"),
             helper.make_node("Conv", ["x", "W"], ["y"], name="conv", group=C)]
    path = save_onnx_graph(tmp_path / "m.onnx", nodes, inits, [1, C, 3, 3], [1, C, 3, 3])
    assert main(["info", str(path)]) == 2
    err = one_line(capsys, "m.onnx", "'shift'", "operator BitShift on constants only",
                   "not among the operators evaluated at import", "Mod")
    assert "neither data nor constants" not in err


@pytest.mark.parametrize("output_shape", [[1, 3, 9, 9], [3, 9, 9]])
def test_a_transposed_convolutions_output_shape_names_its_sides_only(tmp_path, capsys,
                                                                     output_shape):
    """ONNX's output_shape holds the spatial sides (onnxruntime and onnx's reference refuse
    N, C, H, W); four entries were read as their last two, a file no runtime runs."""
    W = numpy_helper.from_array(np.ones((2, 3, 3, 3), np.float32), "W")
    node = helper.make_node("ConvTranspose", ["x", "W"], ["y"], name="up", strides=[2, 2],
                            output_shape=output_shape)
    path = save_onnx_graph(tmp_path / "m.onnx", [node], [W], [1, 2, 4, 4], [1, 3, 9, 9])
    assert main(["info", str(path)]) == 2
    one_line(capsys, "m.onnx", "'up'", f"output_shape [{', '.join(map(str, output_shape))}]",
             "is not that of a 2-D operator")


def test_a_photograph_in_memory_is_fitted_to_a_colour_model(tmp_path):
    """A photograph held as an array of another size (scikit-image's chelsea, 300×451) was
    refused by explain with advice for folders only: fit_image fits it as an image folder
    opened with the model does, and the refusal names it, for a plain ONNX export too."""
    from colour_models import colour_graph_model
    from PIL import Image

    from lrpcore.errors import ShapeError

    model = colour_graph_model()
    side = model.input_spec.raw_shape[0]
    photo = np.random.default_rng(0).integers(0, 256, size=(30, 45, 3), dtype=np.uint8)
    with pytest.raises(ShapeError, match=r"lrpcore\.fit_image\(photo, model\)"):
        lrpcore.explain(model, photo[None])
    fitted = lrpcore.fit_image(photo, model)
    Image.fromarray(photo).save(tmp_path / "photo.png")
    from_folder = lrpcore.open_dataset(str(tmp_path / "photo.png"), model=model).images([0])[0]
    assert fitted.shape == (side, side, 3) and fitted.dtype == np.uint8
    np.testing.assert_array_equal(fitted, from_folder)
    R = lrpcore.explain(model, fitted[None])
    assert R.shape[0] == 1 and np.isfinite(R).all()
    # greyscale and RGBA photographs become RGB, an alpha channel laid over white
    grey = lrpcore.fit_image(photo[:, :, 0], model)
    assert grey.shape == (side, side, 3) and (grey[..., 0] == grey[..., 2]).all()
    clear = np.zeros((30, 45, 4), np.uint8)
    assert (lrpcore.fit_image(clear, model) == 255).all()


@pytest.mark.parametrize("image,words", [
    (np.zeros((30, 45, 3)), "uint8"),
    (np.zeros((30, 45, 2), np.uint8), "H×W×3"),
    (np.zeros((2, 30, 45, 3), np.uint8), "one H×W"),
])
def test_fit_image_refuses_what_is_no_photograph(image, words):
    from colour_models import colour_graph_model

    from lrpcore.errors import ShapeError

    with pytest.raises(ShapeError, match=words):
        lrpcore.fit_image(image, colour_graph_model())


def test_fit_image_refuses_a_model_of_no_square_images():
    from lrpcore.errors import ShapeError
    from lrpcore.layers import Linear

    model = lrpcore.Sequential([Linear(np.ones((5, 2)), np.zeros(2))])
    with pytest.raises(ShapeError, match="not square images"):
        lrpcore.fit_image(np.zeros((4, 4, 3), np.uint8), model)


def test_a_plain_colour_export_is_told_how_to_fit_a_photograph(tmp_path):
    """An ONNX export without a sidecar (no resize or crop in its input specification) got no
    hint at all for a photograph of another size, though folders are fitted to it."""
    from lrpcore.errors import ShapeError

    W = numpy_helper.from_array(np.ones((2, 3, 1, 1), np.float32), "W")
    nodes = [helper.make_node("Conv", ["x", "W"], ["c"], name="conv"),
             helper.make_node("Flatten", ["c"], ["y"], name="flat")]
    model = lrpcore.load_model(save_onnx_graph(tmp_path / "m.onnx", nodes, [W], [1, 3, 8, 8],
                                               [1, 128]))
    with pytest.raises(ShapeError, match=r"fit_image\(photo, model\)"):
        lrpcore.explain(model, np.zeros((1, 12, 10, 3), np.uint8))
    assert lrpcore.fit_image(np.zeros((12, 10, 3), np.uint8), model).shape == (8, 8, 3)


def test_a_toolbox_nn_cut_anywhere_says_it_is_cut(tmp_path, capsys):
    """A .nn cut inside a float said "error: unpack requires a buffer of 8 bytes", one cut
    inside a class name that the file "asks for 'modul.', … (the file may be unsafe)", one
    cut after a byte "IndexError: index out of range": every cut now says the file ends in
    the middle of the model; a complete file asking for another class is still called unsafe."""
    from shared_data import shared_path

    data = shared_path("models", "lrp_toolbox", "LeNet-5.nn").read_bytes()
    path = tmp_path / "cut.nn"
    for length in (1, 9, 57, 146, 262, len(data) // 3, len(data) - 1):
        path.write_bytes(data[:length])
        assert main(["info", str(path)]) == 2
        one_line(capsys, "cut.nn", "the file ends in the middle of the model (truncated?)")
    path.write_bytes(b"cos\nsystem\n(S'true'\ntR.")
    assert main(["info", str(path)]) == 2
    one_line(capsys, "cut.nn", "asks for 'os.system'", "may be unsafe; nothing was run")


def test_flip_curves_refuses_steps_that_flip_the_whole_input_at_once():
    """``lrp evaluate`` refused 16 units per step on the XOR net's 2 inputs, but the
    explorer's Pixel-flipping panel calls flip_curves directly: every ordering drew the same
    curve there and a rule tied with random order."""
    from shared_data import shared_path

    from lrpcore.errors import ShapeError
    from lrpcore.insight.pixelflip import flip_curves

    xor = lrpcore.load_model(shared_path("models", "lrp_toolbox", "xor_net_small.txt"))
    x = np.array([[0.0, 1.0]])
    with pytest.raises(ShapeError, match="flips all 2 pixels of the input in the first step"):
        flip_curves(xor, x, np.array([[0.2, 0.8]]), 1, per_step=16)
    assert flip_curves(xor, x, np.array([[0.2, 0.8]]), 1, per_step=1) is not None
