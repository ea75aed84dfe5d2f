"""A ``dynamo=True`` export names its nodes by operator (node_conv2d_1, n0); the PyTorch module
path read from its metadata (``layer.module_path``) was matched by --layer-rule and shown by
`lrp info` only: --trace, the conservation report and `lrp concepts --layer` knew only the
node names. The zoo ShuffleNet units (tests/data/zoo/shufflenet_{dynamo,ts}.onnx) are one
model exported with both exporters."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from lrpcore import concepts
from lrpcore.cli.main import main
from lrpcore.errors import RuleError
from lrpcore.explain import Explainer, resolve_rules
from lrpcore.insight import conservation, format_conservation
from lrpcore.io.models import load_classifier

ZOO = Path(__file__).parent / "data" / "zoo"


@pytest.fixture(scope="module")
def explainers():
    return {export: Explainer(load_classifier(ZOO / f"shufflenet_{export}.onnx"))
            for export in ("dynamo", "ts")}


@pytest.fixture
def shufflenet_inputs(tmp_path):
    x = tmp_path / "x.npy"
    np.save(x, np.load(ZOO / "shufflenet.npz")["x"])
    return x


def test_the_conservation_report_shows_each_nodes_module(explainers):
    """Its rows named node_conv2d_1, node_relu_1: which layer of the model was not said."""
    ex = explainers["dynamo"]
    fwd = ex.forward(np.load(ZOO / "shufflenet.npz")["x"][:1], raw=True)
    rows = conservation(fwd, resolve_rules(ex.layers, "EpsilonPlus"))
    by_layer = {row.layer: row for row in rows}
    assert by_layer[5].node == "node_conv2d_1"  # the name stays what keys and JSON take
    assert by_layer[5].module == "stage.0.branch1.0"
    assert by_layer[4].module == ""  # the importer's pad has none
    text = format_conservation(rows)
    assert re.search(r"  node \[module\]\n", text), text
    assert re.search(r"\n +5  Depthwise .*  node_conv2d_1 \[stage\.0\.branch1\.0\]\n", text)
    assert re.search(r"\n +4  Pad .*  node_conv2d_1/pad\n", text)
    # under the Concat, each branch by the node writing it (its tuple keeps the bare name)
    assert by_layer[14].branches[0][:2] == (7, "node_relu_1")
    assert re.search(r"↳ from node 7: .*  node_relu_1 \[stage\.0\.branch1\.4\]\n", text), text


def test_a_torchscript_trace_is_unchanged(tmp_path, capsys, shufflenet_inputs):
    """Its node names hold the module path already: no brackets, no [module] heading."""
    assert main(["explain", str(ZOO / "shufflenet_ts.onnx"), str(shufflenet_inputs), "--raw",
                 "--trace", "--quiet", "--out", str(tmp_path / "R.npy")]) == 0
    out = capsys.readouterr().out
    assert re.search(r"  node\n", out) and "[" not in out, out
    assert main(["explain", str(ZOO / "shufflenet_dynamo.onnx"), str(shufflenet_inputs),
                 "--raw", "--trace", "--quiet", "--out", str(tmp_path / "D.npy")]) == 0
    assert "node_relu_6 [conv5.2]" in capsys.readouterr().out


@pytest.mark.parametrize(("key", "k"), [("conv5.2", 27), ("conv5.0", 26), ("fc", 30),
                                        ("node_relu_6", 27), (27, 27)])
@pytest.mark.parametrize("export", ["dynamo", "ts"])
def test_concepts_layer_takes_a_module_path(explainers, key, k, export):
    """'no layer is named 'conv5.2' (layers to choose: ... node_relu_6, ...)': the module
    path --layer-rule took was refused here. A TorchScript export's name holds it."""
    ex = explainers[export]
    if export == "ts" and key == "node_relu_6":
        key = "/conv5/conv5.2/Relu"
    assert concepts.resolve_layer(ex, key) == k


@pytest.mark.parametrize("export", ["dynamo", "ts"])
def test_a_module_path_of_several_layers_is_refused_with_them(explainers, export):
    """stage.0 holds the Concat and the channel shuffle after it: which was meant is asked,
    not guessed."""
    from lrpcore.explain import layer_labels

    ex = explainers[export]
    labels = layer_labels(ex.layers)
    with pytest.raises(RuleError) as err:
        concepts.resolve_layer(ex, "stage.0")
    assert str(err.value) == (f"module path 'stage.0' names 2 layers: 14 {labels[14]}, "
                              f"15 {labels[15]}; give one's node name or index")
    if export == "dynamo":
        assert labels[14] == "node_cat [stage.0]"


def test_concepts_cli_says_the_node_a_module_path_resolved_to(tmp_path, capsys,
                                                             shufflenet_inputs):
    assert main(["concepts", str(ZOO / "shufflenet_dynamo.onnx"), str(shufflenet_inputs),
                 "--raw", "--layer", "conv5.2", "--out", str(tmp_path / "c")]) == 0
    assert capsys.readouterr().out.startswith("layer 27 (node_relu_6 [conv5.2]): 16 channels")
    assert main(["concepts", str(ZOO / "shufflenet_dynamo.onnx"), str(shufflenet_inputs),
                 "--raw", "--layer", "stage.0.branch1.4", "--out", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err  # bypassed by the other branch: the offered ones by module
    assert "layer 'node_relu_1 [stage.0.branch1.4]' is bypassed" in err, err
    assert "node_cat [stage.0]" in err, err
