"""RelMax reference samples of a layer's channels (CRP): over a dataset, the samples in which a
channel receives the most relevance, each cropped to the channel's receptive field where it is
most relevant, with its own conditional heatmap.

The receptive field is found without knowing the architecture: the flat rule sends one unit of
relevance from the channel's most relevant position back to the input, spreading it evenly over
every pixel that position sees, so the nonzero pixels are exactly its receptive field. Results
are cached on disk (one ``.npz`` per model parameters, rule, target, layer and dataset) and
reused across sessions; the cache holds at most ``LRP_RELMAX_CACHE_MAX_MB`` (default 256 MB),
the entries used longest ago removed first.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from dataclasses import dataclass

import numpy as np

from .concepts import (
    _config,
    channel_mask,
    channel_sums,
    check_channels,
    layer_index,
    layer_relevance,
    output_relevance,
    output_shape,
    pass_size,
    single_pass,
    whole_channel,
)
from .errors import Cancelled, DatasetError, ExportError, NonFiniteSample, ShapeError
from .explain import as_explainer
from .io.claims import NPY_HEADER_ERRORS, ZIP_ERRORS
from .map_targets import has_pixels, region_words
from .targets import resolve_classes

CACHE_SUB = "relmax"
FORMAT = 1


@dataclass
class References:
    """Per channel: the top samples, their relevance, crop boxes and conditional heatmaps.
    ``channels``: the channels whose boxes and heatmaps were found, in their rows' order
    (None: every channel, row c for channel c); samples and relevance cover every channel."""

    layer: int
    samples: np.ndarray    # (C, n) dataset indices, most relevant first
    relevance: np.ndarray  # (C, n) the channel's relevance in those samples
    boxes: np.ndarray      # (rows, n, 4) y0, y1, x0, x1 in the fed input's spatial grid
    heatmaps: np.ndarray   # (rows, n, H, W) conditional heatmaps (summed over colour)
    channel_relevance: np.ndarray  # (N, C) every sample's channel relevance
    channels: np.ndarray | None = None  # (rows,) the channels of those rows; None: all
    present: np.ndarray | None = None  # (N,) samples with pixels to explain; None: unknown
    spots: np.ndarray | None = None  # (N, C) where each channel is most relevant (flat
    # position in the layer's output grid); None: unknown (an older entry)

    @property
    def n_channels(self) -> int:
        return self.samples.shape[0]

    def row(self, channel) -> int | None:
        """The row of ``channel``'s boxes and heatmaps; None where they were not found."""
        channel = int(channel)
        if self.channels is None:
            return channel if 0 <= channel < self.n_channels else None
        hit = np.flatnonzero(self.channels == channel)
        return int(hit[0]) if hit.size else None

    def covers(self, channels) -> bool:
        """Whether the boxes and heatmaps of ``channels`` (None: every channel) were found."""
        if channels is None:
            return self.channels is None
        if self.channels is None:
            return all(0 <= int(c) < self.n_channels for c in channels)
        return {int(c) for c in channels} <= set(self.channels.tolist())

    def searched(self) -> np.ndarray:
        """The channels whose boxes and heatmaps were found, ascending."""
        if self.channels is None:
            return np.arange(self.n_channels)
        return np.asarray(self.channels, dtype=np.int64)

    def boxes_by_channel(self) -> np.ndarray:
        """(C, n, 4): row c the boxes of channel c, -1 throughout for a channel not searched
        (no crop has a negative corner), so that a file indexed by channel stays indexed by
        channel when only some channels were searched."""
        if self.channels is None:
            return self.boxes
        out = np.full(self.samples.shape + (4,), -1, dtype=self.boxes.dtype)
        out[self.channels] = self.boxes
        return out

    def crops(self, channel, images01):
        """[(sample, image crop, heatmap crop)] of one channel; ``images01`` maps a dataset
        index to the fed input as an (H, W) or (H, W, 3) image."""
        r = self.row(channel)
        if r is None:
            raise KeyError(f"channel {channel}: no reference maps were found for it")
        out = []
        for i, s in enumerate(self.samples[channel]):
            y0, y1, x0, x1 = self.boxes[r, i]
            out.append((int(s), images01(int(s))[y0:y1, x0:x1],
                        self.heatmaps[r, i, y0:y1, x0:x1]))
        return out

    def nbytes(self) -> int:
        """Bytes its cache file takes (uncompressed arrays, a little header aside)."""
        return sum(a.nbytes for a in (self.samples, self.relevance, self.boxes, self.heatmaps,
                                      self.channel_relevance)) + (
            0 if self.present is None else self.present.nbytes) + (
            0 if self.spots is None else self.spots.nbytes)

    def save(self, path) -> None:
        from .fileio import atomic_open  # noqa: PLC0415

        with atomic_open(path) as fh:
            np.savez(fh, format=FORMAT, layer=self.layer, samples=self.samples,
                     relevance=self.relevance, boxes=self.boxes, heatmaps=self.heatmaps,
                     channel_relevance=self.channel_relevance,
                     **({} if self.channels is None else {"channels": self.channels}),
                     **({} if self.present is None else {"present": self.present}),
                     **({} if self.spots is None else {"spots": self.spots}))

    @classmethod
    def load(cls, path, count=None) -> References:
        """The entry at ``path``, made over a dataset of ``count`` samples (when given);
        ValueError for anything else: an entry damaged, cut short or of another kind (a
        format member of two values, samples beyond the dataset) ended 'lrp concepts' in an
        internal TypeError or IndexError instead of being computed again."""
        with np.load(path, allow_pickle=False) as z:
            head = {key: z[key] for key in ("format", "layer")}
            if any(v.shape != () or v.dtype.kind not in "iu" for v in head.values()):
                raise ValueError("format and layer must be whole numbers")
            if int(head["format"]) != FORMAT:
                raise ValueError("old cache format")
            refs = cls(int(head["layer"]), z["samples"], z["relevance"], z["boxes"],
                       z["heatmaps"], z["channel_relevance"],
                       z["channels"] if "channels" in z.files else None,
                       z["present"] if "present" in z.files else None,
                       z["spots"] if "spots" in z.files else None)
        C, n = refs.samples.shape if refs.samples.ndim == 2 else (-1, -1)
        chosen = refs.channels
        rows = C if chosen is None else (len(chosen) if chosen.ndim == 1 else -1)
        if chosen is not None and (chosen.dtype.kind not in "iu" or (
                chosen.size and (chosen.min() < 0 or chosen.max() >= C))):
            raise ValueError("channels out of range")
        if (refs.relevance.shape != (C, n) or refs.boxes.shape != (rows, n, 4)
                or refs.heatmaps.shape[:2] != (rows, n) or refs.heatmaps.ndim != 4
                or refs.channel_relevance.ndim != 2 or refs.channel_relevance.shape[1] != C):
            raise ValueError("members of inconsistent shapes")
        if (refs.samples.dtype.kind not in "iu" or refs.boxes.dtype.kind not in "iu"
                or any(a.dtype.kind != "f" for a in (refs.relevance, refs.heatmaps,
                                                     refs.channel_relevance))):
            raise ValueError("members of other types")
        if refs.samples.size and (refs.samples.min() < 0 or refs.boxes.min() < 0 or (
                count is not None and refs.samples.max() >= count)):
            raise ValueError("samples or boxes out of range")
        if count is not None and refs.channel_relevance.shape[0] != count:
            raise ValueError("channel relevance of another number of samples")
        if refs.present is not None and (refs.present.dtype != bool or refs.present.shape
                                         != refs.channel_relevance.shape[:1]):
            raise ValueError("present of another type or number of samples")
        if refs.spots is not None and (refs.spots.dtype.kind not in "iu" or refs.spots.shape
                                       != refs.channel_relevance.shape):
            raise ValueError("spots of another type or shape")
        return refs


def model_hash(model) -> str:
    """SHA-256 of a model's layers and parameters: the same weights give the same key
    whatever file they were read from."""
    h = hashlib.sha256()
    layers = model.analysis_layers()
    for layer in layers:
        h.update(layer.describe().encode())
        for name in sorted(vars(layer)):
            value = getattr(layer, name)
            if isinstance(value, np.ndarray):
                h.update(name.encode())
                h.update(np.ascontiguousarray(value).tobytes())
    for name in getattr(layers, "names", []):
        h.update(name.encode())
    return h.hexdigest()


def dataset_key(data, n, *, builtin_first=False) -> str:
    """What the reference cache knows a dataset by: its name or file, its size and, for a
    file, its modification time (the CLI and the explorer alike: the explorer's name and
    size alone showed the references of a file rewritten since). ``builtin_first``: a
    built-in name means the built-in dataset, as the explorer opens it
    (:func:`lrpcore.export.where_found`), not a folder of that name here."""
    from .export import where_found  # noqa: PLC0415

    data = where_found(data, builtin_first=builtin_first)  # a file absolute, a name as it is
    if not os.path.isabs(data):  # a built-in name (or nothing found)
        return f"{data}|{n}"
    if os.path.isdir(data):  # an image folder: a photo replaced in place leaves its mtime
        return f"{data}|{n}|{_folder_stamp(data)}"
    if os.path.exists(data):
        st = os.stat(data)
        return f"{data}|{n}|{st.st_size}|{st.st_mtime_ns}"
    return f"{data}|{n}"


def _folder_stamp(folder) -> str:
    """Files, bytes and the newest modification time in ``folder`` and its subfolders (one
    level: the class folders of an image folder)."""
    count = size = newest = 0
    todo = [folder]
    for depth in range(2):
        below = []
        for path in todo:
            try:
                entries = list(os.scandir(path))
            except OSError:
                continue
            for entry in entries:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        below.append(entry.path)
                    elif entry.is_file():
                        st = entry.stat()
                        count, size = count + 1, size + st.st_size
                        newest = max(newest, st.st_mtime_ns)
                except OSError:
                    continue
        todo = below if depth == 0 else []
    return f"{count}|{size}|{newest}"


def cache_key(model, config, target, layer, dataset_id, n, region=None, channels=None) -> str:
    """The entry's name: 32 hex digits of the settings; with ``channels``, a dash and 16 of
    the channels, so that the entries of one scan of the dataset share their start
    (:func:`_cached`)."""
    parts = (FORMAT, model_hash(model), config.description, target, layer, dataset_id, n)
    # a box of a segmentation model's map explains other pixels (none: the key it always had)
    text = "|".join(str(p) for p in parts + (() if region is None else (tuple(region),)))
    key = hashlib.sha256(text.encode()).hexdigest()[:32]
    if channels is None:  # every channel: the key it always had
        return key
    chosen = ",".join(str(int(c)) for c in channels)
    return f"{key}-{hashlib.sha256(chosen.encode()).hexdigest()[:16]}"


def _spatial(R) -> np.ndarray:
    """(B, H, W) of input relevance in the fed layout (channels-last or channels-first)."""
    R = np.asarray(R)
    if R.ndim == 4:
        return R.sum(axis=1) if R.shape[1] in (1, 3) and R.shape[-1] not in (1, 3) \
            else R.sum(axis=-1)
    if R.ndim == 3:
        return R
    side = int(round(np.sqrt(R[0].size)))
    return R.reshape(R.shape[0], side, -1)


def _box(support) -> tuple:
    ys, xs = np.nonzero(support)
    if ys.size == 0:
        return 0, support.shape[0], 0, support.shape[1]
    return int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1


def compute_references(explainer, images, k, rule=None, target="pred", labels=None,
                       n=8, batch_size=256, progress=None, cancelled=None,
                       raw=False, region=None, channels=None, scan=None,
                       lent=(), known=None) -> References:
    """RelMax references of every channel of layer k over ``images`` (raw samples, or with
    ``raw`` arrays in the model's own layout; indexable by slices, e.g. a dataset's
    ``images``); ``progress(done, total)`` and ``cancelled()`` let a background job report
    and stop (raising :class:`Cancelled`). On a segmentation model (``region``: a box of its
    map) a sample whose map predicts the class at no pixel has nothing to explain: its
    channel relevance is 0 and it is no reference. ``channels``: the channels whose boxes and
    heatmaps are found (None: every one); each is a conditional backward pass per reference
    sample, most of the work (EfficientNet-Lite0's head has 1280 channels). ``explainer``:
    an :class:`~lrpcore.Explainer` or the model itself. ``scan``: ``(channel_relevance,
    present)`` of an earlier run over the same samples and settings, whose pass over every
    sample is then not made again (``spots`` None where the entry predates them). ``lent``:
    References of the same samples and settings whose boxes and heatmaps are taken for the
    channels they hold (:func:`_lent_maps`), so that only the other channels' are found.
    ``known``: ``(index, relevance at layer k)`` of one sample with pixels to explain, found
    with the same settings (:attr:`lrpcore.concepts.Ranking.at_layer`): the scan neither
    forwards nor explains it again."""
    channels = _asked(channels)
    ex = as_explainer(explainer)
    k = layer_index(ex, k)
    config = _config(ex, rule)
    N = len(images)
    rels, present, spots = [], [], []
    steps = None  # known once the first batch says how many channels the layer has
    if scan is not None:  # the bar starts once the maps' count is known
        rels, present = [np.asarray(scan[0])], [np.asarray(scan[1], dtype=bool)]
        spots = [None if scan[2] is None else np.asarray(scan[2])]
    elif N:
        first = ex.user_prepare(take(images, slice(0, 1)), raw)  # warns as explain does
        batch_size = pass_size(ex, first.shape[1:], batch_size)
    for a in range(0, N if scan is None else 0, batch_size):
        _check(cancelled)
        stop = min(a + batch_size, N)
        mine = known is not None and a <= known[0] < stop
        idx = np.arange(a, stop)
        if mine:  # its relevance is known: neither forwarded nor explained again
            idx = idx[idx != known[0]]
        try:  # (a slice where it can: a memory-mapped file reads it in one piece)
            fed = ex.prepare(take(images, idx if mine else slice(a, stop)), raw) \
                if idx.size else None
        except NonFiniteSample as exc:  # numbered in the data (the caller names the file)
            raise exc.at(int(idx[exc.index])) from None
        except ShapeError as exc:  # a NaN in the data: which samples (the caller names the file)
            raise ShapeError(f"samples {a}..{stop - 1}: {exc}") from None
        lab = None if labels is None else np.asarray(labels)[idx]
        try:  # --raw samples are checked for NaN on their way to the device
            fwd = None if fed is None else ex.forward(fed, raw=True)
        except NonFiniteSample as exc:  # numbered in the data, past the known sample left out
            raise exc.at(int(idx[exc.index])) from None
        rel, ok, spot = (None,) * 3 if fwd is None else _batch_relevance(
            fwd, k, config, target, lab, region)
        if mine:
            rel, ok, spot = _with_known(rel, ok, spot, known[0] - a, known[1])
        rels.append(rel)
        present.append(ok)
        spots.append(spot)
        if steps is None:  # the bar's total from the start: the scan was 73 % of 11 steps,
            rows = rel.shape[1] if channels is None else len({int(c) for c in channels})
            steps = N + rows * min(n, N)  # then 0 % of 5,130 when the maps began
        if progress:
            progress(min(a + batch_size, N), steps)
    R = np.concatenate(rels)
    present = np.concatenate(present) if present else np.zeros(0, bool)
    spots = None if not spots or spots[0] is None else np.concatenate(spots)
    C = R.shape[1]
    n = min(n, int(present.sum()))
    if N and not n:
        raise ShapeError(f"class {target} is predicted at no pixel of any of the {N} "
                         f"samples{region_words(region)}: there are no pixels to explain")
    ranked = np.where(present[:, None], R, -np.inf)  # a sample without pixels comes last
    top = np.argsort(-ranked, axis=0, kind="stable")[:n].T  # (C, n)
    chosen = range(C) if channels is None else _channels(channels, C)
    known = _lent_maps(lent, chosen, top)
    todo = [c for c in chosen if c not in known]
    pairs = [(c, int(s)) for c in todo for s in top[c]]
    steps = N + len(pairs)  # each pair a step: the maps take most of the time
    if progress and scan is not None and pairs:
        progress(N, steps)
    heat, boxes = _reference_maps(ex, images, k, pairs, config, target, labels, cancelled,
                                  raw, region, progress and (lambda d: progress(N + d, steps)),
                                  spots)
    if progress and not pairs:  # else the last map said so (twice, a log's bar ended twice)
        progress(steps, steps)
    heat, boxes = _with_lent(chosen, todo, known, n, heat, boxes)
    return References(k, top, np.take_along_axis(R.T, top, axis=1), boxes, heat, R,
                      None if channels is None else np.asarray(chosen, dtype=np.int64),
                      present, spots)


def _lent_maps(lent, chosen, top) -> dict:
    """{channel: (boxes, heatmaps)} of the ``chosen`` channels that an entry of ``lent``
    holds for the same reference samples as ``top`` (C, n) (a scan of other batches may
    rank ties otherwise: such a channel's maps are found again)."""
    known = {}
    for refs in lent:
        if refs.samples.shape != top.shape:
            continue
        for c in chosen:
            r = refs.row(c)
            if c not in known and r is not None and np.array_equal(refs.samples[c], top[c]):
                known[c] = refs.boxes[r], refs.heatmaps[r]
    return known


def _with_lent(chosen, todo, known, n, heat, boxes):
    """(rows, n, H, W) heatmaps and (rows, n, 4) boxes of the ``chosen`` channels: the
    ``known`` ones lent, those of ``todo`` from the maps just found (``heat`` and ``boxes``,
    pair by pair)."""
    if not known:
        H, W = heat.shape[1:]
        return heat.reshape(len(todo), n, H, W), boxes.reshape(len(todo), n, 4)
    H, W = next(iter(known.values()))[1].shape[1:]
    heat, boxes = heat.reshape(len(todo), n, H, W), boxes.reshape(len(todo), n, 4)
    found = {c: i for i, c in enumerate(todo)}
    out_heat = np.empty((len(chosen), n, H, W), np.float32)
    out_boxes = np.empty((len(chosen), n, 4), np.int32)
    for row, c in enumerate(chosen):
        out_boxes[row], out_heat[row] = known[c] if c in known else (boxes[found[c]],
                                                                     heat[found[c]])
    return out_heat, out_boxes


def _asked(channels) -> list[int] | None:
    """``channels`` as ints (None: every channel); ShapeError for an empty list, which asks
    for no channel's references (an entry of any channels "covered" it), or for one that is
    no whole number."""
    if channels is None:
        return None
    chosen = [whole_channel(c) for c in channels]
    if not chosen:
        raise ShapeError("channels: the list is empty; give the channels whose references "
                         "are wanted, or None for every channel")
    return chosen


def _channels(channels, C) -> list[int]:
    """``channels`` as a sorted list without repeats; ShapeError for one the layer lacks."""
    return sorted(set(check_channels(channels, C)))


def _batch_relevance(fwd, k, config, target, labels, region):
    """(channel relevance N×C, whether each sample has pixels to explain, where each channel
    is most relevant N×C) of one batch: of a segmentation model, the samples whose map
    predicts the class nowhere (inside ``region``) are left out of the pass (one of them
    failed it) and get 0. The places spare the maps a traced pass per reference sample."""
    y = fwd.outputs()
    n = y.shape[0]
    classes = None if y.ndim <= 2 else resolve_classes(
        y, target, labels, class_names=lambda: fwd.explainer.model.class_names, region=region)
    ok = np.ones(n, bool) if classes is None else np.asarray(has_pixels(y, classes, region))
    if ok.all():
        rel, spots = _sums_and_spots(layer_relevance(fwd, k, config, target, labels,
                                                     region=region)[0])
        return rel, ok, spots
    C = output_shape(fwd, k)[-1]
    rel, spots = np.zeros((n, C)), np.zeros((n, C), np.int32)
    rows = np.flatnonzero(ok)
    if rows.size:
        sub = None if labels is None else np.asarray(labels)[rows]
        rel[rows], spots[rows] = _sums_and_spots(layer_relevance(
            fwd.subset(rows), k, config, classes[rows], sub, region=region)[0])
    return rel, ok, spots


def _with_known(rel, ok, spot, i, at_layer):
    """A batch's (channel relevance, present, places), None when it was the known sample
    alone, with the known sample's (its ``at_layer`` relevance) put in at row ``i``."""
    one_rel, one_spot = _sums_and_spots(np.asarray(at_layer)[None])
    if rel is None:
        return one_rel, np.ones(1, bool), one_spot
    return (np.insert(rel, i, one_rel[0], axis=0), np.insert(ok, i, True),
            np.insert(spot, i, one_spot[0], axis=0))


def _sums_and_spots(r):
    """(N, C) sums over positions and (N, C) flat positions of the largest value of a
    layer's relevance r (N, ..., C)."""
    flat = r.reshape(r.shape[0], -1, r.shape[-1])
    return channel_sums(r), flat.argmax(axis=1).astype(np.int32)


def _reference_maps(ex, images, k, pairs, config, target, labels, cancelled, raw=False,
                    region=None, progress=None, spots=None):
    """Conditional heatmaps and receptive-field boxes of (channel, sample) pairs. Per sample:
    one forward pass, then its channels' conditional and flat backward passes over that
    forward pass repeated (:meth:`Forward.subset`), as many channels a pass as the pass
    budget's bytes hold. Pairs taken in fixed chunks of mixed samples cost two forward and
    three backward passes each chunk: EfficientNet-Lite0's head over 4 photographs (5120
    pairs) took over an hour. Where each channel is most relevant comes from the scan's
    ``spots`` (N × C flat positions), else from a traced backward pass per sample."""
    one = single_pass(ex)
    flat = _config(one, "flat")
    heats = boxes = None
    done = 0
    for s, rows in _by_sample(pairs).items():
        _check(cancelled)
        x = one.prepare(take(images, [s]), raw)
        lab = None if labels is None else np.asarray(labels)[[s]]
        fwd = one.forward(x, raw=True)
        shape = output_shape(fwd, k)
        where = _places(fwd, k, shape, s, {pairs[i][0] for i in rows}, spots, config, target,
                        lab, region)
        step = pass_size(one, x.shape[1:], len(rows))
        for a in range(0, len(rows), step):
            _check(cancelled)
            part = rows[a:a + step]
            chans = [pairs[i][0] for i in part]
            rep = fwd.subset(np.zeros(len(part), dtype=np.intp))
            labs = None if lab is None else np.repeat(lab, len(part), axis=0)
            masks = np.stack([channel_mask(shape, c) for c in chans])
            heat = _spatial(rep.relevance(config, target, labels=labs, condition={k: masks},
                                          region=region))
            one_spot = np.stack([channel_mask(shape, c, position=where[c]) for c in chans])
            field = _spatial(rep.propagate(np.ones_like(rep.outputs()), flat,
                                           condition={k: one_spot}))
            if heats is None:
                heats = np.empty((len(pairs),) + heat.shape[1:], dtype=np.float32)
                boxes = np.empty((len(pairs), 4), dtype=np.int32)
            heats[part] = heat
            boxes[part] = [_box(np.abs(f) > 0) for f in field]
            done += len(part)
            if progress:
                progress(done)
    if heats is None:  # no pairs
        return np.zeros((0, 0, 0), np.float32), np.zeros((0, 4), np.int32)
    return heats, boxes


def _places(fwd, k, shape, s, chans, spots, config, target, lab, region) -> dict:
    """{channel: its position in layer k's output grid (``shape``) where it is most relevant
    for sample ``s``}: from the scan's ``spots``, else (an older cache entry's scan, or
    places beyond the grid) from a traced backward pass over ``fwd``."""
    grid = shape[:-1]
    size = int(np.prod(grid, dtype=np.int64))
    if spots is not None and all(0 <= spots[s, c] < size for c in chans):
        return {c: np.unravel_index(int(spots[s, c]), grid) for c in chans}
    _, trace = fwd.relevance(config, target, labels=lab, trace=True, region=region)
    out = np.asarray(output_relevance(fwd.explainer, trace, k))[0]
    return {c: _spot(out, c) for c in chans}


def _by_sample(pairs) -> dict:
    """{sample: [indices of its pairs]}, samples in order of first appearance."""
    groups: dict = {}
    for i, (_, s) in enumerate(pairs):
        groups.setdefault(int(s), []).append(i)
    return groups


def _spot(out, c) -> tuple:
    """Where channel ``c`` of one sample's output relevance ``out`` is largest."""
    m = out[..., c]
    return np.unravel_index(int(np.argmax(m)), m.shape) if m.ndim else ()


def take(images, index) -> np.ndarray:
    """Samples ``index`` of a dataset (its ``images``) or of an array."""
    if hasattr(images, "images"):
        return images.images(index)
    return np.asarray(images[index])


def _check(cancelled):
    if cancelled is not None and cancelled():
        raise Cancelled("reference samples stopped")


def references(explainer, images, k, rule=None, target="pred", labels=None, n=8,
               dataset_id="", progress=None, cancelled=None, use_cache=True,
               raw=False, region=None, channels=None, known=None) -> References:
    """:func:`compute_references`, read from or written to the on-disk cache (keyed by model
    hash, rule, target, layer, ``dataset_id``, n, ``raw``, ``region``, ``channels`` and the
    explainer's dtype; ``explainer`` may be the model itself). An entry whose channels
    include ``channels`` serves them; another of the same settings lends its scan of the
    dataset. ``known``: as :func:`compute_references`'s."""
    from .io.cache import cache_dir, trim  # noqa: PLC0415
    from .limits import RELMAX_CACHE_MAX  # noqa: PLC0415

    channels = _asked(channels)  # before the cache: [] or 1.5 were served another's entry
    explainer = as_explainer(explainer)
    k = layer_index(explainer, k)
    path = cap = scan = None
    lent = ()  # entries that lend their maps: none without a cache
    if use_cache and dataset_id:
        cap = RELMAX_CACHE_MAX.bytes()  # a bad setting is refused before any work
        # fed as stored, the same file's samples are other inputs than its images prepared;
        # float32 ranks other samples first where scores tie to float32's digits (float64,
        # the explorer's, keeps the key it always had)
        key = cache_key(explainer.model, _config(explainer, rule), target, k,
                        dataset_id + ("|raw" if raw else "")
                        + ("" if explainer.dtype == np.float64 else f"|{explainer.dtype}")
                        + _labels_part(target, labels), n,
                        region, None if channels is None else sorted({int(c) for c in channels}))
        try:
            path = cache_dir(CACHE_SUB) / f"{key}.npz"
        except DatasetError:  # no cache folder can be made (a read-only home): compute
            path = None
        if path is not None:
            refs, scan, lent = _cached(path, channels,
                                       len(images) if hasattr(images, "__len__") else None)
            if refs is not None:
                return refs
    refs = compute_references(explainer, images, k, rule, target, labels, n,
                              progress=progress, cancelled=cancelled, raw=raw, region=region,
                              channels=channels, scan=scan, lent=lent, known=known)
    if path is not None and refs.nbytes() <= cap:  # one larger than the whole cap: not kept
        try:
            refs.save(path)
        except (ExportError, OSError):  # a full or read-only cache: shown, not kept (the
            return refs                 # minutes of work are not lost to an optional copy)
        trim(path.parent, cap, ".npz", keep=[path])  # the oldest entries go first
    return refs


def _labels_part(target, labels) -> str:
    """What the key adds for the labels: their digest where the target reads them ("true"),
    nothing otherwise (the key it always had). 'lrp concepts --target true' with another
    --labels file over the same data was given the first file's references."""
    if target != "true" or labels is None:
        return ""
    a = np.ascontiguousarray(np.asarray(labels))
    digest = hashlib.sha256(f"{a.dtype.str}{a.shape}".encode() + a.tobytes()).hexdigest()
    return f"|labels {digest[:16]}"


def _cached(path, channels, count):
    """(the entry of ``path``'s settings that holds the maps of ``channels``, or None; else
    the scan of the dataset from another entry of those settings, or None, and the entries
    whose scan that is, which lend the maps of the channels they hold). Entries of one
    setting differ in the channels searched alone (:func:`cache_key`), and the scan, a pass
    over every sample, is most of the work on a large dataset: choosing another channel in
    the panel scanned the whole dataset again; the maps are a backward pass per channel and
    reference sample: --top 5 after --top 3 found the three maps again."""
    from .io.cache import touch  # noqa: PLC0415

    same = sorted(p for p in path.parent.glob(f"{path.name[:32]}*.npz") if p != path)
    scan, lent = None, []
    for entry in [path, *same]:
        if not entry.exists():
            continue
        try:
            refs = References.load(entry, count)
        except (ValueError, KeyError, *ZIP_ERRORS, *NPY_HEADER_ERRORS):
            with contextlib.suppress(OSError):
                os.unlink(entry)  # damaged (cut short, not a zip) or old: compute again
            continue
        if refs.covers(channels):
            touch(entry)  # just used: evicted last
            return refs, None, []
        if scan is None and refs.present is not None:
            scan = (refs.channel_relevance, refs.present, refs.spots)
        if scan is not None and np.array_equal(refs.channel_relevance, scan[0]):
            touch(entry)  # lends its scan or maps
            lent.append(refs)
    return None, scan, lent


__all__ = ["References", "cache_key", "compute_references", "dataset_key", "model_hash",
           "references"]
