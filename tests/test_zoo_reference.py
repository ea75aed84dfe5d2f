"""Small PyTorch architectures exported both ways agree with zennit 0.5.1 (tests/data/zoo).

The fixtures are made by ``tools/make_zoo_fixtures.py`` (run by hand with torch and zennit;
its docstring says how the references were made): a ResNet with a max-pool stem and strided
downsample on normalised 3-channel input, a DenseNet block (BatchNorm after a Concat: no layer
to fold it into), a MobileNetV2 (depthwise, ReLU6, Add without activation), a VGG (MaxPool,
zero-padded AvgPool, adaptive pooling, LeakyReLU, Dropout, ``view`` flatten), grouped
convolutions with asymmetric "same" padding, a SqueezeNet (``ceil_mode`` max pools, Concat),
an MLP with BatchNorm on its input, a net of PReLU, ELU, SELU, Hardswish, Hardsigmoid,
Sigmoid and SiLU (zennit passes relevance through each; ``activations_op13``: TorchScript at
opset 13, where Hardswish is a HardSigmoid and a Mul), and average pools whose windows count fewer
entries (``count_include_pad=False``, ``ceil_mode`` partial windows: ResNet-D's downsampling),
and a grouped convolution as the first layer (zB and flat there, bounds per channel).
Each is exported by the TorchScript exporter and by
``dynamo=True`` (batch fixed at 1); ``resnet_bn_dynamo`` keeps every BatchNorm (dynamo without
its optimiser) so that the importer folds them. ``keras_tf2onnx`` is a Keras network (N×H×W×C,
TensorFlow's asymmetric "same" padding, depthwise residual block, Concat, H-W-C flatten)
exported by tf2onnx, its reference made on a PyTorch twin with the same weights
(``tools/make_zoo_keras_fixture.py``); ``keras_bn_tf2onnx`` has BatchNormalization after an
activation, a convolution and an Add, which tf2onnx writes as Mul and Add of per-channel
constants, global average pooling as GlobalAveragePool and Squeeze, and a softmax output
(``tools/make_zoo_keras_bn_fixture.py``); ``keras_sep_tf2onnx`` has SeparableConv2D,
DepthwiseConv2D with ``depth_multiplier=2``, strided "same" padding, GlobalMaxPooling2D and
BatchNormalization after a Dense (``tools/make_zoo_keras_sep_fixture.py``);
``keras_seq_tf2onnx`` is a Keras Conv1D classifier on N×L×C input
(``tools/make_zoo_keras_seq_fixture.py``). The newer
fixtures: dilated convolutions and max pool (``dilated``), GELU/Softplus/Softsign/CELU/
LogSigmoid as exporters split them (``smooth``), an Inception block, a 1-D sequence
classifier (``sequence``, N×C×L), ShuffleNetV2 units (``shufflenet``), PyTorch's MNIST example
ending in ``F.log_softmax`` (``logsoftmax``: Y holds log-probabilities; binary inputs with a
black border, so max-pool windows tie and go to their first maximum). zoo3: factorised
kernels, strides and pools on a non-square input (``nonsquare``; ``nonsquare_op18``:
TorchScript at opset 18), ``x.squeeze(-1).squeeze(-1)`` and a bias-free Linear (``squeeze``),
adaptive max pools (dynamo's ReduceMax) and an identity adaptive average pool (``maxhead``), a
pre-activation ResNet (BatchNorm before ReLU and after an Add: ``preact``), ResNeXt bottlenecks
(``resnext``), arithmetic in ``forward`` (``innorm``: ``(x − mean) / std`` inside the model, a
residual branch times 0.3; zennit takes the gradient there), an MLP on an image input
(``flatmlp``; ``flatmlp_op20``: TorchScript at opset 20; ``flatmlp_extdata``: dynamo's export as
torch writes it by default, the weights in ``flatmlp_extdata.onnx.data`` beside it),
GoogLeNet's ``transform_input`` (``transform``: each channel gathered, scaled, concatenated;
zB's bounds the input's range as given, as zennit takes them), functional clamps (``clamps``:
``x.clamp(min=0)``, dynamo's Max;
``F.relu6``), and Keras's "same" pooling on a non-square input (``keras_pool_tf2onnx``:
ZeroPadding2D, MaxPooling2D and AveragePooling2D with "same" padding, the average over the
entries inside the input; ``tools/make_zoo_keras_pool_fixture.py``), ``nn.Softplus(beta)``
(``softbeta_ts``: Mul, Softplus, Div read as one activation; its dynamo export is refused, see
below), a map cut by slicing (``cropped``: ``x[:, :, 1:, :-2]``, a Crop). zoo4: a classifier
ending in ``nn.Softmax`` (``softmax``: kept, its gradient; ``Y`` holds probabilities; so does
``keras_bn``'s twin), functional pooling and activations, which zennit leaves to autograd
(``functional``: DenseNet's ``F.relu`` and ``F.adaptive_avg_pool2d`` tail, Inception-v3's padded
``F.avg_pool2d`` in a block; ``mobiletail``: MobileNetV2's functional pool after ReLU6
modules; ``meansigmoid``: ``x.mean([2, 3])``, ``x * torch.sigmoid(x)`` beside ``nn.SiLU``, a
``torch.sigmoid`` head; ``funcacts``: ten activation kinds called in ``forward``, each before
a BatchNorm); ``padmodes``: ``padding_mode`` reflect and replicate, ``nn.ReflectionPad2d``,
``nn.ReplicationPad2d`` (MirrorPad nodes); ``circular_dynamo``: ``padding_mode="circular"``,
dynamo's Pad of mode wrap); ``custompool``: a leaf module of ours that pools and flattens in
its forward (TorchScript: ``/gap/GlobalAveragePool`` beside ``/gap/Flatten``). zoo5:
``modfuncs_functions``, TorchScript with ``export_modules_as_functions=True`` (local functions
inlined; a custom Swish module told from ``nn.SiLU``), ``zsum``: additions through zennit's
own ``Sum`` layer inside the model (``torch.stack`` and a sum: one Add), ``smooth_float64``:
``smooth`` exported in float64 (Cast to float32 around CELU, dropped), ``subclass``: subclasses of
``nn.ReLU`` and ``nn.AvgPool2d`` (zennit hooks them as their bases; dynamo's stack traces say
so). zoo6: ``grouped_noopt``, ``innorm_noopt``, ``shufflenet_noopt``: ``dynamo=True``
without its optimiser, as a checker keeping BatchNorms for an exact fold exports (a Pad node
before a padded Conv: one border for flat and zB; a ReduceMean output named like the
initializer 'mean'; ``x.chunk`` as SplitToSequence/SequenceAt, an Identity in the shuffle;
``smooth_noopt``, ``funcacts_noopt``: Softplus as x · 1, Softplus, / 1, its threshold on x · 1);
``sequence_op9``: TorchScript at opset 9 (an AvgPool1d's Pad of zeros). Stop 23: ``segate``,
squeeze-and-excitation gates as MobileNetV3 (ReLU, Hardsigmoid, ``scale * x``) and EfficientNet
(SiLU, Sigmoid) build them, a ``Gate`` node each, which passes relevance as zennit's autograd
does (R·s to the map, Σ R·x to the gate), in every export (``_noopt`` too). Stop 24:
``decoder``, a U-Net's decoder path (ConvTranspose: k=2 s=2, k=4 s=2 p=1 after a skip
concatenated, grouped with output_padding; nearest Resize by scales and by sizes), and
``transfirst``, a transposed convolution as the first layer (flat's ones and zB's bounds only
where input pixels land). ``keras_se_tf2onnx``: the gates as Keras's MobileNetV3 and
EfficientNet blocks write them (``tools/make_zoo_keras_se_fixture.py``; test_keras_gates.py).
``convnext_ts``: torchvision's ConvNeXt blocks and LayerNorm2d (LayerNormalization over the
channels after a Transpose, a ``ChannelNorm`` that passes relevance as its gradient, as
zennit's autograd does; ``nn.Linear`` on the permuted map a ``PositionwiseDense``, dense to
the presets), residuals through ``Sum``; ``convnext_dynamo``, whose export writes
LayerNorm2d's permute of the pooled 1×1 map as a Reshape to [-1] and a Gather of every index
(``as_strided``): the same tensor. Stop 25: ``segate1x1``, gates on a 1×1 map (EfficientNetV2-S
and MobileNetV3 on 32×32 inputs, their last stages): map and gate of one shape, were refused.
Stop 26: ``atrous``, DeepLab's atrous pyramid in small (a dilated depthwise convolution, stride 2
with dilation 3, branches at dilations 2, 6 and 12 on an 8×8 map), computed on the taps over
the input's phases; ``keras_norm_tf2onnx``: Keras's GroupNormalization and LayerNormalization
(over a map's channels, after tf2onnx moved its Transposes; over dense features; without γ or
β) as the arithmetic tf2onnx writes, read as GroupNorm and ChannelNorm; its reference on a
PyTorch twin's ``nn.GroupNorm`` and ``nn.LayerNorm`` (``tools/make_zoo_keras_norm_fixture.py``).
Issue 12's bar:
outputs within 1e-6, relevance within 1e-4 of max|R| per sample, float64.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from parity import relative_error

import lrpcore

pytest.importorskip("onnx")

ZOO = Path(__file__).parent / "data" / "zoo"
MODELS = ["resnet", "densenet", "mobilenetv2", "vgg", "grouped", "squeezenet", "mlp",
          "activations", "avgpools", "groupfirst", "dilated", "smooth", "inception", "sequence",
          "shufflenet", "logsoftmax", "nonsquare", "squeeze", "maxhead", "preact", "resnext",
          "innorm", "flatmlp", "transform", "clamps", "cropped", "softmax", "functional",
          "meansigmoid", "mobiletail", "funcacts", "padmodes", "custompool", "zsum",
          "subclass", "segate", "decoder", "transfirst", "segate1x1", "atrous"]
FILES = [f"{m}_{e}" for m in MODELS for e in ("ts", "dynamo")] + ["resnet_bn_dynamo",
                                                                   "keras_tf2onnx",
                                                                   "keras_bn_tf2onnx",
                                                                   "keras_sep_tf2onnx",
                                                                   "keras_seq_tf2onnx",
                                                                   "activations_op13",
                                                                   "nonsquare_op18",
                                                                   "flatmlp_op20",
                                                                   "flatmlp_extdata",
                                                                   "keras_pool_tf2onnx",
                                                                   "softbeta_ts",
                                                                   "circular_dynamo",
                                                                   "modfuncs_functions",
                                                                   "modfuncs_dynamo",
                                                                   "smooth_float64",
                                                                   "grouped_noopt",
                                                                   "innorm_noopt",
                                                                   "shufflenet_noopt",
                                                                   "smooth_noopt",
                                                                   "funcacts_noopt",
                                                                   "sequence_op9",
                                                                   "segate_noopt",
                                                                   "keras_se_tf2onnx",
                                                                   "convnext_ts",
                                                                   "convnext_dynamo",
                                                                   "interpolate_ts",
                                                                   "interpolate_dynamo",
                                                                   "interpaa_dynamo",
                                                                   "groupnorm_ts",
                                                                   "groupnorm_dynamo",
                                                                   "keras_norm_tf2onnx"]
RULES = {"epsilon_0p01": "epsilon:0.01", "EpsilonPlus": "EpsilonPlus",
         "EpsilonPlusFlat": "EpsilonPlusFlat", "EpsilonAlpha2Beta1": "EpsilonAlpha2Beta1",
         "EpsilonAlpha2Beta1Flat": "EpsilonAlpha2Beta1Flat", "EpsilonGammaBox": "EpsilonGammaBox"}


def _load(file):
    """The model with the input specification the reference used, and the reference."""
    onnx_path = ZOO / f"{file}.onnx"
    ref_path = ZOO / f"{file.rsplit('_', 1)[0]}.npz"
    if not onnx_path.exists() or not ref_path.exists():
        pytest.skip(f"zoo fixture {file} is missing (tools/make_zoo_fixtures.py makes it)")
    model = lrpcore.load_model(onnx_path)
    with np.load(ref_path) as data:
        ref = {k: data[k] for k in data.files}
    # the references' inputs are normalised: zB's bounds per channel follow from mean and std
    model.input_spec = replace(model.input_spec, mean=tuple(map(float, ref["mean"])),
                               std=tuple(map(float, ref["std"])))
    return model, ref


_FORWARDS: dict = {}


def _forward(file):
    if file not in _FORWARDS:
        model, ref = _load(file)
        ex = lrpcore.Explainer(model, dtype="float64")
        _FORWARDS[file] = (model, ref, ex.forward(ref["x"], raw=True))
    return _FORWARDS[file]


@pytest.mark.parametrize("file", FILES)
def test_outputs_equal_zennit(file):
    model, ref, fw = _forward(file)
    # a sequence (N×C×L) is taken as it is, as a flat vector is
    layout = "flat" if ref["x"].ndim <= 3 else "NHWC" if file.startswith("keras") else "NCHW"
    assert model.input_spec.layout == layout
    np.testing.assert_allclose(fw.outputs(), ref["Y"], rtol=0, atol=1e-6)
    assert len(set(ref["Y"].argmax(axis=1))) >= 2  # the references explain several classes


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("file", FILES)
def test_relevance_equals_zennit(file, rule):
    _, ref, fw = _forward(file)
    R = fw.relevance(RULES[rule])
    assert R.shape == ref["x"].shape  # in the model's own layout
    expected, scale = ref["R__" + rule], np.abs(ref["Y"]).max()
    if np.abs(expected).max() < 1e-12 * scale:
        # zero to rounding: flat on the layer before a LayerNorm, whose gradient sums to 0
        # over the channels of each position (convnext); the relative error of two roundings
        # says nothing, so ours must be zero to rounding as well
        assert np.abs(R).max() < 1e-12 * scale
        return
    assert relative_error(R, expected).max() < 1e-4


@pytest.mark.parametrize("file", ["resnet_ts", "densenet_dynamo", "squeezenet_ts", "mlp_ts",
                                  "keras_tf2onnx", "dilated_dynamo", "smooth_ts",
                                  "sequence_ts", "shufflenet_dynamo", "logsoftmax_ts",
                                  "keras_seq_tf2onnx"])
def test_float32_runs_and_agrees_loosely(file):
    model, ref = _load(file)
    fw = lrpcore.Explainer(model, dtype="float32").forward(ref["x"].astype(np.float32),
                                                          raw=True)
    np.testing.assert_allclose(fw.outputs(), ref["Y"], rtol=0,
                               atol=1e-4 * np.abs(ref["Y"]).max())
    for rule in ("EpsilonPlus", "EpsilonGammaBox"):
        R = fw.relevance(rule)
        assert R.dtype == np.float32
        assert relative_error(R, ref["R__" + rule]).max() < 1e-3


def test_unfoldable_batchnorm_passes_relevance_as_zennit_does():
    """A BatchNorm after a Concat (DenseNet) stays an Affine node; zennit's composites give
    BatchNorm ``Pass``, so relevance reaches its input unchanged, under presets and plain
    specs alike, while a per-layer rule naming it still applies that rule."""
    model, ref, fw = _forward("densenet_ts")
    affine = [k for k, n in enumerate(model.nodes) if n.layer.kind == "Affine"]
    assert len(affine) == 4  # norm1 of both dense layers, the transition's, norm5
    for rule in ("EpsilonPlus", "epsilon:0.01"):
        R, per_node = fw.relevance(rule, trace=True)
        for k in affine:
            np.testing.assert_array_equal(per_node[k], per_node.outputs[k])
    name = model.nodes[affine[-1]].name
    R, per_node = fw.relevance("EpsilonPlus", layer_rules={name: "epsilon:0.5"}, trace=True)
    k = affine[-1]
    assert not np.allclose(per_node[k], per_node.outputs[k])


def test_dynamo_export_with_a_fixed_batch_flattens_any_batch():
    """dynamo=True writes the flatten as Reshape [1, features] for a batch-1 example; the
    model still explains batches of four."""
    model, ref, fw = _forward("vgg_dynamo")
    reshapes = [n for n in model.nodes if n.layer.kind in ("Flatten", "FlattenChannelsFirst")]
    assert reshapes and len(ref["x"]) == 4
    assert fw.outputs().shape == ref["Y"].shape


def test_ceil_mode_max_pool_keeps_the_partial_windows():
    """SqueezeNet's ceil_mode pools: 10×10 → 5×5 (floor would give 4×4)."""
    model, _, _ = _forward("squeezenet_ts")
    shapes = model.shapes()
    pools = [k for k, n in enumerate(model.nodes) if n.layer.kind == "MaxPool"]
    assert shapes[pools[0]][:2] == (5, 5)


@pytest.mark.parametrize("file", ["densenet_ts", "squeezenet_dynamo", "grouped_ts", "mlp_ts",
                                  "keras_tf2onnx", "activations_dynamo", "avgpools_ts",
                                  "dilated_ts", "smooth_ts", "smooth_dynamo",
                                  "sequence_dynamo", "shufflenet_ts", "keras_seq_tf2onnx",
                                  "innorm_dynamo", "maxhead_dynamo", "squeeze_ts",
                                  "cropped_ts", "transform_dynamo", "functional_dynamo",
                                  "meansigmoid_ts", "padmodes_ts", "circular_dynamo",
                                  "segate_ts", "decoder_ts", "transfirst_dynamo",
                                  "interpolate_ts", "interpaa_dynamo", "groupnorm_ts",
                                  "attunet_ts", "keras_att_tf2onnx", "attgrid_dynamo"])
def test_native_round_trip_keeps_relevance(file, tmp_path):
    """``lrp convert`` to the native format keeps every new node kind (the Affine that passes,
    grouped convolutions, the ceil-mode border, activations, partial mean pools) and so the
    relevance."""
    model, ref, fw = _forward(file)
    path = tmp_path / "model.npz"
    lrpcore.save_model(model, path)
    again = lrpcore.load_model(path)
    again.input_spec = model.input_spec
    R = lrpcore.Explainer(again, dtype="float64").forward(ref["x"], raw=True).relevance(
        "EpsilonGammaBox")
    np.testing.assert_array_equal(R, fw.relevance("EpsilonGammaBox"))


def test_partial_windows_divide_by_the_entries_they_count():
    """count_include_pad=False: a 3×3 corner window of the padded 11×11 map counts 4 inputs;
    ceil_mode 2×2 on 11×11: the last row of windows counts 2 (ResNet-D's downsampling)."""
    model, _, _ = _forward("avgpools_ts")
    pools = [n.layer for n in model.nodes if n.layer.kind == "PartialMeanPool"]
    assert len(pools) == 3
    ones = np.ones((1, 13, 13, 1))
    np.testing.assert_allclose(pools[0].forward(ones * _inside(13, 1), np), 1.0)
    np.testing.assert_allclose(pools[1].forward(np.pad(np.ones((1, 11, 11, 1)),
                                                       ((0, 0), (0, 1), (0, 1), (0, 0))), np),
                               1.0)


def _inside(n, border):
    mask = np.zeros((1, n, n, 1))
    mask[:, border:n - border, border:n - border] = 1
    return mask


def test_a_native_partial_mean_pool_with_bad_borders_is_refused(tmp_path):
    import json

    model, _, _ = _forward("avgpools_ts")
    path = tmp_path / "model.npz"
    lrpcore.save_model(model, path)
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    header = json.loads(str(arrays["header"]))
    k = next(i for i, spec in enumerate(header["layers"]) if spec["type"] == "PartialMeanPool")
    header["layers"][k]["uncounted"] = [-1, 0, 0, 0]
    arrays["header"] = np.array(json.dumps(header))
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(lrpcore.ModelFormatError, match=f"header layer {k}: 'uncounted'"):
        lrpcore.load_model(tmp_path / "bad.npz")


@pytest.mark.parametrize("file", ["innorm_ts", "innorm_dynamo"])
def test_arithmetic_in_forward_passes_relevance_as_its_gradient(file):
    """``(x − mean) / std``, ``conv(x) * 0.3`` and ``features * 2`` in a PyTorch model's
    forward are Scale nodes, none folded into the convolution before it; relevance passes each
    as zennit's autograd does, multiplied by the scale (folded, or passed as a BatchNorm's
    Affine, they were 30–80 % of max|R| off)."""
    model, ref, fw = _forward(file)
    scales = [k for k, n in enumerate(model.nodes) if n.layer.kind == "Scale"]
    assert len(scales) == 3
    R, per_node = fw.relevance("EpsilonPlus", trace=True)
    for k in scales:
        np.testing.assert_allclose(per_node[k], per_node.outputs[k] * model.nodes[k].layer.scale,
                                   rtol=1e-12, atol=0)
    np.testing.assert_allclose(model.nodes[scales[0]].layer.scale, 1 / np.array(
        [0.229, 0.224, 0.225], dtype=np.float32), rtol=1e-6)


def test_keras_arithmetic_stays_a_passing_affine():
    """tf2onnx writes Keras's BatchNormalization as Mul and Add: those stay Affine nodes that
    relevance passes (zennit's Pass on the PyTorch twin's BatchNorm), not Scales."""
    model, _, _ = _forward("keras_bn_tf2onnx")
    kinds = {n.layer.kind for n in model.nodes}
    assert "Affine" in kinds and "Scale" not in kinds


def test_one_axis_squeezes_and_reduce_max_read_as_pooling():
    """``x.squeeze(-1).squeeze(-1)`` of a pooled map is one flatten; dynamo's ReduceMax over
    H and W (``AdaptiveMaxPool2d(1)``) a global max pool. Both were refused."""
    model, _, _ = _forward("squeeze_ts")
    assert [n.layer.kind for n in model.nodes].count("Flatten") == 1
    model, _, _ = _forward("maxhead_dynamo")
    pools = [n for n in model.nodes if n.layer.kind == "MaxPool"]
    assert [p.layer.describe() for p in pools] == ["MaxPool 3×3 stride 3,3",
                                                   "MaxPool 6×6 stride 6,6"]


@pytest.mark.parametrize("file", ["transform_ts", "transform_dynamo"])
def test_transform_input_leaves_zbs_bounds_the_inputs_range(file):
    """GoogLeNet's ``transform_input`` turns ImageNet-normalised input into ``(x − 0.5) / 0.5``
    channel by channel: three Gathers (ChannelSlices), Scales, one Concat. zennit's
    EpsilonGammaBox(low, high), given the input's range as for every other model, uses it at
    the first convolution as it is: so does the engine (it mapped the bounds to [−1, 1], what
    the convolution sees, 0.27 × max|R| from such a reference). The mapped bounds stay one
    per-layer rule away."""
    model, ref, fw = _forward(file)
    kinds = [n.layer.kind for n in model.nodes]
    assert kinds.count("ChannelSlice") == 3 and kinds.count("Scale") == 3
    low, high = fw.explainer.input_range
    np.testing.assert_allclose(low, (0 - ref["mean"]) / ref["std"])
    np.testing.assert_allclose(high, (1 - ref["mean"]) / ref["std"])
    conv = next(n.name for n in model.nodes if n.layer.kind == "Convolution")
    mapped = fw.relevance("EpsilonGammaBox", layer_rules={conv: "zb:-1:1"})
    assert relative_error(mapped, ref["R__EpsilonGammaBox"]).max() > 0.1


def test_softplus_with_beta_is_one_activation_and_dynamos_threshold_is_refused():
    """TorchScript's Mul(β), Softplus, Div(β) is one Elementwise node that relevance passes
    (the Mul was a Scale whose gradient multiplied relevance by β: 5 × max|R| off with β = 2
    and 3). dynamo's threshold reads the Mul's output twice (Greater, and Softplus): refused in
    one line, not explained wrongly."""
    model, _, _ = _forward("softbeta_ts")
    assert [n.layer.kind for n in model.nodes].count("Elementwise") == 2
    assert "Scale" not in {n.layer.kind for n in model.nodes}
    with pytest.raises(lrpcore.ModelFormatError, match="'n10' \\(Where\\)") as info:
        lrpcore.load_model(ZOO / "softbeta_dynamo.onnx")
    assert "\n" not in str(info.value)


def test_a_rule_naming_a_scale_says_it_passes_the_gradient():
    """A Scale takes no rule: the refusal said it passed relevance 'through unchanged', which a
    Scale (its gradient multiplies by the scale) does not."""
    _, ref, fw = _forward("innorm_ts")
    with pytest.raises(lrpcore.RuleError, match="'?/Sub'?|Scale") as info:
        fw.relevance("EpsilonPlus", layer_rules={"/Sub": "epsilon:0.1"})
    assert "as its gradient" in str(info.value) and "unchanged" not in str(info.value)


@pytest.mark.parametrize("file", ["softmax_ts", "softmax_dynamo", "keras_bn_tf2onnx"])
def test_a_final_softmax_is_kept_and_passed_as_its_gradient(file):
    """A model ending in ``nn.Softmax`` (or Keras's ``activation="softmax"``): its outputs are
    the probabilities, the predicted class's probability is explained, and relevance passes the
    softmax as its gradient, R_j = p_j (R_j − Σ_i R_i p_i), as zennit's autograd takes it
    (dropped, the engine reported and explained the logits: 0.6 off in the outputs and 2.6–10 ×
    max|R| off in the relevance)."""
    model, ref, fw = _forward(file)
    assert model.nodes[-1].layer.kind == "Softmax"
    np.testing.assert_allclose(fw.outputs().sum(axis=1), 1, rtol=1e-12)
    R, per_node = fw.relevance("EpsilonPlus", trace=True)
    p = fw.outputs()
    top = p.argmax(axis=1)
    logits_R = per_node[len(model.nodes) - 1]
    expected = p * (np.eye(p.shape[1])[top] * p[np.arange(len(p)), top][:, None]
                    - (p[np.arange(len(p)), top] ** 2)[:, None])
    np.testing.assert_allclose(logits_R, expected, rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(logits_R.sum(axis=1), 0, atol=1e-12)


FUNCTIONAL = {  # the activations and average pools each export shows as called in forward
    "functional_ts": ["/Relu", "/block/AveragePool", "/block/Relu", "/block/Relu_1", "/Relu_1",
                      "/GlobalAveragePool"],
    "functional_dynamo": ["node_relu", "node_avg_pool2d", "node_relu_1", "node_relu_2",
                          "node_relu_3", "node_mean"],
    "meansigmoid_ts": ["/Mul", "/ReduceMean", "/Sigmoid_1"],
    "meansigmoid_dynamo": ["node_mul", "node_mean", "node_sigmoid_1"],
    "mobiletail_ts": ["/GlobalAveragePool"], "mobiletail_dynamo": ["node_mean"],
    "custompool_ts": ["/Relu", "/gap/GlobalAveragePool"],
    "custompool_dynamo": ["node_relu_1", "node_mean"],
    "funcacts_ts": ["/Mul_1", "/LeakyRelu", "/Elu", "/Mul_2", "/block/HardSwish", "/Softplus",
                    "/HardSigmoid", "/Clip", "/Selu", "/Tanh", "/ReduceMean"],
    "resnet_ts": [], "resnet_bn_dynamo": [], "mobilenetv2_ts": [], "activations_dynamo": [],
    "keras_bn_tf2onnx": [],
}


@pytest.mark.parametrize("file", FUNCTIONAL)
def test_functional_calls_are_read_from_the_export(file):
    """zennit hooks modules: ``F.relu``, ``torch.sigmoid``, ``x * torch.sigmoid(x)``,
    ``F.adaptive_avg_pool2d``, ``x.mean([2, 3])`` and ``F.avg_pool2d`` in a ``forward`` get its
    autograd's gradient, not Pass or Norm (1.1–14 × max|R| off when read as modules). A dynamo
    export's node metadata names each node's module classes; a TorchScript export's node name
    its module path (the model's own forward, or a module holding submodules: functional).
    Activations become role ``gradient``, pools take the ``gradient`` rule by default."""
    model, _, _ = _forward(file)
    marked = [n.name for n in model.nodes if getattr(n.layer, "functional", False)]
    assert marked == FUNCTIONAL[file]
    assert (f"; {len(marked)} functional call" in model.summary()) == bool(marked)  # lrp info
    for n in model.nodes:
        if n.name in marked:
            assert (n.layer.role == "gradient") != bool(getattr(n.layer, "norm_role", False))


def test_gradient_rule_at_a_pool_reproduces_zennit_where_the_file_does_not_say(tmp_path):
    """A file that does not show how it pooled (another producer, names changed) gets Norm at
    its pools; ``--layer-rule '<pool>=gradient'`` gives zennit's gradient of a functional pool
    (torchvision MobileNetV2's ``F.adaptive_avg_pool2d``), and ``epsilon:1e-6`` at a pool read
    as functional gives zennit's Norm back."""
    import onnx

    proto = onnx.load(ZOO / "mobiletail_ts.onnx")
    proto.producer_name = "someone"
    onnx.save(proto, tmp_path / "anonymous.onnx")
    _, ref, fw = _forward("mobiletail_ts")
    model = lrpcore.load_model(tmp_path / "anonymous.onnx")
    model.input_spec = fw.explainer.model.input_spec
    anonymous = lrpcore.Explainer(model, dtype="float64").forward(ref["x"], raw=True)
    for rule in ("EpsilonPlus", "epsilon:0.01"):
        key = "R__" + ("epsilon_0p01" if rule == "epsilon:0.01" else rule)
        norm = anonymous.relevance(rule)
        assert relative_error(norm, ref[key]).max() > 0.5
        for pool_rule in ("gradient", "flat"):  # flat: the same on an unpadded pool
            R = anonymous.relevance(rule, layer_rules={"*GlobalAveragePool": pool_rule})
            assert relative_error(R, ref[key]).max() < 1e-6
        back = fw.relevance(rule, layer_rules={"/GlobalAveragePool": "epsilon:1e-6"})
        np.testing.assert_allclose(back, norm, rtol=0, atol=1e-12 * np.abs(norm).max())


def test_a_rule_on_a_functional_activation_says_it_passes_the_gradient():
    _, _, fw = _forward("functional_ts")
    with pytest.raises(lrpcore.RuleError, match="as its gradient"):
        fw.relevance("EpsilonPlus", layer_rules={"/Relu_1": "flat"})



def test_a_functional_padded_pool_loses_its_border_share_as_an_expected_note(tmp_path, capsys):
    """``F.avg_pool2d(x, 3, 1, 1)``'s gradient gives the zero padding its share of each window,
    lost at the Pad: 'cause not recognised' was warned; it is a note (by design)."""
    from lrpcore.cli.main import main

    with np.load(ZOO / "functional.npz") as data:
        np.save(tmp_path / "x.npy", data["x"])
    assert main(["explain", str(ZOO / "functional_dynamo.onnx"), str(tmp_path / "x.npy"),
                 "--raw", "--out", str(tmp_path / "R.npy")]) == 0
    err = capsys.readouterr().err.splitlines()
    assert not [line for line in err if "not recognised" in line]
    assert any("expected: layer 4: the padding of a functional average pool" in line
               for line in err)


def test_padding_by_copies_sends_the_border_back_and_circular_torchscript_is_refused():
    """``padding_mode="reflect"``/``"replicate"``/``"circular"`` and the padding modules are
    ``MirrorPad`` nodes (ONNX Pad modes reflect, edge, wrap): the border's relevance goes back
    to the entries it copies, as the padding's gradient in zennit (they were refused: 'only
    constant padding'); TorchScript's circular padding (slices concatenated along height and
    width) stays refused in one line."""
    for file, modes in (("padmodes_ts", ["reflect", "edge", "reflect", "edge"]),
                        ("padmodes_dynamo", ["reflect", "edge", "reflect", "edge"]),
                        ("circular_dynamo", ["wrap"])):
        model, ref, fw = _forward(file)
        pads = [n.layer for n in model.nodes if n.layer.kind == "MirrorPad"]
        assert [p.mode for p in pads] == modes
        R, per_node = fw.relevance("epsilon:0.01", trace=True)
        k = next(k for k, n in enumerate(model.nodes) if n.layer.kind == "MirrorPad")
        # the pad moves relevance, it neither creates nor loses any
        np.testing.assert_allclose(per_node[k].sum(axis=(1, 2, 3)),
                                   per_node.outputs[k].sum(axis=(1, 2, 3)), rtol=1e-12)
    with pytest.raises(lrpcore.ModelFormatError, match="Concat along axis 2") as info:
        lrpcore.load_model(ZOO / "circular_ts.onnx")
    assert "\n" not in str(info.value)


def test_a_native_file_converted_before_the_softmax_was_kept_reads_as_the_onnx_file(tmp_path):
    """A graph model's native file written when an ONNX Softmax was the toolbox's SoftMax
    (dropped) reads its final SoftMax as the Softmax ONNX now builds: the converted model's
    outputs and relevance stay those of its ONNX file."""
    import json

    model, ref, fw = _forward("softmax_ts")
    lrpcore.save_model(model, tmp_path / "model.npz")
    with np.load(tmp_path / "model.npz") as data:
        arrays = {k: data[k] for k in data.files}
    header = json.loads(str(arrays["header"]))
    assert header["layers"][-1]["type"] == "Softmax"
    header["layers"][-1]["type"] = "SoftMax"
    arrays["header"] = np.array(json.dumps(header))
    np.savez(tmp_path / "old.npz", **arrays)
    old = lrpcore.load_model(tmp_path / "old.npz")
    old.input_spec = model.input_spec
    again = lrpcore.Explainer(old, dtype="float64").forward(ref["x"], raw=True)
    np.testing.assert_array_equal(again.outputs(), fw.outputs())
    np.testing.assert_array_equal(again.relevance("EpsilonPlus"), fw.relevance("EpsilonPlus"))

