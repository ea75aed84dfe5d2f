"""RelMax reference maps: one forward pass per reference sample, its channels' conditional
heatmaps and receptive fields in backward passes over that forward pass repeated, sized by the
pass budget — and the same heatmaps and boxes as the old path (pairs in chunks of mixed
samples, each chunk forwarded twice and propagated three times), kept here to compare with.
On EfficientNet-Lite0's head over 4 photographs the old path ran for over 15 minutes at 6.5 GB."""

from __future__ import annotations

import numpy as np
import pytest

import lrpcore
from lrpcore import concepts, relmax, zoo
from lrpcore.concepts import (
    _config,
    channel_mask,
    conditional_batch,
    output_relevance,
    output_shape,
    pass_size,
    single_pass,
)
from lrpcore.explain import Explainer
from lrpcore.relmax import _box, _spatial, take

RULE = "epsilon:0.01"


def old_reference_maps(ex, images, k, pairs, config, target, labels):
    """The path before: fixed chunks of (channel, sample) pairs of mixed samples."""
    one = single_pass(ex)
    flat = _config(one, "flat")
    heats, boxes = [], []
    step = pass_size(one, one.prepare(take(images, [pairs[0][1]])).shape[1:], 64)
    for a in range(0, len(pairs), step):
        part = pairs[a:a + step]
        idx = [s for _, s in part]
        x = one.prepare(take(images, idx))
        lab = None if labels is None else np.asarray(labels)[idx]
        fwd = one.forward(x, raw=True)
        _, trace = fwd.relevance(config, target, labels=lab, trace=True)
        out = np.asarray(output_relevance(one, trace, k))
        shape = output_shape(fwd, k)
        masks = np.stack([channel_mask(shape, c) for c, _ in part])
        heats.append(_spatial(conditional_batch(one, x, k, masks, config, target, lab)))
        spots = []
        for i, (c, _) in enumerate(part):
            m = out[i][..., c]
            pos = np.unravel_index(int(np.argmax(m)), m.shape) if m.ndim else ()
            spots.append(channel_mask(shape, c, position=pos))
        field = _spatial(fwd.propagate(np.ones_like(fwd.outputs()), flat,
                                       condition={k: np.stack(spots)}))
        boxes += [_box(np.abs(f) > 0) for f in field]
    return np.concatenate(heats).astype(np.float32), np.asarray(boxes, dtype=np.int32)


@pytest.fixture(scope="module")
def lenet():
    return Explainer(lrpcore.load_model("mnist-lenet5"), "numpy")


@pytest.fixture(scope="module")
def resnet():
    return Explainer(zoo.mnist_resnet(seed=1), "numpy")


@pytest.fixture(scope="module")
def digits():
    return lrpcore.open_dataset("mnist-sample").images(slice(0, 12))


def _pairs(C, samples):
    """(channel, sample) pairs as compute_references makes them: channel-major, each channel
    with its own samples (here rotated, so that chunks mix samples)."""
    return [(c, int(samples[(c + j) % len(samples)])) for c in range(C)
            for j in range(3)]


@pytest.mark.parametrize("model,layer", [("lenet", 3), ("lenet", 6), ("resnet", None)])
@pytest.mark.parametrize("target", ["pred", 4])
def test_the_maps_and_boxes_are_the_old_paths(request, digits, model, layer, target):
    ex = request.getfixturevalue(model)
    k = layer if layer is not None else concepts.offered_layers(ex)[len(
        concepts.offered_layers(ex)) // 2]
    config = _config(ex, RULE)
    fwd = ex.forward(ex.prepare(digits[:1]), raw=True)
    C = output_shape(fwd, k)[-1]
    pairs = _pairs(C, [7, 2, 9, 0])
    old_heat, old_boxes = old_reference_maps(ex, digits, k, pairs, config, target, None)
    heat, boxes = relmax._reference_maps(ex, digits, k, pairs, config, target, None, None)
    np.testing.assert_array_equal(boxes, old_boxes)
    assert heat.dtype == np.float32 and heat.shape == old_heat.shape
    np.testing.assert_allclose(heat, old_heat, rtol=1e-6, atol=1e-6 * np.abs(old_heat).max())


class Counter:
    """Counts the forward passes (their sizes) and backward passes (their sizes) of ``ex``."""

    def __init__(self, ex, monkeypatch):
        self.forwards, self.backwards = [], []
        forward, fwd_type = ex.forward, type(ex.forward(ex.prepare(
            lrpcore.open_dataset("mnist-sample").images(slice(0, 1))), raw=True))
        propagate = fwd_type.propagate

        def counted_forward(x, raw=False):
            self.forwards.append(len(x))
            return forward(x, raw)

        def counted_propagate(fwd, R, *a, **kw):
            self.backwards.append(int(np.shape(R)[0]))
            return propagate(fwd, R, *a, **kw)

        monkeypatch.setattr(ex, "forward", counted_forward)
        monkeypatch.setattr(fwd_type, "propagate", counted_propagate)


def test_one_forward_pass_per_sample_and_channels_batched(resnet, digits, monkeypatch):
    """4 samples × 3 pairs each... of 16 channels: 4 forward passes of one sample, one traced
    backward pass per sample, the rest in passes as large as the budget allows (the old path:
    a forward pass twice and three backward passes per chunk of pass-size pairs)."""
    ex = resnet
    k = concepts.offered_layers(ex)[len(concepts.offered_layers(ex)) // 2]
    config = _config(ex, RULE)
    fwd = ex.forward(ex.prepare(digits[:1]), raw=True)
    C = output_shape(fwd, k)[-1]
    pairs = _pairs(C, [7, 2, 9, 0])
    per_sample = len(pairs) // 4
    step = pass_size(ex, ex.prepare(digits[:1]).shape[1:], per_sample)
    count = Counter(ex, monkeypatch)
    relmax._reference_maps(ex, digits, k, pairs, config, "pred", None, None)
    assert count.forwards == [1] * 4
    chunks = [min(step, per_sample - a) for a in range(0, per_sample, step)]
    # per sample: the traced pass, then per chunk a conditional and a flat pass
    assert count.backwards == ([1] + [n for n in chunks for _ in range(2)]) * 4


def test_passes_are_sized_by_the_pass_budget(resnet, digits, monkeypatch):
    """A budget that holds two samples' activations: passes of two channels, never more."""
    ex = resnet
    k = concepts.offered_layers(ex)[-2]
    config = _config(ex, RULE)
    fwd = ex.forward(ex.prepare(digits[:1]), raw=True)
    C = output_shape(fwd, k)[-1]
    pairs = [(c, 3) for c in range(C)]
    monkeypatch.setattr(relmax, "pass_size", lambda ex, shape, wanted: min(2, wanted))
    count = Counter(ex, monkeypatch)
    relmax._reference_maps(ex, digits, k, pairs, config, "pred", None, None)
    assert count.forwards == [1]
    assert max(count.backwards) == 2 and sum(count.backwards) == 1 + 2 * C


def test_progress_counts_every_pair(lenet, digits):
    """The maps are most of the work: each pass reports, towards samples + pairs (before,
    one step after the ranking stood for all of them)."""
    steps = []
    refs = relmax.compute_references(lenet, digits, 3, RULE, n=2,
                                     progress=lambda d, t: steps.append((d, t)))
    total = len(digits) + refs.samples.size
    assert steps[-1] == (total, total)
    during = [d for d, t in steps if t == total and len(digits) < d < total]
    assert len(during) >= 2 and during == sorted(during)


def test_maps_only_for_the_channels_asked(lenet, digits, tmp_path, monkeypatch):
    """``channels`` bounds the work (pairs of those channels alone) and keeps their rows the
    same as a search of every channel; the cache keeps which channels, under its own key."""
    monkeypatch.setenv("LRP_CACHE_DIR", str(tmp_path))
    asked = []
    real = relmax._reference_maps

    def counted(ex, images, k, pairs, *a, **kw):
        asked.append(pairs)
        return real(ex, images, k, pairs, *a, **kw)

    monkeypatch.setattr(relmax, "_reference_maps", counted)
    every = relmax.compute_references(lenet, digits, 3, RULE, n=2)
    some = relmax.references(lenet, digits, 3, RULE, n=2, dataset_id="d", channels=[5, 1, 5])
    assert {c for c, _ in asked[-1]} == {1, 5} and len(asked[-1]) == 4
    assert len(asked[0]) == every.samples.size
    np.testing.assert_array_equal(some.channels, [1, 5])
    np.testing.assert_array_equal(some.samples, every.samples)
    for c in (1, 5):
        r = some.row(c)
        np.testing.assert_array_equal(some.boxes[r], every.boxes[c])
        np.testing.assert_allclose(some.heatmaps[r], every.heatmaps[c], rtol=1e-6, atol=1e-9)
    assert some.row(2) is None and every.row(2) == 2
    with pytest.raises(KeyError, match="channel 2"):
        some.crops(2, lambda s: digits[s][..., 0] if digits.ndim == 4 else digits[s])
    again = relmax.references(lenet, None, 3, RULE, n=2, dataset_id="d", channels=[1, 5])
    assert len(asked) == 2  # read back, channels and all
    np.testing.assert_array_equal(again.channels, [1, 5])
    np.testing.assert_array_equal(again.heatmaps, some.heatmaps)
    config = _config(lenet, RULE)
    assert (relmax.cache_key(lenet.model, config, "pred", 3, "d", 2, channels=[1, 5])
            != relmax.cache_key(lenet.model, config, "pred", 3, "d", 2))
    with pytest.raises(lrpcore.errors.ShapeError, match="channel 99: the layer has channels 0..24"):
        relmax.compute_references(lenet, digits, 3, RULE, n=2, channels=[0, 99])


def test_a_cached_entry_with_channels_out_of_range_is_refused(tmp_path):
    """An entry whose ``channels`` name channels the layer lacks (or rows that do not match
    them) is refused as damaged, so that it is computed again."""
    def refs(channels, rows):
        return relmax.References(3, np.zeros((4, 2), np.int64), np.zeros((4, 2)),
                                 np.zeros((rows, 2, 4), np.int32),
                                 np.zeros((rows, 2, 5, 5), np.float32), np.zeros((6, 4)),
                                 None if channels is None else np.asarray(channels))

    path = tmp_path / "r.npz"
    refs([1, 3], 2).save(path)
    np.testing.assert_array_equal(relmax.References.load(path, 6).channels, [1, 3])
    for channels, rows in (([1, 4], 2), ([1, 3], 4), ([1.0, 3.0], 2), ([-1, 2], 2)):
        refs(channels, rows).save(path)
        with pytest.raises(ValueError):
            relmax.References.load(path, 6)
    refs(None, 4).save(path)  # every channel, as entries always were
    assert relmax.References.load(path, 6).channels is None
