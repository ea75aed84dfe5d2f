"""Segmentation models (an output map, N×K×H×W as exported; N×H×W×K as the engine computes):
a class target explains why the pixels predicted as that class were called so. The relevance
starts at the output times a mask (the class's channel where it is the pixel's argmax), as
zennit's segmentation examples start it; ``pred`` is the class at the most pixels, ``output``
the whole map. The fixture ``segment`` (tools/make_zoo_fixtures.py: a small FCN, bilinear
``F.interpolate`` back to the input's size, both exporters) holds zennit 0.5.1's relevance
for the class at the most pixels (``R__``) and at the second most (``Rsecond__``)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

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
        with np.load(ZOO / "segment.npz") as data:
            ref = {k: data[k] for k in data.files}
        model.input_spec = replace(model.input_spec, mean=tuple(map(float, ref["mean"])),
                                   std=tuple(map(float, ref["std"])))
        fw = lrpcore.Explainer(model, dtype="float64").forward(ref["x"], raw=True)
        _FORWARDS[file] = (model, ref, fw)
    return _FORWARDS[file]


def _relative_error(R, ref):
    n = len(ref)
    return (np.abs(R - ref).reshape(n, -1).max(axis=1)
            / np.abs(ref).reshape(n, -1).max(axis=1))


@pytest.mark.parametrize("file", ["segment_ts", "segment_dynamo"])
def test_the_map_equals_zennits_and_pred_is_the_class_at_the_most_pixels(file):
    model, ref, fw = _forward(file)
    assert model.n_classes == 4 and len(model.class_names) == 4  # not 16·16·4 outputs
    y = fw.outputs()
    np.testing.assert_allclose(y, ref["Y"].transpose(0, 2, 3, 1), rtol=0, atol=1e-6)
    np.testing.assert_array_equal(fw.predictions(), ref["target"])
    assert len(set(ref["target"])) == 2  # the samples explain different classes


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("file", ["segment_ts", "segment_dynamo"])
def test_relevance_of_a_class_equals_zennits_output_times_mask(file, rule):
    _, ref, fw = _forward(file)
    R = fw.relevance(RULES[rule], "pred")
    assert R.shape == ref["x"].shape
    assert _relative_error(R, ref["R__" + rule]).max() < 1e-4
    second = fw.relevance(RULES[rule], ref["second"])  # one class per sample, not the most
    assert _relative_error(second, ref["Rsecond__" + rule]).max() < 1e-4
    one = fw.subset(slice(1, 2)).relevance(RULES[rule], int(ref["second"][1]))  # an index
    assert _relative_error(one, ref["Rsecond__" + rule][1:]).max() < 1e-4


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


def test_tools_that_follow_one_score_per_sample_refuse_a_map():
    from lrpcore.insight.pixelflip import evaluate_methods

    model, ref, _ = _forward("segment_ts")
    with pytest.raises(ShapeError, match=r"pixel-flipping follows one class score per "
                       r"sample; the model's output is a 16×16×4 map per sample"):
        evaluate_methods(model, ref["x"], ["EpsilonPlus"], raw=True)


def test_lrp_explain_writes_a_class_heatmap_of_a_photograph(tmp_path, capsys):
    from PIL import Image

    photo = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(5).integers(0, 256, (16, 16, 3)).astype(np.uint8)
                    ).save(photo)
    model = lrpcore.load_model(ZOO / "segment_ts.onnx")
    y = lrpcore.Explainer(model).forward(np.asarray(Image.open(photo))[None]).outputs()
    counts = np.bincount(y[0].argmax(-1).ravel(), minlength=4)
    k = int(np.argsort(counts)[-2])  # predicted at some pixels, not at the most
    out, pngs = tmp_path / "R.npy", tmp_path / "png"
    assert main(["explain", str(ZOO / "segment_ts.onnx"), str(photo), "--target", str(k),
                 "--out", str(out), "--png", str(pngs)]) == 0, capsys.readouterr().err
    assert f"(target {k})" in capsys.readouterr().out
    R = np.load(out)
    np.testing.assert_allclose(R, lrpcore.explain(model, np.asarray(Image.open(photo))[None],
                                                  target=k, dtype="float32"), rtol=1e-5,
                               atol=1e-6 * np.abs(R).max())
    side = json.loads((pngs / "heatmap_0_bwr.png.json").read_text())
    assert side["explained_class"] == k and side["predicted_class"] == int(counts.argmax())
    absent = int(np.flatnonzero(counts == 0)[0])
    assert main(["explain", str(ZOO / "segment_ts.onnx"), str(photo), "--target",
                 str(absent), "--out", str(tmp_path / "absent.npy")]) == 2
    err = capsys.readouterr().err
    assert f"class {absent} is predicted at no pixel of the sample" in err
    assert not (tmp_path / "absent.npy").exists()


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
