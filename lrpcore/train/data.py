"""Training data: opening a dataset by name, random-shift augmentation, held-out splits.

Images stay raw (uint8 as stored) until a batch is drawn; each batch is then shifted (if asked)
and preprocessed with the model's :class:`~lrpcore.spec.InputSpec`, so the saved model knows the
exact preprocessing it was trained with.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import DatasetError, NonFiniteSample
from ..io.datasets import open_dataset


@dataclass
class TrainingData:
    """Raw images (N × ...) and integer labels, with a description for the provenance."""

    images: np.ndarray
    labels: np.ndarray
    name: str
    raw_shape: tuple = (28, 28, 1)
    class_names: tuple | None = None

    def __len__(self):
        return int(self.labels.shape[0])

    def subset(self, idx, name=None) -> TrainingData:
        return TrainingData(self.images[idx], self.labels[idx], name or self.name,
                            self.raw_shape, self.class_names)


def from_dataset(ds) -> TrainingData:
    """Training data from a :class:`lrpcore.io.datasets.Dataset` (all samples, read once)."""
    if ds.labels is None:
        raise DatasetError(f"{ds.name}: no labels found; training and evaluation need labels")
    return make_data(ds.images(), ds.labels, ds.name, ds.class_names)


def make_data(images, labels, name, class_names=None) -> TrainingData:
    """Validate an image/label pair and wrap it (errors name the dataset)."""
    images = np.asarray(images)
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if images.ndim < 2 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise DatasetError(f"{name}: {images.shape[0] if images.ndim else 0} images with "
                           f"labels of shape {labels.shape} do not match")
    if images.shape[0] == 0:
        raise DatasetError(f"{name}: no samples")
    if not np.issubdtype(images.dtype, np.number):
        raise DatasetError(f"{name}: images have dtype {images.dtype}, expected numbers")
    if np.issubdtype(labels.dtype, np.floating):
        if not np.all(np.isfinite(labels)) or np.any(labels != np.round(labels)):
            raise DatasetError(f"{name}: labels must be whole numbers")
    elif not np.issubdtype(labels.dtype, np.integer):
        raise DatasetError(f"{name}: labels have dtype {labels.dtype}, expected integers")
    labels = labels.astype(np.int64)
    if labels.min() < 0:
        raise DatasetError(f"{name}: negative label {labels.min()}")
    if np.issubdtype(images.dtype, np.floating):
        NonFiniteSample.check(images, name)
    size = int(np.prod(images.shape[1:]))
    if images.ndim == 4:
        raw = tuple(images.shape[1:])
    elif images.ndim == 3:
        raw = tuple(images.shape[1:]) + (1,)
    else:
        side = int(round(size ** 0.5))
        raw = (side, side, 1) if side * side == size else (size,)
    return TrainingData(images.reshape(images.shape[0], -1), labels, name, raw, class_names)


def open_training_data(name: str, labels=None) -> TrainingData:
    """A dataset by name (``mnist-sample``, ``mnist-train``, ...) or path, with labels."""
    return from_dataset(open_dataset(name, labels=labels))


def split(data: TrainingData, fraction: float, rng: np.random.Generator):
    """Random held-out split: ``(train, validation)`` with ``fraction`` of samples held out."""
    if not 0 < fraction < 1:
        raise DatasetError(f"--val-split must lie strictly between 0 and 1, got {fraction}")
    n = len(data)
    n_val = int(round(n * fraction))
    if n_val < 1 or n_val >= n:
        raise DatasetError(f"--val-split {fraction} leaves no samples in one part of {n}")
    perm = rng.permutation(n)
    return (data.subset(perm[n_val:], data.name),
            data.subset(perm[:n_val], f"{data.name} (held-out {fraction:g})"))


def random_shift(images, raw_shape, k: int, rng: np.random.Generator, fill=0):
    """Shift every image by up to ``k`` pixels in each direction, filling with ``fill``.

    ``images`` is N × (H·W·C) raw; the result has the same shape and dtype.
    """
    if k <= 0:
        return images
    H, W, C = raw_shape
    n = images.shape[0]
    x = images.reshape(n, H, W, C)
    padded = np.pad(x, ((0, 0), (k, k), (k, k), (0, 0)), constant_values=fill)
    views = np.lib.stride_tricks.sliding_window_view(padded, (H, W), axis=(1, 2))
    oy = rng.integers(0, 2 * k + 1, n)
    ox = rng.integers(0, 2 * k + 1, n)
    shifted = views[np.arange(n), oy, ox]  # N × C × H × W
    return np.ascontiguousarray(shifted.transpose(0, 2, 3, 1)).reshape(images.shape)
