"""A Pad that reads a ReLU6 (Clip) or ReLU output nothing else reads clamps while it copies
(lrpcore.graph.clamps_absorbed): the clamp's own output is never made, forward or back, and
every result keeps its values."""

from __future__ import annotations

import numpy as np
import pytest

from lrpcore import kernels
from lrpcore.explain import Explainer, resolve_rules
from lrpcore.graph import GraphModel, Node, clamps_absorbed
from lrpcore.graph_layers import Clip
from lrpcore.layers import Convolution, Flatten, Pad, Rect
from lrpcore.zoo import efficientnet_lite0, mnist_resnet

RULES = ("EpsilonPlus", "EpsilonGammaBox", "epsilon:0.01")


def _explain(model, x, rule):
    ex = Explainer(model, "numpy", x.dtype)
    fwd = ex.forward(x, raw=True)
    return fwd.output, fwd.relevance(resolve_rules(ex.layers, rule), "pred")


def _unfused(monkeypatch, fn):
    """fn() with no pad absorbing a clamp (the engine before the fusion)."""
    with monkeypatch.context() as m:
        m.setattr(Pad, "absorbs", lambda self, before: False)
        return fn()


def test_every_relu6_before_a_pad_in_efficientnet_is_absorbed():
    nodes = efficientnet_lite0(size=64).analysis_nodes()
    found = clamps_absorbed(nodes)
    pads = [k for k, n in enumerate(nodes) if isinstance(n.layer, Pad)]
    assert len(found) == 16 and sorted(found) == pads[1:]  # all but the input's padding
    for k, j in found.items():
        assert isinstance(nodes[k].layer, Pad) and isinstance(nodes[j].layer, Clip)
        assert nodes[k].inputs == (nodes[j].output,)


@pytest.mark.parametrize("dtype", (np.float32, np.float64))
@pytest.mark.parametrize("size", (64, 96))  # 96: tensors large enough for compiled kernels
def test_an_absorbed_clip_never_runs_and_nothing_changes(monkeypatch, dtype, size):
    model = efficientnet_lite0(size=size)
    nodes = model.analysis_nodes()
    absorbed = {id(nodes[j].layer) for j in clamps_absorbed(nodes).values()}
    x = np.random.default_rng(0).uniform(-1, 1, (1, 3, size, size)).astype(dtype)
    if size == 96:
        assert 48 * 48 * 32 >= kernels.CPU_KERNEL_SIZE  # the stem's ReLU6 takes the kernels
    expected = {r: _unfused(monkeypatch, lambda r=r: _explain(model, x, r)) for r in RULES}
    ran, in_pad = [], []  # ReLU6s run on their own; ReLU6s run inside a pad (small tensors)
    clip_forward, pad_forward = Clip.forward, Pad.forward

    def clip_counting(self, a, xp):
        (in_pad if in_pad_now else ran).append(id(self))
        return clip_forward(self, a, xp)

    def pad_marking(self, a, xp, clamped_by=None):
        nonlocal in_pad_now
        in_pad_now = True
        try:
            return pad_forward(self, a, xp, clamped_by)
        finally:
            in_pad_now = False

    in_pad_now = False
    monkeypatch.setattr(Clip, "forward", clip_counting)
    monkeypatch.setattr(Pad, "forward", pad_marking)
    for rule, (out, R) in expected.items():
        got_out, got_R = _explain(model, x, rule)
        assert np.array_equal(got_out, out)
        assert np.array_equal(got_R, R), rule
    assert ran and not absorbed & set(ran)  # the other ReLU6s still run
    assert set(in_pad) <= absorbed


def _chain(clip_read_twice=False):
    """conv → ReLU → pad → conv (→ + the ReLU's output again when ``clip_read_twice``)."""
    rng = np.random.default_rng(1)
    nodes = [Node("c1", Convolution(rng.normal(size=(3, 3, 2, 4)), rng.normal(size=4)),
                  ("x",), "a"),
             Node("relu", Rect(), ("a",), "r"),
             Node("pad", Pad((1, 2, 0, 1)), ("r",), "p"),
             Node("c2", Convolution(rng.normal(size=(3, 3, 4, 4)), rng.normal(size=4)),
                  ("p",), "b")]
    if clip_read_twice:
        from lrpcore.graph_layers import Add  # noqa: PLC0415

        nodes[3] = Node("c2", Convolution(rng.normal(size=(4, 2, 4, 4)), rng.normal(size=4)),
                        ("p",), "b")
        nodes.append(Node("add", Add(), ("b", "r"), "s"))
        nodes.append(Node("flat", Flatten(), ("s",), "y"))
    else:
        nodes.append(Node("flat", Flatten(), ("b",), "y"))
    return GraphModel(nodes, "x", "y")


def test_a_relu_read_by_another_node_or_kept_is_not_absorbed():
    assert clamps_absorbed(_chain().nodes) == {2: 1}
    assert clamps_absorbed(_chain(clip_read_twice=True).nodes) == {}
    model = _chain()
    x = np.random.default_rng(2).normal(size=(2, 9, 9, 2))
    kept = model.run(x, np, keep={"r", "p", "y"})
    assert set(kept) == {"r", "p", "y"}  # a kept ReLU output is still made
    assert np.array_equal(kept["p"][:, 1:8, 0:7], np.maximum(kept["r"], 0))
    every = model.run(x, np, keep=True)
    assert np.array_equal(model.run(x, np), every["y"])


def test_the_fused_pad_keeps_nan_and_the_numpy_path_agrees():
    """Small tensors take numpy's clip then pad, large ones the compiled kernel: same values."""
    layer = Pad((1, 0, 2, 1), value=-3.0)
    for shape in ((1, 5, 6, 3), (2, 64, 80, 8)):
        x = np.random.default_rng(3).normal(size=shape).astype(np.float32) * 8
        x.flat[::7] = np.nan
        for clamp in (Clip(0.0, 6.0), Rect()):
            fused = layer.forward(x, np, clamped_by=clamp)
            apart = layer.forward(clamp.forward(x, np), np)
            assert np.array_equal(fused, apart, equal_nan=True)


def test_the_resnets_relu_before_its_second_padding_is_absorbed_and_digits_agree(monkeypatch):
    model = mnist_resnet()
    found = clamps_absorbed(model.analysis_nodes())
    assert found and all(isinstance(model.analysis_nodes()[j].layer, Rect)
                         for j in found.values())
    x = np.random.default_rng(4).uniform(0, 1, (16, 1, 28, 28))
    for rule in RULES:
        expected = _unfused(monkeypatch, lambda r=rule: _explain(model, x, r))
        got = _explain(model, x, rule)
        assert np.array_equal(got[0], expected[0]) and np.array_equal(got[1], expected[1])


@pytest.mark.parametrize("shape", ((2, 3, 5, 7), (1, 1, 4, 4), (3, 20, 4, 5)))
def test_channels_last_is_the_transpose_plane_by_plane_or_whole(shape):
    """Few channels are copied one plane at a time (faster), many by one transposing copy."""
    from lrpcore.graph_layers import ToChannelsLast  # noqa: PLC0415

    x = np.random.default_rng(5).normal(size=shape).astype(np.float32)
    y = ToChannelsLast().forward(x, np)
    assert y.flags.c_contiguous and np.array_equal(y, x.transpose(0, 2, 3, 1))


def test_the_forward_plan_is_remade_for_another_node_list_or_kept_set():
    """run remembers its plan for the last node list and kept set: a different list (here
    one without the pad-absorbing pair) or kept set must not reuse it."""
    model = _chain()
    x = np.random.default_rng(6).normal(size=(1, 9, 9, 2))
    fused = model.run(x, np)
    shorter = model.nodes[:2]  # conv → ReLU: the ReLU's output is the result
    assert np.array_equal(model.run(x, np, nodes=shorter), np.maximum(
        model.run(x, np, keep={"a"})["a"], 0))
    assert set(model.run(x, np, keep={"r", "y"})) == {"r", "y"}
    assert np.array_equal(model.run(x, np), fused)
