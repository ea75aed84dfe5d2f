"""A folder of PNG/JPEG images, one subfolder per class (class names = subfolder names).

Images are listed on open and decoded only when asked for (scikit-image), so a folder of
thousands of files opens at once. The first image fixes the sample shape; an image of another
size found later is an error that names it.
"""

from __future__ import annotations

import os

import numpy as np

from ..errors import DatasetError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")


def _images_in(folder: str) -> list[str]:
    return sorted(os.path.join(folder, f) for f in os.listdir(folder)
                  if f.lower().endswith(IMAGE_EXTENSIONS)
                  and os.path.isfile(os.path.join(folder, f)))


def read_image(path: str) -> np.ndarray:
    """One image as uint8 H×W×C (grayscale gets C = 1, an alpha channel is dropped)."""
    from skimage import io as skio

    try:
        img = np.asarray(skio.imread(path))
    except Exception:  # decoders raise many types (and suggest plugins) for broken files
        raise DatasetError(f"{path}: cannot decode the image: not a valid PNG or JPEG "
                           "file") from None
    if img.dtype != np.uint8:
        raise DatasetError(f"{path}: {img.dtype} pixels; only 8-bit images are supported")
    if img.ndim == 2:
        img = img[:, :, None]
    elif img.ndim == 3 and img.shape[2] in (2, 4):
        img = img[:, :, :-1]  # drop alpha
    if img.ndim != 3 or img.shape[2] not in (1, 3):
        raise DatasetError(f"{path}: unsupported image layout {img.shape}")
    return img


class ImageFolder:
    """Array-like view (``shape``, ``dtype``, ``[indices]``) of the images of a folder."""

    def __init__(self, root):
        self.root = os.fspath(root)
        classes = sorted(d for d in os.listdir(self.root)
                         if os.path.isdir(os.path.join(self.root, d)) and not d.startswith("."))
        files, labels = [], []
        for k, cls in enumerate(classes):
            found = _images_in(os.path.join(self.root, cls))
            files += found
            labels += [k] * len(found)
        if files:
            self.class_names = classes
            self.labels = np.asarray(labels, dtype=np.int64)
        else:  # a flat folder of images: no labels
            files = _images_in(self.root)
            self.class_names, self.labels = None, None
        if not files:
            raise DatasetError(f"{self.root}: no PNG or JPEG images found (expected one "
                               "subfolder per class, or images directly in the folder)")
        self.files = files
        first = read_image(files[0])
        self.shape = (len(files),) + first.shape
        self.dtype = np.dtype(np.uint8)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index) -> np.ndarray:
        idx = np.arange(len(self.files))[index]
        out = np.empty((np.size(idx),) + self.shape[1:], dtype=np.uint8)
        for k, i in enumerate(np.atleast_1d(idx)):
            img = read_image(self.files[i])
            if img.shape != self.shape[1:]:
                raise DatasetError(f"{self.files[i]}: image of shape {img.shape}, but the "
                                   f"folder's first image ({self.files[0]}) is {self.shape[1:]}; "
                                   "all images must have the same size")
            out[k] = img
        return out[0] if np.ndim(idx) == 0 else out
