"""Channel slices and shuffles of data (ShuffleNet; lrpcore.io.onnx_channels): the zoo's
``shufflenet_*`` fixtures check relevance against zennit; these check what is refused."""

from __future__ import annotations

import json

import numpy as np
import pytest

import lrpcore
from lrpcore import ModelFormatError

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def _save(tmp_path, nodes, inits=(), out_shape=("N", 4)):
    W = numpy_helper.from_array(np.ones((4, 3, 1, 1), dtype=np.float32), "W")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "W"], ["c"], name="conv"), *nodes,
         helper.make_node("GlobalAveragePool", ["s"], ["p"], name="pool"),
         helper.make_node("Flatten", ["p"], ["out"], name="flat")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 4, 4])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, list(out_shape))],
        [W, *inits])
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def _ints(name, values):
    return numpy_helper.from_array(np.asarray(values, dtype=np.int64), name)


def test_a_slice_along_the_height_is_a_crop(tmp_path):
    """Was refused: ``x[:, :, :2]`` (Keras's Cropping2D: a Slice of height and width)."""
    path = _save(tmp_path, [helper.make_node("Slice", ["c", "st", "en", "ax"], ["s"],
                                             name="rows")],
                 [_ints("st", [0]), _ints("en", [2]), _ints("ax", [2])])
    model = lrpcore.load_model(path)
    assert "Crop 0,2,0,0" in [n.layer.describe() for n in model.nodes]
    x = np.random.default_rng(3).random((2, 3, 4, 4))
    fw = lrpcore.Explainer(model, dtype="float64").forward(x, raw=True)
    np.testing.assert_allclose(fw.outputs(), np.repeat(x[:, :, :2].sum(1).mean((1, 2))[:, None],
                                                       4, 1))
    R, per_node = fw.relevance("epsilon:1e-9", trace=True)
    conv = next(i for i, n in enumerate(model.nodes) if n.layer.kind == "Convolution")
    Rc = per_node.outputs[conv]  # N×H×W×C: nothing reaches the rows cut off
    assert np.all(Rc[:, 2:] == 0) and np.abs(Rc[:, :2]).sum() > 0


@pytest.mark.parametrize("starts, ends, axes, steps, text", [
    ([0], [4], [2], [2], "step 1"),
    ([0, 1], [2, 4], [1, 2], [1, 1], "channels and of height or width at once"),
    ([3], [1], [3], [1], "is empty"),
])
def test_slices_that_are_no_crop_or_channel_slice_are_refused(tmp_path, starts, ends, axes,
                                                                steps, text):
    path = _save(tmp_path, [helper.make_node("Slice", ["c", "st", "en", "ax", "sp"], ["s"],
                                             name="cut")],
                 [_ints("st", starts), _ints("en", ends), _ints("ax", axes),
                  _ints("sp", steps)])
    with pytest.raises(ModelFormatError, match=f"'cut'.*{text}"):
        lrpcore.load_model(path)


def test_a_channel_slice_sends_relevance_back_to_its_channels_only(tmp_path):
    path = _save(tmp_path, [helper.make_node("Slice", ["c", "st", "en", "ax"], ["s"],
                                             name="half")],
                 [_ints("st", [2]), _ints("en", [99]), _ints("ax", [1])], ("N", 2))
    model = lrpcore.load_model(path)
    assert "ChannelSlice 2:4" in [n.layer.describe() for n in model.nodes]
    x = np.random.default_rng(1).random((2, 3, 4, 4))
    fw = lrpcore.Explainer(model, dtype="float64").forward(x, raw=True)
    np.testing.assert_allclose(fw.outputs(), np.repeat(x.sum(1).mean((1, 2))[:, None], 2, 1))
    R, per_node = fw.relevance("epsilon:1e-9", trace=True)
    conv = next(i for i, n in enumerate(model.nodes) if n.layer.kind == "Convolution")
    Rc = per_node.outputs[conv]  # relevance at the convolution's output, N×H×W×C
    assert np.all(Rc[..., :2] == 0) and np.abs(Rc[..., 2:]).sum() > 0


def test_a_shuffle_tensor_read_by_anything_else_is_refused(tmp_path):
    """The N×g×(C/g)×H×W tensor between the shuffle's Reshape and Transpose is never
    computed: an activation reading it would act on the wrong array layout."""
    path = _save(tmp_path, [helper.make_node("Reshape", ["c", "shape"], ["g"], name="groups"),
                            helper.make_node("Relu", ["g"], ["r"], name="relu"),
                            helper.make_node("Transpose", ["r"], ["t"], perm=[0, 2, 1, 3, 4]),
                            helper.make_node("Reshape", ["t", "back"], ["s"], name="back")],
                 [_ints("shape", [0, 2, 2, 4, 4]), _ints("back", [0, 4, 4, 4])])
    with pytest.raises(ModelFormatError, match="'relu'.*channel shuffle"):
        lrpcore.load_model(path)


def test_a_native_channel_permutation_that_is_not_one_is_refused(tmp_path):
    path = _save(tmp_path, [helper.make_node("Reshape", ["c", "shape"], ["g"], name="groups"),
                            helper.make_node("Transpose", ["g"], ["t"], perm=[0, 2, 1, 3, 4]),
                            helper.make_node("Reshape", ["t", "back"], ["s"], name="back")],
                 [_ints("shape", [0, 2, 2, 4, 4]), _ints("back", [0, 4, 4, 4])])
    model = lrpcore.load_model(path)
    perm = next(n.layer.perm for n in model.nodes if n.layer.kind == "ChannelPermute")
    assert perm.tolist() == [0, 2, 1, 3]
    lrpcore.save_model(model, tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as data:
        arrays = {k: data[k] for k in data.files}
    header = json.loads(str(arrays["header"]))
    k = next(i for i, spec in enumerate(header["layers"]) if spec["type"] == "ChannelPermute")
    header["layers"][k]["perm"] = [0, 0, 1, 3]
    arrays["header"] = np.array(json.dumps(header))
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ModelFormatError, match=f"layer {k}.*permutation"):
        lrpcore.load_model(tmp_path / "bad.npz")



def _gather(index, axis=1, after=None):
    """Gather(c, index) along ``axis``, then ``after`` (default: Unsqueeze(1)) writing 's'."""
    nodes = [helper.make_node("Gather", ["c", "i"], ["g"], name="pick", axis=axis)]
    nodes.append(after or helper.make_node("Unsqueeze", ["g", "ax"], ["s"], name="back"))
    return nodes, [_ints("i", index), _ints("ax", [1])]


def test_one_gathered_channel_unsqueezed_back_is_a_channel_slice(tmp_path):
    """``torch.unsqueeze(x[:, c], 1)`` (GoogLeNet's transform_input): was refused."""
    nodes, inits = _gather(2)
    model = lrpcore.load_model(_save(tmp_path, nodes, inits, ("N", 1)))
    assert "ChannelSlice 2:3" in [n.layer.describe() for n in model.nodes]
    x = np.random.default_rng(2).random((2, 3, 4, 4))
    fw = lrpcore.Explainer(model, dtype="float64").forward(x, raw=True)
    np.testing.assert_allclose(fw.outputs()[:, 0], x.sum(1).mean((1, 2)))


@pytest.mark.parametrize("index, axis, text", [
    ([0, 2], 1, "only consecutive channels"),
    (1, 2, "only consecutive channels"),
    (7, 1, "only consecutive channels"),
])
def test_a_gather_of_other_than_consecutive_channels_is_refused(tmp_path, index, axis, text):
    nodes, inits = _gather(index, axis)
    with pytest.raises(ModelFormatError, match=f"'pick'.*{text}"):
        lrpcore.load_model(_save(tmp_path, nodes, inits, ("N", 1)))


def test_a_gathered_channel_read_by_anything_but_unsqueeze_is_refused(tmp_path):
    """Its N×H×W tensor is never computed: only the Unsqueeze(1) after it may read it."""
    nodes, inits = _gather(0, after=helper.make_node("Relu", ["g"], ["s"], name="relu"))
    with pytest.raises(ModelFormatError, match="'relu'") as info:
        lrpcore.load_model(_save(tmp_path, nodes, inits, ("N", 1)))
    assert "\n" not in str(info.value)
