"""The graph engine's checks that need an NVIDIA GPU (issue 12), in one run:

    PYTHONPATH=. python3 tools/gpu_graph_check.py [--shared DIR] [--zennit] [--json OUT.json]

1. parity: every layer kind the program registers, in small graphs (strided and plain
   depthwise, grouped, pads, merges, pools, activations; the later kinds: dilated, element-wise
   programs, channel slices and shuffles, LogSoftmax, a sequence), and the ResNet and
   EfficientNet-Lite0 architectures: cupy against numpy in the same precision, float64
   (1e-10 of max|R|) and float32 (1e-4), every graph preset and the ε-rule; float32 against
   float64 is printed beside (the rule's conditioning); on the deep random nets float32 is held to
   ``f32_tolerance``.
   A registered kind that no checked model contains is a failure.
2. references: with ``--shared`` (a copy of ``../shared``), the ONNX models' relevance on cupy
   against zennit's (1e-4 of max|R| per sample, float64), as tests/test_graph_reference.py
   does on numpy.
3. speed: ``lrp bench`` rows for both architectures on cupy (batch 1 and 16, float32 and
   float64, forward + EpsilonPlus), and with ``--zennit`` the same model in zennit on the same
   GPU (needs torch and zennit in that interpreter; tools/bench_zennit.py builds it).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the other tools, however run
from gpu_check import announce_gpu, rel  # noqa: E402

GRAPH_RULES = ["epsilon:0.01", "EpsilonPlus", "EpsilonPlusFlat", "EpsilonAlpha2Beta1",
               "EpsilonAlpha2Beta1Flat", "EpsilonGammaBox"]
PARITY_F64 = 1e-10
PARITY_F32 = 1e-4


def f32_tolerance(model: str, rule: str) -> float:
    """float32 bound of one check. On the deep random architectures any change of summation
    order (numpy's threads split the batch, cuBLAS blocks differently) moves float32 relevance
    by up to ~1e-4 with the presets and ~1e-3 with plain ε (near-zero sums): 10× that."""
    if model.startswith("every operator"):
        return PARITY_F32
    return 1e-2 if rule == "epsilon:0.01" else 1e-3
REFERENCE_TOL = 1e-4


def every_operator_graph(seed=0):
    """A small graph holding every registered layer kind, with strides and pads that take the
    GPU's own kernels (depthwise 3×3 and 5×5, strides 1 and 2) and the array route (grouped)."""
    from lrpcore.graph import GraphModel, Node
    from lrpcore.graph_layers import (
        Add,
        Affine,
        Clip,
        Concat,
        FlattenChannelsFirst,
        GroupedConvolution,
        LeakyReLU,
        Mean,
        MeanPool,
        ToChannelsLast,
    )
    from lrpcore.layers import (
        Convolution,
        Flatten,
        Linear,
        MaxPool,
        Pad,
        Rect,
        SoftMax,
        SumPool,
        Tanh,
    )
    from lrpcore.spec import InputSpec

    rng = np.random.default_rng(seed)

    def conv(h, d, n, stride=(1, 1)):
        return Convolution(rng.normal(size=(h, h, d, n)) / h, rng.normal(size=n) * 0.1,
                           stride)

    def depthwise(h, c, stride):
        return GroupedConvolution(rng.normal(size=(h, h, 1, c)) / h, rng.normal(size=c) * 0.1,
                                  stride, groups=c)

    nodes = [
        Node("to_cl", ToChannelsLast(), ("x",), "a"),                     # 16×16×3
        Node("stem/pad", Pad((1, 1, 1, 1)), ("a",), "ap"),
        Node("stem", conv(3, 3, 8), ("ap",), "b"),                        # 16×16×8
        Node("bn", Affine(rng.uniform(0.5, 1.5, 8), rng.normal(size=8) * 0.1), ("b",), "b2"),
        Node("relu6", Clip(0.0, 6.0), ("b2",), "c"),
        Node("dw3/pad", Pad((1, 1, 1, 1)), ("c",), "cp"),
        Node("dw3", depthwise(3, 8, (1, 1)), ("cp",), "d"),               # 16×16×8
        Node("leaky", LeakyReLU(0.1), ("d",), "e"),
        Node("add", Add(), ("e", "c"), "f"),
        Node("dw5/pad", Pad((1, 2, 1, 2)), ("f",), "fp"),
        Node("dw5", depthwise(5, 8, (2, 2)), ("fp",), "g"),               # 8×8×8
        Node("tanh", Tanh(), ("g",), "g2"),
        Node("dw3s/pad", Pad((0, 1, 0, 1)), ("f",), "fq"),
        Node("dw3s", depthwise(3, 8, (2, 2)), ("fq",), "h"),              # 8×8×8
        Node("mean", Mean(), ("g2", "h"), "i"),
        Node("grouped", GroupedConvolution(rng.normal(size=(3, 3, 4, 8)) / 6,
                                           rng.normal(size=8) * 0.1, (1, 1), groups=2),
             ("i",), "j"),                                                # 6×6×8
        Node("rect", Rect(), ("j",), "k"),
        Node("pw", conv(1, 8, 4), ("k",), "l"),
        Node("cat", Concat(), ("k", "l"), "m"),                           # 6×6×12
        Node("maxpool", MaxPool((2, 2), (2, 2)), ("m",), "n"),            # 3×3×12
        Node("sumpool", SumPool((1, 1), (1, 1)), ("n",), "n2"),
        Node("meanpool", MeanPool((3, 3), (1, 1)), ("n2",), "o"),         # 1×1×12
        Node("flat_cf", FlattenChannelsFirst(), ("o",), "p"),
        Node("fc1", Linear(rng.normal(size=(12, 6)) / 3, rng.normal(size=6) * 0.1), ("p",),
             "q"),
        Node("flat", Flatten(), ("q",), "r"),
        Node("fc2", Linear(rng.normal(size=(6, 4)) / 2, rng.normal(size=4) * 0.1), ("r",),
             "s"),
        Node("softmax", SoftMax(), ("s",), "y"),
    ]
    spec = InputSpec(shape=(3, 16, 16), raw_shape=(16, 16, 3), layout="NCHW", divide=1.0,
                     offset=0.0, value_range=(-1.0, 1.0), raw_range=(-1.0, 1.0))
    return GraphModel(nodes, "x", "y", spec)


def later_kinds_graphs(seed=0) -> dict:
    """The layer kinds added after ``every_operator_graph`` (ONNX activations and partial
    pools of stop 18; dilated convolutions and max pool, element-wise programs, channel slices
    and shuffles, LogSoftmax and sequences of zoo2; zoo3's Scale, Crop), in two small graphs:
    an image one and a sequence (N×C×L) one. Added by zoo2 (small, additive)."""
    from lrpcore.graph import GraphModel, Node
    from lrpcore.graph_activations import Elu, HardSigmoid, LogSoftmax, PRelu, Sigmoid, Silu
    from lrpcore.graph_channels import ChannelPermute, ChannelSlice, Crop
    from lrpcore.graph_dilated import (
        DilatedConvolution,
        DilatedGroupedConvolution,
        DilatedMaxPool,
    )
    from lrpcore.graph_elementwise import Elementwise
    from lrpcore.graph_layers import (
        Concat,
        FlattenChannelsFirst,
        MeanPool,
        PartialMeanPool,
        Scale,
        ToChannelsLast,
    )
    from lrpcore.graph_sequence import SequenceToChannelsLast
    from lrpcore.layers import Convolution, Linear, MaxPool, Pad, Rect
    from lrpcore.spec import InputSpec

    rng = np.random.default_rng(seed)
    gelu = [["mul", "x", 0.5 ** 0.5], ["erf", 0], ["add", 1, 1.0], ["mul", "x", 2],
            ["mul", 3, 0.5]]
    dmp = DilatedMaxPool((2, 2), (1, 1), (2, 2))
    dmp.ties = "first"
    nodes = [
        Node("to_cl", ToChannelsLast(), ("x",), "a"),                     # 12×12×3
        Node("dil/pad", Pad((2, 2, 2, 2)), ("a",), "ap"),
        Node("dil", DilatedConvolution(rng.normal(size=(3, 3, 3, 8)) / 3,
                                       rng.normal(size=8) * 0.1, (1, 1), (2, 2)),
             ("ap",), "b"),                                               # 12×12×8
        Node("elu", Elu(0.7), ("b",), "c"),
        Node("dgc/pad", Pad((1, 1, 2, 2)), ("c",), "cp"),
        Node("dgc", DilatedGroupedConvolution(
            rng.normal(size=(3, 3, 4, 8)) / 6, rng.normal(size=8) * 0.1,
            (1, 1), 2, (1, 2)), ("cp",), "d"),                            # 12×12×8
        Node("prelu", PRelu(rng.uniform(0.1, 0.3, 8)), ("d",), "e"),
        Node("dmp", dmp, ("e",), "f"),                                    # 10×10×8
        Node("sigmoid", Sigmoid(), ("f",), "g"),
        Node("pmp/pad", Pad((0, 1, 0, 1)), ("g",), "gp"),
        Node("pmp", PartialMeanPool((2, 2), (2, 2), (0, 1, 0, 1)), ("gp",), "h"),  # 5×5×8
        Node("hswish", HardSigmoid(1 / 6, 0.5, swish=True), ("h",), "i"),
        Node("hsig", HardSigmoid(0.2, 0.5), ("i",), "i2"),
        Node("silu", Silu(), ("i2",), "j"),
        Node("gelu", Elementwise(gelu, "Gelu"), ("j",), "k"),
        Node("slice_a", ChannelSlice(0, 4), ("k",), "ka"),
        Node("slice_b", ChannelSlice(4, 8), ("k",), "kb"),
        Node("cat", Concat(), ("kb", "ka"), "l"),
        Node("shuffle", ChannelPermute([0, 4, 1, 5, 2, 6, 3, 7]), ("l",), "m"),
        Node("crop", Crop((0, 1, 1, 0)), ("m",), "mc"),                    # 4×4×8
        Node("gap", MeanPool((4, 4), (4, 4)), ("mc",), "n"),
        Node("flat", FlattenChannelsFirst(), ("n",), "o"),
        Node("scale", Scale(rng.uniform(0.5, 2, 8), rng.normal(size=8) * 0.1), ("o",), "o2"),
        Node("fc", Linear(rng.normal(size=(8, 4)) / 2, rng.normal(size=4) * 0.1), ("o2",), "p"),
        Node("logsoftmax", LogSoftmax(), ("p",), "y"),
    ]
    image = GraphModel(nodes, "x", "y", InputSpec(
        shape=(3, 12, 12), raw_shape=(12, 12, 3), layout="NCHW", divide=1.0, offset=0.0,
        value_range=(-1.0, 1.0), raw_range=(-1.0, 1.0)))
    mp = MaxPool((1, 2), (1, 2))
    mp.ties = "first"
    nodes = [
        Node("to_cl", SequenceToChannelsLast(), ("x",), "a"),             # 1×16×4
        Node("conv", Convolution(rng.normal(size=(1, 3, 4, 6)) / 3, rng.normal(size=6) * 0.1),
             ("a",), "b"),                                                # 1×14×6
        Node("rect", Rect(), ("b",), "c"),
        Node("maxpool", mp, ("c",), "d"),                                 # 1×7×6
        Node("gap", MeanPool((1, 7), (1, 7)), ("d",), "e"),
        Node("flat", FlattenChannelsFirst(), ("e",), "f"),
        Node("fc", Linear(rng.normal(size=(6, 3)) / 2, rng.normal(size=3) * 0.1), ("f",), "y"),
    ]
    sequence = GraphModel(nodes, "x", "y", InputSpec(
        shape=(4, 16), raw_shape=(4, 16), layout="flat", divide=1.0, offset=0.0,
        value_range=(-1.0, 1.0), raw_range=(-1.0, 1.0)))
    # zoo4: padding by copies (MirrorPad), a kept final Softmax, functional calls (an
    # activation's gradient role, a pool's gradient rule); stop 23's Gate
    from lrpcore.graph_activations import Softmax
    from lrpcore.graph_channels import MirrorPad
    from lrpcore.graph_layers import Gate
    from lrpcore.layers import mark_functional

    relu, pool = Rect(), MeanPool((5, 5), (5, 5))
    mark_functional(relu)
    mark_functional(pool)
    nodes = [
        Node("to_cl", ToChannelsLast(), ("x",), "a"),                     # 6×7×3
        Node("reflect", MirrorPad((1, 1, 2, 1), "reflect"), ("a",), "ap"),  # 8×10×3
        Node("conv", Convolution(rng.normal(size=(3, 3, 3, 6)) / 3, rng.normal(size=6) * 0.1,
                                 (1, 2)), ("ap",), "b"),                   # 6×4×6
        Node("relu", relu, ("b",), "c"),
        Node("edge", MirrorPad((0, 1, 1, 0), "edge"), ("c",), "cp"),      # 7×5×6
        Node("wrap", MirrorPad((1, 0, 0, 1), "wrap"), ("cp",), "cq"),     # 8×6×6
        Node("conv2", Convolution(rng.normal(size=(3, 2, 6, 6)) / 3, rng.normal(size=6) * 0.1),
             ("cq",), "d"),                                               # 6×5×6
        Node("crop", Crop((1, 0, 0, 0)), ("d",), "dc"),                   # 5×5×6
        # stop 23: a squeeze-and-excitation gate (Gate: the map times its pooled branch)
        Node("se/pool", MeanPool((5, 5), (5, 5)), ("dc",), "s1"),         # 1×1×6
        Node("se/fc", Convolution(rng.normal(size=(1, 1, 6, 6)) / 2, rng.normal(size=6) * 0.1),
             ("s1",), "s2"),
        Node("se/sigmoid", Sigmoid(), ("s2",), "s3"),
        Node("se/mul", Gate(), ("dc", "s3"), "dg"),                        # 5×5×6
        Node("gap", pool, ("dg",), "e"),
        Node("flat", FlattenChannelsFirst(), ("e",), "f"),
        Node("fc", Linear(rng.normal(size=(6, 4)) / 2, rng.normal(size=4) * 0.1), ("f",), "g"),
        Node("softmax", Softmax(), ("g",), "y"),
    ]
    zoo4 = GraphModel(nodes, "x", "y", InputSpec(
        shape=(3, 6, 7), raw_shape=(6, 7, 3), layout="NCHW", divide=1.0, offset=0.0,
        value_range=(-1.0, 1.0), raw_range=(-1.0, 1.0)))
    # stop 24: a transposed convolution first (Spread, its Pad, a Convolution: flat's and zB's
    # border mask over the zeros between the pixels) and a nearest resize
    from lrpcore.graph_upsampling import InterpolatingResize, NearestResize, Spread

    nodes = [
        Node("to_cl", ToChannelsLast(), ("x",), "a"),                     # 4×5×3
        Node("up/spread", Spread((2, 2)), ("a",), "b"),                   # 7×9×3
        Node("up/pad", Pad((1, 2, 1, 2)), ("b",), "bp"),                  # 10×12×3
        Node("up", Convolution(rng.normal(size=(3, 3, 3, 4)) / 3, rng.normal(size=4) * 0.1),
             ("bp",), "c"),                                               # 8×10×4
        Node("relu", Rect(), ("c",), "d"),
        Node("resize", NearestResize([0, 0, 1, 3, 5, 7, 7], [0, 2, 4, 6, 8, 9], (8, 10)),
             ("d",), "e0"),                                               # 7×6×4
        # stop 25: bilinear enlarging, bicubic shrinking through an antialiasing filter
        Node("bilinear", InterpolatingResize((7, 6), (14, 9), (2.0, 1.5)), ("e0",), "e1"),
        Node("bicubic", InterpolatingResize((14, 9), (7, 6), (0.5, 2 / 3), "cubic",
                                            "pytorch_half_pixel", antialias=True),
             ("e1",), "e"),                                               # 7×6×4
        Node("conv", Convolution(rng.normal(size=(3, 3, 4, 5)) / 3, rng.normal(size=5) * 0.1,
                                 (2, 2)), ("e",), "f"),                    # 3×2×5
        Node("gap", MeanPool((3, 2), (3, 2)), ("f",), "g"),
        Node("flat", FlattenChannelsFirst(), ("g",), "h"),
        Node("fc", Linear(rng.normal(size=(5, 3)) / 2, rng.normal(size=3) * 0.1), ("h",), "y"),
    ]
    decoder = GraphModel(nodes, "x", "y", InputSpec(
        shape=(3, 4, 5), raw_shape=(4, 5, 3), layout="NCHW", divide=1.0, offset=0.0,
        value_range=(-1.0, 1.0), raw_range=(-1.0, 1.0)))
    # stop 24: ConvNeXt's LayerNorm over the channels (ChannelNorm, the gradient role) and its
    # nn.Linear at every position (PositionwiseDense)
    from lrpcore.graph_norms import ChannelNorm, GroupNorm, PositionwiseDense

    nodes = [
        Node("to_cl", ToChannelsLast(), ("x",), "a"),                     # 4×4×3
        Node("stem", Convolution(rng.normal(size=(2, 2, 3, 6)) / 3, rng.normal(size=6) * 0.1,
                                 (2, 2)), ("a",), "b"),                    # 2×2×6
        Node("stem/relu", Rect(), ("b",), "b1"),
        # (a rule between the first layer and the norm: flat right before it gives a zero map,
        # its gradient summing to 0 over the channels of each position)
        Node("pw", Convolution(rng.normal(size=(1, 1, 6, 6)) / 2, rng.normal(size=6) * 0.1),
             ("b1",), "b2"),
        Node("norm", ChannelNorm(0.5 + rng.uniform(size=6), rng.normal(size=6) * 0.3, 1e-6),
             ("b2",), "c"),
        Node("dense", PositionwiseDense(rng.normal(size=(6, 8)) / 2, rng.normal(size=8) * 0.1),
             ("c",), "d"),                                                # 2×2×8
        Node("relu", Rect(), ("d",), "e0"),
        # stop 25: nn.GroupNorm (4 groups) and nn.InstanceNorm2d (a group per channel), each
        # before a ReLU (a norm's output straight into the mean pool is constant)
        Node("groupnorm", GroupNorm(0.5 + rng.uniform(size=8), rng.normal(size=8) * 0.3, 4),
             ("e0",), "e1"),
        Node("relu2", Rect(), ("e1",), "e2"),
        Node("instancenorm", GroupNorm(0.5 + rng.uniform(size=8), rng.normal(size=8) * 0.3,
                                       8), ("e2",), "e3"),
        Node("relu3", Rect(), ("e3",), "e"),
        Node("gap", MeanPool((2, 2), (2, 2)), ("e",), "f"),
        Node("flat", FlattenChannelsFirst(), ("f",), "g"),
        Node("fc", Linear(rng.normal(size=(8, 3)) / 2, rng.normal(size=3) * 0.1), ("g",), "y"),
    ]
    convnext = GraphModel(nodes, "x", "y", InputSpec(
        shape=(3, 4, 4), raw_shape=(4, 4, 3), layout="NCHW", divide=1.0, offset=0.0,
        value_range=(-1.0, 1.0), raw_range=(-1.0, 1.0)))
    # stop 27: Attention U-Net's gate (a map times a sigmoid's one-channel map computed on a
    # coarser grid, resized) and a dilated convolution whose phases run as blocks of two
    # lengths (22 rows at dilation 4: phases of 6, 6, 5, 5; padding them would cost more than
    # graph_dilated.SPLIT_MACS per sample)
    half = [i // 2 for i in range(22)]
    nodes = [
        Node("to_cl", ToChannelsLast(), ("x",), "a"),                     # 22×22×3
        Node("lift", Convolution(rng.normal(size=(1, 1, 3, 64)) / 2, rng.normal(size=64) * 0.1),
             ("a",), "b"),
        Node("lift/relu", Rect(), ("b",), "c"),
        Node("dil/pad", Pad((4, 4, 4, 4)), ("c",), "cp"),                 # 30×30×64
        Node("dil", DilatedConvolution(rng.normal(size=(3, 3, 64, 64)) / 24,
                                       rng.normal(size=64) * 0.1, (1, 1), (4, 4)),
             ("cp",), "d"),                                               # 22×22×64
        Node("dil/relu", Rect(), ("d",), "e"),
        Node("att/psi", Convolution(rng.normal(size=(2, 2, 64, 1)) / 16, rng.normal(size=1) * 0.1,
                                    (2, 2)), ("e",), "p"),                # 11×11×1
        Node("att/sigmoid", Sigmoid(), ("p",), "q"),
        Node("att/resize", NearestResize(half, half, (11, 11)), ("q",), "r"),  # 22×22×1
        Node("att/mul", Gate(), ("e", "r"), "f"),                          # 22×22×64
        Node("gap", MeanPool((22, 22), (22, 22)), ("f",), "g"),
        Node("flat", FlattenChannelsFirst(), ("g",), "h"),
        Node("fc", Linear(rng.normal(size=(64, 3)) / 8, rng.normal(size=3) * 0.1), ("h",), "y"),
    ]
    attention = GraphModel(nodes, "x", "y", InputSpec(
        shape=(3, 22, 22), raw_shape=(22, 22, 3), layout="NCHW", divide=1.0, offset=0.0,
        value_range=(-1.0, 1.0), raw_range=(-1.0, 1.0)))
    return {"every operator (later kinds)": image, "every operator (sequence)": sequence,
            "every operator (zoo4)": zoo4, "every operator (decoder)": decoder,
            "every operator (convnext)": convnext, "every operator (attention)": attention}


def parity(quick: bool) -> tuple[bool, list]:
    import lrpcore
    from lrpcore.layers import LAYER_KINDS
    from lrpcore.zoo import efficientnet_lite0, mnist_resnet

    models = {"every operator": (every_operator_graph(), 8),
              **{name: (model, 8) for name, model in later_kinds_graphs().items()},
              "resnet (random)": (mnist_resnet(), 4 if quick else 8),
              "efficientnet-lite0 (random)": (efficientnet_lite0(), 2)}
    seen = {type(node.layer).kind for model, _ in models.values() for node in model.nodes}
    missing = sorted(set(LAYER_KINDS) - seen)
    ok, rows = not missing, []
    print(f"{'ok  ' if not missing else 'FAIL'} layer kinds covered: {len(seen)} of "
          f"{len(LAYER_KINDS)}{'; missing ' + ', '.join(missing) if missing else ''}",
          flush=True)
    rng = np.random.default_rng(0)
    for name, (model, n) in models.items():
        x = rng.uniform(-1, 1, (n,) + tuple(model.input_spec.shape))
        cpu = lrpcore.Explainer(model, "numpy", "float64").forward(x, raw=True)
        gpu = lrpcore.Explainer(model, "cupy", "float64").forward(x, raw=True)
        cpu32 = lrpcore.Explainer(model, "numpy", "float32").forward(x, raw=True)
        gpu32 = lrpcore.Explainer(model, "cupy", "float32").forward(x, raw=True)
        for rule in GRAPH_RULES[:2] if quick else GRAPH_RULES:
            want = cpu.relevance(rule, "pred")
            d64 = rel(gpu.relevance(rule, "pred"), want)
            got32 = gpu32.relevance(rule, "pred")
            d32 = rel(got32, cpu32.relevance(rule, "pred"))
            cond = rel(got32, want)  # float32 against float64: the rule's conditioning
            good = d64 <= PARITY_F64 and d32 <= f32_tolerance(name, rule)
            ok &= good
            rows.append({"model": name, "rule": rule, "f64": d64, "f32": d32,
                         "f32_vs_f64": cond, "ok": good})
            print(f"{'ok  ' if good else 'FAIL'} {name:28s} {rule:24s} f64 {d64:.2e}  "
                  f"f32 {d32:.2e}  (f32 vs f64 {cond:.2e})", flush=True)
    return ok, rows


def references(shared: Path) -> tuple[bool, list]:
    """cupy float64 against zennit's stored relevance for the two ONNX models (set up as
    tests/test_graph_reference.py does: EfficientNet takes the reference's preprocessing)."""
    from dataclasses import replace

    import lrpcore

    ok, rows = True, []
    for stem in ("mnist_resnet", "efficientnet_lite0"):
        model = lrpcore.load_model(shared / "models" / "torch_onnx" / f"{stem}.onnx")
        with np.load(shared / "reference" / f"{stem}_dev.npz") as data:
            ref = {k: data[k] for k in data.files}
        if "mean" in ref:
            model.input_spec = replace(model.input_spec, divide=255.0, raw_range=(0.0, 255.0),
                                       mean=tuple(map(float, ref["mean"])),
                                       std=tuple(map(float, ref["std"])))
        fwd = lrpcore.Explainer(model, "cupy", "float64").forward(
            ref["x"].astype(np.float64), raw=True)
        dy = float(np.abs(fwd.outputs() - ref["Y"]).max())
        good = dy <= 1e-6
        ok &= good
        print(f"{'ok  ' if good else 'FAIL'} zennit {stem:20s} outputs {dy:.2e}", flush=True)
        for key in sorted(k for k in ref if k.startswith("R__")):
            rule = key[3:].replace("epsilon_0p01", "epsilon:0.01")
            got, want = fwd.relevance(rule), ref[key]
            worst = max(rel(got[i], want[i]) for i in range(len(want)))
            good = worst <= REFERENCE_TOL
            ok &= good
            rows.append({"model": stem, "rule": rule, "worst": worst, "outputs": dy})
            print(f"{'ok  ' if good else 'FAIL'} zennit {stem:20s} {rule:24s} "
                  f"{worst:.2e} of max|R|", flush=True)
    return ok, rows


def speed(quick: bool) -> list:
    from lrpcore import bench

    rules = ("EpsilonPlus",)
    print(bench.format_header(rules), flush=True)
    rows, _ = bench.run_benchmark(
        models=("resnet", "efficientnet-lite0"), backend="cupy", batch_sizes=(1, 16),
        dtypes=("float32", "float64"), rules=rules, repeat=7 if quick else 21,
        report=lambda row: print(bench.format_row(row), flush=True))
    return [dict(vars(r), times_floor=r.times_floor) for r in rows]


def zennit_speed(repeat: int) -> list:
    """zennit's EpsilonPlus on the same architecture and GPU (tools/bench_zennit.py)."""
    import bench_zennit
    import torch

    rows = []
    for batch in (1, 16):
        for name, dtype in (("float32", torch.float32), ("float64", torch.float64)):
            ms, plain = bench_zennit.time_zennit(batch, dtype, repeat, device="cuda")
            rows.append({"batch": batch, "dtype": name, "zennit_ms": ms, "torch_forward_ms": plain})
            print(f"zennit EfficientNet-Lite0 batch {batch:2d} {name}: {ms:.2f} ms "
                  f"(torch forward alone {plain:.2f} ms)", flush=True)
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer rules and repeats")
    p.add_argument("--shared", type=Path, help="a copy of ../shared: check zennit's references")
    p.add_argument("--zennit", action="store_true", help="also time zennit on the same GPU")
    p.add_argument("--json", help="also write every figure as JSON")
    args = p.parse_args(argv)
    if not announce_gpu():
        return 2
    t0 = time.perf_counter()
    report, ok = {}, True
    good, report["parity"] = parity(args.quick)
    ok &= good
    if args.shared:
        good, report["references"] = references(args.shared)
        ok &= good
    report["speed"] = speed(args.quick)
    if args.zennit:
        report["zennit"] = zennit_speed(7 if args.quick else 21)
    print(f"graph checks {'passed' if ok else 'FAILED'} ({time.perf_counter() - t0:.0f} s)")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1, default=str))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
