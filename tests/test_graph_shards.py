"""Graph models on the CPU: a batch runs as parallel shards, and cheap tensors are recomputed
instead of kept — neither may change a result."""

import numpy as np
import pytest

from lrpcore import graph_tensors
from lrpcore.explain import Explainer
from lrpcore.graph import clamps_absorbed
from lrpcore.graph_tensors import TensorStore
from lrpcore.parallel import MIN_SHARD_BYTES
from lrpcore.zoo import efficientnet_lite0, mnist_resnet


@pytest.fixture(scope="module")
def small_efficientnet():
    # the real architecture (depthwise, Pad, ReLU6, residual Adds) at a small input size
    return efficientnet_lite0(None, size=64)


def _batch(model, n, seed=0):
    shape = model.input_spec.shape
    return np.random.default_rng(seed).uniform(-1, 1, size=(n,) + tuple(shape))


@pytest.mark.parametrize("rule", ["EpsilonPlus", "EpsilonGammaBox", "epsilon:0.01"])
def test_shards_give_the_relevance_of_one_pass(small_efficientnet, rule):
    x = _batch(small_efficientnet, 5)
    whole = Explainer(small_efficientnet, threads=1).forward(x, raw=True)
    split = Explainer(small_efficientnet, threads=2)
    split.shard_bounds = lambda n, shape: [(0, 2), (2, 3), (3, 5)]  # three uneven shards
    sharded = split.forward(x, raw=True)
    assert len(whole.shards) == 1 and len(sharded.shards) == 3
    R1, t1 = whole.relevance(rule, trace=True)
    R3, t3 = sharded.relevance(rule, trace=True)
    # a product of one sample's rows may be summed differently by BLAS than the same rows
    # in a batch of five (OpenBLAS's AVX-512 kernels for small matrices): relevance that is
    # a difference of larger terms then differs in the 12th digit (2e-12 of max|R| with
    # epsilon, 8e-14 at a node where EpsilonPlus's relevance is 3e-4 of 9e-3); a shard that
    # got the wrong samples or rows would differ in the first
    scale = np.abs(R1).max()
    assert np.abs(R1 - R3).max() <= 1e-10 * scale
    for a, b in zip(t1.outputs, t3.outputs, strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            assert a.shape == b.shape and np.allclose(a, b, rtol=1e-10, atol=1e-10 * scale)
    y = whole.outputs()  # BLAS may block a batch of 2 differently from one of 5: rounding
    np.testing.assert_allclose(sharded.outputs(), y, rtol=1e-10, atol=1e-12 * np.abs(y).max())


def test_a_condition_with_a_batch_axis_is_sliced_per_shard():
    model = mnist_resnet()
    x = _batch(model, 4, seed=1)
    ex = Explainer(model, threads=2)
    ex.shard_bounds = lambda n, shape: [(0, 1), (1, 4)]
    fwd = ex.forward(x, raw=True)
    assert len(fwd.shards) == 2
    k = len(ex.nodes) // 2
    masks = np.zeros(fwd.activations[k + 1].shape)
    masks[0] = 1  # the first sample passes everything at node k, the others nothing
    condition = {ex.nodes[k].name: masks}
    one_pass = Explainer(model, threads=1).forward(x, raw=True)
    R = fwd.relevance("EpsilonPlus", condition=condition)
    assert np.allclose(R, one_pass.relevance("EpsilonPlus", condition=condition), rtol=1e-10,
                       atol=1e-14)
    plain = one_pass.relevance("EpsilonPlus")
    assert np.allclose(R[0], plain[0]) and not np.allclose(R[1:], plain[1:])


def test_large_samples_shard_one_by_one_and_small_ones_as_chains(small_efficientnet):
    big = Explainer(efficientnet_lite0(None), threads=2)
    assert big.shard_bounds(4, (3, 224, 224)) == [(0, 1), (1, 2), (2, 3), (3, 4)]
    assert big.shard_bounds(1, (3, 224, 224)) == [(0, 1)]
    small = Explainer(mnist_resnet(), threads=2)
    per_digit = small.sample_bytes((1, 28, 28))
    assert len(small.shard_bounds(2, (1, 28, 28))) == 1  # too little work to be worth it
    for n in (2, 4, 8, 16, 256):
        bounds = small.shard_bounds(n, (1, 28, 28))
        assert len(bounds) == 1 or all((b - a) * per_digit >= MIN_SHARD_BYTES
                                       for a, b in bounds), (n, bounds)
    assert len(small.shard_bounds(16, (1, 28, 28))) == 2  # two cores for a batch of 16
    assert len(small.shard_bounds(256, (1, 28, 28))) >= 2
    assert Explainer(efficientnet_lite0(None), threads=1).shard_bounds(4, (3, 224, 224)) == \
        [(0, 4)]


def test_activation_and_pad_outputs_are_recomputed_not_kept(small_efficientnet, monkeypatch):
    monkeypatch.setattr(graph_tensors, "KEEP_REMADE_BYTES", 0)  # as a large pass
    ex = Explainer(small_efficientnet, threads=1)
    x = _batch(small_efficientnet, 2)
    fwd = ex.forward(x, raw=True)
    store = fwd.stores[0]
    assert isinstance(store, TensorStore)
    cheap = [n for n in ex.nodes[:-1] if n.layer.kind in ("Clip", "Pad")]
    assert cheap and not any(store.is_stored(n.output) for n in cheap)
    # yet every tensor is there on request, equal to a forward pass that keeps everything
    full = small_efficientnet.run(ex.device_input(x, raw=True), np, nodes=ex.nodes, keep=True)
    for k, node in enumerate(ex.nodes):
        assert np.array_equal(fwd.activations[k + 1], full[node.output])
        assert store.shape(node.output) == full[node.output].shape
    everything = sum(a.nbytes for a in full.values()) // 2
    assert ex.sample_bytes(x.shape[1:]) < 0.6 * everything


def test_a_small_pass_keeps_what_it_makes_anyway(small_efficientnet, monkeypatch):
    """Up to KEEP_REMADE_BYTES a pass keeps the outputs it would remake (remaking costs a
    call per access, most of a digit's pass): all but the ReLU6 outputs a pad applies in its
    own pass, which are never made. The relevance is the same bits either way."""
    ex = Explainer(small_efficientnet, threads=1)
    x = _batch(small_efficientnet, 2)
    assert 0 < 2 * ex.remade_bytes(x.shape[1:]) <= graph_tensors.KEEP_REMADE_BYTES
    store = ex.forward(x, raw=True).stores[0]
    pads = [n for n in ex.nodes[:-1] if n.layer.kind == "Pad"]
    assert pads and all(store.is_stored(n.output) for n in pads)
    absorbed = {ex.nodes[j].output for j in clamps_absorbed(ex.nodes).values()}
    assert absorbed and not any(store.is_stored(name) for name in absorbed)
    kept = ex.forward(x, raw=True).relevance("EpsilonPlus", "pred")
    monkeypatch.setattr(graph_tensors, "KEEP_REMADE_BYTES", 0)
    remade = ex.forward(x, raw=True)
    assert not any(remade.stores[0].is_stored(n.output) for n in pads)
    assert np.array_equal(remade.relevance("EpsilonPlus", "pred"), kept)


def test_the_diagnosis_fetches_only_the_tensors_it_reads(small_efficientnet):
    from lrpcore.explain import resolve_rules
    from lrpcore.graph_tensors import LazyActivations
    from lrpcore.insight.diagnose import diagnose_trace

    ex = Explainer(small_efficientnet, threads=1)
    fwd = ex.forward(_batch(small_efficientnet, 1), raw=True)
    config = resolve_rules(ex.layers, "EpsilonPlus")
    _, trace = fwd.relevance(config, trace=True)
    acts = fwd.activations
    fetched = []

    def fetch(name):
        fetched.append(name)
        return acts._fetch(name)

    counting = LazyActivations([ex.model.input_name] + [n.output for n in ex.nodes],
                               [n.inputs[0] for n in ex.nodes], fetch)
    diagnose_trace(trace, ex.layers, config, counting)
    clips = {n.output for n in ex.nodes if n.layer.kind == "Clip"}
    # a Clip's output is read as the input of the next node (its sign), never as an output
    # (only linear maps' outputs give a scale): each at most once
    assert all(fetched.count(name) <= 1 for name in clips)
    assert len(fetched) < 2 * len(ex.nodes)


def test_views_of_a_graph_forward_pass_explain_as_the_graph_does():
    """Compare's one-sample and many-classes views of a cached pass (was: the chain engine's
    backward over the graph's nodes — a shape error, or silently wrong at merges)."""
    from lrpcore.insight.compare import class_relevance
    from lrpcore.insight.views import repeated_view, sample_view

    model = mnist_resnet()
    x = _batch(model, 3, seed=2)
    ex = Explainer(model, threads=2)
    ex.shard_bounds = lambda n, shape: [(0, 1), (1, 3)]
    fwd = ex.forward(x, raw=True)
    R = class_relevance(fwd, "EpsilonPlus", index=2, classes=[3, 5])
    for row, c in zip(R, [3, 5], strict=True):
        alone = Explainer(model).forward(x[2:3], raw=True).relevance("EpsilonPlus", target=c)
        assert np.allclose(row, alone[0], rtol=1e-10, atol=1e-14)
    one = sample_view(fwd, 1)
    assert np.allclose(one.relevance("EpsilonPlus"), fwd.relevance("EpsilonPlus")[1:2])
    assert repeated_view(one, 4).outputs().shape[0] == 4


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("k", [3, 5])
def test_depthwise_maps_equal_a_dense_convolution_with_diagonal_filters(stride, k):
    from lrpcore.graph_layers import GroupedConvolution
    from lrpcore.layers import Convolution

    rng = np.random.default_rng(k + stride)
    C = 6
    W = rng.normal(size=(k, k, 1, C))
    depthwise = GroupedConvolution(W, np.zeros(C), (stride, stride), groups=C)
    dense_w = np.zeros((k, k, C, C))
    dense_w[:, :, np.arange(C), np.arange(C)] = W[:, :, 0, :]
    dense = Convolution(dense_w, np.zeros(C), (stride, stride))
    x = rng.normal(size=(2, 13, 11, C))
    y = depthwise.fmap(x, W, np)
    assert np.allclose(y, dense.forward(x, np), rtol=1e-12, atol=1e-12)
    c = rng.normal(size=y.shape)
    g = depthwise.tmap(c, W, x.shape[1:], np)
    assert np.allclose(g, dense.tmap(c, dense.variant("w", np, np.float64), x.shape[1:], np),
                       rtol=1e-12, atol=1e-12)


def test_a_sharded_trace_is_diagnosed_shard_by_shard(small_efficientnet):
    from lrpcore.explain import resolve_rules
    from lrpcore.graph_tensors import ShardedTrace
    from lrpcore.insight.diagnose import diagnose_trace, sample_activations

    x = _batch(small_efficientnet, 3, seed=3)
    whole = Explainer(small_efficientnet, threads=1)
    split = Explainer(small_efficientnet, threads=2)
    split.shard_bounds = lambda n, shape: [(0, 1), (1, 3)]
    config = resolve_rules(whole.layers, "EpsilonPlus")
    f1, f2 = whole.forward(x, raw=True), split.forward(x, raw=True)
    _, t1 = f1.relevance(config, trace=True)
    _, t2 = f2.relevance(config, trace=True)
    assert isinstance(t2, ShardedTrace) and len(t2.shards) == 2  # not joined up front
    assert len(t2) == len(t1) and np.allclose(t2[-1], t1[-1]) and np.allclose(t2[3], t1[3])
    d1 = diagnose_trace(t1, whole.layers, config, sample_activations(f1))
    d2 = diagnose_trace(t2, split.layers, config, sample_activations(f2))
    assert d1.n == d2.n == 3
    assert np.isclose(d1.total_ratio, d2.total_ratio, rtol=1e-9)
    assert [f.layer for f in d1.findings] == [f.layer for f in d2.findings]
