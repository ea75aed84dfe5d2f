"""The conservation warnings name a graph node by its name, not only by its index in the
topological order (acceptance review: `lrp explain efficientnet_lite0.onnx` warned about
"layer 104 (Depthwise convolution …)", and finding node 104 among 112 meant counting the
rows of `lrp info`; --layer-rule and the trace address nodes by name)."""

from __future__ import annotations

import numpy as np

import lrpcore
from lrpcore import zoo
from lrpcore.explain import resolve_rules
from lrpcore.insight.diagnose import Accumulator


def _findings(model, rule):
    x = np.random.default_rng(0).integers(0, 256, (4, 28, 28, 1), dtype=np.uint8)
    ex = lrpcore.Explainer(model, "numpy", "float64")
    config = resolve_rules(ex.layers, rule)
    fwd = ex.forward(x)
    _, trace = fwd.relevance(config, trace=True)
    acc = Accumulator(ex.layers, config)
    acc.add(trace)
    return acc.result().findings, ex.layers


def test_graph_warnings_name_the_node():
    findings, layers = _findings(zoo.mnist_resnet(seed=1), "epsilon:1")
    assert findings, "a large ε absorbs relevance: something to report"
    for f in findings:
        assert f"node {layers.names[f.layer]}" in f.text()


def test_chain_warnings_keep_their_wording():
    findings, _ = _findings(lrpcore.load_model("mnist-lenet5"), "alphabeta:2")
    assert findings and all("node" not in f.text() for f in findings)
