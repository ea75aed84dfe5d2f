"""Small files and runs the hostile tests build again and again: an ONNX graph saved from its
nodes, a feature extractor (an ONNX model without a classifier head), a finished relevance
store of four 28×28 maps, and `lrp concepts` on six random digits."""

from __future__ import annotations

import numpy as np


def save_onnx_graph(path, nodes, inits, in_shape, out_shape, opset=17):
    """An ONNX model of ``nodes`` (input "x", output as the last node names it) saved at
    ``path``; returns ``path``."""
    import onnx  # noqa: PLC0415 (the callers skip without it)
    from onnx import TensorProto, helper  # noqa: PLC0415

    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(in_shape))],
        [helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.FLOAT,
                                       list(out_shape))], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]),
              str(path))
    return path


def save_feature_extractor(path, side):
    """An ONNX model whose output is a map, not class scores: one 3×3 convolution of a
    1 × side × side input into four channels; returns ``path``."""
    import onnx  # noqa: PLC0415 (the callers skip without it)

    W = onnx.numpy_helper.from_array(np.ones((4, 1, 3, 3), np.float32), "W")
    conv = onnx.helper.make_node("Conv", ["x", "W"], ["y"], name="features")
    return save_onnx_graph(path, [conv], [W], [1, 1, side, side], [1, 4, side - 2, side - 2])


def run_concepts_on_digits(tmp_path, capsys):
    """``lrp concepts`` on six random digits into ``tmp_path/c`` (must succeed); returns
    the output folder."""
    from lrpcore.cli.main import main  # noqa: PLC0415

    x = tmp_path / "x.npy"
    np.save(x, np.random.RandomState(0).randint(0, 255, (6, 28, 28)).astype(np.uint8))
    out = tmp_path / "c"
    assert main(["concepts", "mnist-lenet5", str(x), "--layer", "convolution1", "--top", "1",
                 "--references", "2", "--out", str(out)]) == 0, capsys.readouterr().err
    assert (out / "references" / "references.npz").exists()
    return out


def finished_relevance_store(out):
    """A complete relevance store at ``out``: 4 samples of 28×28×1 in one chunk, all done."""
    from lrpcore.distributed import prepare_store  # noqa: PLC0415 (needs zarr)

    key = {"n": 4, "chunk": 4, "input": "digits.npy", "rule": None, "layer_rules": [],
           "dtype": "float32", "model_sha256": "0" * 64}
    g = prepare_store(out, key, (4, 28, 28, 1), 10, "float32", {"model": "m.npz"}, False)
    g["relevance"][:] = np.random.RandomState(0).rand(4, 28, 28, 1).astype(np.float32)
    g["done"][:] = 1
    return out
