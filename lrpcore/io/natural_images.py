"""``natural-images``: colour photographs bundled inside scikit-image, offline and unlabelled.

Each picture is centre-cropped to a square and resized to 224×224 (uint8 RGB): the input of
ImageNet classifiers such as EfficientNet-Lite0. Greyscale pictures become RGB and RGBA ones
are laid over white.
"""

from __future__ import annotations

import functools

import numpy as np

NAME = "natural-images"
PICTURES = ("chelsea", "coffee", "rocket", "astronaut", "hubble_deep_field",
            "immunohistochemistry", "retina", "colorwheel", "logo", "camera")
SIZE = 224


def square_rgb(image, size=SIZE) -> np.ndarray:
    """The centre square of a picture, resized to size×size, as uint8 RGB."""
    from skimage.transform import resize  # noqa: PLC0415 (scikit-image loads slowly)

    im = np.asarray(image)
    if im.ndim == 2:
        im = np.repeat(im[:, :, None], 3, axis=2)
    if im.shape[2] == 4:
        alpha = im[:, :, 3:4].astype(np.float64) / 255.0
        im = (im[:, :, :3] * alpha + 255.0 * (1 - alpha)).round().astype(np.uint8)
    h, w = im.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    crop = im[top:top + s, left:left + s, :3]
    out = resize(crop, (size, size), anti_aliasing=True, preserve_range=True)
    return out.round().clip(0, 255).astype(np.uint8)


@functools.lru_cache(maxsize=1)
def natural_images() -> tuple[np.ndarray, tuple]:
    """(N×224×224×3 uint8 images, their scikit-image names)."""
    from skimage import data  # noqa: PLC0415

    images = np.stack([square_rgb(getattr(data, name)()) for name in PICTURES])
    images.setflags(write=False)
    return images, PICTURES
