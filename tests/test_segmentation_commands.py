"""The commands besides lrp explain on a segmentation model (tests/data/zoo/segment_ts.onnx, an
output map N×K×H×W): lrp concepts and lrp spray take the targets lrp explain takes (class K:
its pixels, pred: the class at the most pixels, output, --region), refuse ``true`` in words,
and leave out the samples of a dataset whose map predicts the class nowhere; lrp evaluate,
lrp sweep and lrp sanity follow one class score per sample and say so, naming the file."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from cli_help import help_words
from segment_photos import photo_with_an_absent_class

import lrpcore
from lrpcore import concepts, relmax
from lrpcore.cli.main import main
from lrpcore.spray import SprayResult

pytest.importorskip("onnx")

MODEL = Path(__file__).parent / "data" / "zoo" / "segment_ts.onnx"
LAYER = 5  # /down/down.0/Conv: 16 channels on an 8×8 grid


@pytest.fixture(scope="module")
def model():
    return lrpcore.load_model(MODEL)


@pytest.fixture
def photos(tmp_path, model):
    """(file, images, absent class): sample 1 misses a class its neighbours predict."""
    first, counts = photo_with_an_absent_class(model)
    absent = int(np.flatnonzero(counts == 0)[0])
    noise = np.random.default_rng(3).integers(0, 256, (5, 16, 16, 3)).astype(np.uint8)
    images = np.concatenate([noise[:1], first[None], noise[1:]])
    y = lrpcore.Explainer(model).forward(images).outputs()
    has = (y.argmax(-1) == absent).reshape(len(images), -1).any(axis=1)
    assert has.tolist() == [True, False, True, True, True, True]  # the fixture's premise
    path = tmp_path / "photos.npy"
    np.save(path, images)
    return path, images, absent


def _ranking(folder):
    with open(folder / "ranking.csv", newline="") as fh:
        return [(int(r["channel"]), float(r["relevance"])) for r in csv.DictReader(fh)]


@pytest.mark.parametrize(("target", "region"), [("pred", None), ("output", None), ("2", None),
                                                ("pred", (0, 8, 8, 16))])
def test_lrp_concepts_ranks_the_channels_for_the_pixels_lrp_explain_explains(
        tmp_path, capsys, model, photos, target, region):
    path, images, _ = photos
    out = tmp_path / "out"
    extra = [] if region is None else ["--region", "{}:{},{}:{}".format(*region)]
    assert main(["concepts", str(MODEL), str(path), "--layer", str(LAYER), "--sample", "0",
                 "--target", target, "--references", "0", "--out", str(out), *extra]) == 0, \
        capsys.readouterr().err
    ex = lrpcore.Explainer(model, dtype="float64")
    fwd = ex.forward(images[:1])
    want = concepts.rank_channels(fwd, LAYER, "EpsilonPlus",
                                  int(target) if target.isdigit() else target, region=region)
    got = _ranking(out)
    assert [c for c, _ in got] == want.channels.tolist()
    np.testing.assert_allclose([r for _, r in got], want.relevance, rtol=1e-6, atol=1e-9)
    side = json.loads((out / "ranking.csv.json").read_text())
    assert side.get("region") == (None if region is None else list(region))
    # the whole heatmap is lrp explain's of the same target
    np.testing.assert_allclose(want.heatmap, lrpcore.explain(
        model, images[:1], rule="EpsilonPlus", dtype="float64", region=region,
        target=int(target) if target.isdigit() else target)[0], rtol=1e-9, atol=1e-12)


def test_lrp_concepts_region_changes_the_ranking(model, photos):
    _, images, _ = photos
    fwd = lrpcore.Explainer(model, dtype="float64").forward(images[:1])
    whole = concepts.rank_channels(fwd, LAYER, "EpsilonPlus", "pred")
    corner = concepts.rank_channels(fwd, LAYER, "EpsilonPlus", "pred", region=(0, 4, 0, 4))
    assert not np.allclose(whole.relevance, corner.relevance)


def test_lrp_concepts_references_leave_out_samples_without_the_class(tmp_path, capsys, model,
                                                                      photos):
    """RelMax over a dataset explains every sample for the class: one whose map predicts it
    nowhere ended the run ('class … is predicted at no pixel'); it has no pixels to explain,
    so it is no reference and its channel relevance is 0."""
    path, images, absent = photos
    out = tmp_path / "out"
    assert main(["concepts", str(MODEL), str(path), "--layer", str(LAYER), "--target",
                 str(absent), "--references", "8", "--out", str(out)]) == 0, \
        capsys.readouterr().err
    with np.load(out / "references" / "references.npz") as refs:
        samples = refs["samples"]
    assert samples.shape == (16, 5)  # five samples have the class's pixels
    assert 1 not in samples
    ex = lrpcore.Explainer(model, dtype="float64")
    refs = relmax.compute_references(ex, images, LAYER, "EpsilonPlus", absent, n=8)
    assert not refs.channel_relevance[1].any() and refs.channel_relevance[0].any()
    want, _ = concepts.channel_relevance(ex.forward(images[2:3]), LAYER, "EpsilonPlus",
                                         absent)
    np.testing.assert_allclose(refs.channel_relevance[2], want[0], rtol=1e-9, atol=1e-12)
    # the sample itself has nothing to explain: refused naming it and the file
    assert main(["concepts", str(MODEL), str(path), "--layer", str(LAYER), "--sample", "1",
                 "--target", str(absent), "--out", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert f"{path} (sample 1): class {absent} is predicted at no pixel of the sample" in err
    assert not (tmp_path / "none").exists()


def test_a_class_no_sample_predicts_is_refused_by_the_references(model, photos):
    from lrpcore.errors import ShapeError

    _, images, absent = photos
    ex = lrpcore.Explainer(model, dtype="float64")
    with pytest.raises(ShapeError, match=rf"class {absent} is predicted at no pixel of any of "
                       r"the 1 samples: there are no pixels to explain"):
        relmax.compute_references(ex, images[1:2], LAYER, "EpsilonPlus", absent)


@pytest.mark.parametrize("command", ["concepts", "spray"])
def test_target_true_is_refused_in_words_even_with_labels(tmp_path, capsys, photos, command):
    path, images, _ = photos
    labelled = tmp_path / "set_images.npy"
    np.save(labelled, images)
    np.save(tmp_path / "set_labels.npy", np.arange(len(images)) % 4)
    out = tmp_path / ("out.npz" if command == "spray" else "out")
    args = ["--layer", str(LAYER)] if command == "concepts" else []
    assert main([command, str(MODEL), str(labelled), *args, "--target", "true", "--out",
                 str(out)]) == 2
    err = capsys.readouterr().err
    assert "target 'true' needs a label per sample, which says nothing about the pixels of a " \
           "segmentation model's output map" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_lrp_spray_clusters_the_pixels_of_the_class_at_the_most_pixels(tmp_path, capsys, model,
                                                                      photos):
    """Its default target is each sample's label, which says nothing about a map's pixels
    (and failed on labelled data): on a segmentation model it is pred."""
    path, images, _ = photos
    labelled = tmp_path / "set_images.npy"
    np.save(labelled, images)
    np.save(tmp_path / "set_labels.npy", np.arange(len(images)) % 4)
    out = tmp_path / "s.npz"
    assert main(["spray", str(MODEL), str(labelled), "--embedding", "none", "--out",
                 str(out)]) == 0, capsys.readouterr().err
    res = SprayResult.load(out)
    assert res.meta["target"] == "pred" and res.indices.tolist() == list(range(6))
    want = lrpcore.explain(model, images, rule=res.meta["rule"], dtype="float64",
                           target="pred").sum(axis=1)
    np.testing.assert_allclose(res.heatmaps, want, rtol=1e-5, atol=1e-6 * np.abs(want).max())


def test_lrp_spray_of_a_class_leaves_out_the_samples_without_it(tmp_path, capsys, model,
                                                                photos):
    path, images, absent = photos
    out = tmp_path / "s.npz"
    assert main(["spray", str(MODEL), str(path), "--target", str(absent), "--region",
                 "0:16,0:16", "--embedding", "none", "--out", str(out)]) == 0, \
        capsys.readouterr().err
    assert f"1 of 6 samples predict class {absent} at no pixel in rows 0:16, columns 0:16 " \
           "(nothing to explain): left out" in capsys.readouterr().err
    res = SprayResult.load(out)
    assert res.indices.tolist() == [0, 2, 3, 4, 5]
    assert res.meta["left_out"] == 1 and res.meta["region"] == [0, 16, 0, 16]
    want = lrpcore.explain(model, images[res.indices], rule=res.meta["rule"], dtype="float64",
                           target=absent).sum(axis=1)
    np.testing.assert_allclose(res.heatmaps, want, rtol=1e-5, atol=1e-6 * np.abs(want).max())


def test_lrp_spray_region_is_refused_on_a_model_of_class_scores(tmp_path, capsys):
    out = tmp_path / "s.npz"
    assert main(["spray", "mnist-lenet5", "mnist-sample", "--region", "0:1,0:1", "--out",
                 str(out)]) == 2
    assert "a region selects rows and columns of an H×W×K output map; the model's output is " \
           "a vector of class scores" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(("command", "what"), [
    (["evaluate", "--steps", "2"], "pixel-flipping"),
    (["sweep", "--rule", "epsilon", "--steps", "2"], r"a sweep \(pixel-flipping\)"),
    (["sanity"], "the sanity check"),
    (["sanity", "--rule", "EpsilonPlus"], "the sanity check")])
def test_tools_that_follow_one_score_per_sample_say_why_naming_the_file(capsys, photos,
                                                                         command, what):
    path, _, _ = photos
    assert main([command[0], str(MODEL), str(path), *command[1:]]) == 2
    err = capsys.readouterr().err.strip()
    import re

    assert re.fullmatch(rf"lrp {command[0]}: error: {re.escape(str(MODEL))}: {what} follows "
                        r"one class score per sample; this segmentation model's output is a "
                        r"16×16×4 map per sample \(4 class scores per pixel, the last axis\): "
                        r"explain the pixels of a class instead \(.*\)", err), err


@pytest.mark.parametrize("command", ["concepts", "spray"])
def test_help_says_what_a_target_means_on_a_map(capsys, command):
    text = help_words(capsys, [command])
    assert "on a segmentation model: the pixels of that class" in text
    assert "--region Y0:Y1,X0:X1 a segmentation model's output map only" in text
