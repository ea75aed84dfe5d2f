"""Defects the stop-20 session noticed and left (stop 21): per-channel normalisation of a
C×L sequence model, negative per-layer rule indices on the command line, ONNX Max of one
tensor, MaxPool's VALID padding with ceil_mode, a sign flip named as one, figure sizes of
photographs, lrp bench's model names, lrp sanity's default rule, lrp convert's graph models."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from cli_help import help_words

import lrpcore

ZOO = Path(__file__).parent / "data" / "zoo"
MEAN, STD = [0.1, 0.2, 0.3, 0.4], [1.0, 2.0, 3.0, 4.0]


def _with_sidecar(tmp_path, name, sidecar):
    model = tmp_path / name
    shutil.copy(ZOO / name, model)
    model.with_suffix(".json").write_text(json.dumps(sidecar))
    return model


@pytest.mark.parametrize("name, channels_first", [("sequence_ts.onnx", True),
                                                  ("keras_seq_tf2onnx.onnx", False)])
def test_a_sequence_model_takes_a_per_channel_mean_and_std(tmp_path, name, channels_first):
    """A C×L model's sidecar mean/std of C values was refused ('the raw input [4, 32] has 32
    channels'): its channels are the first axis. Both layouts normalise each channel,
    round-trip through the native format, and pixel-flip to the black sample (lrp evaluate
    was an internal error for either: the per-channel background did not fit the grid)."""
    pytest.importorskip("onnx")
    path = _with_sidecar(tmp_path, name, {"input": {"mean": MEAN, "std": STD}})
    model = lrpcore.load_model(path)
    spec = model.input_spec
    x = np.random.default_rng(0).uniform(0, 1, (3,) + tuple(spec.raw_shape))
    fed = spec.preprocess(x)
    channel = (lambda a, c: a[:, c, :]) if channels_first else (lambda a, c: a[:, :, c])
    for c in range(4):
        np.testing.assert_allclose(channel(fed, c), (channel(x, c) - MEAN[c]) / STD[c])
    np.testing.assert_allclose(spec.unprocess(fed), x, rtol=1e-12)
    lrpcore.save_model(model, tmp_path / "copy.npz")
    assert lrpcore.load_model(tmp_path / "copy.npz").input_spec == spec
    from lrpcore.insight import flip_curves

    result = flip_curves(model, fed, lrpcore.explain(model, x, rule="EpsilonPlus"), 0,
                         steps=200, baseline="background")
    last = model.forward(spec.preprocess(np.zeros_like(x)))[:, 0]  # every value flipped
    np.testing.assert_allclose(result.outputs[:, -1], last, rtol=1e-6)


def test_a_sequence_model_refuses_a_mean_of_its_length(tmp_path):
    path = _with_sidecar(tmp_path, "sequence_ts.onnx",
                         {"input": {"mean": [0.0] * 32, "std": [1.0] * 32}})
    with pytest.raises(lrpcore.ModelFormatError, match=r"\[4, 32\] has 4 channels"):
        lrpcore.load_model(path)


def test_a_negative_layer_rule_index_parses_and_counts_from_the_end(tmp_path, capsys):
    """``--layer-rule -1=flat`` failed in argparse ('expected one argument'): a value that
    starts with '-' reads as an option. It now names the last explained layer, as
    ``--layer-rule=-1=flat`` and Python's -1 do."""
    from lrpcore.cli.main import join_negative_keys, main
    from lrpcore.explain import Explainer, resolve_rules

    assert join_negative_keys(["explain", "m", "--layer-rule", "-1=flat", "--", "-2=x"]) == [
        "explain", "m", "--layer-rule=-1=flat", "--", "-2=x"]
    model = lrpcore.load_model(ZOO / "mlp_ts.onnx")
    layers = Explainer(model, "numpy").layers
    last = len(layers) - 1
    config = resolve_rules(layers, "epsilon", {-1: "flat"})
    assert config.rules[last].spec() == "flat"
    x = np.random.default_rng(0).uniform(0, 1, (2,) + tuple(model.input_spec.raw_shape))
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "R.npy"
    assert main(["explain", str(ZOO / "mlp_ts.onnx"), str(tmp_path / "x.npy"), "--out", str(out),
                 "--rule", "epsilon", "--layer-rule", "-1=flat"]) == 0
    reference = lrpcore.explain(model, x, rule="epsilon", layer_rules={last: "flat"})
    np.testing.assert_allclose(np.load(out), reference, rtol=1e-5, atol=1e-7)
    capsys.readouterr()
    assert main(["explain", str(ZOO / "mlp_ts.onnx"), str(tmp_path / "x.npy"), "--out",
                 str(tmp_path / "R2.npy"), "--layer-rule", f"-{last + 2}=flat"]) == 2
    assert f"or -{last + 1}..-1 counted from the end" in capsys.readouterr().err


def _clamp_model(tmp_path, node, inits=()):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [node, helper.make_node("Flatten", ["y"], ["out"], name="flat")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, 2, 2])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", 8])],
        [numpy_helper.from_array(np.asarray(v, dtype=np.float32), name) for name, v in inits])
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


@pytest.mark.parametrize("op, inputs, low, high", [
    ("Max", ["x", "a", "b"], 0.5, None),
    ("Min", ["a", "x", "b"], None, -1.0),
    ("Max", ["x"], None, None),
])
def test_max_or_min_of_a_tensor_and_several_constants_is_one_clamp(tmp_path, op, inputs,
                                                                   low, high):
    """Max(x, -1, 0.5) was refused as 'Max of 1 tensors is not supported' (it is
    Max(x, 0.5)); Max(x) alone is x."""
    from onnx import helper

    path = _clamp_model(tmp_path, helper.make_node(op, inputs, ["y"], name="m"),
                        [("a", -1.0), ("b", 0.5)])
    model = lrpcore.load_model(path)
    x = np.random.default_rng(0).uniform(-5, 5, (2, 2, 2, 2))
    y = lrpcore.Explainer(model, dtype="float64").forward(x, raw=True).outputs()
    np.testing.assert_allclose(y, np.clip(x, low, high).reshape(2, -1), rtol=1e-7)


def test_max_of_two_tensors_says_why_it_is_refused(tmp_path):
    from onnx import helper

    path = _clamp_model(tmp_path, helper.make_node("Max", ["x", "x", "a"], ["y"], name="m"),
                        [("a", 0.0)])
    with pytest.raises(lrpcore.ModelFormatError,
                       match="Max of 2 tensors is not supported: LRP here has no rule for the "
                             "maximum of two signals"):
        lrpcore.load_model(path)


@pytest.mark.parametrize("op", ["MaxPool", "AveragePool"])
def test_a_valid_pool_in_ceil_mode_keeps_its_partial_window(tmp_path, op):
    """auto_pad VALID with ceil_mode 1 (deprecated): ONNX's text gives ⌈(5 − 2 + 1)/2⌉ = 2
    rows, its shape inference and onnxruntime 3 (the partial window at the end); the file's
    later layers are sized by the shape inference, so 3 is read (decided, README)."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    node = helper.make_node(op, ["x"], ["y"], kernel_shape=[2, 2], strides=[2, 2],
                            auto_pad="VALID", ceil_mode=1)
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 5, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    inferred = onnx.shape_inference.infer_shapes(model).graph.output[0].type.tensor_type.shape
    assert [d.dim_value for d in inferred.dim][2:] == [3, 3]
    onnx.save(model, tmp_path / "pool.onnx")
    x = np.random.default_rng(0).uniform(-1, 1, (2, 1, 5, 5))
    y = lrpcore.Explainer(lrpcore.load_model(tmp_path / "pool.onnx"),
                          dtype="float64").forward(x, raw=True).outputs()
    reduce = np.max if op == "MaxPool" else np.mean  # a partial window averages what it holds
    want = [[reduce(x[n, 0, r:r + 2, c:c + 2]) for r in (0, 2, 4) for c in (0, 2, 4)]
            for n in range(2)]
    np.testing.assert_allclose(np.asarray(y).reshape(2, -1), want, rtol=1e-12)


def test_a_sum_that_changes_sign_is_named_a_sign_flip():
    """f = −1 + bias 2 = 1 leaves ΣR = −1 at the input under ε: the bias took more than
    arrived. It was reported as 'ΣR ×-1 (absorbed)'."""
    from lrpcore.insight import diagnose as dg
    from lrpcore.layers import Linear
    from lrpcore.model import Sequential

    model = Sequential([Linear(np.array([[-1.0], [0.0]]), np.array([2.0]))])
    fwd = lrpcore.Explainer(model).forward(np.array([[1.0, 0.0]]), raw=True)
    d = dg.diagnose(fwd, "epsilon:1e-6")
    assert [(f.layer, f.kind, f.cause) for f in d.findings] == [(0, "flipped", "bias")]
    assert d.findings[0].text() == "layer 0 (Linear 2→1): ΣR ×-1 (sign flipped)"
    assert "turns its sign" in d.findings[0].reason
    assert "the explained output, its sign flipped" in d.warnings()[0]
    assert dg.Diagnosis.from_dict(d.to_dict()).findings == d.findings


@pytest.mark.parametrize("side, channels, scaling", [(224, 3, 1), (28, 1, 3), (32, 1, 3)])
def test_lrp_figure_sizes_its_cells_by_the_maps(tmp_path, side, channels, scaling):
    """A photograph's figure defaulted to --scaling 3: a 4,095 × 726 PNG for two samples.
    Digits keep the toolbox's 3; a chosen --scaling is kept."""
    from PIL import Image

    from lrpcore.cli.main import main

    rng = np.random.default_rng(0)
    np.save(tmp_path / "R.npy", rng.normal(size=(2, side, side, channels)))
    np.save(tmp_path / "x.npy", rng.integers(0, 255, (2, side, side, channels), dtype=np.uint8))
    for chosen, want in ((None, scaling), (2, 2)):
        out = tmp_path / f"figure{chosen}.png"
        extra = [] if chosen is None else ["--scaling", str(chosen)]
        assert main(["figure", str(tmp_path / "R.npy"), "--input", str(tmp_path / "x.npy"),
                     "--out", str(out), *extra]) == 0
        assert json.loads(out.with_name(out.name + ".json").read_text())["scaling"] == want
        width, _height = Image.open(out).size
        assert 6 * side * want < width < 6 * (side * want + 40)  # input and five colormaps


def test_lrp_bench_times_a_users_model_file(tmp_path, capsys):
    """--models took architecture names only ('unknown benchmark model'), so a user could
    not time their own network; a file (or bundled name) is timed as an architecture is."""
    from lrpcore.cli.main import main

    out = tmp_path / "bench.json"
    model = str(ZOO / "mlp_ts.onnx")
    assert main(["bench", "--models", f"lenet5,{model}", "--batch-sizes", "2", "--repeat",
                 "1", "--dtypes", "float32", "--rules", "epsilon:0.01", "--json",
                 str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [r["model"] for r in rows] == ["lenet5", model]
    assert "mlp_ts.onnx" in capsys.readouterr().out
    assert main(["bench", "--models", "nothing-here"]) == 2
    err = capsys.readouterr().err
    assert "an architecture of lenet5, long-rect" in err and "no such file" in err
    assert "or model files or bundled models' names" in help_words(capsys, ["bench"])


@pytest.mark.parametrize("model, rule", [("mnist-lenet5", "simple"),
                                         (str(ZOO / "mlp_ts.onnx"), "EpsilonPlus")])
def test_lrp_sanity_checks_the_models_rule_without_rule(tmp_path, capsys, monkeypatch, model,
                                                        rule):
    """``lrp sanity`` required --rule; it takes lrp explain's default now, in its verdict and
    in the plot's default name."""
    from lrpcore.cli.main import main

    monkeypatch.chdir(tmp_path)
    data = "mnist-sample"
    if model.endswith(".onnx"):
        np.save(tmp_path / "x.npy", np.random.default_rng(0).uniform(0, 1, (4, 20)))
        data = str(tmp_path / "x.npy")
    status = main(["sanity", model, data, "--n", "4", "--plot", "--quiet"])
    assert status in (0, 3)
    out = capsys.readouterr().out
    assert f": {rule} " in out.splitlines()[-2]
    stem = Path(model).stem
    assert (tmp_path / f"{stem}-sanity-{rule}.png").is_file()


def test_lrp_convert_says_which_format_holds_a_graph_model(tmp_path, capsys):
    """Every ONNX export with more than the toolbox's layer kinds is refused for .txt; the
    help did not say so, and the refusal said '.npz' without saying it is the native format
    that takes every model."""
    from lrpcore.cli.main import main

    assert main(["convert", str(ZOO / "flatmlp_ts.onnx"), str(tmp_path / "m.txt")]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "it holds a chain of Linear, Convolution, SumPool, MaxPool, Rect" in err
    assert "write .npz, the native format, which holds every model" in err
    assert main(["convert", str(ZOO / "flatmlp_ts.onnx"), str(tmp_path / "m.npz")]) == 0
    capsys.readouterr()
    text = help_words(capsys, ["convert"])
    assert "Every model converts to .npz" in text and "graph models" in text
