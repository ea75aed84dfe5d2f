"""Conservation of a graph model shown across cuts. A node's own sum is only what flows through
that node: at a residual block the rest is on the skip branch, so the plot dipped at every
branch (MNIST ResNet's layer3 downsample convolution: 0.03 where 3.2 flow) as if relevance
had been lost. The total at a node's input is now the relevance crossing the cut there (every
edge from a node before it into one at or after it); a chain's stays its layer's input sum."""

from __future__ import annotations

import numpy as np
import pytest
from shared_data import shared_path
from test_insight import conv_model
from trace_cli import resnet_trace

from lrpcore import Explainer
from lrpcore.explain import resolve_rules
from lrpcore.graph import GraphModel, Node
from lrpcore.graph_layers import Add
from lrpcore.insight.conservation import conservation_from_trace
from lrpcore.insight.diagnose import diagnose
from lrpcore.layers import Linear, Rect
from lrpcore.spec import InputSpec


def _rows(model, x, rule, raw=True):
    ex = Explainer(model, dtype="float64")
    fwd = ex.forward(x, raw=raw)
    _, trace = fwd.relevance(resolve_rules(ex.layers, rule), trace=True)
    rows = conservation_from_trace(trace, ex.layers)
    return fwd, [[r for r in rows if r.sample == s][::-1] for s in range(len(x))]


def _skip_model(bias=0.0):
    """The model input feeds a weak branch (Linear → ReLU) and, directly, the Add: the skip
    carries most of the relevance."""
    rng = np.random.default_rng(3)
    nodes = [Node("branch", Linear(rng.uniform(0, 0.05, (6, 6)), np.full(6, bias)), ("x",), "b"),
             Node("branch_relu", Rect(), ("b",), "r"),
             Node("add", Add(), ("r", "x"), "s"),
             Node("fc", Linear(rng.uniform(0.2, 1, (6, 3)), np.full(3, bias)), ("s",), "out")]
    spec = InputSpec(shape=(6,), raw_shape=(6,), divide=1.0, offset=0.0)
    return GraphModel(nodes, "x", "out", spec)


def _uniform(n):
    return np.random.default_rng(5).uniform(0.5, 1, (n, 6))


def test_the_cut_carries_the_skip_of_a_hand_built_add():
    _, per_sample = _rows(_skip_model(), _uniform(2), "epsilon:1e-9")
    for rows in per_sample:
        f = rows[0].explained
        # no biases, ε negligible: every cut carries f(x), the branch's own nodes a small part
        assert [r.cut for r in rows] == pytest.approx([f] * 4, rel=1e-5)
        assert rows[0].sum_in < 0.2 * f and rows[1].sum_in < 0.2 * f


def test_cuts_change_only_by_what_nodes_absorb():
    _, per_sample = _rows(_skip_model(bias=0.3), _uniform(3), "epsilon:0.01")
    for rows in per_sample:
        cuts = [r.cut for r in rows] + [rows[0].explained]
        for k, r in enumerate(rows):
            assert cuts[k] - cuts[k + 1] == pytest.approx(r.created, abs=1e-12)
        assert cuts[0] < 0.9 * rows[0].explained  # the biases took their part


def test_the_diagnosis_totals_the_cut_at_the_input():
    """The total ratio divided node 0's input sum (the weak branch only) by f(x)."""
    fwd, per_sample = _rows(_skip_model(bias=0.3), _uniform(3), "epsilon:0.01")
    d = diagnose(fwd, "epsilon:0.01")
    want = np.median([rows[0].cut / rows[0].explained for rows in per_sample])
    assert d.total_ratio == pytest.approx(want, rel=1e-9)
    assert d.total_ratio > 0.5  # node 0 alone had a few per cent


@pytest.mark.parametrize("rule", ["EpsilonPlus", "epsilon:0.01"])
def test_mnist_resnet_cuts_have_no_dip_at_a_branch(rule):
    model_file = shared_path("models", "torch_onnx", "mnist_resnet.onnx")
    x = np.load(shared_path("reference", "mnist_resnet_dev.npz"))["x"][:2]
    from lrpcore import load_model

    _, per_sample = _rows(load_model(str(model_file)), x, rule)
    for rows in per_sample:
        cuts = [r.cut for r in rows] + [rows[0].explained]
        scale = max(abs(c) for c in cuts)
        # f(x) minus what the nodes absorbed (plus what they created), node by node
        for k, r in enumerate(rows):
            assert cuts[k] - cuts[k + 1] == pytest.approx(r.created, abs=1e-9 * scale)
        assert cuts[0] == pytest.approx(rows[0].explained + sum(r.created for r in rows),
                                        abs=1e-9 * scale)
        down = next(r for r in rows if r.node == "/layer3/downsample/downsample.0/Conv")
        assert abs(down.sum_in) < 0.25 * abs(down.cut)  # the node alone: the dip shown before
        # nodes that neither absorb nor create (ReLU, pads, the Adds) leave the cut as it is
        for k, r in enumerate(rows):
            if abs(r.created) < 1e-12 * scale:
                assert cuts[k] == pytest.approx(cuts[k + 1], abs=1e-9 * scale)
        if rule == "EpsilonPlus":  # below the classifier nodes mostly absorb: from the
            body = cuts[:-2]      # input up the cut grows, give or take 1 % (no dip at all)
            nodes = [r.sum_in for r in rows[:-1]]  # what the plot drew: a dip at each branch
            assert _rising(body, 0.01 * scale) and not _rising(nodes, 0.01 * scale)


def _rising(values, slack) -> bool:
    return all(a <= b + slack for a, b in zip(values[:-1], values[1:], strict=True))


def test_a_chain_keeps_its_layer_sums_exactly():
    rng = np.random.default_rng(7)
    model = conv_model(rng)
    x = rng.uniform(-1, 1, (3, 8, 8, 2))
    fwd, per_sample = _rows(model, x, "epsilon:0.01")
    for rows in per_sample:
        assert [r.cut for r in rows] == [r.sum_in for r in rows]  # exactly
    d = diagnose(fwd, "epsilon:0.01")
    want = np.median([rows[0].sum_in / rows[0].explained for rows in per_sample])
    assert d.total_ratio == want


def test_explain_trace_prints_the_cut(tmp_path, capsys):
    lines = resnet_trace(tmp_path, capsys, 1).splitlines()
    head = next(line for line in lines if line.lstrip().startswith("layer"))
    assert "ΣR across the cut" in head
    f = float(lines[0].split("=")[1].split(",")[0])  # "f(x) = F, ΣR across the cut … = C"
    rows = [line.split() for line in lines if line[:5].strip().isdigit()]
    cuts = {r[-1]: float(r[-2]) for r in rows}
    created = {r[-1]: float(r[-5]) for r in rows}
    assert cuts["/fc/Gemm"] == pytest.approx(f + created["/fc/Gemm"], rel=1e-5)
    down = "/layer3/downsample/downsample.0/Conv"
    assert cuts[down] > 0.9 * cuts["/layer3/Add"] > 0  # no dip at the downsample branch
