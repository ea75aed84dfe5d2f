"""Segmentation models (an output map, N×K×H×W as exported; N×H×W×K as the engine computes):
a class target explains why the pixels predicted as that class were called so. The relevance
starts at the output times a mask (the class's channel where it is the pixel's argmax), as
zennit's segmentation examples start it; ``pred`` is the class at the most pixels, ``output``
the whole map. The fixture ``segment`` (tools/make_zoo_fixtures.py: a small FCN, bilinear
``F.interpolate`` back to the input's size, both exporters) holds zennit 0.5.1's relevance
for the class at the most pixels (``R__``) and at the second most (``Rsecond__``); ``lraspp``
the same of torchvision's LR-ASPP in small (its head's sigmoid gate from a global pool times
a branch, and the low branch's classifier added, through zennit's ``Sum``); ``keras_seg``
(tools/make_zoo_keras_seg_fixture.py) of a Keras U-Net exported by tf2onnx, zennit's on its
PyTorch twin, with Keras's own map (``keras_y``); ``segsoftmax`` of ``segment``'s FCN ending
in a softmax over each pixel's classes (probabilities out; it was refused); ``attunet`` of an
Attention U-Net in small (each skip map times its attention gate's sigmoid map, one channel
broadcast over the map's, which zennit's autograd passes the gradient through; it was
refused), and ``keras_att`` of the same gate in Keras (tf2onnx; zennit's on its PyTorch twin,
tools/make_zoo_keras_att_fixture.py); ``attgrid`` of Oktay et al.'s own gate (α computed on a
coarser grid, resized bilinearly, ``α.expand_as(x) * x``: an Expand before the Mul)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from cli_help import help_words
from parity import relative_error

import lrpcore
from lrpcore.batch_export import sample_classes
from lrpcore.cli.main import main
from lrpcore.errors import ShapeError
from lrpcore.explain import initial_relevance
from lrpcore.insight.baselines import input_gradient
from lrpcore.map_targets import class_scores, predicted_classes

pytest.importorskip("onnx")

ZOO = Path(__file__).parent / "data" / "zoo"
RULES = {"epsilon_0p01": "epsilon:0.01", "EpsilonPlus": "EpsilonPlus",
         "EpsilonPlusFlat": "EpsilonPlusFlat", "EpsilonAlpha2Beta1": "EpsilonAlpha2Beta1",
         "EpsilonAlpha2Beta1Flat": "EpsilonAlpha2Beta1Flat", "EpsilonGammaBox": "EpsilonGammaBox"}
_FORWARDS: dict = {}


def _forward(file):
    """(model, reference, float64 forward pass of the reference's inputs)."""
    if file not in _FORWARDS:
        model = lrpcore.load_model(ZOO / f"{file}.onnx")
        with np.load(ZOO / f"{file.rsplit('_', 1)[0]}.npz") as data:
            ref = {k: data[k] for k in data.files}
        model.input_spec = replace(model.input_spec, mean=tuple(map(float, ref["mean"])),
                                   std=tuple(map(float, ref["std"])))
        fw = lrpcore.Explainer(model, dtype="float64").forward(ref["x"], raw=True)
        _FORWARDS[file] = (model, ref, fw)
    return _FORWARDS[file]


PARITY = ["segment_ts", "segment_dynamo", "lraspp_ts", "lraspp_dynamo", "keras_seg_tf2onnx",
          "segsoftmax_ts", "segsoftmax_dynamo", "attunet_ts", "attunet_dynamo",
          "keras_att_tf2onnx", "attgrid_ts", "attgrid_dynamo"]


@pytest.mark.parametrize("file", PARITY)
def test_the_map_equals_zennits_and_pred_is_the_class_at_the_most_pixels(file):
    model, ref, fw = _forward(file)
    assert model.n_classes == 4 and len(model.class_names) == 4  # not 16·16·4 outputs
    y = fw.outputs()
    np.testing.assert_allclose(y, ref["Y"].transpose(0, 2, 3, 1), rtol=0, atol=1e-6)
    np.testing.assert_array_equal(fw.predictions(), ref["target"])
    assert len(set(ref["target"])) == 2  # the samples explain different classes


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("file", PARITY)
def test_relevance_of_a_class_equals_zennits_output_times_mask(file, rule):
    _, ref, fw = _forward(file)
    R = fw.relevance(RULES[rule], "pred")
    assert R.shape == ref["x"].shape
    assert relative_error(R, ref["R__" + rule]).max() < 1e-4
    second = fw.relevance(RULES[rule], ref["second"])  # one class per sample, not the most
    assert relative_error(second, ref["Rsecond__" + rule]).max() < 1e-4
    one = fw.subset(slice(1, 2)).relevance(RULES[rule], int(ref["second"][1]))  # an index
    assert relative_error(one, ref["Rsecond__" + rule][1:]).max() < 1e-4


@pytest.mark.parametrize("dtype, tolerance", [("float64", 1e-6), ("float32", 1e-5)])
def test_a_keras_unet_predicts_keras_s_map_and_explains_its_classes(dtype, tolerance):
    """Conv2DTranspose (k=3 and k=2, "same"), Concatenate skips, UpSampling2D bilinear and
    nearest (tf.repeat: Unsqueeze, Tile, Reshape; it was refused at the Unsqueeze), then
    ZeroPadding2D and Cropping2D on the N×H×W×C map tf2onnx leaves (refused at the Pad)."""
    model, ref, _ = _forward("keras_seg_tf2onnx")
    assert model.input_spec.layout == "NHWC" and model.n_classes == 4
    assert sum(type(n.layer).__name__ == "NearestResize" for n in model.nodes) == 2
    fw = lrpcore.Explainer(model, dtype=dtype).forward(ref["x"].astype(dtype), raw=True)
    y, theirs = fw.outputs(), ref["keras_y"]
    assert y.shape == theirs.shape == ref["x"].shape[:3] + (4,)  # N×H×W×K, as Keras's
    assert np.abs(y - theirs).max() < tolerance * np.abs(theirs).max()
    np.testing.assert_array_equal(fw.predictions(), ref["target"])
    for rule in ("EpsilonPlus", "EpsilonGammaBox"):
        R = fw.relevance(rule, "pred")
        assert R.dtype == np.dtype(dtype) and R.shape == ref["x"].shape
        assert relative_error(R, ref["R__" + rule]).max() < 100 * tolerance


def test_initial_relevance_is_the_classs_channel_where_it_is_predicted():
    _, ref, fw = _forward("segment_ts")
    y = fw.outputs()
    pred = y.argmax(-1)
    for k in ref["second"]:
        R0 = initial_relevance(y, int(k))
        want = np.zeros_like(y)
        want[..., k] = np.where(pred == k, y[..., k], 0)
        np.testing.assert_array_equal(R0, want)
    np.testing.assert_array_equal(initial_relevance(y, "output"), y)
    counts = np.stack([np.bincount(p.ravel(), minlength=4) for p in pred])
    np.testing.assert_allclose(class_scores(y), counts / 256)
    np.testing.assert_array_equal(predicted_classes(y), counts.argmax(1))


def test_a_class_predicted_nowhere_is_refused_naming_it():
    """An all-zero start would draw an empty heatmap that looks like an explanation."""
    names = ["road", "car", "tree", "sky"]
    y = np.zeros((2, 3, 5, 4))
    y[..., 0] = 1.0
    y[1, 2, 4, 2] = 5.0  # class 2 at one pixel of sample 1 only
    with pytest.raises(ShapeError, match=r"class 3 \(sky\) is predicted at no pixel of 2 of "
                       r"the 2 samples \(the first: sample 0 of the batch\)"):
        initial_relevance(y, 3, class_names=names)
    with pytest.raises(ShapeError, match=r"class 2 \(tree\) is predicted at no pixel of 1 of "
                       r"the 2 samples \(the first: sample 0 of the batch\): there are no "
                       "pixels to explain"):
        initial_relevance(y, "tree", class_names=names)
    R0 = initial_relevance(y[1:], "tree", class_names=names)
    assert R0[0, 2, 4, 2] == 5.0 and np.count_nonzero(R0) == 1
    with pytest.raises(ShapeError, match="class 1 is predicted at no pixel of the sample"):
        initial_relevance(y[:1], 1)


def test_target_true_is_refused_and_a_class_name_selects_its_pixels():
    model, ref, fw = _forward("segment_ts")
    with pytest.raises(ShapeError, match="target 'true' needs a label per sample, which says "
                       "nothing about the pixels"):
        fw.relevance("EpsilonPlus", "true", labels=[0, 1])
    model.meta["class_names"] = ["road", "car", "tree", "sky"]
    try:
        k = int(ref["second"][0])
        by_name = fw.relevance("EpsilonPlus", model.class_names[k])
        np.testing.assert_allclose(by_name, fw.relevance("EpsilonPlus", k))
    finally:
        del model.meta["class_names"]


def test_the_gradient_baseline_differentiates_the_masked_output():
    """Sensitivity of Σ(output × mask) (the seed is the mask), checked by central differences
    (the net is piecewise linear: exact away from a ReLU's kink)."""
    model, ref, fw = _forward("segment_ts")
    y = fw.outputs()
    k = int(ref["second"][0])
    mask = (y.argmax(-1) == k)[:1]
    g = input_gradient(fw.subset(slice(0, 1)), k)
    ex = lrpcore.Explainer(model, dtype="float64")

    def f(x):
        return float((ex.forward(x, raw=True).outputs()[..., k] * mask).sum())

    rng = np.random.default_rng(0)
    for flat in rng.choice(ref["x"][:1].size, 6, replace=False):
        idx = np.unravel_index(flat, ref["x"][:1].shape)
        h = np.zeros_like(ref["x"][:1])
        h[idx] = 1e-6
        slope = (f(ref["x"][:1] + h) - f(ref["x"][:1] - h)) / 2e-6
        assert abs(slope - g[idx]) < 1e-6 * max(1.0, abs(g).max())


def test_sample_classes_name_the_class_at_the_most_pixels():
    model, ref, fw = _forward("segment_ts")
    fields = sample_classes(model, fw.outputs(), ref["second"])
    assert [f["predicted_class"] for f in fields] == ref["target"].tolist()
    assert [f["explained_class"] for f in fields] == ref["second"].tolist()


@pytest.mark.parametrize(("tool", "what"), [("pixelflip", "pixel-flipping"),
                                              ("sanity", "the sanity check"),
                                              ("sweep", "a sweep")])
def test_tools_that_follow_one_score_per_sample_refuse_a_map(tool, what):
    from lrpcore.insight import pixelflip, sanity, sweep

    model, ref, _ = _forward("segment_ts")
    run = {"pixelflip": lambda: pixelflip.evaluate_methods(model, ref["x"], ["EpsilonPlus"],
                                                           raw=True),
           "sanity": lambda: sanity.cascading_randomisation(model, ref["x"], "EpsilonPlus",
                                                            raw=True),
           "sweep": lambda: sweep.run_sweep(model, ref["x"], "epsilon", raw=True)}[tool]
    with pytest.raises(ShapeError, match=rf"^{what} follows one class score per sample; this "
                       r"segmentation model's output is a 16×16×4 map per sample \(4 class "
                       r"scores per pixel, the last axis\): explain the pixels of a class "
                       r"instead \(the explorer's heatmap, lrp explain --target CLASS\)$"):
        run()


def test_lrp_explain_writes_a_class_heatmap_of_a_photograph(tmp_path, capsys):
    from PIL import Image
    from segment_photos import photo_with_an_absent_class

    model = lrpcore.load_model(ZOO / "segment_ts.onnx")
    pixels, counts = photo_with_an_absent_class(model)
    photo = tmp_path / "photo.png"
    Image.fromarray(pixels).save(photo)
    k = int(np.argsort(counts)[-2])  # predicted at some pixels, not at the most
    out, pngs = tmp_path / "R.npy", tmp_path / "png"
    assert main(["explain", str(ZOO / "segment_ts.onnx"), str(photo), "--target", str(k),
                 "--out", str(out), "--png", str(pngs)]) == 0, capsys.readouterr().err
    assert f"(target {k})" in capsys.readouterr().out
    R = np.load(out)
    np.testing.assert_allclose(R, lrpcore.explain(model, pixels[None], target=k,
                                                  dtype="float32"), rtol=1e-5,
                               atol=1e-6 * np.abs(R).max())
    side = json.loads((pngs / "heatmap_0_bwr.png.json").read_text())
    assert side["explained_class"] == k and side["predicted_class"] == int(counts.argmax())
    absent = int(np.flatnonzero(counts == 0)[0])
    assert main(["explain", str(ZOO / "segment_ts.onnx"), str(photo), "--target",
                 str(absent), "--out", str(tmp_path / "absent.npy")]) == 2
    err = capsys.readouterr().err
    assert f"class {absent} is predicted at no pixel of the sample" in err
    assert not (tmp_path / "absent.npy").exists()


@pytest.mark.parametrize("file", ["segsoftmax_ts.onnx", "segsoftmax_dynamo.onnx"])
def test_info_says_a_map_ending_in_a_softmax_holds_probabilities(file, capsys):
    """A classifier ending in a softmax was said to give probabilities; a map ending in one
    was said to hold class scores only."""
    assert main(["info", str(ZOO / file)]) == 0
    line = next(t for t in capsys.readouterr().out.splitlines() if t.startswith("output:"))
    assert "a segmentation model's" in line
    assert line.endswith("; its scores are softmax probabilities over each pixel's classes "
                         "(relevance passes the softmax as its gradient, as zennit's does)")
    assert main(["info", str(ZOO / "segment_ts.onnx")]) == 0  # raw scores: nothing added
    assert "probabilit" not in capsys.readouterr().out


def test_a_sidecar_names_the_maps_classes_for_info_and_explain(tmp_path, capsys):
    """The sidecar's class_names count the map's K classes (they were checked against its
    16·16·4 values), lrp info says what a target selects, and a name picks the pixels."""
    import shutil

    model = tmp_path / "fcn.onnx"
    shutil.copy(ZOO / "segment_ts.onnx", model)
    (tmp_path / "fcn.json").write_text(json.dumps({"class_names": ["road", "car", "tree",
                                                                   "sky"]}))
    assert main(["info", str(model)]) == 0
    out = capsys.readouterr().out
    assert "classes (4): road, car, tree, sky" in out
    assert "output: a 16×16×4 map per sample (4 class scores per pixel, the last axis), a " \
           "segmentation model's: a target selects the pixels of a class" in out
    _, ref, _ = _forward("segment_ts")
    x = tmp_path / "x.npy"
    np.save(x, ref["x"][:1].astype(np.float32))
    k = int(ref["second"][0])
    name = ["road", "car", "tree", "sky"][k]
    assert main(["explain", str(model), str(x), "--raw", "--target", name, "--out",
                 str(tmp_path / "R.npy")]) == 0, capsys.readouterr().err
    assert f"(target {k}: {name})" in capsys.readouterr().out


def test_a_region_narrows_the_start_to_a_box_of_the_map():
    y = np.zeros((1, 4, 6, 3))
    y[..., 0] = 1.0
    y[0, 0:2, 0:2, 1] = 2.0  # class 1: a 2×2 object at the top left
    y[0, 2:4, 3:6, 2] = 3.0  # class 2: a 2×3 object at the bottom right
    assert predicted_classes(y).tolist() == [0]
    assert predicted_classes(y, region=(0, 2, 0, 3)).tolist() == [1]
    assert predicted_classes(y, region=(2, 4, 2, 6)).tolist() == [2]
    R0 = initial_relevance(y, "pred", region=(0, 2, 0, 3))
    want = np.zeros_like(y)
    want[0, 0:2, 0:2, 1] = 2.0
    np.testing.assert_array_equal(R0, want)
    R0 = initial_relevance(y, 2, region=(3, 4, 4, 6))
    assert np.count_nonzero(R0) == 2 and R0[0, 3, 4:6, 2].tolist() == [3.0, 3.0]
    R0 = initial_relevance(y, "output", region=(0, 1, 0, 6))
    np.testing.assert_array_equal(R0[0, 0], y[0, 0])
    assert not R0[0, 1:].any()
    with pytest.raises(ShapeError, match=r"class 1 is predicted at no pixel of the sample in "
                       r"rows 2:4, columns 0:6"):
        initial_relevance(y, 1, region=(2, 4, 0, 6))
    with pytest.raises(ShapeError, match=r"region rows 0:5, columns 0:2 is not a box inside "
                       r"the 4×6 output map"):
        initial_relevance(y, 1, region=(0, 5, 0, 2))
    with pytest.raises(ShapeError, match="a region selects rows and columns of an H×W×K "
                       "output map; the model's output is a vector of class scores"):
        initial_relevance(np.ones((1, 3)), 1, region=(0, 1, 0, 1))


@pytest.mark.parametrize("rule", ["EpsilonPlus", "EpsilonAlpha2Beta1", "EpsilonGammaBox"])
def test_relevance_of_two_halves_of_the_map_adds_up_to_zennits_of_the_whole(rule):
    """LRP is linear in the relevance it starts from (one forward pass): the class's pixels in
    the top and the bottom half give the reference for all of its pixels."""
    _, ref, fw = _forward("segment_ts")
    classes = ref["target"]
    top = fw.relevance(rule, classes, region=(0, 8, 0, 16))
    bottom = fw.relevance(rule, classes, region=(8, 16, 0, 16))
    assert relative_error(top + bottom, ref["R__" + rule]).max() < 1e-4
    assert relative_error(top, ref["R__" + rule]).max() > 1e-2  # a half is not the whole


def test_lrp_explain_region_records_it_and_refuses_a_bad_box(tmp_path, capsys):
    _, ref, _ = _forward("segment_ts")
    x = tmp_path / "x.npy"
    np.save(x, ref["x"].astype(np.float32))
    model = str(ZOO / "segment_ts.onnx")
    out = tmp_path / "R.npy"
    assert main(["explain", model, str(x), "--raw", "--region", "8:16,0:16", "--out",
                 str(out)]) == 0, capsys.readouterr().err
    assert json.loads((tmp_path / "R.npy.json").read_text())["region"] == [8, 16, 0, 16]
    m = lrpcore.load_model(model)
    np.testing.assert_allclose(np.load(out), lrpcore.explain(
        m, ref["x"].astype(np.float32), raw=True, dtype="float32", region=(8, 16, 0, 16)),
        rtol=1e-5, atol=1e-7)
    capsys.readouterr()
    for region, words in (("8:16", "--region '8:16': give rows and columns of the output map "
                                   "as y0:y1,x0:x1"),
                          ("0:17,0:4", "region rows 0:17, columns 0:4 is not a box inside "
                                       "the 16×16 output map")):
        assert main(["explain", model, str(x), "--raw", "--region", region, "--out",
                     str(tmp_path / "bad.npy")]) == 2
        err = capsys.readouterr().err
        assert words in err and len(err.strip().splitlines()) == 1, err
    assert main(["explain", "mnist-lenet5", "mnist-sample", "--region", "0:1,0:1", "--out",
                 str(tmp_path / "bad.npy")]) == 2
    assert "the model's output is a vector of class scores" in capsys.readouterr().err
    assert not (tmp_path / "bad.npy").exists()
    # a cluster run dropped it without a word (a map model is refused there anyway)
    digits = tmp_path / "digits.npy"
    np.save(digits, np.zeros((2, 28, 28), np.uint8))
    assert main(["explain", "mnist-lenet5", str(digits), "--region", "0:1,0:1", "--out",
                 str(tmp_path / "R.zarr")]) == 2
    assert "--region is not available with --out *.zarr" in capsys.readouterr().err
    assert not (tmp_path / "R.zarr").exists()


@pytest.mark.parametrize("text, other", [("٣:٤,0:4", "٣"), ("３:4,0:4", "３"),
                                         ("+3:4,0:4", None), ("3_0:40,0:4", None)])
def test_region_takes_ascii_digits_only(text, other, tmp_path, capsys):
    """int() read any script's digits: '٣:٤,0:4' (Arabic-Indic) explained rows 3:4, and '+3'
    or '3_0' passed as numbers; only 0-9 are read, a foreign digit is named."""
    from lrpcore.errors import ShapeError
    from lrpcore.map_targets import parse_region

    assert parse_region(" 10:40, 20:60 ") == (10, 40, 20, 60)  # spaces as typed
    with pytest.raises(ShapeError) as exc:
        parse_region(text)
    words = f"--region {text!r}: " + (f"{other!r} is no digit 0-9; " if other else "")
    assert str(exc.value) == words + ("give rows and columns of the output map as "
                                      "y0:y1,x0:x1 (e.g. 10:40,20:60)")
    x = tmp_path / "x.npy"
    np.save(x, _forward("segment_ts")[1]["x"][:1].astype(np.float32))
    assert main(["explain", str(ZOO / "segment_ts.onnx"), str(x), "--raw", "--region", text,
                 "--out", str(tmp_path / "R.npy")]) == 2
    assert "give rows and columns of the output map" in capsys.readouterr().err
    assert not (tmp_path / "R.npy").exists()


def test_compare_shows_the_classes_a_map_predicts_each_its_own_pixels(tmp_path):
    from hostile_files import save_feature_extractor

    from lrpcore.insight.compare import compare

    # four equal channels: class 0 at every pixel; classes 1-3 have no pixels, no column
    backbone = lrpcore.load_model(save_feature_extractor(tmp_path / "backbone.onnx", 8))
    one = lrpcore.Explainer(backbone).forward(np.random.default_rng(0).random((1, 1, 8, 8)),
                                              raw=True)
    assert list(compare(one, ["EpsilonPlus"], classes="all").classes) == [0]
    fw = _forward("segment_ts")[2]
    scores = class_scores(fw.outputs()[:1])[0]
    comp = compare(fw, ["EpsilonPlus"], index=0, classes="all")
    assert list(comp.classes) == [int(c) for c in np.flatnonzero(scores > 0)]
    np.testing.assert_allclose(comp.outputs, scores)  # the shares of pixels, not the map
    for col, c in enumerate(comp.classes):
        np.testing.assert_allclose(comp.rows[0].maps[col],
                                   fw.subset(slice(0, 1)).relevance("EpsilonPlus", c)[0],
                                   rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("file", ["segment_ts", "segment_dynamo"])
def test_lrp_explain_outputs_follow_the_models_declared_layout(tmp_path, capsys, file):
    """--outputs of a PyTorch export is N×K×H×W as torch gave it (it was the engine's
    N×H×W×K while the relevance beside it followed the declared N×C×H×W), and so says the
    sidecar."""
    _, ref, _ = _forward("segment_ts")
    x = tmp_path / "x.npy"
    np.save(x, ref["x"].astype(np.float32))
    out, y = tmp_path / "R.npy", tmp_path / "Y.npy"
    assert main(["explain", str(ZOO / f"{file}.onnx"), str(x), "--raw", "--out", str(out),
                 "--outputs", str(y)]) == 0, capsys.readouterr().err
    np.testing.assert_allclose(np.load(y), ref["Y"], rtol=1e-5, atol=1e-5)
    assert json.loads((tmp_path / "Y.npy.json").read_text())["shape"] == list(ref["Y"].shape)
    assert np.load(out).shape == ref["x"].shape


def test_lrp_explain_help_says_what_a_target_means_on_a_map(capsys):
    text = help_words(capsys, ["explain"])
    start = text.index("--target TARGET pred")  # the option's help, not the usage line
    target = text[start:text.index("--region", start)]
    assert "on a segmentation model: the pixels of that class" in target


def test_lrp_explain_outputs_of_a_sequence_map_are_n_by_k_by_l(tmp_path, capsys):
    """A Conv1d's N×K×L output (computed as N×1×L×K) is written as ONNX declares it."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    W = rng.normal(size=(3, 2, 3)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "W"], ["y"], pads=[1, 1])], "seq",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3, 8])],
        [numpy_helper.from_array(W, "W")])
    model = tmp_path / "seq.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), model)
    x = rng.normal(size=(2, 2, 8)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    assert main(["explain", str(model), str(tmp_path / "x.npy"), "--raw", "--target", "output",
                 "--out", str(tmp_path / "R.npy"), "--outputs", str(tmp_path / "Y.npy")]) == 0, \
        capsys.readouterr().err
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1)))
    want = np.stack([sum(W[:, c, j, None] * padded[:, c, None, j:j + 8] for c in range(2)
                         for j in range(3))])[0]  # ONNX Conv: a correlation, N×K×L
    np.testing.assert_allclose(np.load(tmp_path / "Y.npy"), want, rtol=1e-5, atol=1e-5)
