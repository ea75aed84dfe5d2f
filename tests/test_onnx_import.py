"""ONNX import: small graphs built with onnx.helper, checked against a numpy ONNX evaluator.

Every ONNX model takes arrays in the layout its file declares: these chains, as PyTorch exports
them, take N×C×H×W (they were read as N×H×W×C by an earlier chain importer)."""

from __future__ import annotations

import numpy as np
import pytest

import lrpcore
from lrpcore import ModelFormatError, explain, load_model, save_model

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

RNG = np.random.default_rng(42)


# --- a tiny numpy evaluator of ONNX graphs (NCHW), written from the ONNX operator docs -----------

def _windows(x, kh, kw, sh, sw):
    N, C, H, W = x.shape
    Ho, Wo = (H - kh) // sh + 1, (W - kw) // sw + 1
    out = np.empty((N, C, Ho, Wo, kh, kw))
    for i in range(Ho):
        for j in range(Wo):
            out[:, :, i, j] = x[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
    return out


def _run(op, ins, attrs, opset):
    if op == "Gemm":
        a, b = ins[0], ins[1]
        a = a.T if attrs.get("transA") else a
        b = b.T if attrs.get("transB") else b
        y = attrs.get("alpha", 1.0) * a @ b
        return y + attrs.get("beta", 1.0) * ins[2] if len(ins) > 2 else y
    if op == "MatMul":
        return ins[0] @ ins[1]
    if op == "Add":
        return ins[0] + ins[1]
    if op == "Conv":
        x, w = ins[0], ins[1]
        sh, sw = attrs.get("strides", [1, 1])
        x = np.pad(x, [(0, 0), (0, 0)] + _conv_padding(x.shape[2:], w.shape[2:], (sh, sw),
                                                         attrs))
        win = _windows(x, w.shape[2], w.shape[3], sh, sw)  # N, C, Ho, Wo, kh, kw
        y = np.einsum("ncijab,ocab->noij", win, w)
        return y + ins[2][None, :, None, None] if len(ins) > 2 else y
    if op == "BatchNormalization":
        x, g, b, m, v = ins
        eps = attrs.get("epsilon", 1e-5)
        shape = (1, -1) + (1,) * (x.ndim - 2)
        return (x - m.reshape(shape)) / np.sqrt(v.reshape(shape) + eps) * g.reshape(shape) \
            + b.reshape(shape)
    if op == "Relu":
        return np.maximum(ins[0], 0)
    if op == "Tanh":
        return np.tanh(ins[0])
    if op == "Softmax":
        e = np.exp(ins[0] - ins[0].max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    if op in ("MaxPool", "AveragePool"):
        kh, kw = attrs["kernel_shape"]
        sh, sw = attrs.get("strides", [1, 1])
        p = attrs.get("pads", [0, 0, 0, 0])
        fill = -np.inf if op == "MaxPool" else 0.0
        x = np.pad(ins[0], [(0, 0), (0, 0), (p[0], p[2]), (p[1], p[3])], constant_values=fill)
        win = _windows(x, kh, kw, sh, sw)
        return win.max(axis=(4, 5)) if op == "MaxPool" else win.mean(axis=(4, 5))
    if op == "GlobalAveragePool":
        return ins[0].mean(axis=(2, 3), keepdims=True)
    if op == "GlobalMaxPool":
        return ins[0].max(axis=(2, 3), keepdims=True)
    if op == "Flatten":
        return ins[0].reshape(ins[0].shape[0], -1)
    if op == "Reshape":
        shape = [ins[0].shape[i] if s == 0 else s for i, s in enumerate(ins[1].tolist())]
        return ins[0].reshape(shape)
    if op in ("Dropout", "Identity"):
        return ins[0]
    if op == "Pad":
        p = ins[1].tolist()
        half = len(p) // 2
        value = float(ins[2].ravel()[0]) if len(ins) > 2 else 0.0
        mode = attrs.get("mode", "constant")
        mode = mode.decode() if isinstance(mode, bytes) else mode
        widths = list(zip(p[:half], p[half:], strict=True))
        if mode != "constant":
            return np.pad(ins[0], widths, mode=mode)
        return np.pad(ins[0], widths, constant_values=value)
    raise NotImplementedError(op)


def _conv_padding(size, kernel, strides, attrs):
    """[(begin, end)] for H and W: explicit 'pads', or SAME_* (output = ceil(input/stride))."""
    auto = attrs.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    if auto.startswith("SAME"):
        out = []
        for n, k, s in zip(size, kernel, strides, strict=True):
            total = max(0, (-(-n // s) - 1) * s + k - n)
            extra_at_end = auto == "SAME_UPPER"
            begin = total // 2 if extra_at_end else total - total // 2
            out.append((begin, total - begin))
        return out
    p = attrs.get("pads", [0, 0, 0, 0])
    return [(p[0], p[2]), (p[1], p[3])]


def evaluate(model, x):
    env = {t.name: numpy_helper.to_array(t).astype(np.float64)
           if numpy_helper.to_array(t).dtype.kind == "f" else numpy_helper.to_array(t)
           for t in model.graph.initializer}
    env[model.graph.input[0].name] = x
    for node in model.graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type == "Constant":
            env[node.output[0]] = numpy_helper.to_array(attrs["value"])
            continue
        env[node.output[0]] = _run(node.op_type, [env[i] for i in node.input if i], attrs, 13)
    return env[model.graph.output[0].name]


# --- graph building --------------------------------------------------------------------------

class Graph:
    """Builds a chain of nodes; ``node`` returns the output name, ``init`` adds constants."""

    def __init__(self, in_shape):
        self.nodes, self.inits, self.current, self.in_shape = [], [], "x", in_shape
        self.count = 0

    def init(self, value, dtype=np.float32):
        name = f"c{len(self.inits)}"
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def node(self, op, *consts, **attrs):
        self.count += 1
        out = f"t{self.count}"
        self.nodes.append(helper.make_node(op, [self.current, *consts], [out],
                                           name=f"{op.lower()}_{self.count}", **attrs))
        self.current = out
        return self

    def model(self):
        graph = helper.make_graph(
            self.nodes, "g",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", *self.in_shape])],
            [helper.make_tensor_value_info(self.current, TensorProto.FLOAT, None)],
            self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                                  producer_name="lrp-explorer-tests")
        model.ir_version = 8
        return model

    def save(self, tmp_path, name="m.onnx"):
        model = self.model()
        path = tmp_path / name
        path.write_bytes(model.SerializeToString())
        return model, path


def _w(*shape):
    return RNG.standard_normal(shape).astype(np.float32) * 0.5


def _check(tmp_path, g, x_nchw, rtol=1e-9):
    """The model takes the ONNX input as it is (N×C×H×W) and computes what ONNX says."""
    proto, path = g.save(tmp_path)
    model = load_model(path)
    want = evaluate(proto, x_nchw.astype(np.float64))
    got = model.forward(x_nchw.astype(np.float64))
    if got.ndim == 4:  # an image output: the engine keeps maps channels-last
        got = got.transpose(0, 3, 1, 2)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-12)
    return model


# --- conversions -------------------------------------------------------------------------------

def test_mlp_gemm_variants_matmul_add_softmax(tmp_path):
    g = Graph([6])
    g.node("Gemm", g.init(_w(5, 6)), g.init(_w(5)), transB=1, alpha=0.5, beta=2.0)
    g.node("Relu")
    g.node("MatMul", g.init(_w(5, 4))).node("Add", g.init(_w(4)))
    g.node("Tanh")
    g.node("Gemm", g.init(_w(4, 3)), g.init(_w(1, 3)))
    g.node("Dropout").node("Identity").node("Softmax", axis=-1)
    model = _check(tmp_path, g, RNG.standard_normal((7, 6)))
    assert [layer.kind for layer in model.layers] == ["Linear", "Rect", "Linear", "Tanh",
                                                      "Linear", "Softmax"]
    assert model.input_spec.shape == (6,) and model.input_spec.source == "onnx"
    assert model.meta["provenance"]["imported_from"] == "onnx"


def test_converting_an_onnx_chain_to_txt_says_its_convention_is_lost(tmp_path, capsys):
    """A .txt file is read back as a toolbox chain: an ONNX chain's zennit numerics and its
    EpsilonPlus in float32 turned silently into the toolbox's rule in float64."""
    from lrpcore.cli.main import main
    from lrpcore.conventions import TOOLBOX, ZENNIT, convention_of

    g = Graph([6])
    g.node("Gemm", g.init(_w(5, 6)), g.init(_w(5)), transB=1).node("Relu")
    g.node("Gemm", g.init(_w(3, 5)), g.init(_w(3)), transB=1)
    _, path = g.save(tmp_path)
    assert convention_of(load_model(path)) is ZENNIT
    # m.onnx → m.txt would write m.json, which is m.onnx's sidecar as well: refused, nothing left
    assert main(["convert", str(path), str(tmp_path / "m.txt")]) == 2
    assert "would also be the sidecar of" in " ".join(capsys.readouterr().err.split())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]
    (tmp_path / "out").mkdir()
    assert main(["convert", str(path), str(tmp_path / "out" / "m.txt")]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "is read back as an LRP Toolbox chain" in out and "EpsilonPlus in float32" in out
    assert convention_of(load_model(tmp_path / "out" / "m.txt")) is TOOLBOX
    assert main(["convert", str(path), str(tmp_path / "n.npz")]) == 0
    assert "LRP Toolbox chain" not in capsys.readouterr().out
    assert convention_of(load_model(tmp_path / "n.npz")) is ZENNIT


def test_cnn_with_batchnorm_pools_and_flatten_permutation(tmp_path):
    """Conv → BN → Relu → MaxPool → Conv → Relu → AvgPool → Flatten (2×2×4 map) → Gemm."""
    g = Graph([2, 13, 11])
    g.node("Conv", g.init(_w(3, 2, 3, 3)), g.init(_w(3)), strides=[2, 1], kernel_shape=[3, 3])
    g.node("BatchNormalization", g.init(1 + _w(3)), g.init(_w(3)), g.init(_w(3)),
           g.init(0.5 + np.abs(_w(3))), epsilon=1e-3)
    g.node("Relu").node("MaxPool", kernel_shape=[2, 2], strides=[1, 1])
    g.node("Conv", g.init(_w(4, 3, 2, 2)), g.init(_w(4)))
    g.node("Relu").node("AveragePool", kernel_shape=[2, 2], strides=[2, 3])
    g.node("Flatten", axis=1)
    g.node("Gemm", g.init(_w(5, 16)), g.init(_w(5)), transB=1).node("Softmax")
    model = _check(tmp_path, g, RNG.standard_normal((4, 2, 13, 11)))
    assert [layer.kind for layer in model.layers] == [
        "ToChannelsLast", "Convolution", "Rect", "MaxPool", "Convolution", "Rect", "MeanPool",
        "FlattenChannelsFirst", "Linear", "Softmax"]
    assert model.input_spec.shape == (2, 13, 11) and model.input_spec.layout == "NCHW"
    assert model.input_spec.raw_shape == (13, 11, 2)


def test_reshape_flatten_global_average_pool_and_conv_bias_by_add(tmp_path):
    g = Graph([3, 6, 6])
    g.node("Conv", g.init(_w(4, 3, 3, 3))).node("Add", g.init(_w(1, 4, 1, 1)))
    g.node("AveragePool", kernel_shape=[2, 2], strides=[2, 2])
    g.node("Conv", g.init(_w(5, 4, 1, 1)), g.init(_w(5)))
    g.node("GlobalAveragePool")
    g.node("Reshape", g.init([0, -1], np.int64))
    g.node("Gemm", g.init(_w(5, 2)))
    _check(tmp_path, g, RNG.standard_normal((3, 3, 6, 6)))


def test_flatten_without_permutation_issue_on_1x1_maps(tmp_path):
    g = Graph([1, 4, 4])
    g.node("Conv", g.init(_w(6, 1, 4, 4)), g.init(_w(6))).node("Flatten").node("Softmax")
    _check(tmp_path, g, RNG.standard_normal((2, 1, 4, 4)))


def test_imported_model_explains(tmp_path):
    g = Graph([2, 6, 6])
    g.node("Conv", g.init(_w(3, 2, 3, 3)), g.init(np.zeros(3))).node("Relu")
    g.node("Flatten").node("Gemm", g.init(_w(48, 4)), g.init(np.zeros(4)))
    _, path = g.save(tmp_path)
    model = load_model(path)
    x = RNG.standard_normal((2, 2, 6, 6))  # N×C×H×W, as the file declares
    R = explain(model, x, rule="epsilon:1e-12", target="pred", raw=True)
    logits = model.forward(x)
    # zero biases, ReLU network: relevance is conserved from the predicted logit to the input
    assert R.shape == x.shape
    np.testing.assert_allclose(R.reshape(2, -1).sum(axis=1), logits.max(axis=1), rtol=1e-6)


@pytest.mark.parametrize("attrs", [
    {"pads": [1, 1, 1, 1]},
    {"pads": [2, 0, 1, 3], "strides": [2, 1]},  # asymmetric: top, left, bottom, right
    {"auto_pad": "SAME_UPPER", "strides": [2, 2]},
    {"auto_pad": "SAME_LOWER", "strides": [2, 2]},
    {"auto_pad": "VALID"},
])
def test_padded_convolutions_become_pad_and_conv(tmp_path, attrs):
    g = Graph([2, 7, 6])
    g.node("Conv", g.init(_w(3, 2, 3, 3)), g.init(_w(3)), **attrs).node("Relu")
    g.node("Conv", g.init(_w(2, 3, 2, 2)), g.init(_w(2)), pads=[1, 0, 0, 1])
    model = _check(tmp_path, g, RNG.standard_normal((3, 2, 7, 6)))
    kinds = [layer.kind for layer in model.layers]
    assert kinds.count("Pad") == (1 if attrs.get("auto_pad") == "VALID" else 2)
    if attrs.get("auto_pad", "").startswith("SAME"):
        assert model.shapes()[kinds.index("Convolution")] == (4, 3, 3)  # ceil(7/2), ceil(6/2)


def test_pad_node_with_a_value_and_a_pending_average_pool(tmp_path):
    g = Graph([1, 6, 6])
    g.node("Pad", g.init([0, 0, 1, 2, 0, 0, 0, 1], np.int64), g.init(0.5))
    g.node("Conv", g.init(_w(2, 1, 3, 3)), g.init(_w(2))).node("Relu")
    g.node("AveragePool", kernel_shape=[2, 2], strides=[2, 2])
    g.node("Pad", g.init([0, 0, 1, 1, 0, 0, 1, 1], np.int64))  # zeros: the factor passes
    g.node("Conv", g.init(_w(3, 2, 2, 2)))
    model = _check(tmp_path, g, RNG.standard_normal((2, 1, 6, 6)))
    assert [layer.kind for layer in model.layers][:3] == ["ToChannelsLast", "Pad", "Convolution"]
    assert model.layers[1].value == 0.5 and model.layers[1].pads == (1, 0, 2, 1)


def test_relevance_is_conserved_through_zero_padding(tmp_path):
    """Zero biases, ReLU, z-rule: the zero border gets no relevance, so the input keeps all."""
    g = Graph([1, 6, 6])
    g.node("Conv", g.init(_w(3, 1, 3, 3)), g.init(np.zeros(3)), pads=[1, 1, 1, 1]).node("Relu")
    g.node("Conv", g.init(_w(2, 3, 3, 3)), g.init(np.zeros(2)), auto_pad="SAME_UPPER")
    g.node("Relu").node("Flatten").node("Gemm", g.init(_w(72, 4)), g.init(np.zeros(4)))
    _, path = g.save(tmp_path)
    model = load_model(path)
    x = RNG.standard_normal((3, 1, 6, 6))
    fwd = lrpcore.Explainer(model, "numpy").forward(x, raw=True)
    R, layers = fwd.relevance("epsilon:1e-12", "pred", trace=True)
    assert R.shape == x.shape
    np.testing.assert_allclose(R.reshape(3, -1).sum(axis=1), fwd.outputs().max(axis=1),
                               rtol=1e-6)
    assert layers[2].shape == (3, 8, 8, 1)  # the padded input of the first convolution


def test_padded_model_round_trips_natively_and_refuses_the_toolbox_format(tmp_path):
    g = Graph([1, 5, 5])
    g.node("Pad", g.init([0, 0, 1, 0, 0, 0, 2, 1], np.int64), g.init(-1.0))
    g.node("Conv", g.init(_w(2, 1, 3, 3)), g.init(_w(2)))
    _, path = g.save(tmp_path)
    model = load_model(path)
    save_model(model, tmp_path / "m.npz")
    again = load_model(tmp_path / "m.npz")
    assert again.layers[1].pads == (1, 2, 0, 1) and again.layers[1].value == -1.0
    x = RNG.standard_normal((2, 1, 5, 5))
    np.testing.assert_array_equal(again.forward(x), model.forward(x))
    with pytest.raises(ModelFormatError, match="m.txt: the LRP Toolbox's text format has no "
                       "form for layer"):
        save_model(model, tmp_path / "m.txt")
    assert not (tmp_path / "m.txt").exists()


def test_float32_weights_are_kept_exactly(tmp_path):
    W = _w(3, 2)
    g = Graph([3])
    g.node("MatMul", g.init(W))
    _, path = g.save(tmp_path)
    np.testing.assert_array_equal(load_model(path).layers[0].W, W.astype(np.float64))


# --- refusals ----------------------------------------------------------------------------------

def _refused(tmp_path, g, *patterns):
    _, path = g.save(tmp_path)
    with pytest.raises(ModelFormatError) as err:
        load_model(path)
    msg = str(err.value)
    assert str(path) in msg
    for p in patterns:
        assert p in msg, msg
    return msg


def test_unsupported_operator_names_operator_and_node(tmp_path):
    g = Graph([4])
    g.node("MatMul", g.init(_w(4, 3))).node("Hardmax")
    _refused(tmp_path, g, "operator Hardmax is not supported", "hardmax_2")


@pytest.mark.parametrize("op", ["MaxPool", "AveragePool"])
def test_padded_pooling_loads(tmp_path, op):
    """Padded pooling (refused by the old chain importer) is a Pad node and a pool."""
    g = Graph([2, 5, 5])
    g.node(op, kernel_shape=[2, 2], strides=[2, 2], pads=[1, 0, 0, 1], count_include_pad=1)
    model = _check(tmp_path, g, RNG.standard_normal((2, 2, 5, 5)))
    assert "Pad" in [layer.kind for layer in model.layers]


@pytest.mark.parametrize("mode", ["reflect", "edge", "wrap"])
def test_padding_by_copies_loads(tmp_path, mode):
    """PyTorch's padding_mode reflect / replicate / circular (dynamo): a MirrorPad."""
    g = Graph([1, 5, 5])
    g.node("Pad", g.init([0, 0, 1, 2, 0, 0, 2, 1], np.int64), mode=mode)
    g.node("Conv", g.init(_w(2, 1, 3, 3)), g.init(_w(2)))
    model = _check(tmp_path, g, RNG.standard_normal((2, 1, 5, 5)))
    assert "MirrorPad" in [layer.kind for layer in model.layers]


def test_an_unknown_pad_mode_is_refused(tmp_path):
    g = Graph([1, 5, 5])
    g.node("Pad", g.init([0, 0, 1, 1, 0, 0, 1, 1], np.int64), mode="mirror")
    _refused(tmp_path, g, "only constant, reflect, edge and wrap", "pad_1")


def test_padding_channels_refused(tmp_path):
    g = Graph([1, 5, 5])
    g.node("Pad", g.init([0, 1, 0, 0, 0, 0, 0, 0], np.int64))
    _refused(tmp_path, g, "height and width")


@pytest.mark.parametrize("attrs, text", [({"dilations": [0, 2]}, "dilations"),
                                         ({"auto_pad": "SAME_SIDEWAYS"}, "auto_pad")])
def test_other_conv_variants_refused(tmp_path, attrs, text):
    g = Graph([2, 6, 6])
    g.node("Conv", g.init(_w(2, 2, 3, 3)), **attrs)
    _refused(tmp_path, g, text)


def test_grouped_convolution_loads_as_a_graph(tmp_path):
    """Grouped convolutions were refused by the chain importer; the graph engine takes them."""
    g = Graph([2, 6, 6])
    g.node("Conv", g.init(_w(2, 1, 3, 3)), group=2)
    _, path = g.save(tmp_path)
    assert load_model(path).layers[-1].kind == "GroupedConvolution"


def test_average_pools_anywhere_and_global_max_pool(tmp_path):
    """Average pooling is a mean (MeanPool), at the end or before a Tanh: the old chain
    importer refused both, having to fold a factor into a following linear layer."""
    g = Graph([1, 4, 4])
    g.node("Conv", g.init(_w(2, 1, 1, 1))).node("AveragePool", kernel_shape=[2, 2],
                                                strides=[2, 2])
    _check(tmp_path, g, RNG.standard_normal((2, 1, 4, 4)))
    g = Graph([2, 4, 4])
    g.node("AveragePool", kernel_shape=[2, 2], strides=[2, 2]).node("Tanh")
    g.node("GlobalMaxPool").node("Flatten")
    model = _check(tmp_path, g, RNG.standard_normal((3, 2, 4, 4)))
    assert [layer.kind for layer in model.layers][-2:] == ["MaxPool", "Flatten"]


def test_transA_refused_and_batchnorm_after_relu_is_affine(tmp_path):
    g = Graph([4])
    g.node("Gemm", g.init(_w(4, 3)), transA=1)
    _refused(tmp_path, g, "transA")
    g = Graph([4])
    g.node("MatMul", g.init(_w(4, 3))).node("Relu")
    g.node("BatchNormalization", *(g.init(1 + np.abs(_w(3))) for _ in range(4)))
    model = _check(tmp_path, g, RNG.standard_normal((3, 4)))
    assert model.layers[-1].kind == "Affine"


def test_pytorch_chain_takes_nchw_arrays_and_explains_in_nchw(tmp_path):
    """Conv → Relu → MaxPool → Flatten → Gemm as PyTorch exports it: N×C×H×W in, relevance
    N×C×H×W out, equal to explaining the same input transposed by hand through the engine's
    channels-last layers; raw images (H×W×C) are converted."""
    g = Graph([3, 6, 5])
    g.node("Conv", g.init(_w(4, 3, 3, 3)), g.init(_w(4))).node("Relu")
    g.node("MaxPool", kernel_shape=[2, 2], strides=[2, 2]).node("Flatten")
    g.node("Gemm", g.init(_w(5, 8)), g.init(_w(5)), transB=1)
    _, path = g.save(tmp_path)
    model = load_model(path)
    spec = model.input_spec
    assert (spec.layout, spec.shape, spec.raw_shape) == ("NCHW", (3, 6, 5), (6, 5, 3))
    x = RNG.standard_normal((2, 3, 6, 5))
    R = explain(model, x, rule="epsilon:0.01", target="pred", raw=True, dtype="float64")
    assert R.shape == x.shape
    # the same numbers from H×W×C images given raw=False (8-bit pixels: x / 255 for ONNX)
    images = x.transpose(0, 2, 3, 1)
    R_img = explain(model, images * 255.0, rule="epsilon:0.01", target="pred", dtype="float64")
    np.testing.assert_allclose(R_img.reshape(R.shape), R, rtol=1e-12, atol=1e-15)
    with pytest.raises(lrpcore.ShapeError, match="do not fit"):
        explain(model, images, rule="epsilon:0.01", target="pred", raw=True)
    from lrpcore.cli.cmd_info import describe_model

    assert "input layout: N×3×6×5 (NCHW, channels first" in describe_model(model, str(path))


def test_non_flatten_reshape_refused(tmp_path):
    g = Graph([2, 4, 4])
    g.node("Reshape", g.init([0, 4, 8], np.int64))
    _refused(tmp_path, g, "Reshape", "not a flatten")


def test_a_pooled_vector_back_to_its_map_is_that_map_and_a_computed_one_is_refused(tmp_path):
    """Keras's EfficientNet reshapes its pooled vector back to a 1×1 map before the gate's
    1×1 convolutions (it stopped the import there): the same array as the pooled map, no node.
    A vector computed after the pool (dense layers), reshaped to a map, is still refused, and
    the refusal says what such a Reshape usually begins."""
    for target in ([-1, 3, 1, 1], [0, 3, 1, 1]):
        g = Graph([3, 4, 4])
        g.node("GlobalAveragePool").node("Flatten").node("Reshape", g.init(target, np.int64))
        g.node("Conv", g.init(_w(2, 3, 1, 1)), g.init(_w(2)))
        model = _check(tmp_path, g, RNG.standard_normal((2, 3, 4, 4)))
        assert [n.layer.kind for n in model.nodes] == ["ToChannelsLast", "MeanPool",
                                                       "Convolution"]
    g = Graph([3, 4, 4])
    g.node("GlobalAveragePool").node("Flatten").node("Gemm", g.init(_w(3, 3)), transB=1)
    g.node("Reshape", g.init([-1, 3, 1, 1], np.int64))
    msg = _refused(tmp_path, g, "not a flatten", "squeeze-and-excitation gate")
    g = Graph([2, 4, 4])
    g.node("Reshape", g.init([0, 4, 8], np.int64))
    assert "squeeze-and-excitation" not in _refused(tmp_path, g, "not a flatten"), msg
    # another batch size ([7, C, 1, 1] of any batch) is no map of the same samples: it loaded
    g = Graph([3, 4, 4])
    g.node("GlobalAveragePool").node("Flatten").node("Reshape", g.init([7, 3, 1, 1], np.int64))
    g.node("Conv", g.init(_w(2, 3, 1, 1)), g.init(_w(2)))
    _refused(tmp_path, g, "Reshape", "not a flatten")


def test_branching_graph_is_a_graph_model(tmp_path):
    """A skip connection (refused while only chains were explained) loads as a graph."""
    g = Graph([4])
    W = _w(4, 4)
    g.node("MatMul", g.init(W))
    g.nodes.append(helper.make_node("Add", ["t1", "x"], ["t2"], name="skip"))
    g.current = "t2"
    _, path = g.save(tmp_path)
    model = load_model(path)
    x = np.random.default_rng(0).standard_normal((3, 4))
    want = x @ W.astype(np.float64) + x
    np.testing.assert_allclose(lrpcore.predict(model, x, raw=True, dtype="float64"), want,
                               rtol=1e-6)


def test_dynamic_input_shape_refused(tmp_path):
    g = Graph(["C", 4, 4])
    g.node("Relu")
    _refused(tmp_path, g, "fixed shape")


def test_inputs_without_values_are_named(tmp_path):
    """A Keras Normalization layer exported by tf2onnx keeps its mean as a second graph input
    with no stored value: the refusal names both inputs and their shapes, not only a count, and
    the export that stores them (checked by hand on Keras's EfficientNetB0, stop 24)."""
    g = Graph([3, 4, 4])
    g.node("Sub", "norm/Sub/y:0").node("Relu")
    proto = g.model()
    proto.graph.input.append(helper.make_tensor_value_info("norm/Sub/y:0", TensorProto.FLOAT,
                                                           [1, 3, 1, 1]))
    path = tmp_path / "two_inputs.onnx"
    path.write_bytes(proto.SerializeToString())
    with pytest.raises(ModelFormatError) as err:
        load_model(path)
    msg = str(err.value)
    for part in (str(path), "2 inputs without stored values", "'x' (?×3×4×4)",
                 "'norm/Sub/y:0' (1×3×1×1)", "initializer", "tf2onnx.convert.from_keras("):
        assert part in msg, msg


def test_a_graph_whose_inputs_all_have_values_is_refused(tmp_path):
    g = Graph([4])
    g.node("Relu")
    proto = g.model()
    proto.graph.initializer.append(numpy_helper.from_array(np.zeros((1, 4), np.float32), "x"))
    path = tmp_path / "no_input.onnx"
    path.write_bytes(proto.SerializeToString())
    with pytest.raises(ModelFormatError, match="the graph has no input"):
        load_model(path)


@pytest.mark.parametrize("data", [b"", b"\x00\x01\x02garbage" * 10, bytes(range(256))])
def test_damaged_files(tmp_path, data):
    path = tmp_path / "bad.onnx"
    path.write_bytes(data)
    with pytest.raises(ModelFormatError, match="bad.onnx"):
        load_model(path)


def test_truncated_file(tmp_path):
    g = Graph([6])
    g.node("Gemm", g.init(_w(6, 5)), g.init(_w(5)))
    _, path = g.save(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(ModelFormatError, match="m.onnx"):
        load_model(path)


def test_nan_weights_refused(tmp_path):
    W = _w(3, 2)
    W[0, 0] = np.nan
    g = Graph([3])
    g.node("MatMul", g.init(W))
    _refused(tmp_path, g, "NaN")


# --- the sidecar's layout must be the model's ---------------------------------------------------

def _pytorch_cnn(tmp_path):
    g = Graph([3, 6, 5])
    g.node("Conv", g.init(_w(2, 3, 3, 3))).node("Relu").node("Flatten")
    g.node("Gemm", g.init(_w(24, 4)))
    _, path = g.save(tmp_path)
    return path


def test_sidecar_layout_contradicting_the_onnx_input_is_one_line_error(tmp_path, capsys):
    import json

    from lrpcore.cli.main import main

    path = _pytorch_cnn(tmp_path)
    side = tmp_path / "m.json"
    side.write_text(json.dumps({"input": {"layout": "NHWC", "divide": 255.0}}))
    with pytest.raises(ModelFormatError) as err:
        load_model(path)
    msg = str(err.value)
    assert str(side) in msg and "'layout' NHWC" in msg and "takes NCHW input" in msg
    assert "\n" not in msg
    assert main(["info", str(path)]) == 2
    out = capsys.readouterr()
    assert "contradicts" in out.err and out.err.count("\n") == 1 and not out.out
    # an image shape without a layout means the model's own (not NHWC by default)
    side.write_text(json.dumps({"input": {"shape": [3, 6, 5], "raw_shape": [6, 5, 3],
                                          "divide": 255.0}}))
    spec = load_model(path).input_spec
    assert (spec.layout, spec.divide, spec.source) == ("NCHW", 255.0, "sidecar")
    side.write_text(json.dumps({"input": {"layout": "NCHW"}}))
    assert load_model(path).input_spec.layout == "NCHW"


@pytest.mark.parametrize("name", ["mnist-lenet5", "mnist-maxnet"])
def test_channels_first_sidecar_of_a_padded_toolbox_model_names_both_layouts(name, tmp_path):
    """The bundled LeNet-5 (input padded by 2) with ``{"input": {"layout": "NCHW"}}`` beside
    it said "input 'pad' needs an NHWC 'raw_shape' (H, W, C)": the README promises the
    file, the layout written and the one the model takes."""
    import json
    import shutil

    from lrpcore.bundled import default_model_path

    shutil.copy(default_model_path().parent / f"{name}.npz", tmp_path / "m.npz")
    (tmp_path / "m.json").write_text(json.dumps({"input": {"layout": "NCHW"}}))
    with pytest.raises(ModelFormatError) as err:
        load_model(tmp_path / "m.npz")
    msg = str(err.value)
    assert "m.json" in msg and "'layout' NCHW" in msg and "takes NHWC input" in msg
    assert "\n" not in msg


def test_channels_first_spec_for_a_channels_last_chain_is_refused(tmp_path):
    """A toolbox chain computes H×W×C: an NCHW sidecar (or native header) would transpose
    every image into a scramble; both are refused naming the file and both layouts."""
    import json

    from lrpcore.layers import Convolution, Flatten, Linear
    from lrpcore.model import Sequential
    from lrpcore.spec import InputSpec

    model = Sequential([Convolution(_w(2, 2, 3, 2), np.zeros(2)), Flatten(),
                        Linear(_w(8, 3), np.zeros(3))],
                       InputSpec(shape=(3, 3, 3), raw_shape=(3, 3, 3), layout="NHWC"))
    save_model(model, tmp_path / "c.npz")
    (tmp_path / "c.json").write_text(json.dumps({"input": {"layout": "NCHW"}}))
    with pytest.raises(ModelFormatError, match=r"c\.json.*'layout' NCHW.*takes NHWC"):
        load_model(tmp_path / "c.npz")
    assert load_model(tmp_path / "c.npz", sidecar=False).input_spec.layout == "NHWC"
    from lrpcore.io import native

    header = native.model_header(model)
    header["input"]["layout"] = "NCHW"
    bad = tmp_path / "bad.npz"
    np.savez(bad, header=np.array(json.dumps(header)),
             **{"layer0.W": model.layers[0].W, "layer0.B": model.layers[0].B,
                "layer2.W": model.layers[2].W, "layer2.B": model.layers[2].B})
    with pytest.raises(ModelFormatError, match=r"bad\.npz: header 'input'.*NCHW.*NHWC"):
        load_model(bad)
