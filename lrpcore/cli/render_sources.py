"""What ``lrp render`` and ``lrp figure`` read: relevance from what users have — a ``.npy``
(what ``lrp explain --out R.npy`` writes), an ``.npz`` (one array, the member named
``relevance``, or ``FILE.npz:NAME``) or a relevance store ``R.zarr`` (``lrp explain --out
R.zarr``, read sample by sample) — and inputs from a ``.npy`` or any dataset
:func:`lrpcore.open_dataset` opens (``mnist-sample``, IDX, .mat, an image folder, ...).

Every refusal is one line naming the file and the problem (exit status 2).
"""

from __future__ import annotations

import os
import zipfile

import numpy as np

from ..errors import DatasetError, ShapeError
from ..io.image_folder import is_image_file
from ..text import printable_line
from .common import DatasetArray, load_array, load_samples, plural

NPZ_PREFERRED = "relevance"  # the member an .npz of several arrays is read from by default


def _checked(a, path, what) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype.kind not in "biuf":
        raise DatasetError(f"{path}: {what} must be numbers, got dtype {a.dtype}")
    if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
        raise DatasetError(f"{path}: {what} contains NaN or infinite values")
    return a


def split_member(spec) -> tuple[str, str | None]:
    """``R.npz:NAME`` → (``R.npz``, NAME); any other path (also one with a colon that
    exists as it is) → (path, None)."""
    spec = os.fspath(spec)
    head, sep, name = spec.rpartition(":")
    if sep and not os.path.exists(spec) and head.lower().endswith(".npz") and name:
        return head, name
    return spec, None


def read_npz_member(path, name=None, what="relevance") -> np.ndarray:
    """One array of an ``.npz``: ``name``, else its only array, else the one named
    ``relevance``; otherwise an error listing the names to choose from."""
    from ..io.claims import check_npz_member  # noqa: PLC0415
    from ..io.datasets import open_npz  # noqa: PLC0415
    from ..text import listing  # noqa: PLC0415

    with open_npz(path) as npz:
        names = list(npz.files)
        if name is None:
            if len(names) == 1:
                name = names[0]
            elif NPZ_PREFERRED in names:
                name = NPZ_PREFERRED
            else:
                listed = listing(names) or "none"  # a crafted archive: 100,000 names
                raise DatasetError(
                    f"{path}: {len(names)} arrays ({listed}); name the {what} as "
                    f"{path}:NAME")
        elif name not in names:
            raise DatasetError(f"{path}: no array named {name[:40]!r} (arrays: "
                               f"{listing(names) or 'none'})")
        check_npz_member(path, name)  # before numpy inflates it
        return npz[name]


def _is_square(d) -> bool:
    """``d`` values make a square image of more than one pixel."""
    return d > 1 and round(d ** 0.5) ** 2 == d


def _feature_rows(shape) -> bool:
    """A 2-D array whose rows are at most 4 values and fewer than its rows (XOR's 4×2): samples
    of a few features, not an image of that width (a last axis of ≤ 4 is never pixels here,
    as for H×W×C)."""
    return len(shape) == 2 and not _is_square(shape[1]) and shape[1] <= 4 \
        and shape[0] > shape[1]


def refuse_vectors(batch_shape, path, reader="numpy.load") -> None:
    """Refuse relevance of N samples × D values (a model of D inputs, D not a square: XOR's
    2) — drawn, it would be an N×D picture of nothing. ``batch_shape`` is the shape with
    samples first, or None when that is not known."""
    if batch_shape is None or len(batch_shape) != 2 or _is_square(batch_shape[1]):
        return
    n, d = batch_shape
    raise ShapeError(f"{path}: relevance of {n} sample{'' if n == 1 else 's'} × {d} input "
                     f"value{'' if d == 1 else 's'} (a model of {d} inputs, not an image); "
                     f"only image-shaped relevance can be drawn — read the values with {reader}")


def checked_position(index, n, path) -> int:
    """Sample ``index`` of a file of ``n`` samples, refused (one line naming the file) when
    out of range. Samples are numbered from 0 as 'lrp explain' and the sidecars number
    them: a negative index is refused too (it drew the last sample, labelled -1)."""
    if not 0 <= int(index) < n:
        raise ShapeError(f"{path}: sample index {index} out of range ({n} samples, "
                         f"numbered 0..{n - 1})" if n else f"{path}: no samples")
    return int(index)


class RelevanceFile:
    """Relevance maps of one file: ``len()`` maps, ``maps(indices)`` by sample number,
    ``provenance`` for the sidecar and ``default_input``: the dataset the maps came from
    (a store's input, or the dataset its sidecar records: :func:`lrpcore.export.sidecar_dataset`).

    Sample numbers are positions in the file, except for a single map whose sidecar names
    its sample (``relevance_3.npy`` of ``lrp demo`` or the explorer's export holds sample 3).
    Several maps whose sidecar names one sample are all of that sample (``lrp concepts``'
    ``conditional.npy``: one map per channel): :meth:`input_index` says which input to draw.
    """

    def __init__(self, spec):
        from ..io.relevance_store import is_zarr_path  # noqa: PLC0415

        path, member = split_member(spec)
        self.path = path
        self.store = None
        self.batch_shape = None  # the shape of a batch 'lrp explain' wrote (samples first)
        self.default_input = None
        self.default_input_problem = None  # why default_input could not be drawn, if so
        self.samples = None  # sample number of each map, when not its position
        self.of_sample = None  # the one sample every map is of (conditional heatmaps)
        self.channels = None  # the channel of each such map, when its sidecar lists them
        if is_zarr_path(path) and os.path.isdir(path):
            from ..io.relevance_store import open_relevance_store  # noqa: PLC0415

            self.store = open_relevance_store(path)
            refuse_vectors(self.store.relevance.shape, path, "lrpcore.open_relevance_store")
            self.default_input = self.store.input
            self.explained = explained_class(self.store.provenance)
            self.batch = None
            self.n = len(self.store)
            return
        if member is not None or (os.path.isfile(path) and path.lower().endswith(".npz")
                                  and zipfile.is_zipfile(path)):
            if not os.path.isfile(path):
                raise DatasetError(f"{path}: no such file")
            a = read_npz_member(path, member)
        else:
            if os.path.isdir(path):
                raise DatasetError(f"{path}: a folder, not a relevance store (.zarr written "
                                   "by 'lrp explain'); give a .npy, .npz or R.zarr")
            a = load_array(path, "relevance")
        from .cmd_render import as_batch  # noqa: PLC0415

        a = _checked(a, spec, "relevance")
        side = self.provenance().get("relevance_sidecar", {})
        if not isinstance(side, dict):  # a crafted sidecar ([1], a number): no facts from it
            side = {}
        if side.get("layout") == "overlay":  # the explorer's overlay export: RGB, not relevance
            raise ShapeError(f"{spec}: an overlay image (heatmap blended over the input, RGB; "
                             "its sidecar says so), not relevance: give the relevance .npy")
        written = side.get("shape") if side.get("content") == "relevance" else None
        refuse_vectors(a.shape if written == list(a.shape) or _feature_rows(a.shape)
                       else None, spec)
        if isinstance(side.get("sample"), int) and a.ndim == 3 and a.shape[0] <= 4 < a.shape[2]:
            # one C×H×W map of the sample its sidecar names (the explorer's Export .npy of a
            # PyTorch-layout model), not C maps of H×W: lrp figure drew a photograph's three
            # channels as three samples, lrp render its first channel only
            a = a[None]
        if written == list(a.shape) and a.ndim == 3 and not isinstance(side.get("sample"), int):
            # a sequence model's N×L×C (C ≤ 4) is N maps of L×C, not one H×W×C picture (five
            # samples were drawn as one 5×32 map); its inputs, of that shape, are N samples too
            self.batch, self.batch_shape = a, a.shape
        else:
            self.batch = as_batch(a, spec)
        if self.batch.ndim == 2 and round(self.batch.shape[1] ** 0.5) ** 2 != self.batch.shape[1]:
            raise ShapeError(f"{spec}: maps of {self.batch.shape[1]} values are not square "
                             "images; only image-shaped relevance can be drawn")
        self.n = int(self.batch.shape[0])
        from ..export import sidecar_dataset  # noqa: PLC0415

        # "dataset", or an older key; with "raw" too: the samples were fed as stored, and are
        # drawn so (as a store of a --raw run draws its input)
        self.default_input = sidecar_dataset(side)
        self.explained = explained_class(side)
        if self.n == 1 and isinstance(side.get("sample"), int):
            self.samples = [int(side["sample"])]
        elif isinstance(side.get("sample"), int):  # drawn beside sample 2, map 2 of sample 7
            self.of_sample = int(side["sample"])  # misled: every map is of sample 7
            channels = side.get("channels")
            if isinstance(channels, list) and len(channels) == self.n and all(
                    isinstance(c, int) and not isinstance(c, bool) for c in channels):
                self.channels = channels

    def row_title(self, index, inputs=None) -> str:
        """A figure row's title for map ``index``: the sample it is of and, for maps that are
        all of one sample (``lrp concepts``' ``conditional.npy``), which map — its channel
        where the sidecar lists them. Those rows were titled "sample 0 · class 0", "sample 1
        · class 0", … after the maps' positions, beside sample 7's digit."""
        if self.of_sample is None:
            title = inputs.row_title(index) if inputs is not None else f"sample {index}"
            # one class explained for every sample: named, as no label says it ("sample 0"
            # alone, or "sample 0 · class 7" of a map explained for class 3)
            return title if self.explained is None else f"{title} · relevance for {self.explained}"
        position = checked_position(index, self.n, self.path)
        which = f"ch {self.channels[position]}" if self.channels else f"map {position}"
        return f"sample {self.of_sample} · {which}"

    def rows_text(self, count) -> str:
        """What ``count`` figure rows show: samples, or maps of the one sample (``lrp
        concepts``' four conditional maps of sample 0 were reported as '4 samples')."""
        if self.of_sample is None:
            return plural(count, "sample")
        return f"{plural(count, 'map')} of sample {self.of_sample}"

    def row_fields(self, indices) -> dict:
        """Sidecar fields naming the maps of rows ``indices`` when they are all of one sample
        (their positions in the file, and channels), where ``samples`` repeats that sample."""
        if self.of_sample is None:
            return {}
        positions = [checked_position(i, self.n, self.path) for i in indices]
        fields = {"maps": positions}
        if self.channels:
            fields["channels"] = [self.channels[p] for p in positions]
        return fields

    def input_index(self, index) -> int:
        """The dataset sample drawn beside map ``index``."""
        return int(index) if self.of_sample is None else self.of_sample

    def __len__(self) -> int:
        return self.n

    def default_indices(self, k) -> list[int]:
        """The samples shown when none are asked for: the first ``k``."""
        return list(self.samples) if self.samples else list(range(min(self.n, k)))

    def check_index(self, index) -> int:
        """The position in the file of sample ``index``."""
        if self.samples is not None:
            if int(index) not in self.samples:
                raise ShapeError(f"{self.path}: holds the relevance of sample "
                                 f"{self.samples[0]} only (its sidecar says so), not of "
                                 f"sample {index}")
            return self.samples.index(int(index))
        return checked_position(index, self.n, self.path)

    def maps(self, indices) -> list[np.ndarray]:
        idx = [self.check_index(i) for i in indices]
        if self.store is None:
            return [self.batch[i] for i in idx]
        maps = _checked(self.store.heatmaps(np.asarray(idx, dtype=np.int64)), self.path,
                        "relevance")
        if maps.ndim == 4:  # a PyTorch-layout model's N×C×H×W, as a .npy's (as_batch): as
            from .cmd_render import as_batch  # noqa: PLC0415  # C×H×W the inputs never fit

            maps = as_batch(maps, self.path)
        return list(maps)

    def provenance(self) -> dict:
        """Where the maps came from: the file (with its sidecar; cmd_render.provenance) or
        the store and its stored provenance."""
        if self.store is None:
            from .cmd_render import provenance  # noqa: PLC0415

            return provenance(self.path, None)
        return {"relevance_file": os.path.abspath(self.path),
                "relevance_store": dict(self.store.provenance)}


def explained_class(info) -> str | None:
    """"class 3": the one class every map of a sidecar (or store provenance) was explained
    for, which ``lrp explain`` records as ``explained_name`` for a class target; else None
    (pred, true, output: a class per sample, or none)."""
    name = info.get("explained_name") if isinstance(info, dict) else None
    return f"class {printable_line(name)}" if isinstance(name, str) and name else None


def fitted_inputs(spec, relevance: RelevanceFile, indices, maps):
    """(inputs, one unit-scaled input per map fitted to its size) — (None, None) without
    inputs. ``spec`` is ``--input``; without it the dataset the maps came from is used when
    it opens and fits (else the maps are drawn alone, as before)."""
    from .cmd_render import fit_input, to_unit  # noqa: PLC0415

    def fit(inputs):
        return [fit_input(to_unit(inputs.sample(relevance.input_index(i))), m, inputs.path,
                          relevance.path)
                for i, m in zip(indices, maps, strict=True)]

    if spec:
        inputs = InputFile(spec, model=folder_model(relevance, spec), like=relevance.batch_shape)
        return inputs, fit(inputs)
    if relevance.default_input is None:
        return None, None
    try:
        inputs = InputFile(relevance.default_input,
                           model=folder_model(relevance, relevance.default_input),
                           like=relevance.batch_shape)
        return inputs, fit(inputs)
    except (DatasetError, ShapeError, OSError) as exc:
        # said, not only swallowed: '--side-by-side needs --input' beside a sidecar that names
        # the inputs left the user guessing why they were not found (a moved dataset)
        relevance.default_input_problem = (
            f"the inputs its {'store' if relevance.store is not None else 'sidecar'} names "
            f"could not be used ({exc})")
        return None, None


def folder_model(relevance: RelevanceFile, path):
    """The model the maps were explained with, when ``path`` is a folder of photographs (they
    are then resized and cropped to it, as ``lrp explain`` read them: the one photo loader) and
    the maps' sidecar or store names a model whose file is still the same (SHA-256); else None
    (the folder is read as it is)."""
    if not (os.path.isdir(os.fspath(path)) or is_image_file(path)):
        return None
    if relevance.store is not None:
        name = relevance.store.provenance.get("model")
        sha = relevance.store.run.get("model_sha256")
    else:
        side = relevance.provenance().get("relevance_sidecar", {})
        side = side if isinstance(side, dict) else {}
        name, sha = side.get("model"), side.get("model_sha256")
    from ..io.models import load_if_unchanged  # noqa: PLC0415

    return load_if_unchanged(name, sha)


class InputFile:
    """The inputs beside the maps: ``.npy`` (one sample or a batch) or any dataset (a folder
    of photographs fitted to ``model``, when given)."""

    def __init__(self, spec, what="input", model=None, like=None):
        """``like``: the shape of the maps' batch, when known (an array of that shape holds
        as many samples, whatever :func:`~lrpcore.cli.cmd_render.as_batch` would guess)."""
        from .cmd_render import as_batch  # noqa: PLC0415

        self.path = os.fspath(spec)
        data, labels = load_samples(self.path, what, mmap=True, model=model)
        batch = isinstance(data, DatasetArray) or (like is not None and data.shape == like)
        self.data = data if batch else as_batch(data, self.path)
        self.n = int(self.data.shape[0])
        self.labels = labels if labels is not None and len(labels) == self.n else None
        self._dataset = getattr(data, "dataset", None)

    def row_title(self, index) -> str:
        """A figure row's title for sample ``index``: its number and, where the inputs carry
        labels, its class (by name where the dataset names them)."""
        if self.labels is None or self.n == 1:
            return f"sample {index}"
        label = int(self.labels[checked_position(index, self.n, self.path)])
        name = self._dataset.label_name(label) if self._dataset is not None else str(label)
        return f"sample {index} · class {name}"

    @property
    def where(self) -> str:
        """The absolute path of a file, a dataset name as given (for sidecars)."""
        return os.path.abspath(self.path) if os.path.exists(self.path) else self.path

    def sample(self, index) -> np.ndarray:
        """Sample ``index`` (the only one of a single-sample file, whatever the index)."""
        i = 0 if self.n == 1 else checked_position(index, self.n, self.path)
        return _checked(self.data[i:i + 1][0], self.path, "input")
