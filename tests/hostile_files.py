"""Small files the hostile tests build again and again: an ONNX graph saved from its nodes,
and a finished relevance store of four 28×28 maps."""

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


def finished_relevance_store(out):
    """A complete relevance store at ``out``: 4 samples of 28×28×1 in one chunk, all done."""
    from lrpcore.distributed import prepare_store  # noqa: PLC0415 (needs zarr)

    key = {"n": 4, "chunk": 4, "input": "digits.npy", "rule": None, "layer_rules": [],
           "dtype": "float32", "model_sha256": "0" * 64}
    g = prepare_store(out, key, (4, 28, 28, 1), 10, "float32", {"model": "m.npz"}, False)
    g["relevance"][:] = np.random.RandomState(0).rand(4, 28, 28, 1).astype(np.float32)
    g["done"][:] = 1
    return out
