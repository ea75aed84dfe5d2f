"""``lrp concepts --references``: only the channels the folder draws are searched, the file of
references stays indexed by channel, the bar's total holds from the start, Ctrl-C leaves
nothing (stop 28: every channel was searched, about an hour on EfficientNet-Lite0's head)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

import lrpcore
from lrpcore import relmax
from lrpcore.cli.main import main
from lrpcore.explain import Explainer

RULE = "epsilon:0.01"
LAYER = 3  # LeNet-5's convolution1: 25 channels


@pytest.fixture()
def digits(tmp_path, monkeypatch):
    monkeypatch.setenv("LRP_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "digits.npy"
    np.save(path, lrpcore.open_dataset("mnist-sample").images(slice(0, 20)))
    return path


@pytest.fixture()
def searched(monkeypatch):
    """The channels of every (channel, sample) pair whose reference map is computed."""
    seen = []
    real = relmax._reference_maps

    def spy(ex, images, k, pairs, *args, **kwargs):
        seen.extend(c for c, _ in pairs)
        return real(ex, images, k, pairs, *args, **kwargs)

    monkeypatch.setattr(relmax, "_reference_maps", spy)
    return seen


def concepts(data, out, *extra):
    return main(["concepts", "mnist-lenet5", str(data), "--layer", "convolution1", "--sample",
                 "7", "--out", str(out), "--rule", RULE, "--references", "3", *extra])


def top_channels(out, k):
    return [int(r["channel"]) for r in csv.DictReader(open(out / "ranking.csv"))][:k]


def test_only_the_top_channels_are_searched_and_the_file_stays_indexed_by_channel(
        digits, tmp_path, searched):
    out = tmp_path / "c"
    assert concepts(digits, out, "--top", "2") == 0
    top = top_channels(out, 2)
    assert set(searched) == set(top) and len(searched) == 2 * 3
    ex = Explainer(lrpcore.load_model("mnist-lenet5"), "numpy")
    every = relmax.compute_references(ex, np.load(digits), LAYER, RULE, n=3)
    with np.load(out / "references" / "references.npz") as z:
        assert z["samples"].shape == z["relevance"].shape == (25, 3)  # every channel's samples
        np.testing.assert_array_equal(z["samples"], every.samples)
        np.testing.assert_array_equal(z["searched_channels"], sorted(top))
        boxes = z["boxes"]
    assert boxes.shape == (25, 3, 4)
    np.testing.assert_array_equal(boxes[top], every.boxes[top])  # row c: channel c's crops
    others = [c for c in range(25) if c not in top]
    assert (boxes[others] == -1).all() and (boxes[top] >= 0).all()
    side = json.loads((out / "references" / "references.npz.json").read_text())
    assert side["searched_channels"] == sorted(top)
    assert "-1" in side["content"]
    assert sorted(p.name for p in (out / "references").glob("channel_*.png")) == sorted(
        f"channel_{c}.png" for c in top)


def test_top_all_searches_every_channel_as_before(digits, tmp_path, searched):
    out = tmp_path / "c"
    assert concepts(digits, out, "--top", "all") == 0
    assert sorted(set(searched)) == list(range(25)) and len(searched) == 25 * 3
    with np.load(out / "references" / "references.npz") as z:
        assert (z["boxes"] >= 0).all()
        np.testing.assert_array_equal(z["searched_channels"], np.arange(25))


def test_the_bar_counts_the_scan_and_the_maps_against_one_total(digits):
    """The total was the scan's (samples + 1) until the maps began, then the pairs were added:
    73 % of 11 steps fell back to 0 % of 5,130 on EfficientNet-Lite0's head."""
    ex = Explainer(lrpcore.load_model("mnist-lenet5"), "numpy")
    steps = []
    relmax.compute_references(ex, np.load(digits), LAYER, RULE, n=3, channels=[4, 9],
                              batch_size=8, progress=lambda d, t: steps.append((d, t)))
    totals = {t for _, t in steps}
    assert totals == {20 + 2 * 3}, steps
    done = [d for d, _ in steps]
    assert done == sorted(set(done)) and done[-1] == 20 + 2 * 3 and done[0] < 20  # no repeats


def test_ctrl_c_during_the_reference_search_leaves_the_old_folder_as_it_was(
        digits, tmp_path, monkeypatch, capsys):
    out = tmp_path / "c"
    assert concepts(digits, out, "--top", "1", "--references", "0") == 0
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    calls = []

    def interrupted(*_args, **_kwargs):
        calls.append(1)
        raise KeyboardInterrupt

    monkeypatch.setattr(relmax, "_reference_maps", interrupted)
    assert concepts(digits, out, "--top", "2", "--overwrite") == 130
    assert calls and "interrupted" in capsys.readouterr().err
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c", "cache", "digits.npy"]


def test_ctrl_c_while_the_galleries_are_written_leaves_no_folder(digits, tmp_path, monkeypatch,
                                                                  capsys):
    import lrpcore.concepts_export as concepts_export

    real, calls = concepts_export.gallery_image, []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # the first gallery is on disk by now
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(concepts_export, "gallery_image", interrupted)
    out = tmp_path / "c"
    assert concepts(digits, out, "--top", "3") == 130
    assert len(calls) == 2 and "interrupted" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "digits.npy"]


@pytest.fixture()
def scans(monkeypatch):
    """One entry per batch of the pass over every sample (the scan of the dataset)."""
    seen = []
    real = relmax._batch_relevance

    def spy(*args, **kwargs):
        seen.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(relmax, "_batch_relevance", spy)
    return seen


def test_other_channels_reuse_the_scan_and_fewer_are_served_from_the_cache(digits, scans,
                                                                           searched):
    """Each set of channels was an entry of its own: choosing another channel in the panel
    (or another --top) scanned the whole dataset again, most of the work on a large one."""
    ex = Explainer(lrpcore.load_model("mnist-lenet5"), "numpy")
    x = np.load(digits)

    def refs(channels):
        scans.clear()
        searched.clear()
        return relmax.references(ex, x, LAYER, RULE, n=3, dataset_id="d", channels=channels)

    first = refs([2, 5, 7])
    assert scans and sorted(set(searched)) == [2, 5, 7]
    fewer = refs([7, 5])  # maps found already: nothing is computed
    assert scans == [] and searched == []
    assert fewer.crops(5, lambda s: np.zeros((32, 32)))[0][0] == first.samples[5][0]
    other = refs([1, 5])  # the scan and channel 5's maps are lent, channel 1's are found
    assert scans == [] and sorted(set(searched)) == [1]
    want = relmax.compute_references(ex, x, LAYER, RULE, n=3, channels=[1, 5])
    np.testing.assert_array_equal(other.samples, want.samples)
    np.testing.assert_array_equal(other.boxes, want.boxes)
    np.testing.assert_allclose(other.heatmaps, want.heatmaps, rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(other.channel_relevance, want.channel_relevance)
    every = refs(None)
    assert scans == [] and sorted(set(searched)) == sorted(set(range(25)) - {1, 2, 5, 7})
    assert every.channels is None
    assert refs([3]).channels is None and scans == [] and searched == []  # every channel's


def test_another_top_in_the_cli_does_not_scan_the_data_again(digits, tmp_path, scans,
                                                              searched):
    assert concepts(digits, tmp_path / "c", "--top", "2") == 0
    assert scans
    scans.clear()
    searched.clear()
    assert concepts(digits, tmp_path / "c", "--top", "4", "--overwrite") == 0
    top4 = sorted(top_channels(tmp_path / "c", 4))
    assert scans == [] and sorted(set(searched)) == sorted(top_channels(tmp_path / "c", 4)[2:])
    searched.clear()
    assert concepts(digits, tmp_path / "c", "--top", "3", "--overwrite") == 0
    assert scans == [] and searched == []  # the --top 4 search serves, and says so
    with np.load(tmp_path / "c" / "references" / "references.npz") as z:
        np.testing.assert_array_equal(z["searched_channels"], top4)
        assert (z["boxes"][top4] >= 0).all()


@pytest.mark.parametrize("model", ["lenet", "resnet"])
def test_the_maps_take_where_each_channel_is_most_relevant_from_the_scan(model, digits,
                                                                         monkeypatch):
    """The scan's traced passes say where each channel of each sample is most relevant: the
    maps made a traced backward pass per reference sample again (on EfficientNet-Lite0's head
    7 of the maps' 15 relevance passes), with the same boxes."""
    from lrpcore import concepts, zoo

    if model == "lenet":
        ex, k = Explainer(lrpcore.load_model("mnist-lenet5"), "numpy"), LAYER
    else:
        ex = Explainer(zoo.mnist_resnet(seed=1), "numpy")
        k = concepts.offered_layers(ex)[len(concepts.offered_layers(ex)) // 2]
    x = np.load(digits)[:12]
    refs = relmax.compute_references(ex, x, k, RULE, n=3, channels=[0, 2])
    assert refs.spots.shape == refs.channel_relevance.shape
    traced = []
    real = relmax.output_relevance

    def spy(*args):
        traced.append(1)
        return real(*args)

    monkeypatch.setattr(relmax, "output_relevance", spy)
    pairs = [(c, int(s)) for c in (0, 2) for s in refs.samples[c]]
    config = concepts._config(ex, RULE)
    heat, boxes = relmax._reference_maps(ex, x, k, pairs, config, "pred", None, None,
                                         spots=refs.spots)
    assert traced == []
    np.testing.assert_array_equal(boxes.reshape(2, 3, 4), refs.boxes)
    traced_heat, traced_boxes = relmax._reference_maps(ex, x, k, pairs, config, "pred", None,
                                                       None)  # where: a traced pass each
    assert len(traced) == len({s for _, s in pairs})
    np.testing.assert_array_equal(boxes, traced_boxes)
    np.testing.assert_allclose(heat, traced_heat, rtol=1e-6, atol=1e-9)


def test_an_entry_without_places_lends_its_scan_and_the_maps_trace_them(digits):
    from lrpcore.io.cache import cache_dir

    ex = Explainer(lrpcore.load_model("mnist-lenet5"), "numpy")
    x = np.load(digits)
    relmax.references(ex, x, LAYER, RULE, n=3, dataset_id="d", channels=[2])
    (entry,) = cache_dir(relmax.CACHE_SUB).glob("*.npz")
    old = relmax.References.load(entry)
    old.spots = None  # as the entries of stop 28's first version were written
    old.save(entry)
    got = relmax.references(ex, x, LAYER, RULE, n=3, dataset_id="d", channels=[5])
    want = relmax.compute_references(ex, x, LAYER, RULE, n=3, channels=[5])
    assert got.spots is None  # the lent scan had none
    np.testing.assert_array_equal(got.boxes, want.boxes)
    np.testing.assert_allclose(got.heatmaps, want.heatmaps, rtol=1e-6, atol=1e-9)


def test_references_for_the_true_class_follow_the_labels_given(digits, tmp_path):
    """The cache knew the data file, not the labels: 'lrp concepts --target true' with a
    corrected --labels file was given the references of the first one."""
    x = np.load(digits)
    ex = Explainer(lrpcore.load_model("mnist-lenet5"), "numpy")
    outs = {}
    for name, value in (("zeros", 0), ("sevens", 7)):
        np.save(tmp_path / f"{name}.npy", np.full(len(x), value, np.int64))
        outs[name] = tmp_path / name
        assert concepts(digits, outs[name], "--top", "all", "--target", "true", "--labels",
                        str(tmp_path / f"{name}.npy")) == 0
    want = relmax.compute_references(ex, x, LAYER, RULE, "true", np.full(len(x), 7), n=3)
    with np.load(outs["sevens"] / "references" / "references.npz") as z:
        np.testing.assert_array_equal(z["samples"], want.samples)
        np.testing.assert_allclose(z["relevance"], want.relevance, rtol=1e-9)
    # targets that read no labels keep the key they had
    key = relmax.cache_key(ex.model, relmax._config(ex, RULE), "pred", LAYER, "d", 3)
    relmax.references(ex, x, LAYER, RULE, "pred", np.zeros(len(x)), n=3, dataset_id="d")
    assert (tmp_path / "cache" / "relmax" / f"{key}.npz").exists()


def test_channels_an_entry_holds_are_lent_and_only_the_others_are_found(digits, scans,
                                                                          searched):
    """An entry of some of the channels asked lends their maps: --top 5 after --top 3 (or
    another channel chosen in the panel) found the maps of all five again, a backward pass
    per channel and reference sample (stop 28, relmax6)."""
    ex = Explainer(lrpcore.load_model("mnist-lenet5"), "numpy")
    x = np.load(digits)
    relmax.references(ex, x, LAYER, RULE, n=3, dataset_id="d", channels=[2, 5])
    relmax.references(ex, x, LAYER, RULE, n=3, dataset_id="d", channels=[9])
    scans.clear()
    searched.clear()
    steps = []
    got = relmax.references(ex, x, LAYER, RULE, n=3, dataset_id="d", channels=[9, 1, 5, 2],
                            progress=lambda d, t: steps.append((d, t)))
    assert scans == [] and searched == [1, 1, 1]  # channel 1's three reference samples
    assert {t for _, t in steps} == {20 + 3} and steps[-1] == (23, 23)  # the maps found
    want = relmax.compute_references(ex, x, LAYER, RULE, n=3, channels=[1, 2, 5, 9])
    np.testing.assert_array_equal(got.channels, [1, 2, 5, 9])
    np.testing.assert_array_equal(got.samples, want.samples)
    np.testing.assert_array_equal(got.boxes, want.boxes)
    np.testing.assert_allclose(got.heatmaps, want.heatmaps, rtol=1e-6, atol=1e-9)
    assert got.heatmaps.dtype == np.float32 and got.boxes.dtype == np.int32
    again = relmax.references(ex, None, LAYER, RULE, n=3, dataset_id="d", channels=[1, 9])
    np.testing.assert_array_equal(again.heatmaps, got.heatmaps)  # the new entry serves


def test_maps_of_other_reference_samples_are_not_lent(digits, searched):
    """The cache must never serve wrong references: an entry whose reference samples of a
    channel are not the ones the scan ranks first (another ranking of ties) lends nothing
    for it."""
    from lrpcore.io.cache import cache_dir

    ex = Explainer(lrpcore.load_model("mnist-lenet5"), "numpy")
    x = np.load(digits)
    first = relmax.references(ex, x, LAYER, RULE, n=3, dataset_id="d", channels=[2, 5])
    (entry,) = cache_dir(relmax.CACHE_SUB).glob("*.npz")
    other = relmax.References.load(entry)
    other.samples[5] = other.samples[5][::-1]  # the same samples, ranked otherwise
    other.save(entry)
    searched.clear()
    got = relmax.references(ex, x, LAYER, RULE, n=3, dataset_id="d", channels=[2, 5, 7])
    assert sorted(set(searched)) == [5, 7]
    np.testing.assert_array_equal(got.samples[5], first.samples[5])
    np.testing.assert_array_equal(got.boxes, relmax.compute_references(
        ex, x, LAYER, RULE, n=3, channels=[2, 5, 7]).boxes)


@pytest.fixture()
def scanned(monkeypatch):
    """How many samples each backward pass of the scan of the dataset explains."""
    seen = []
    real = relmax.layer_relevance

    def spy(fwd, *args, **kwargs):
        seen.append(len(fwd.outputs()))
        return real(fwd, *args, **kwargs)

    monkeypatch.setattr(relmax, "layer_relevance", spy)
    return seen


def test_the_scan_takes_the_ranked_samples_relevance_from_the_ranking(digits, tmp_path,
                                                                       scanned):
    """lrp concepts ranks sample I's channels, then scanned every sample of DATA, sample I
    again (~0.5 s on EfficientNet-Lite0): the ranking's relevance at the layer is taken."""
    assert concepts(digits, tmp_path / "c", "--top", "2") == 0
    assert sum(scanned) == 20 - 1  # sample 7 is ranked, not scanned
    ex = Explainer(lrpcore.load_model("mnist-lenet5"), "numpy")
    want = relmax.compute_references(ex, np.load(digits), LAYER, RULE, n=3)
    with np.load(tmp_path / "c" / "references" / "references.npz") as z:
        np.testing.assert_array_equal(z["samples"], want.samples)
        np.testing.assert_allclose(z["relevance"], want.relevance, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("index", [0, 7, 19])
def test_a_known_samples_relevance_gives_the_scan_it_would_find(digits, scanned, index):
    from lrpcore import concepts as crp

    ex = Explainer(lrpcore.load_model("mnist-lenet5"), "numpy")
    x = np.load(digits)
    ranking = crp.rank_channels(ex.forward(ex.prepare(x[index:index + 1]), raw=True), LAYER,
                                RULE)
    forwarded = []
    forward = ex.forward

    def counted(fed, raw=False):
        forwarded.append(len(fed))
        return forward(fed, raw)

    ex.forward = counted
    want = relmax.compute_references(ex, x, LAYER, RULE, n=3, channels=[4], batch_size=8)
    before = sum(forwarded)
    scanned.clear()
    got = relmax.compute_references(ex, x, LAYER, RULE, n=3, channels=[4], batch_size=8,
                                    known=(index, ranking.at_layer))
    assert sum(scanned) == 20 - 1  # the maps take their places from the scan
    assert sum(forwarded) - before == before - 1  # nor forwarded
    np.testing.assert_allclose(got.channel_relevance, want.channel_relevance, rtol=1e-9,
                               atol=1e-12)
    np.testing.assert_array_equal(got.spots, want.spots)
    np.testing.assert_array_equal(got.samples, want.samples)
    np.testing.assert_array_equal(got.boxes, want.boxes)
    assert got.channel_relevance.dtype == want.channel_relevance.dtype


def test_a_broken_sample_beside_the_known_one_is_numbered_in_the_data(digits):
    ex = Explainer(lrpcore.load_model("mnist-lenet5"), "numpy")
    x = np.load(digits).astype(np.float64)
    x[5] = np.nan
    with pytest.raises(lrpcore.errors.NonFiniteSample, match="sample 5 contains"):
        relmax.compute_references(ex, x, LAYER, RULE, n=3, channels=[4], batch_size=8,
                                  known=(2, None))  # refused before it is needed


@pytest.mark.parametrize("cache", [{"use_cache": False}, {"dataset_id": ""}])
def test_references_without_a_cache_compute_them(digits, cache):
    """Without a cache (use_cache=False, or data of no id: the explorer's segmentation
    region, a script's array) references() ended in "UnboundLocalError: lent": the maps an
    entry lends were only named where a cache path exists."""
    ex = Explainer(lrpcore.load_model("mnist-lenet5"), "numpy")
    x = np.load(digits)
    got = relmax.references(ex, x, LAYER, RULE, n=3, channels=[2], **cache)
    want = relmax.compute_references(ex, x, LAYER, RULE, n=3, channels=[2])
    np.testing.assert_array_equal(got.boxes, want.boxes)
    np.testing.assert_allclose(got.heatmaps, want.heatmaps, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("known", [None, 0])
def test_a_raw_sample_that_is_not_finite_is_numbered_in_the_data(known):
    """--raw samples are checked for NaN on their way to the device, outside the reading that
    numbered a refusal in the data: the number was the batch's, one lower past the known
    sample left out of the scan ('sample 32' for 33) and counted from each batch's start."""
    ex = Explainer(lrpcore.load_model("mnist-lenet5"), "numpy")
    x = np.random.default_rng(0).uniform(-1, 1, (12, 32, 32, 1))
    x[9, 3, 3, 0] = np.inf
    given = None
    if known is not None:
        fwd = ex.forward(x[:1], raw=True)
        at_layer = lrpcore.concepts.layer_relevance(fwd, LAYER, RULE)[0]
        given = (known, np.asarray(at_layer)[0])
    with pytest.raises(lrpcore.errors.NonFiniteSample) as refused:
        relmax.compute_references(ex, x, LAYER, RULE, n=2, batch_size=4, raw=True, known=given)
    assert refused.value.index == 9
