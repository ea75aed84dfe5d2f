"""The conservation report of a graph model: every node a row named by its node, and at each
merge (Add, Concat) what each input branch received. ``lrp explain --trace`` and the panel
showed only the merge's total, so the split the README promised was nowhere to be seen."""

from __future__ import annotations

import numpy as np
import pytest
from colour_models import colour_graph_model
from trace_cli import resnet_trace

from lrpcore import Explainer
from lrpcore.explain import resolve_rules
from lrpcore.graph import GraphModel, Node
from lrpcore.graph_layers import Concat
from lrpcore.insight.conservation import conservation_from_trace, format_conservation
from lrpcore.layers import Convolution, Flatten, Linear, Rect


def _sum(a):
    a = np.asarray(a)
    return a.reshape(a.shape[0], -1).sum(axis=1)


def test_each_branch_of_an_add_gets_its_own_row_value():
    model = colour_graph_model(16)  # "add" reads the depthwise branch and the stem (skip)
    x = np.random.default_rng(2).integers(0, 256, (2, 16, 16, 3)).astype(np.uint8)
    ex = Explainer(model, dtype="float64")
    fwd = ex.forward(ex.prepare(x), raw=True)
    _, trace = fwd.relevance(resolve_rules(ex.layers, "EpsilonPlus"), trace=True)
    rows = conservation_from_trace(trace, ex.layers)
    names = ex.layers.names
    assert [r.node for r in rows if r.sample == 0] == names[::-1]  # every node, by name
    k_add, k_dw, k_stem = (names.index(n) for n in ("add", "dw_relu", "stem_relu"))
    add = next(r for r in rows if r.sample == 1 and r.layer == k_add)
    assert [(src, name) for src, name, _ in add.branches] == [(k_dw, "dw_relu"),
                                                             (k_stem, "stem_relu")]
    # the depthwise branch is read by the Add only: it gets what its last node received;
    # the skip gets what the stem received minus what flowed back through the branch
    dw, skip = (v for _, _, v in add.branches)
    assert dw == pytest.approx(_sum(trace.outputs[k_dw])[1], rel=1e-12)
    k_pad = names.index("dw/pad")
    assert skip == pytest.approx(_sum(trace.outputs[k_stem])[1] - _sum(trace[k_pad])[1],
                                 rel=1e-9)
    assert dw + skip == pytest.approx(add.sum_in, rel=1e-12)
    assert all(r.branches == () for r in rows if r.layer != k_add)


def test_a_concat_splits_by_slices():
    rng = np.random.default_rng(4)
    nodes = [Node("a", Convolution(rng.normal(size=(3, 3, 1, 2)), np.zeros(2)), ("x",), "ya"),
             Node("a_relu", Rect(), ("ya",), "ra"),
             Node("b", Convolution(rng.normal(size=(3, 3, 1, 3)), np.zeros(3)), ("x",), "yb"),
             Node("cat", Concat(), ("ra", "yb"), "c"),
             Node("flat", Flatten(), ("c",), "f"),
             Node("fc", Linear(rng.normal(size=(6 * 6 * 5, 4)), np.zeros(4)), ("f",), "out")]
    from lrpcore.spec import InputSpec

    spec = InputSpec(shape=(8, 8, 1), raw_shape=(8, 8, 1), divide=1.0, offset=0.0)
    model = GraphModel(nodes, "x", "out", spec)
    ex = Explainer(model, dtype="float64")
    fwd = ex.forward(rng.uniform(0, 1, (3, 8, 8, 1)), raw=True)
    _, trace = fwd.relevance(resolve_rules(ex.layers, "epsilon:0.01"), trace=True)
    rows = conservation_from_trace(trace, ex.layers)
    cat = [r for r in rows if r.node == "cat"]
    joined = np.asarray(trace[3])  # relevance at the concat's inputs, joined along channels
    for r in cat:
        (ka, na, va), (kb, nb, vb) = r.branches
        assert (ka, na, kb, nb) == (1, "a_relu", 2, "b")
        assert va == pytest.approx(joined[r.sample, ..., :2].sum(), rel=1e-12)
        assert vb == pytest.approx(joined[r.sample, ..., 2:].sum(), rel=1e-12)
    a = next(r for r in rows if r.node == "a" and r.sample == 0)
    assert a.branches == ()
    text = format_conservation([r for r in rows if r.sample == 0])
    assert "↳ from node 1:" in text and "↳ from node 2:" in text


def test_explain_trace_prints_every_node_and_the_split_at_each_merge(tmp_path, capsys):
    out = resnet_trace(tmp_path, capsys, 2)
    block = out.split("sample 1:")[0].splitlines()
    nodes = [line.split()[-1] for line in block if line[:5].strip().isdigit()]
    assert len(nodes) == 30 and nodes[0] == "/fc/Gemm" and "/layer1/Add" in nodes
    for add in ("/layer1/Add", "/layer2/Add", "/layer3/Add"):
        i = next(i for i, line in enumerate(block) if line.endswith("  " + add))
        merged = float(block[i].split()[3])  # R at input of the Add
        branches = block[i + 1:i + 3]
        assert all("↳ from node" in b for b in branches)
        values = [float(b.split("%")[1].split()[0]) for b in branches]
        assert sum(values) == pytest.approx(merged, rel=1e-5)
        shares = [float(b.split(":")[1].split("%")[0]) for b in branches]
        assert sum(shares) == pytest.approx(100, abs=0.2)
    skip = next(line for line in block if "↳" in line and line.endswith("/relu/Relu"))
    assert "from node 3" in skip  # layer1's skip connection starts at the stem's ReLU


def test_a_batch_run_in_shards_reports_the_same_split():
    model = colour_graph_model(16)
    x = np.random.default_rng(5).integers(0, 256, (3, 16, 16, 3)).astype(np.uint8)
    whole, split = Explainer(model, dtype="float64", threads=1), \
        Explainer(model, dtype="float64", threads=2)
    split.shard_bounds = lambda n, shape: [(0, 1), (1, 3)]
    rows = []
    for ex in (whole, split):
        fwd = ex.forward(ex.prepare(x), raw=True)
        _, trace = fwd.relevance(resolve_rules(ex.layers, "EpsilonPlus"), trace=True)
        rows.append([r.branches for r in conservation_from_trace(trace, ex.layers)])
    assert type(trace).__name__ == "ShardedTrace"
    assert sum(1 for b in rows[1] if b) == 3  # the Add of each sample
    for a, b in zip(*rows, strict=True):
        assert [v for *_, v in a] == pytest.approx([v for *_, v in b], rel=1e-12)
