"""Dilated convolutions computed on their taps over the input's phase sub-grids
(lrpcore/graph_dilated.py) agree with the filter holding zeros between its taps
(tests/materialised_dilation.py, the form they replaced) in every map, rule and preset; they
load where the zero-filled filters were refused (DeepLab's atrous heads), and native files
written in the earlier form still read."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
from materialised_dilation import (
    MaterialisedConvolution,
    MaterialisedGroupedConvolution,
    dilate,
)

import lrpcore
from lrpcore import ModelFormatError, graph_dilated
from lrpcore.graph import GraphModel, Node
from lrpcore.graph_dilated import DilatedConvolution, DilatedGroupedConvolution
from lrpcore.graph_layers import FlattenChannelsFirst, MeanPool, ToChannelsLast
from lrpcore.layers import Linear, Pad, Rect
from lrpcore.spec import InputSpec

RNG = np.random.default_rng(36)

# (taps h×w, stride, dilation, input H×W, groups): stride 1 with phases of every count, strides
# sharing a factor with the dilation (2 and 2, 4 and 2, 2 and 6), coprime ones (2 and 3), a
# dilation larger than the output (each phase makes one output), grouped and depthwise
CASES = [((3, 3), (1, 1), (2, 2), (11, 12), 1), ((3, 3), (1, 1), (36, 5), (80, 21), 1),
         ((1, 3), (1, 1), (1, 4), (5, 19), 1), ((2, 2), (2, 2), (2, 2), (13, 14), 1),
         ((3, 3), (2, 3), (3, 2), (17, 16), 2), ((3, 2), (4, 2), (2, 6), (21, 20), 4),
         ((3, 3), (1, 2), (4, 6), (23, 25), 4), ((3, 1), (3, 1), (5, 1), (30, 7), 1),
         ((3, 3), (1, 1), (3, 3), (7, 7), 4)]


def _pair(taps, stride, dilation, groups, C=4, n=8):
    W = RNG.normal(size=taps + (C // groups, n))
    B = RNG.normal(size=n)
    if groups == 1:
        return (DilatedConvolution(W, B, stride, dilation),
                MaterialisedConvolution(W, B, stride, dilation))
    return (DilatedGroupedConvolution(W, B, stride, groups, dilation),
            MaterialisedGroupedConvolution(W, B, stride, groups, dilation))


def _close(a, b, rtol=1e-12):
    assert a.shape == b.shape
    assert np.abs(a - b).max() <= rtol * np.abs(b).max()


@pytest.mark.parametrize("split", [0, np.inf], ids=["two-lengths", "padded"])
@pytest.mark.parametrize("taps, stride, dilation, size, groups", CASES)
def test_every_map_of_the_phases_is_the_materialised_one(taps, stride, dilation, size, groups,
                                                         split, monkeypatch):
    """Phases of two lengths as separate blocks, and padded to equal length (a small layer's
    form: ``SPLIT_MACS``)."""
    monkeypatch.setattr(graph_dilated, "SPLIT_MACS", split)
    new, old = _pair(taps, stride, dilation, groups)
    x = RNG.normal(size=(2,) + size + (4,))
    assert new.output_shape(x.shape[1:]) == old.output_shape(x.shape[1:])
    _close(new.forward(x, np), old.forward(x, np))
    c = RNG.normal(size=(2,) + old.output_shape(x.shape[1:]))
    for key in ("w", "pos", "neg", "sq"):
        wn, wo = new.variant(key, np, x.dtype), old.variant(key, np, x.dtype)
        _close(new.fmap(x, wn, np), old.fmap(x, wo, np))
        _close(new.tmap(c, wn, x.shape[1:], np), old.tmap(c, wo, x.shape[1:], np))
        _close(new.input_share(c, wn, x, np), old.input_share(c, wo, x, np))
        _close(new.colsum(wn, np), old.colsum(wo, np))
    assert new.fan_in() == old.fan_in() == taps[0] * taps[1] * 4 // groups


def _model(first, second, size=(14, 13)):
    """Pad → dilated conv (first layer: flat and zB there) → ReLU → padded dilated conv →
    ReLU → average → dense."""
    H, W = size
    nodes = [Node("to_cl", ToChannelsLast(), ("x",), "a"),
             Node("c1/pad", Pad((2, 2, 3, 3)), ("a",), "ap"),
             Node("c1", first, ("ap",), "b"), Node("r1", Rect(), ("b",), "c"),
             Node("c2/pad", Pad((3, 3, 2, 2)), ("c",), "cp"),
             Node("c2", second, ("cp",), "d"), Node("r2", Rect(), ("d",), "e")]
    shape = (H + 4, W + 6, 4)
    for layer in (first, second):
        shape = layer.output_shape(shape)
        if layer is first:
            shape = (shape[0] + 6, shape[1] + 4, shape[2])
    nodes += [Node("gap", MeanPool(shape[:2], shape[:2]), ("e",), "f"),
              Node("flat", FlattenChannelsFirst(), ("f",), "g"),
              Node("fc", Linear(RNG.normal(size=(8, 3)), RNG.normal(size=3) * 0.1), ("g",), "y")]
    return GraphModel(nodes, "x", "y", InputSpec(
        shape=(4, H, W), raw_shape=(H, W, 4), layout="NCHW", divide=1.0, offset=0.0,
        value_range=(-1.0, 1.0), raw_range=(-1.0, 1.0)))


@pytest.mark.parametrize("rule", ["EpsilonPlus", "EpsilonPlusFlat", "EpsilonAlpha2Beta1",
                                  "EpsilonAlpha2Beta1Flat", "EpsilonGammaBox", "zb:-2:2", "flat",
                                  "ww", "gamma:0.5", "alphabeta:1", "epsilon:0.01", "zplus"])
@pytest.mark.parametrize("second", [((3, 3), (1, 1), (3, 2), 1), ((3, 3), (2, 1), (2, 3), 8),
                                    ((2, 3), (2, 2), (2, 4), 2)])
def test_every_rule_and_preset_explains_as_the_materialised_form(rule, second):
    """Whole explanations (float64): flat's ones and zB's bounds at the first layer's taps
    and real input positions (the padded border keeps what it got), z⁺ block by block where
    the compact convolution takes that route, depthwise and grouped convolutions."""
    W1, B1 = RNG.normal(size=(3, 3, 4, 8)) / 3, RNG.normal(size=8) * 0.1
    taps, stride, dilation, groups = second
    W2, B2 = RNG.normal(size=taps + (8 // groups, 8)) / 3, RNG.normal(size=8) * 0.1
    new = _model(DilatedConvolution(W1, B1, (1, 1), (2, 3)),
                 DilatedGroupedConvolution(W2, B2, stride, groups, dilation))
    old = _model(MaterialisedConvolution(W1, B1, (1, 1), (2, 3)),
                 MaterialisedGroupedConvolution(W2, B2, stride, groups, dilation))
    old.layers[-1].W, old.layers[-1].B = new.layers[-1].W, new.layers[-1].B
    x = RNG.uniform(-1, 1, size=(3, 4, 14, 13))
    fwd_new = lrpcore.Explainer(new, dtype="float64").forward(x, raw=True)
    fwd_old = lrpcore.Explainer(old, dtype="float64").forward(x, raw=True)
    _close(fwd_new.outputs(), fwd_old.outputs())
    r_new, r_old = fwd_new.relevance(rule), fwd_old.relevance(rule)
    assert np.abs(r_old).max() > 0
    _close(r_new, r_old, 1e-10)


def test_a_batch_norm_folded_into_the_taps_reaches_the_phases():
    """The compact convolution is made from W and B on first use: a BatchNorm the importer
    folds in afterwards (replacing W and B, clearing the device copies) must reach it."""
    layer, _ = _pair((3, 3), (1, 1), (2, 2), 1)
    x = RNG.normal(size=(1, 9, 9, 4))
    before = layer.forward(x, np)
    layer.W, layer.B = layer.W * 2, layer.B * 2
    layer.clear_cache()
    _close(layer.forward(x, np), 2 * before)


def _atrous_onnx(path, cin, cout, dilation, side, pads=None):
    """One 3×3 Conv with ``dilations`` and ``pads`` of the dilation (DeepLab's ASPP branch),
    averaged and read by a dense layer."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(7)
    K = (rng.normal(size=(cout, cin, 3, 3)) / np.sqrt(9 * cin)).astype(np.float32)
    inits = [numpy_helper.from_array(K, "K"),
             numpy_helper.from_array(rng.normal(size=(cout,)).astype(np.float32), "b"),
             numpy_helper.from_array(rng.normal(size=(cout, 3)).astype(np.float32), "W")]
    nodes = [helper.make_node("Conv", ["x", "K", "b"], ["c"], name="aspp",
                              dilations=[dilation] * 2, pads=[pads or dilation] * 4),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("GlobalAveragePool", ["r"], ["g"]),
             helper.make_node("Flatten", ["g"], ["f"]),
             helper.make_node("MatMul", ["f", "W"], ["y"])]
    graph = helper.make_graph(nodes, "aspp", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, [1, cin, side, side])], [helper.make_tensor_value_info(
            "y", TensorProto.FLOAT, [1, 3])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return K


def test_deeplabs_atrous_head_loads_where_its_zero_filled_filter_was_refused(tmp_path):
    """DeepLabV3's ASPP branch: 2048 → 256 channels, 3×3 taps at dilation 36. Its filter
    with zeros between the taps (73×73×2048×256: 2.8 G values) was refused at load (more
    than the 67 M values the importer allowed all such filters of a file); the layer now
    holds its 3×3 taps."""
    _atrous_onnx(tmp_path / "aspp.onnx", 2048, 256, 36, 65)
    model = lrpcore.load_model(tmp_path / "aspp.onnx")
    (layer,) = [layer for layer in model.layers if "dilation" in layer.describe()]
    assert layer.W.shape == (3, 3, 2048, 256)
    assert layer.describe() == "Convolution 3×3×2048×256 stride 1,1 dilation 36,36"
    assert model.shapes()[model.layers.index(layer)] == (65, 65, 256)


def test_an_atrous_layer_over_the_old_bound_explains_as_its_taps_say(tmp_path):
    """256 → 128 channels at dilation 24 (its zero-filled filters: 78.6 M values, refused
    before) on a 9×9 map: the output is the sum over the taps, computed here directly."""
    K = _atrous_onnx(tmp_path / "a.onnx", 256, 128, 24, 9)
    model = lrpcore.load_model(tmp_path / "a.onnx")
    x = RNG.normal(size=(2, 256, 9, 9))
    fwd = lrpcore.Explainer(model, dtype="float64").forward(x, raw=True)
    k = next(i for i, layer in enumerate(model.layers) if "dilation" in layer.describe())
    padded = np.pad(x.transpose(0, 2, 3, 1), ((0, 0), (24, 24), (24, 24), (0, 0)))
    want = sum(np.einsum("nijc,oc->nijo", padded[:, 24 * a:24 * a + 9, 24 * b:24 * b + 9],
                         K[:, :, a, b].astype(np.float64)) for a in range(3) for b in range(3))
    got = model.layers[k].forward(padded, np) - model.layers[k].B
    _close(got, want, 1e-9)
    R = fwd.relevance("EpsilonPlus")
    assert R.shape == x.shape and np.isfinite(R).all() and np.abs(R).max() > 0


def test_a_small_file_of_a_large_dilation_loads_without_making_its_span(tmp_path):
    """A 2.4-MB file of one 3×3×256×256 Conv at dilation 64 asked numpy for 8 GiB at load
    (the filter with zeros between its taps), later refused by a bound on such filters; it
    now holds the taps only (here 3×3×8×8 at dilation 64) and explains. Its pads of 64 on a
    3×3 map were refused as far larger than the input: a Conv's pads may reach as far as its
    taps (129 here), not further."""
    from lrpcore.graph_dilated import DilatedConvolution as Kind

    _atrous_onnx(tmp_path / "m.onnx", 8, 8, 64, 3)
    model = lrpcore.load_model(tmp_path / "m.onnx")
    (layer,) = [layer for layer in model.layers if isinstance(layer, Kind)]
    assert layer.W.shape == (3, 3, 8, 8) and layer.param_count() == 3 * 3 * 8 * 8 + 8
    R = lrpcore.Explainer(model, dtype="float64").forward(
        RNG.normal(size=(1, 8, 3, 3)), raw=True).relevance("EpsilonPlus")
    assert np.isfinite(R).all()
    _atrous_onnx(tmp_path / "far.onnx", 8, 8, 64, 3, pads=200)
    with pytest.raises(ModelFormatError, match=r"far\.onnx.*'aspp'.*pads \[200, 200, 200, "
                                               r"200\] are negative or far larger"):
        lrpcore.load_model(tmp_path / "far.onnx")


def test_native_files_hold_the_taps_and_earlier_ones_still_read(tmp_path):
    """Saved now: the taps and their shape ('taps'). Saved before: the filters with zeros
    between the taps ('filters'), read back as their taps; such filters with a nonzero
    between the taps are refused naming the file and layer."""
    new, _ = _pair((3, 3), (2, 1), (2, 3), 2, C=8)
    model = _model(DilatedConvolution(RNG.normal(size=(3, 3, 4, 8)), RNG.normal(size=8),
                                      (1, 1), (2, 3)), new)
    path = tmp_path / "m.npz"
    lrpcore.save_model(model, path)
    back = lrpcore.load_model(path)
    x = RNG.normal(size=(2, 4, 14, 13))
    _close(lrpcore.predict(back, x, raw=True), lrpcore.predict(model, x, raw=True), 1e-15)
    with np.load(path) as f:
        header = json.loads(str(f["header"]))
        arrays = {k: f[k] for k in f.files}
    entries = [e for e in header["layers"] if e["type"].startswith("Dilated")]
    assert [e.get("taps") for e in entries] == [[3, 3, 4, 8], [3, 3, 4, 8]]
    assert entries[1]["groups"] == 2 and entries[1]["dilation"] == [2, 3]

    def earlier(hole):
        for i, e in enumerate(header["layers"]):
            if e["type"].startswith("Dilated"):
                taps = e.pop("taps")
                W = dilate(arrays[f"layer{i}.W"], e["dilation"])
                if hole:
                    W[1, 1, 0, 0] = 1.0
                e["filters"] = list(W.shape)
                arrays[f"layer{i}.W"] = W
                assert W.shape[:2] != tuple(taps[:2])
        out = tmp_path / f"earlier{int(hole)}.npz"
        np.savez(out, **{**arrays, "header": np.array(json.dumps(header))})
        return out

    header_text = json.dumps(header)
    read = lrpcore.load_model(earlier(False))
    _close(lrpcore.predict(read, x, raw=True), lrpcore.predict(model, x, raw=True), 1e-15)
    header = json.loads(header_text)
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    bad = earlier(True)
    with pytest.raises(ModelFormatError, match=r"earlier1\.npz.*header layer 2.*not taps "
                                               r"dilated by 2,3"):
        lrpcore.load_model(bad)
    assert zipfile.is_zipfile(bad)


def test_lrp_bench_counts_a_dilated_convolutions_taps(tmp_path):
    """``lrp bench``'s arithmetic floor counted the zero-filled filter (73×73 at dilation 36:
    590× the work of the 3×3 taps); since the layer holds its taps it counted nothing."""
    from lrpcore.bench import multiply_adds

    _atrous_onnx(tmp_path / "a.onnx", 16, 8, 12, 10)
    model = lrpcore.load_model(tmp_path / "a.onnx")
    assert multiply_adds(model) == 10 * 10 * 8 * 3 * 3 * 16 + 8 * 3


@pytest.mark.parametrize("split", [0, np.inf], ids=["two-lengths", "padded"])
@pytest.mark.parametrize("rule", ["EpsilonPlusFlat", "EpsilonGammaBox", "EpsilonAlpha2Beta1",
                                  "ww"])
def test_the_phases_on_the_device_path_equal_numpy(rule, split, monkeypatch):
    """The phase grids are strided views and writes into them: on a GPU (the stand-in that
    refuses host arrays, tests/fake_device.py) as on numpy, depthwise convolutions too, and
    blocks of phases that start past the first row (two lengths)."""
    from fake_device import FAKE_GPU

    monkeypatch.setattr(graph_dilated, "SPLIT_MACS", split)

    model = _model(DilatedConvolution(RNG.normal(size=(3, 3, 4, 8)) / 3, RNG.normal(size=8),
                                      (1, 1), (2, 3)),
                   DilatedGroupedConvolution(RNG.normal(size=(3, 3, 1, 8)) / 3,
                                             RNG.normal(size=8), (2, 1), 8, (2, 3)))
    x = RNG.uniform(-1, 1, (3, 4, 14, 13))
    want = lrpcore.explain(model, x, rule=rule, raw=True, backend="numpy")
    got = lrpcore.explain(model, x, rule=rule, raw=True, backend=FAKE_GPU)
    assert type(got) is np.ndarray and got.shape == x.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12 * np.abs(want).max())


def test_a_dilated_convolution_makes_concept_channels():
    """The concept tools (``lrp concepts``, the explorer's Concepts panel) choose the layers
    that make channels from all input channels; a dilated convolution was one while it was a
    Convolution holding zeros between its taps, and must stay one (a grouped one is not,
    as an undilated grouped one is not)."""
    from lrpcore import concepts

    model = _model(DilatedConvolution(RNG.normal(size=(3, 3, 4, 8)), RNG.normal(size=8),
                                      (1, 1), (2, 3)),
                   DilatedGroupedConvolution(RNG.normal(size=(3, 3, 4, 8)), RNG.normal(size=8),
                                             (1, 1), 2, (2, 2)))
    ex = lrpcore.Explainer(model, dtype="float64")
    assert [concepts.mixes_channels(layer) for layer in model.layers].count(True) == 2
    assert concepts.lower_layer(ex, model.node_names.index("fc")) == \
        model.node_names.index("c1")


@pytest.mark.parametrize("side, dilation", [(28, 24), (28, 12), (33, 6), (65, 36), (11, 2)])
def test_phases_of_two_lengths_compute_no_padded_outputs(side, dilation, monkeypatch):
    """DeepLab's atrous layers on maps whose side the dilation does not divide (28×28 at
    dilation 24: 2 outputs in 4 phases, 1 in 20) once padded every phase to the longest,
    2.94× the multiply-adds; the phases now go in blocks of equal length, computing each
    output once, and agree with the zero-filled filter. A small layer keeps the padding
    (one call costs it less), DeepLab's 256 channels do not."""
    deeplab = DilatedConvolution(np.zeros((3, 3, 256, 256)), np.zeros(256), (1, 1),
                                 (dilation, dilation))
    rows, cols = deeplab._axes(side, side)
    assert (rows.dense, cols.dense) == (side, side) and len(rows.parts) == 2
    small = DilatedConvolution(np.zeros((3, 3, 4, 4)), np.zeros(4), (1, 1), (dilation,) * 2)
    assert small._axes(side, side)[0].dense > side
    monkeypatch.setattr(graph_dilated, "SPLIT_MACS", 0)
    W, B = RNG.normal(size=(3, 3, 3, 4)), RNG.normal(size=4)
    new = DilatedConvolution(W, B, (1, 1), (dilation, dilation))
    old = MaterialisedConvolution(W, B, (1, 1), (dilation, dilation))
    x = RNG.normal(size=(2, side + 2 * dilation, side + 2 * dilation, 3))
    rows, cols, Ho, Wo = new._plan(x.shape[1:])
    assert (rows.dense, cols.dense) == (Ho, Wo) == (side, side)
    assert sum(p.out * p.phases for p in rows.parts) == side
    c = RNG.normal(size=(2, side, side, 4))
    w = new.variant("pos", np, x.dtype)
    got = (new.fmap(x, w, np), new.tmap(c, w, x.shape[1:], np), new.input_share(c, w, x, np))
    wo = old.variant("pos", np, x.dtype)
    want = (old.fmap(x, wo, np), old.tmap(c, wo, x.shape[1:], np),
            old.input_share(c, wo, x, np))
    for a, b in zip(got, want, strict=True):
        _close(a, b)


def test_the_batch_estimate_counts_a_dilated_convolutions_gathered_phases(monkeypatch):
    """The input's phases are gathered into a copy (as large as the input where they do not
    overlap) that lives beside the phases' outputs while the layer runs; the per-sample
    estimate that cuts batches into passes left it out (here 16 channels in, 1 out: the copy
    is 16 times the layer's output)."""
    monkeypatch.setattr(graph_dilated, "SPLIT_MACS", 0)  # the count below: phases unpadded
    H, W = 23, 21
    taps = RNG.normal(size=(3, 3, 16, 1))

    def model(conv):
        nodes = [Node("to_cl", ToChannelsLast(), ("x",), "a"), Node("conv", conv, ("a",), "b"),
                 Node("relu", Rect(), ("b",), "c"),
                 Node("flat", FlattenChannelsFirst(), ("c",), "y")]
        return GraphModel(nodes, "x", "y", InputSpec(
            shape=(16, H, W), raw_shape=(H, W, 16), layout="NCHW", divide=1.0, offset=0.0,
            value_range=(-1.0, 1.0), raw_range=(-1.0, 1.0)))

    phases = model(DilatedConvolution(taps, np.zeros(1), (1, 1), (3, 4)))
    zeros = model(MaterialisedConvolution(taps, np.zeros(1), (1, 1), (3, 4)))
    ex, plain = (lrpcore.Explainer(m, "numpy", "float64") for m in (phases, zeros))
    Ho, Wo = H - 6, W - 8
    # phase q of an axis of n outputs at dilation d: ⌈(n − q)/d⌉ outputs from 2 more rows
    gathered = sum(-(-(Ho - q) // 3) + 2 for q in range(3)) * \
        sum(-(-(Wo - q) // 4) + 2 for q in range(4)) * 16
    assert gathered >= H * W * 16 * 0.9
    extra = ex.sample_bytes((16, H, W)) - plain.sample_bytes((16, H, W))
    assert extra >= (gathered + Ho * Wo) * 8


def test_z_plus_block_by_block_runs_through_blocks_of_two_lengths(monkeypatch):
    """z⁺ runs large layers row block by row block (``through_rows``): on a 46×46 output at
    dilation 7 (phases of 7 and 6 outputs: four blocks) it agrees with the zero-filled
    filter, and that route is taken."""
    H, taps, B = 60, RNG.normal(size=(3, 3, 4, 64)), RNG.normal(size=64) * 0.1
    dense = Linear(RNG.normal(size=(64, 3)), np.zeros(3))

    def model(conv):
        nodes = [Node("to_cl", ToChannelsLast(), ("x",), "a"), Node("conv", conv, ("a",), "b"),
                 Node("r", Rect(), ("b",), "c"), Node("gap", MeanPool((46, 46), (46, 46)),
                                                      ("c",), "d"),
                 Node("flat", FlattenChannelsFirst(), ("d",), "e"), Node("fc", dense, ("e",), "y")]
        return GraphModel(nodes, "x", "y", InputSpec(
            shape=(4, H, H), raw_shape=(H, H, 4), layout="NCHW", divide=1.0, offset=0.0,
            value_range=(-1.0, 1.0), raw_range=(-1.0, 1.0)))

    monkeypatch.setattr(graph_dilated, "SPLIT_MACS", 0)  # this layer is under it
    conv = DilatedConvolution(taps, B, (1, 1), (7, 7))
    assert len(conv._blocks(*conv._plan((H, H, 4))[:2])) == 4
    routes = []
    through = DilatedConvolution.through_rows
    monkeypatch.setattr(DilatedConvolution, "through_rows",
                        lambda self, *a: routes.append(1) or through(self, *a))
    x = RNG.uniform(-1, 1, (1, 4, H, H))
    got = lrpcore.explain(model(conv), x, rule="zplus", raw=True, backend="numpy")
    want = lrpcore.explain(model(MaterialisedConvolution(taps, B, (1, 1), (7, 7))), x,
                           rule="zplus", raw=True, backend="numpy")
    assert routes
    _close(got, want, 1e-10)
