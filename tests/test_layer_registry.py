"""One layer protocol: every kind registered once with its role, native fields and ONNX
operators; the importer's operator table, the README and the code agree; no module switches
on kind names; an unknown kind or role is an error, never a silent pass-through."""

from __future__ import annotations

import json
import pathlib
import re

import numpy as np
import pytest

import lrpcore
from lrpcore import ModelFormatError, RuleError
from lrpcore.graph_layers import Add
from lrpcore.layers import LAYER_KINDS, ROLES, Layer, Linear, Rect, register_layer
from lrpcore.model import Sequential
from lrpcore.spec import InputSpec

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_every_kind_declares_a_role_and_is_registered_once():
    assert {"Linear", "Convolution", "SumPool", "MaxPool", "Pad", "Rect", "Tanh", "SoftMax",
            "Flatten", "Add", "Mean", "Concat", "MeanPool", "Affine", "GroupedConvolution",
            "Clip", "LeakyReLU", "ToChannelsLast", "FlattenChannelsFirst"} <= set(LAYER_KINDS)
    for kind, cls in LAYER_KINDS.items():
        assert cls.kind == kind and cls.role in ROLES
    with pytest.raises(ValueError, match="registered already"):
        register_layer(type("Other", (Rect,), {"kind": "Rect"}))

    class Mystery(Layer):
        kind = "Mystery"

    with pytest.raises(ValueError, match="no LRP role"):
        register_layer(Mystery)


def test_onnx_operators_of_the_registry_are_the_importers():
    pytest.importorskip("onnx")
    from lrpcore.io.onnx_graph import IMPORT_ONLY, OPERATORS

    declared = {op for cls in LAYER_KINDS.values() for op in cls.onnx_ops}
    assert declared <= set(OPERATORS), declared - set(OPERATORS)
    assert set(OPERATORS) <= declared | set(IMPORT_ONLY), set(OPERATORS) - declared


def test_readme_lists_the_supported_operators_from_the_registry():
    pytest.importorskip("onnx")
    from lrpcore.io.onnx_graph import operators_markdown

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert operators_markdown() in readme, (
        "README's ONNX operator table is stale: regenerate it with "
        "python3 -c 'from lrpcore.io.onnx_graph import operators_markdown as m; print(m())'")


def test_an_unsupported_operator_lists_the_supported_ones(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Hardmax", ["x"], ["y"], name="hardmax")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])])
    path = tmp_path / "hardmax.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    with pytest.raises(ModelFormatError, match=r"operator Hardmax is not supported \(supported: "
                                               r"Abs, Add, AveragePool, .*GlobalMaxPool"):
        lrpcore.load_model(path)


def test_no_module_switches_on_layer_kind_names():
    """``kind == "Linear"`` and the like: every such decision belongs to the layer class."""
    pattern = re.compile(r"""kind\s*(==|!=|in)\s*\(?\s*["']([A-Z][A-Za-z]+)["']""")
    found = []
    for folder in ("lrpcore", "lrpgui"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                m = pattern.search(line)
                if m and m.group(2) in LAYER_KINDS:
                    found.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not found, "\n".join(found)


def test_a_layer_without_a_known_role_is_an_error_not_a_pass_through():
    class Halve(Layer):
        kind = "Halve"

        def forward(self, x, xp):
            return x / 2

    model = Sequential([Linear(np.eye(3), np.zeros(3)), Halve()],
                       InputSpec(shape=(3,), raw_shape=(3,), layout="flat"))
    with pytest.raises(RuleError, match="Halve"):
        lrpcore.explain(model, np.ones((1, 3)), rule="epsilon", raw=True)


def test_native_files_of_every_graph_kind_round_trip(tmp_path):
    """Each kind's native fields and parameters come back as the same layer."""
    from lrpcore.graph import GraphModel, Node
    from lrpcore.graph_layers import Affine, Clip, Concat, GroupedConvolution, LeakyReLU, MeanPool
    from lrpcore.layers import Convolution, Pad

    rng = np.random.default_rng(3)
    nodes = [Node("pad", Pad((1, 0, 0, 1), 0.5), ("x",), "a"),
             Node("conv", Convolution(rng.normal(size=(2, 2, 2, 4)), rng.normal(size=4)),
                  ("a",), "b"),
             Node("dw", GroupedConvolution(rng.normal(size=(1, 1, 1, 4)), rng.normal(size=4),
                                           groups=4), ("b",), "c"),
             Node("clip", Clip(-1.0, 2.0), ("c",), "d"),
             Node("leaky", LeakyReLU(0.2), ("d",), "e"),
             Node("bn", Affine(rng.normal(size=4), rng.normal(size=4)), ("e",), "f"),
             Node("add", Add(), ("f", "b"), "g"),
             Node("cat", Concat(), ("g", "c"), "h"),
             Node("pool", MeanPool((2, 2), (1, 1)), ("h",), "y")]
    model = GraphModel(nodes, "x", "y", InputSpec(shape=(3, 3, 2), raw_shape=(3, 3, 2),
                                                           layout="NHWC"))
    lrpcore.save_model(model, tmp_path / "g.npz")
    again = lrpcore.load_model(tmp_path / "g.npz")
    assert [type(n.layer) for n in again.nodes] == [type(n.layer) for n in nodes]
    x = rng.normal(size=(2, 3, 3, 2))
    np.testing.assert_array_equal(again.forward(x), model.forward(x))
    header = json.loads(str(np.load(tmp_path / "g.npz")["header"]))
    header["layers"][3]["type"] = "Bogus"
    np.savez(tmp_path / "bad.npz", header=np.array(json.dumps(header)),
             **{k: v for k, v in np.load(tmp_path / "g.npz").items() if k != "header"})
    with pytest.raises(ModelFormatError, match="header layer 3: unknown layer type 'Bogus'"):
        lrpcore.load_model(tmp_path / "bad.npz")
