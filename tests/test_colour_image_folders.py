"""Folders of photographs of any size, fitted to a colour model's input (resize + centre crop),
and the image files that are refused with one sentence naming the file."""

import struct
import types
import zlib

import numpy as np
import pytest
from PIL import Image

import lrpcore
from lrpcore.errors import DatasetError
from lrpcore.io.image_folder import read_image, resize_crop
from lrpcore.spec import InputSpec


def _model(side=8, resize=10, channels=3):
    spec = InputSpec.from_dict({"shape": [side, side, channels],
                                "raw_shape": [side, side, channels], "resize": resize,
                                "crop": side})
    return types.SimpleNamespace(input_spec=spec, n_classes=2)


def _photo(path, w, h, mode="RGB", seed=0):
    rng = np.random.default_rng(seed)
    chans = {"RGB": 3, "RGBA": 4, "L": None}[mode]
    shape = (h, w) if chans is None else (h, w, chans)
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(path)


def test_folder_of_mixed_sizes_is_resized_and_centre_cropped(tmp_path):
    for cls, sizes in (("cat", [(30, 20), (12, 40)]), ("dog", [(16, 16)])):
        (tmp_path / cls).mkdir()
        for k, (w, h) in enumerate(sizes):
            _photo(tmp_path / cls / f"{k}.png", w, h, seed=k)
    ds = lrpcore.open_dataset(tmp_path)
    assert ds.class_names == ["cat", "dog"] and list(ds.labels) == [0, 0, 1]
    lrpcore.check_fits(_model(), ds)
    x = ds.images()
    assert x.shape == (3, 8, 8, 3) and x.dtype == np.uint8
    # the first photo 30×20 (w×h): shorter side 20 → 10, width 15; centre 8×8
    img = np.asarray(Image.open(tmp_path / "cat" / "0.png").resize((15, 10),
                                                                   Image.Resampling.BILINEAR))
    np.testing.assert_array_equal(x[0], img[1:9, 4:12])


def test_resize_crop_follows_torchvision_convention():
    img = np.arange(20 * 30 * 3, dtype=np.uint8).reshape(20, 30, 3)
    out = resize_crop(img, None, 20)  # no resize needed: just the centre
    np.testing.assert_array_equal(out, img[:, 5:25])
    assert resize_crop(img, 256, 224).shape == (224, 224, 3)


def test_flat_folder_greyscale_and_rgba_become_rgb(tmp_path):
    _photo(tmp_path / "a.png", 9, 9, "L")
    _photo(tmp_path / "b.png", 12, 9, "RGBA")
    ds = lrpcore.open_dataset(tmp_path)
    assert ds.labels is None
    lrpcore.check_fits(_model(8, None), ds)
    x = ds.images()
    assert x.shape == (2, 8, 8, 3)
    assert np.all(x[0, ..., 0] == x[0, ..., 1])  # grey repeated over the channels


def test_rgba_is_laid_over_white(tmp_path):
    a = np.zeros((4, 4, 4), np.uint8)
    a[..., 0] = 255  # red, fully transparent
    Image.fromarray(a, "RGBA").save(tmp_path / "t.png")
    assert np.all(read_image(str(tmp_path / "t.png")) == 255)


def test_cmyk_jpeg_is_read_as_rgb_as_pillow_converts_it(tmp_path):
    """Was refused ('CMYK image; convert it to RGB first'): print workflows' photographs are
    CMYK JPEGs; read as Pillow's convert("RGB") makes them, greyscale on request."""
    rng = np.random.default_rng(0)
    cmyk = Image.fromarray(rng.integers(0, 256, (8, 8, 4), dtype=np.uint8), "CMYK")
    cmyk.save(tmp_path / "c.jpg")
    with Image.open(tmp_path / "c.jpg") as im:
        assert im.mode == "CMYK"
        want = np.asarray(im.convert("RGB"))
    np.testing.assert_array_equal(read_image(str(tmp_path / "c.jpg")), want)
    grey = read_image(str(tmp_path / "c.jpg"), channels=1)
    assert grey.shape == (8, 8, 1)
    ds = lrpcore.open_dataset(tmp_path)
    assert ds.unreadable_note() is None
    np.testing.assert_array_equal(ds.images()[0], want)


def test_sixteen_bit_greyscale_is_read_at_eight_bits(tmp_path):
    """Was refused ('16-bit image of mode I;16'): v / 257 rounded, as for an 8-bit file
    (tests/test_leftovers.py: the notes that say so)."""
    a = np.array([[0, 257, 40000, 65535]] * 4, np.uint16)
    Image.fromarray(a).save(tmp_path / "d.png")
    assert Image.open(tmp_path / "d.png").mode.startswith("I")
    img = read_image(str(tmp_path / "d.png"))
    assert img.dtype == np.uint8 and img.shape == (4, 4, 1)
    np.testing.assert_array_equal(img[0, :, 0], [0, 1, 156, 255])
    rgb = read_image(str(tmp_path / "d.png"), channels=3)
    assert rgb.shape == (4, 4, 3) and (rgb == img).all()


def _png_chunk(kind, data):
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    """A PNG header claiming 100000×100000 pixels: refused on its size, nothing decoded."""
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    raw = (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
           + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64)) + _png_chunk(b"IEND", b""))
    (tmp_path / "bomb.png").write_bytes(raw)
    with pytest.raises(DatasetError, match=r"bomb\.png: the image is too large"):
        read_image(str(tmp_path / "bomb.png"))


def test_npy_colour_batch_opens_as_images(tmp_path):
    x = np.random.default_rng(0).integers(0, 256, (3, 8, 8, 3), dtype=np.uint8)
    np.save(tmp_path / "x.npy", x)
    ds = lrpcore.open_dataset(tmp_path / "x.npy")
    lrpcore.check_fits(_model(), ds)
    np.testing.assert_array_equal(ds.images(), x)


def test_efficientnet_spec_says_resize_256_crop_224():
    from lrpcore import zoo

    spec = zoo.efficientnet_lite0(None).input_spec
    assert spec.extra == {"resize": 256, "crop": 224}
    assert InputSpec.from_dict(spec.to_dict()).extra == {"resize": 256, "crop": 224}


def test_data_info_of_a_folder_of_several_sizes_says_they_vary(tmp_path, capsys):
    """Without a model, `lrp data info` gave the first image's size "per sample"."""
    from lrpcore.cli.main import main

    mixed = tmp_path / "mixed"
    mixed.mkdir()
    _photo(mixed / "a.png", 40, 30)
    _photo(mixed / "b.jpg", 80, 60)
    assert main(["data", "info", str(mixed)]) == 0
    shape_line = next(line for line in capsys.readouterr().out.splitlines()
                      if line.startswith("shape:"))
    assert "sizes vary: 2 sizes among 2 images, from 30×40 to 60×80" in shape_line
    one_size = tmp_path / "same"
    one_size.mkdir()
    _photo(one_size / "a.png", 40, 30)
    _photo(one_size / "b.png", 40, 30)
    assert main(["data", "info", str(one_size)]) == 0
    assert "shape:   30×40×3 per sample" in capsys.readouterr().out
    fitted = lrpcore.open_dataset(mixed, model=_model())
    assert "per sample" in fitted.describe() and "vary" not in fitted.describe()
