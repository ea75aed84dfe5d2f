"""Photographs are read upright: the EXIF orientation tag a phone writes instead of turning
the pixels is applied (torchvision's loaders do not), for display and explanation alike.
Before, a portrait photo showed on its side, and the model explained the turned image."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import lrpcore
from lrpcore.io.image_folder import ImageFolder, read_image

ORIENTATION = 0x0112  # the EXIF tag
# what a viewer does with the stored pixels for each tag value, in numpy
UPRIGHT = {
    1: lambda a: a,
    2: np.fliplr,
    3: lambda a: np.rot90(a, 2),
    4: np.flipud,
    5: lambda a: a.transpose(1, 0, 2),
    6: lambda a: np.rot90(a, -1),  # a phone held upright: stored turned left, shown turned right
    7: lambda a: np.rot90(a, 2).transpose(1, 0, 2),
    8: lambda a: np.rot90(a, 1),
}


def _stored(h=2, w=3):
    """An h×w colour image whose every pixel differs."""
    return np.arange(h * w * 3, dtype=np.uint8).reshape(h, w, 3) * 10


def _save(path, pixels, orientation, **options):
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    Image.fromarray(pixels).save(path, exif=exif, **options)
    return path


@pytest.mark.parametrize("orientation", sorted(UPRIGHT))
def test_a_png_is_read_as_its_orientation_tag_shows_it(tmp_path, orientation):
    pixels = _stored()
    path = _save(tmp_path / "photo.png", pixels, orientation)
    np.testing.assert_array_equal(read_image(str(path)), UPRIGHT[orientation](pixels))


def test_a_portrait_jpeg_from_a_phone_is_upright_in_a_folder(tmp_path):
    """A 48×32 photo stored landscape with tag 6, beside an untagged 32×48 portrait: both read
    as 48 high, 32 wide (the folder's sample shape, the sizes note)."""
    stored = np.zeros((32, 48, 3), np.uint8)
    stored[:, :24] = 255  # the left half white: the top once turned upright
    _save(tmp_path / "a-phone.jpg", stored, 6, quality=95)
    Image.fromarray(np.rot90(stored, -1).copy()).save(tmp_path / "b-plain.jpg", quality=95)
    ds = lrpcore.open_dataset(tmp_path)
    assert ds.sample_shape == (48, 32, 3)
    images = ds.images().astype(int)
    assert images[0, :20].min() > 200 and images[0, 28:].max() < 50  # white on top
    assert np.abs(images[0] - images[1]).max() < 40  # as the same photo stored upright
    assert ImageFolder(str(tmp_path)).sizes_note() is None  # one size, once upright


@pytest.mark.parametrize("exif", [
    b"Exif\x00\x00garbage",  # not a TIFF block at all: Pillow's parser raises
    # one entry, orientation (0x0112) = 99: no such value
    b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x01\x00\x12\x01\x03\x00\x01\x00\x00\x00"
    b"c\x00\x00\x00",
])
def test_a_damaged_or_unknown_orientation_reads_the_pixels_as_stored(tmp_path, exif):
    """A photo is not refused, nor warned about, for its EXIF block alone."""
    import warnings

    pixels = _stored()
    Image.fromarray(pixels).save(tmp_path / "photo.png", exif=exif)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(read_image(str(tmp_path / "photo.png")), pixels)
