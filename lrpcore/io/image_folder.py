"""A folder of PNG/JPEG images, with or without one subfolder per class (class names =
subfolder names).

Images are listed on open and decoded only when asked for (Pillow), so a folder of thousands
of files opens at once; each file's header (and end) is checked on open, and an image that
cannot be read is left out of the samples, named with the reason
(:meth:`ImageFolder.unreadable_note`), so that one broken photo leaves the others usable.
Photographs of any size are fitted to a model with ``fit``: the shorter side resized to
``resize`` and the centre ``crop``×``crop`` cut out (torchvision's Resize + CenterCrop);
without ``fit`` the first image fixes the sample shape and an image of another size found
later is an error that names it. Images are turned upright by their EXIF orientation tag
(phone photos), unlike torchvision's loaders. Greyscale, RGBA and CMYK (print workflows'
photographs) files are converted as Pillow converts them, 16-bit greyscale read at 8 bits
(with a note: :meth:`ImageFolder.depth_note`); decompression bombs are refused with one
sentence naming the file.
"""

from __future__ import annotations

import os
import warnings

import numpy as np

from ..errors import DatasetError, ShapeError
from ..spec import PHOTOS_HINT
from ..text import short

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
MAX_PIXELS = 64_000_000  # a photograph of 64 megapixels; beyond it a decoded image is a bomb
_FORMATS = ("PNG", "JPEG")  # what Pillow may decode: never by content alone (EPS, ...)
_MODES = {"L": 1, "LA": 1, "P": 3, "PA": 3, "RGB": 3, "RGBA": 3, "1": 1, "CMYK": 3}
# a 16-bit greyscale PNG as Pillow opens it: read at 8 bits (0…65535 onto the 0…255 every
# photograph's model input specification maps; Pillow itself reads 16-bit colour PNGs so),
# which the dataset's notes say (ImageFolder.depth_note)
_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I")
_ORIENTATION = 0x0112  # the EXIF tag, and the PIL.Image.Transpose that undoes each value
_UPRIGHT = {1: None, 2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM",
            5: "TRANSPOSE", 6: "ROTATE_270", 7: "TRANSVERSE", 8: "ROTATE_90"}
_TURNED = (5, 6, 7, 8)  # the values that swap width and height


def _listdir(folder: str) -> list[str]:
    try:
        return os.listdir(folder)
    except OSError as exc:  # a folder the user may not read: a DatasetError, not an internal one
        raise DatasetError(f"{folder}: cannot read the folder: {exc.strerror or exc}") from None


def _images_in(folder: str) -> list[str]:
    """The PNG/JPEG files of ``folder``, hidden ones left out as hidden class folders are
    (macOS leaves an AppleDouble ``._photo.jpg`` beside each photo on foreign disks), and
    its dangling symbolic links of such names: those are left out when the images are
    checked, named as broken photos are (they were dropped here without a word)."""
    return sorted(os.path.join(folder, f) for f in _listdir(folder)
                  if f.lower().endswith(IMAGE_EXTENSIONS) and not f.startswith(".")
                  and (os.path.isfile(os.path.join(folder, f))
                       or _dangling(os.path.join(folder, f))))


ARRAY_EXTENSIONS = (".npy", ".npz", ".mat")  # sample arrays, read as files, not folders


def _arrays_hint(folder: str) -> str:
    """Where a folder of no images holds sample arrays, which to give instead: a folder of
    ``x.npy`` files was only told it had no images."""
    arrays = sorted(f for f in _listdir(folder)
                    if f.lower().endswith(ARRAY_EXTENSIONS) and not f.startswith(".")
                    and os.path.isfile(os.path.join(folder, f)))
    if not arrays:
        return ""
    named = ", ".join(arrays[:3]) + (f" and {len(arrays) - 3:,} more" if len(arrays) > 3 else "")
    one = "that file" if len(arrays) == 1 else "one of those files"
    return f"; it holds {named}: pass {one} itself, e.g. {os.path.join(folder, arrays[0])}"


def _dangling(path: str) -> bool:
    """Whether ``path`` is a symbolic link to nothing (its target moved or deleted)."""
    return os.path.islink(path) and not os.path.exists(path)


def _check_link(path: str) -> None:
    """Refuse a dangling symbolic link, naming where it points."""
    if _dangling(path):
        try:
            target = os.readlink(path)
        except OSError:
            target = "?"
        raise DatasetError(f"{path}: a symbolic link to {short(target, 80)}, which does not "
                           "exist")


def is_image_file(path) -> bool:
    """Whether ``path`` is one PNG/JPEG file: a dataset of one photograph (a new user's
    first try is ``lrp explain MODEL photo.jpg``, not a folder holding it)."""
    path = os.fspath(path)
    return path.lower().endswith(IMAGE_EXTENSIONS) and os.path.isfile(path)


def _other_format(path: str) -> str:
    """`` (it holds GIF)`` when Pillow knows the content as another format, else ``""``:
    identified from the header only, never decoded."""
    from PIL import Image  # noqa: PLC0415

    try:
        with Image.open(path) as im:  # header only: no pixel, no external program
            return f" (it holds {im.format})" if im.format not in _FORMATS else ""
    except Exception:  # noqa: BLE001 - unknown to Pillow as well
        return ""


def _open(path: str):
    """The Pillow image of ``path``, its size checked before any pixel is decoded."""
    from PIL import Image  # noqa: PLC0415

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # only the two formats read: Pillow would otherwise open whatever the content is,
            # and an EPS named photo.png is run by Ghostscript (PostScript is a program)
            im = Image.open(path, formats=_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DatasetError(f"{path}: the image is too large to decode (more than "
                           f"{MAX_PIXELS:,} pixels; a decompression bomb?)") from None
    except OSError as exc:
        if exc.errno is None:  # Pillow's own errors carry none: the content is at fault
            raise DatasetError(f"{path}: cannot decode the image: not a valid PNG or JPEG "
                               f"file{_other_format(path)}") from None
        # unreadable, or gone since the folder was listed: say so, not "not a valid image"
        raise DatasetError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except Exception:  # decoders raise many types for broken files
        raise DatasetError(f"{path}: cannot decode the image: not a valid PNG or JPEG "
                           f"file{_other_format(path)}") from None
    w, h = im.size
    if w * h > MAX_PIXELS:
        raise DatasetError(f"{path}: the image is too large to decode ({w}×{h} = {w * h:,} "
                           f"pixels, more than {MAX_PIXELS:,}; a decompression bomb?)")
    if im.mode not in _MODES and im.mode not in _SIXTEEN_BIT:
        bits = "16-bit " if im.mode.startswith("I") else ""
        raise DatasetError(f"{path}: {bits}image of mode {im.mode}; only 8-bit greyscale, RGB, "
                           "RGBA and CMYK images are supported")
    return im


def _orientation(im) -> int:
    """The EXIF orientation tag (1: stored upright); 1 also when the EXIF block is damaged:
    the pixels are then read as stored, not refused."""
    try:
        with warnings.catch_warnings():  # "Corrupt EXIF data": the answer is 1 then
            warnings.simplefilter("ignore")
            value = im.getexif().get(_ORIENTATION, 1)
        return value if value in _UPRIGHT else 1
    except Exception:  # noqa: BLE001 - Pillow's EXIF parser raises many types
        return 1


def _upright(im):
    """``im`` as photo viewers show it: a phone stores a portrait photo turned and says so in
    the EXIF orientation tag, applied here (torchvision's loaders ignore it)."""
    from PIL import Image  # noqa: PLC0415

    method = _UPRIGHT[_orientation(im)]
    return im if method is None else im.transpose(getattr(Image.Transpose, method))


def _upright_size(im) -> tuple[int, int]:
    """(height, width) as :func:`read_image` delivers the image, from the header alone."""
    w, h = im.size
    turned = "exif" in im.info and _orientation(im) in _TURNED  # "exif": no pixel decoded
    return (w, h) if turned else (h, w)


def read_image(path: str, channels: int | None = None) -> np.ndarray:
    """One image as uint8 H×W×C, upright (:func:`_upright`): C = 1 for greyscale, 3 for
    colour (an alpha channel is laid over white); ``channels`` = 3 makes greyscale RGB, 1
    makes colour grey."""
    im = _open(path)
    kind = im.format or "image"  # PNG or JPEG: read from its header
    try:
        im.load()  # a PNG's EXIF may follow its pixels
        im = _upright(im)
        if im.mode in _SIXTEEN_BIT:
            from PIL import Image  # noqa: PLC0415

            im = Image.fromarray(eight_bits(np.asarray(im)))
        img = np.asarray(_in_channels(im, channels))
    except DatasetError:
        raise
    except Exception:  # its header was read as PNG or JPEG: the pixels are at fault
        raise DatasetError(f"{path}: cannot decode the image: its {kind} data is damaged or "
                           "cut short") from None
    if img.dtype != np.uint8:
        raise DatasetError(f"{path}: {img.dtype} pixels; only 8-bit images are supported")
    return img[:, :, None] if img.ndim == 2 else img


def _in_channels(im, channels):
    """A PIL image as greyscale (L) or colour (RGB), an alpha channel laid over white, CMYK
    (print workflows' JPEGs) as Pillow's convert("RGB") makes it, as a photo viewer shows it;
    ``channels`` = 3 makes greyscale RGB, 1 makes colour grey."""
    from PIL import Image  # noqa: PLC0415

    if im.mode == "CMYK":
        im = im.convert("RGB")
    if im.mode in ("P", "PA"):
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA"):
        grey = im.mode == "LA"
        rgba = im.convert("RGBA")
        im = Image.alpha_composite(Image.new("RGBA", im.size, (255, 255, 255, 255)), rgba)
        im = im.convert("L" if grey else "RGB")
    if im.mode == "1":
        im = im.convert("L")
    if channels == 3 and im.mode == "L":
        im = im.convert("RGB")
    elif channels == 1 and im.mode == "RGB":
        im = im.convert("L")
    return im


def fit_image(image, model) -> np.ndarray:
    """A photograph held as an array (H×W, H×W×1, ×3 or ×4 uint8, any size: scikit-image's
    ``data.chelsea()``, a frame of a video) fitted to ``model`` as an image folder opened with
    it is: the shorter side resized to the input specification's ``resize`` (else to the
    input's side), the centre cut out, greyscale or colour as the model takes them. Arrays
    given to ``explain`` are never resized, so a photograph in memory had no way in but a file.
    """
    from PIL import Image  # noqa: PLC0415

    spec = getattr(model, "input_spec", model)
    want = tuple(spec.raw_shape)
    if len(want) != 3 or want[0] != want[1]:
        raise ShapeError(f"the model takes samples of shape {'×'.join(map(str, want))}, not "
                         "square images: fit_image has nothing to fit a photograph to")
    if want[2] not in (1, 3):  # a photograph made 3 channels for a model of 4 (returned as
        # fitted, refused by explain as not fitting)
        raise ShapeError(f"the model takes images of {want[2]} channels: fit_image makes "
                         "greyscale (1) or colour (3) photographs, nothing else")
    a = np.asarray(image)
    if a.dtype != np.uint8:
        hint = ""
        if a.dtype.kind == "f" and a.size and 0.0 <= np.nanmin(a) and np.nanmax(a) <= 1.0:
            # scikit-image's img_as_float and transforms give floats in [0, 1]
            hint = "; a float image in [0, 1]: skimage.util.img_as_ubyte(image) converts it"
        raise ShapeError(f"fit_image takes 8-bit pixels (uint8, 0…255), got {a.dtype}{hint}")
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)) or 0 in a.shape:
        raise ShapeError(f"an image of shape {'×'.join(map(str, a.shape))}: fit_image takes "
                         "one H×W, H×W×1, H×W×3 or H×W×4 photograph")
    img = np.asarray(_in_channels(Image.fromarray(np.ascontiguousarray(a)), want[2]))
    img = img[:, :, None] if img.ndim == 2 else img
    try:
        return resize_crop(img, spec.extra.get("resize"), want[0])
    except DatasetError as exc:
        raise ShapeError(str(exc)) from None


TAIL_BYTES = 64  # where a whole PNG's IEND chunk or a whole JPEG's end marker lies


def check_image(path: str) -> None:
    """Refuse, naming the file, an image no reader can use, without decoding it where the file
    looks whole: its header is read (format, size, mode: :func:`_open`), and only a file whose
    end is not a PNG's IEND chunk or a JPEG's end marker (cut short, as an interrupted copy
    leaves it) is decoded to be sure (a phone's motion photo, a video after the JPEG, opens)."""
    im = _open(path)
    try:
        kind = im.format
        with open(path, "rb") as fh:
            fh.seek(max(0, os.fstat(fh.fileno()).st_size - TAIL_BYTES))
            tail = fh.read()
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read: {exc.strerror or exc}") from None
    finally:
        im.close()
    if (b"IEND" if kind == "PNG" else b"\xff\xd9") not in tail:
        read_image(path)


def eight_bits(a) -> np.ndarray:
    """16-bit pixel values (0…65535) as 8-bit ones: v / 257, rounded (65535 → 255, exactly)."""
    return np.clip(np.round(np.asarray(a, dtype=np.float64) / 257.0), 0, 255).astype(np.uint8)


def read_fitted(path, resize=None, crop=None, channels=None) -> np.ndarray:
    """One image file as a folder fitted to a model delivers it (:meth:`ImageFolder.fit`):
    read, then resized and centre-cropped when ``crop`` is given. The one reader of every
    path that takes photographs for a model (``lrp explain``, ``spray``, Dask workers)."""
    img = read_image(path, channels)
    if crop is None:
        return img
    try:
        return resize_crop(img, resize, crop)
    except DatasetError as exc:
        raise DatasetError(f"{path}: {exc}") from None


def resize_crop(img: np.ndarray, resize: int | None, crop: int) -> np.ndarray:
    """torchvision's Resize(resize) + CenterCrop(crop) on uint8 H×W×C: the shorter side
    scaled to ``resize`` (``crop`` when None), bilinear with anti-aliasing, then the centre."""
    from PIL import Image  # noqa: PLC0415

    short = int(resize or crop)
    h, w = img.shape[:2]
    if min(h, w) != short:
        nh, nw = (short, max(short, round(w * short / h))) if h <= w else \
            (max(short, round(h * short / w)), short)
        if nh * nw > MAX_PIXELS:  # a 1×60,000,000 strip would become 256×15,360,000,000
            raise DatasetError(f"a {h}×{w} image resized to {short} pixels on its shorter side "
                               f"would be {nh}×{nw}, more than {MAX_PIXELS:,} pixels; crop it "
                               "to a less extreme aspect ratio first")
        pil = Image.fromarray(img[:, :, 0] if img.shape[2] == 1 else img)
        img = np.asarray(pil.resize((nw, nh), Image.Resampling.BILINEAR))
        img = img[:, :, None] if img.ndim == 2 else img
        h, w = nh, nw
    if min(h, w) < crop:
        raise DatasetError(f"cannot crop {crop}×{crop} from a {h}×{w} image")
    top, left = int(round((h - crop) / 2.0)), int(round((w - crop) / 2.0))
    return np.ascontiguousarray(img[top:top + crop, left:left + crop])


class ImageFolder:
    """Array-like view (``shape``, ``dtype``, ``[indices]``) of the images of a folder (or of
    one image file)."""

    def __init__(self, root):
        self.root = os.fspath(root)
        whole = os.path.abspath(self.root)
        if os.path.dirname(whole) == whole:  # its subfolders (bin, etc, home, ...) as classes
            raise DatasetError(f"{self.root}: the root of the file system, not a folder of "
                               "images; give the folder that holds them")
        classes = [] if is_image_file(self.root) else sorted(d for d in _listdir(self.root)
                         if os.path.isdir(os.path.join(self.root, d)) and not d.startswith("."))
        files, labels = [], []
        for k, cls in enumerate(classes):
            found = _images_in(os.path.join(self.root, cls))
            files += found
            labels += [k] * len(found)
        self.left_out: list[str] = []  # images beside the class subfolders: not samples
        if files:
            self.class_names = classes
            self.labels = np.asarray(labels, dtype=np.int64)
            self.left_out = [os.path.basename(f) for f in _images_in(self.root)]
        else:  # a flat folder of images, or one image file: no labels
            files = [self.root] if is_image_file(self.root) else _images_in(self.root)
            self.class_names, self.labels = None, None
        if not files:
            raise DatasetError(f"{self.root}: no PNG or JPEG images found (expected one "
                               "subfolder per class, or images directly in the folder)"
                               + _arrays_hint(self.root))
        # (file name in the folder, why): images no reader can use, left out of the samples
        self.unreadable: list[tuple[str, str]] = []
        if files == [self.root]:  # one image given alone: its own error, as before
            first = read_image(files[0])
        else:
            files, labels, first = self._readable(files, labels)
        self.files = files
        if self.labels is not None:
            self.labels = np.asarray(labels, dtype=np.int64)
        self.resize, self.crop, self.channels = None, None, None
        self.shape = (len(files),) + first.shape
        self.dtype = np.dtype(np.uint8)

    def _readable(self, files, labels):
        """(files, labels, first image) of the images that open (:func:`check_image`), the first
        decoded (it fixes the sample shape); the others go to ``unreadable`` with the reason.
        One broken photo made the whole folder unusable; a folder of none that opens is
        still refused, naming it."""
        keep = []
        for k, path in enumerate(files):
            try:
                _check_link(path)
                check_image(path)
                keep.append(k)
            except DatasetError as exc:
                self._left_out(path, exc)
        first = None
        while keep and first is None:  # the first image is decoded now: its shape is the folder's
            try:
                first = read_image(files[keep[0]])
            except DatasetError as exc:
                self._left_out(files[keep.pop(0)], exc)
        if not keep:
            name, why = self.unreadable[0]
            more = f" (and {len(self.unreadable) - 1:,} more)" if len(self.unreadable) > 1 else ""
            raise DatasetError(f"{self.root}: none of its {len(files):,} images can be read: "
                               f"{name}: {why}{more}")
        return [files[k] for k in keep], [labels[k] for k in keep] if labels else labels, first

    def _left_out(self, path, exc) -> None:
        text = str(exc)
        why = text[len(path) + 2:] if text.startswith(f"{path}: ") else text
        self.unreadable.append((os.path.relpath(path, self.root), why))

    def unreadable_note(self) -> str | None:
        """The images left out as unreadable, named with the reason, in one line (None:
        none); the first three in full."""
        n = len(self.unreadable)
        if not n:
            return None
        named = "; ".join(f"{short(name, 60)} ({short(why, 120)})"
                          for name, why in self.unreadable[:3]) + ("; …" if n > 3 else "")
        return (f"{n:,} image{'s' * (n != 1)} cannot be read and {'are' if n != 1 else 'is'} "
                f"left out: {named}; the other {len(self.files):,} are used")

    def fit(self, crop: int, channels: int, resize: int | None = None) -> None:
        """Deliver every image as ``crop``×``crop``×``channels`` (see the module docstring)."""
        self.resize, self.crop, self.channels = resize, int(crop), int(channels)
        self.shape = (len(self.files), self.crop, self.crop, self.channels)

    def size_range(self, limit: int = 1000) -> tuple | None:
        """(number of sizes, smallest (H, W), largest (H, W)) among the first ``limit`` images
        read as they are, or None when fitted to a model or all of one size: the first
        image's shape then stands for none of them. Reads headers only."""
        if self.crop is not None:
            return None
        sizes = set(self._headers(limit, _upright_size))
        if len(sizes) < 2:
            return None
        area = lambda s: s[0] * s[1]  # noqa: E731
        return len(sizes), min(sizes, key=area), max(sizes, key=area)

    def sizes_note(self, limit: int = 1000) -> str | None:
        """How the images' sizes differ when read as they are (None: not fitted to a model
        and all of one size, or fitted): e.g. "sizes vary: 2 sizes among 2 images, from
        300×451 to 600×800" (:meth:`size_range`)."""
        found = self.size_range(limit)
        if found is None:
            return None
        count, low, high = found
        return (f"sizes vary: {count} sizes among {self._among(limit)}, from {low[0]}×{low[1]} "
                f"to {high[0]}×{high[1]}; a model's input specification resizes and crops them")

    def depth_note(self, limit: int = 1000) -> str | None:
        """Which images are 16-bit greyscale, read at 8 bits (:data:`_SIXTEEN_BIT`), in one
        line; None: none among the first ``limit``. Reads headers only."""
        count = sum(self._headers(limit, lambda im: im.mode in _SIXTEEN_BIT))
        if not count:
            return None
        which = ("the image is" if len(self.files) == 1 else
                 f"{count:,} of {self._among(limit)} are")
        return (f"{which} 16-bit greyscale: read at 8 bits (0…65535 scaled to 0…255, the raw "
                "range a model's input specification maps)")

    def _headers(self, limit, fact) -> list:
        """``fact(image)`` of each of the first ``limit`` images, opened for its header alone
        (no pixel decoded); a broken file is left out (it is reported when it is read)."""
        from PIL import Image  # noqa: PLC0415

        out = []
        for path in self.files[:limit]:
            try:
                with Image.open(path, formats=_FORMATS) as im:
                    out.append(fact(im))
            except Exception:  # noqa: BLE001 - decoders raise many types for broken files
                continue
        return out

    def _among(self, limit) -> str:
        among = f"{min(limit, len(self.files)):,} image{'s' * (len(self.files) != 1)}"
        return f"the first {among}" if len(self.files) > limit else among

    def fitting(self) -> tuple:
        """(resize, crop, channels) of :meth:`fit`, or () when the images are read as they
        are: what a reader elsewhere (a Dask worker) passes to :func:`read_fitted`."""
        return () if self.crop is None else (self.resize, self.crop, self.channels)

    def left_out_note(self) -> str | None:
        """What the class layout leaves out, in one line (None: nothing): images directly in
        a folder that has class subfolders are no samples (torchvision's ImageFolder alike),
        and were left out without a word."""
        n = len(self.left_out)
        if not n:
            return None
        names = ", ".join(short(f, 40) for f in self.left_out[:3]) + (", …" if n > 3 else "")
        return (f"{n} image{'s' * (n != 1)} beside the class subfolders left out ({names}); "
                "put {0} into a class subfolder to use {0}".format("it" if n == 1 else "them"))

    def file_name(self, i: int) -> str:
        """Sample ``i``'s file as a user finds it: relative to the folder (``cats/tom.jpg``),
        or the file's own name when the dataset is one image."""
        if self.files == [self.root]:
            return os.path.basename(self.root)
        return os.path.relpath(self.files[i], self.root)

    def _read(self, i: int) -> np.ndarray:
        return read_fitted(self.files[i], *self.fitting())

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index) -> np.ndarray:
        idx = np.arange(len(self.files))[index]
        out = np.empty((np.size(idx),) + self.shape[1:], dtype=np.uint8)
        for k, i in enumerate(np.atleast_1d(idx)):
            img = self._read(i)
            if img.shape != self.shape[1:]:
                raise DatasetError(f"{self.files[i]}: image of shape {img.shape}, but the "
                                   f"folder's first image ({self.files[0]}) is {self.shape[1:]}; "
                                   f"all images must have the same size, or {PHOTOS_HINT}")
            out[k] = img
        return out[0] if np.ndim(idx) == 0 else out
