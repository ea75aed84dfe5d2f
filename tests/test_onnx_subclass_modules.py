"""A subclass of a PyTorch activation or pooling module (``class SubReLU(nn.ReLU)``) is hooked
by zennit as its base (its types match subclasses: Pass, Norm). A ``dynamo=True`` export's
class hierarchy names only the subclass, so it was read as a call in a ``forward`` (zennit's
gradient) and the zoo's ``subclass_dynamo`` was 0.55–1.7 × max|R| off; the stack trace dynamo
records by default says the operator is written in ``torch/nn/modules/activation.py`` (or
``pooling.py``), the base's forward, and the engine now reads it as the module (within 5e-8,
tests/test_zoo_reference.py). Without stack traces (stripped, as the zoo's other files) a
subclass still reads as a call."""

from __future__ import annotations

from pathlib import Path

import pytest

from lrpcore import load_model

onnx = pytest.importorskip("onnx")

ZOO = Path(__file__).parent / "data" / "zoo"
TRACE = "pkg.torch.onnx.stack_trace"


def _marks(path):
    model = load_model(path)
    return [(n.layer.kind, getattr(n.layer, "functional", False)) for n in model.nodes
            if n.layer.kind in ("Rect", "MeanPool", "PartialMeanPool")]


def _fixture():
    path = ZOO / "subclass_dynamo.onnx"
    if not path.exists():
        pytest.skip("zoo fixture subclass_dynamo is missing")
    return path


def test_subclasses_of_torch_modules_are_modules():
    # SubReLU, SubAvgPool (padded: a Pad and a pool), F.relu, the AdaptiveAvgPool2d module
    assert _marks(_fixture()) == [("Rect", False), ("MeanPool", False), ("Rect", True),
                                  ("MeanPool", False)]


def test_without_stack_traces_a_subclass_reads_as_a_call(tmp_path):
    proto = onnx.load(_fixture())
    for node in proto.graph.node:
        keep = [p for p in node.metadata_props if p.key != TRACE]
        del node.metadata_props[:]
        node.metadata_props.extend(keep)
    path = tmp_path / "stripped.onnx"
    onnx.save(proto, path)
    assert _marks(path) == [("Rect", True), ("MeanPool", True), ("Rect", True),
                            ("MeanPool", False)]
