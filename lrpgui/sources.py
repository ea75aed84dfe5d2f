"""Where models and datasets come from: bundled files, names, and the dataset loader.

The dataset loader of ``lrpcore.io.datasets`` is used when it is installed; until then (or in
a trimmed build) a small reader of ``.npy`` image arrays keeps the explorer usable. Nothing
here depends on ``/work/shared``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lrpcore.errors import DatasetError, ShapeError

REPO_ROOT = Path(__file__).resolve().parents[1]
MODELS_DIR = REPO_ROOT / "models"
DEFAULT_MODEL = MODELS_DIR / "mnist-lenet5.npz"
DEFAULT_DATASET = "mnist-sample"
DATASET_NAMES = ("mnist-sample", "mnist-test", "mnist-train")
MODEL_EXTENSIONS = (".npz", ".txt", ".nn", ".onnx")


def bundled_models() -> list[Path]:
    """Model files shipped in ``models/`` (native format first)."""
    if not MODELS_DIR.is_dir():
        return []
    files = [p for p in MODELS_DIR.iterdir()
             if p.suffix.lower() in MODEL_EXTENSIONS and ".ckpt" not in p.name]
    return sorted(files, key=lambda p: (p.suffix != ".npz", p.name))


def _datasets_module():
    try:
        from lrpcore.io import datasets  # noqa: PLC0415 (written by a sibling task)
    except ImportError:
        return None
    return datasets


def sibling_labels(path: Path) -> Path | None:
    """``foo_images.npy`` → ``foo_labels.npy`` when that file exists (toolbox layout)."""
    name = path.name
    for a, b in (("images", "labels"), ("x", "y"), ("data", "labels")):
        if a in name:
            candidate = path.with_name(name.replace(a, b))
            if candidate != path and candidate.exists():
                return candidate
    return None


@dataclass
class ArrayDataset:
    """Images in memory (N×H×W×C) with optional labels; the fallback dataset type."""

    data: np.ndarray
    labels: np.ndarray | None
    name: str
    source: str

    def __len__(self):
        return int(self.data.shape[0])

    @property
    def sample_shape(self):
        return tuple(self.data.shape[1:])

    def images(self, indices):
        return np.asarray(self.data[np.asarray(indices)])

    def __getitem__(self, i):
        return self.data[i]


def _read_npy_images(path: Path) -> ArrayDataset:
    try:
        data = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise DatasetError(f"{path}: cannot read as .npy: {exc}") from None
    if data.ndim == 2:
        side = int(round(data.shape[1] ** 0.5))
        if side * side != data.shape[1]:
            raise DatasetError(f"{path}: rows of {data.shape[1]} values are not square images")
        data = data.reshape(data.shape[0], side, side, 1)
    elif data.ndim == 3:
        data = data[..., None]
    elif data.ndim != 4:
        raise DatasetError(f"{path}: expected N images, got an array of shape {data.shape}")
    labels = None
    lab_path = sibling_labels(path)
    if lab_path is not None:
        labels = np.load(lab_path, allow_pickle=False).reshape(-1).astype(np.int64)
        if labels.shape[0] != data.shape[0]:
            raise DatasetError(f"{lab_path}: {labels.shape[0]} labels for {data.shape[0]} images")
    return ArrayDataset(data, labels, path.name, str(path))


def open_dataset(spec):
    """Open a dataset by path or name; raises DatasetError naming the file on failure."""
    module = _datasets_module()
    text = os.fspath(spec)
    if module is not None:
        path = Path(text)
        labels = sibling_labels(path) if path.suffix else None
        if labels is not None:
            return module.open_dataset(text, labels=str(labels))
        return module.open_dataset(text)
    path = Path(text)
    if path.suffix.lower() == ".npy" and path.exists():
        return _read_npy_images(path)
    raise DatasetError(f"{text}: this build cannot open it (lrpcore.io.datasets is missing)")


def check_fits(model, dataset) -> None:
    """Raise ShapeError when the dataset's images cannot feed the model."""
    module = _datasets_module()
    if module is not None and hasattr(module, "check_fits"):
        module.check_fits(model, dataset)
        return
    spec = model.input_spec
    if spec is None:
        raise ShapeError("the model's input format is unknown")
    have = int(np.prod(dataset.sample_shape))
    if have != spec.raw_size():
        raise ShapeError(f"samples of shape {tuple(dataset.sample_shape)} do not fit the model, "
                         f"which takes raw {'×'.join(map(str, spec.raw_shape))} images")


def download_mnist(kind, progress=None, cancel=None):
    module = _datasets_module()
    if module is None or not hasattr(module, "download_mnist"):
        raise DatasetError("downloading MNIST needs lrpcore.io.datasets, missing in this build")
    return module.download_mnist(kind, progress=progress, cancel=cancel)
