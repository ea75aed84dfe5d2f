"""Input specification: what a model expects and how raw samples are mapped to it.

The toolbox's MNIST models take pixels scaled x/127.5 − 1; its LeNet-5 also takes the 28×28
digit padded by 2 pixels of −1 to 32×32×1. A spec records this so that users can feed raw
uint8 images and so that rules such as zB know the input's value range.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from .errors import NonFiniteSample, ShapeError
from .sample_layout import raw_input_text, samples_text

# photographs of another size than a model's: the one remedy, said alike wherever they stop
PHOTOS_HINT = ("open the folder (or the photo's file) with the model, "
               "lrpcore.open_dataset(folder, model=model) (as the lrp commands do), which "
               "resizes and crops photographs to its input; a photograph held as an array: "
               "lrpcore.fit_image(photo, model)")


@dataclass(frozen=True)
class InputSpec:
    """What one sample looks like, raw and as fed to the model.

    ``raw_shape`` is the image as stored (H, W, C); ``shape`` the model's input per sample.
    Preprocessing is ``x / divide + offset`` (a division, as the toolbox computes it), then
    padding of ``pad`` pixels of ``pad_value`` on each side of height and width, then a
    reshape to ``shape``.
    """

    shape: tuple
    raw_shape: tuple
    layout: str = "NHWC"  # or "flat"
    divide: float = 127.5
    offset: float = -1.0
    pad: int = 0
    pad_value: float = -1.0
    value_range: tuple = (-1.0, 1.0)
    raw_range: tuple = (0.0, 255.0)
    # per-channel normalisation after the division: (x / divide − mean) / std (colour models)
    mean: tuple | None = None
    std: tuple | None = None
    # a C×L sequence's channels come first: mean/std apply along its first axis (set from the
    # model, never read from a file: the model's first layer says which layout it takes)
    channels_first: bool = False
    source: str = field(default="inferred", compare=False)
    extra: dict = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("extra")
        d.pop("channels_first")
        d.update(self.extra)
        for k in ("shape", "raw_shape", "value_range", "raw_range"):
            d[k] = list(d[k])
        for k in ("mean", "std"):
            if d[k] is None:
                d.pop(k)
            else:
                d[k] = list(d[k])
        return d

    @classmethod
    def from_dict(cls, d: dict, source: str = "file") -> InputSpec:
        known = {k: d[k] for k in ("shape", "raw_shape", "layout", "divide", "offset", "pad",
                                   "pad_value", "value_range", "raw_range", "mean", "std")
                 if k in d}
        for k in ("shape", "raw_shape", "value_range", "raw_range", "mean", "std"):
            if known.get(k) is not None:
                known[k] = tuple(known[k])
        if "shape" not in known:
            raise ShapeError("an input specification needs at least 'shape'")
        known.setdefault("raw_shape", known["shape"])
        extra = {k: int(d[k]) for k in ("resize", "crop") if d.get(k) is not None}
        return cls(source=source, extra=extra, **known)

    def describe(self, sequence: str | None = None) -> str:
        """One line from raw sample to fed input; ``sequence``: "C×L" or "L×C" for a model
        that reads a flat-layout input as a 1-D sequence (``Sequential.sequence_layout``)."""
        raw = "×".join(map(str, self.raw_shape))
        fed = "×".join(map(str, self.shape))
        pad = f", padded by {self.pad} with {self.pad_value:g}" if self.pad else ""
        lo, hi = self.value_range
        norm = ""
        if self.mean is not None:
            norm = (f", (x − mean)/std per channel, mean {_numbers(self.mean)}, "
                    f"std {_numbers(self.std)}")
        scale = "x" if self.divide == 1 else f"x/{self.divide:g}"  # not "x/1+0", "x/255+0"
        shift = f"{self.offset:+g}" if self.offset else ""
        if scale + shift == "x" and not norm:
            scale = "as given"
        fit = ""  # what an image folder's photographs of any size go through first
        crop = self.extra.get("crop") or self.extra.get("resize")
        if crop:
            fit = (f" (photographs: shorter side resized to {self.extra.get('resize') or crop}"
                   f", centre {crop}×{crop} cut)")
        layout = self.layout
        if sequence and self.layout == "flat" and len(self.shape) == 2:
            steps, channels = self.shape[::-1] if sequence == "C×L" else self.shape
            layout = f"sequence {sequence}: {steps} steps × {channels} channels"
        return (f"raw {raw}{fit} in [{self.raw_range[0]:g}, {self.raw_range[1]:g}] → {scale}"
                f"{shift}{norm}{pad} → {fed} ({layout}) in [{lo:g}, {hi:g}]")

    def mapped_range(self) -> tuple:
        """Where ``raw_range`` lands after preprocessing (padding value included)."""
        a, b = (v / self.divide + self.offset for v in self.raw_range)
        lo, hi = min(a, b), max(a, b)
        if self.mean is not None:
            low, high = self.channel_range()
            lo, hi = float(low.min()), float(high.max())
        if self.pad:
            lo, hi = min(lo, self.pad_value), max(hi, self.pad_value)
        return (float(lo), float(hi))

    def background(self) -> float | None:
        """Where the raw range's low end (a black pixel) lands after the scaling: what a
        padded toolbox input is padded with (the toolbox's −1 of x/127.5 − 1); None where a
        per-channel mean/std puts it at another value in each channel."""
        low = self.raw_range[0] / self.divide + self.offset
        if self.mean is None:
            return float(low)
        if len(self.mean) == 1:
            return float((low - self.mean[0]) / self.std[0])
        return None

    def resize_hint(self, shape) -> str:
        """What to do with photographs of another size when this model resizes and crops
        them (its ``extra``) or takes colour images (an ONNX export's plain 224×224×3): the
        words of the image folder's stacking error, so that both paths to one mistake say
        the same."""
        photographs = self.extra.get("crop") or self.extra.get("resize") or (
            len(self.raw_shape) == 3 and self.raw_shape[-1] == 3)  # a colour image model
        if not photographs or len(shape) != 3 or len(self.raw_shape) != 3 \
                or shape[-1] != self.raw_shape[-1]:
            return ""  # digits offered to a photograph model: no resizing makes them fit
        return f"; {PHOTOS_HINT}"

    def raw_size(self) -> int:
        return int(np.prod(self.raw_shape))

    def preprocess(self, x, dtype=np.float64) -> np.ndarray:
        """Map raw samples (N × raw size, any layout of it) to the model's input."""
        x = np.asarray(x)
        if x.dtype.kind not in "iuf":  # numpy counts timedelta64 as an integer: not a pixel
            raise ShapeError(f"samples must be real numbers, got dtype {x.dtype}")
        raw = "×".join(map(str, self.raw_shape))
        if x.ndim < 2:
            raise ShapeError(f"expected a batch of samples (N × {raw}), got an array of shape "
                             f"{x.shape}; put one sample as a batch of one")
        if x.shape[0] == 0:
            raise ShapeError("no samples given")
        n = x.shape[0]
        if int(np.prod(x.shape[1:])) != self.raw_size():
            raise ShapeError(f"{samples_text(x.shape[1:])} do not fit the model, which takes "
                             f"{raw_input_text(self.raw_shape)}{self.resize_hint(x.shape[1:])}")
        self._check_layout(x.shape[1:], pixels=x.dtype.kind in "ui")
        with np.errstate(invalid="ignore"):  # a signalling NaN: refused below, not printed
            xf = x.astype(np.float64, copy=False).reshape((n,) + tuple(self.raw_shape))
        NonFiniteSample.check(xf)
        xf = xf / self.divide + self.offset
        if self.mean is not None:
            xf = (xf - self._per_channel(self.mean)) / self._per_channel(self.std)
        if self.pad:
            p = self.pad
            xf = np.pad(xf, ((0, 0), (p, p), (p, p), (0, 0)), constant_values=self.pad_value)
        if self.layout == "NCHW":  # images come H×W×C; the model takes C×H×W
            xf = xf.transpose(0, 3, 1, 2)
        out = xf.reshape((n,) + tuple(self.shape))
        if np.dtype(dtype).itemsize < 8 and np.abs(out).max() > np.finfo(dtype).max:
            # a 1e300 sample: the cast would print numpy's overflow warning, then "NaN"
            raise ShapeError(f"samples reach {np.abs(out).max():.3g} after the model's scaling, "
                             f"beyond {np.dtype(dtype).name}; use --dtype float64 "
                             "(dtype='float64' in Python)")
        return np.ascontiguousarray(out, dtype=dtype)

    def image_layout(self, batch) -> np.ndarray:
        """A batch in the model's layout as images (N×H×W×C): what views and PNGs draw."""
        batch = np.asarray(batch)
        if self.layout == "NCHW" and batch.ndim == 4:
            return np.ascontiguousarray(batch.transpose(0, 2, 3, 1))
        return batch

    def model_layout(self, batch) -> np.ndarray:
        """The inverse of :meth:`image_layout`: N×H×W×C images in the model's layout (what
        ``lrp explain`` writes, so that every export of a map has one layout)."""
        batch = np.asarray(batch)
        if self.layout == "NCHW" and batch.ndim == 4:
            return np.ascontiguousarray(batch.transpose(0, 3, 1, 2))
        return batch

    def unprocess(self, x) -> np.ndarray:
        """The raw samples (N × ``raw_shape``, float64) whose preprocessing gives ``x`` back
        (N × ``shape``, the model's own layout, e.g. a PyTorch user's N×C×H×W array): what
        the explorer draws and explains. Within float64 rounding of the inverse."""
        x = np.asarray(x, dtype=np.float64)
        n = x.shape[0]
        if self.layout == "NCHW":
            x = x.reshape((n,) + tuple(self.shape)).transpose(0, 2, 3, 1)
        if self.pad:  # the padded image, whatever the layout, then its raw area
            H, W, C = self.raw_shape
            p = self.pad
            x = x.reshape((n, H + 2 * p, W + 2 * p, C))[:, p:-p, p:-p, :]
        x = x.reshape((n,) + tuple(self.raw_shape))
        if self.mean is not None:
            x = x * self._per_channel(self.std) + self._per_channel(self.mean)
        return (x - self.offset) * self.divide

    def _per_channel(self, values) -> np.ndarray:
        """``mean`` or ``std`` shaped to broadcast over a raw sample: along its last axis, or
        its first for a C×L sequence."""
        values = np.asarray(values, dtype=np.float64)
        return values.reshape(-1, 1) if self.channels_first else values

    def channel_range(self):
        """(low, high) per channel of the preprocessed input when a per-channel mean/std
        applies (zB's bounds for colour models), else None."""
        if self.mean is None:
            return None
        a, b = (v / self.divide + self.offset for v in self.raw_range)
        mean, std = np.asarray(self.mean, dtype=float), np.asarray(self.std, dtype=float)
        lo, hi = (min(a, b) - mean) / std, (max(a, b) - mean) / std
        return np.minimum(lo, hi), np.maximum(lo, hi)

    def _check_layout(self, shape, pixels=False) -> None:
        """Samples may come flat or with size-1 axes added or dropped (N×784, N×28×28 for
        28×28×1), but an image of the right size in another layout (C×H×W for H×W×C) would be
        silently scrambled by the reshape: refuse it. ``pixels``: integer samples, raw pixels
        however they are laid out (the advice to feed them as the model's input is wrong)."""
        def core(dims):
            return tuple(int(d) for d in dims if d != 1)

        have, want = core(shape), core(self.raw_shape)
        if len(have) >= 2 and len(want) >= 2 and have != want:
            got = "×".join(map(str, shape))
            raw = "×".join(map(str, self.raw_shape))
            hint = (" (channels first? give H×W×C images)"
                    if sorted(have) == sorted(want) else "")
            if self.layout == "NCHW" and tuple(shape) == tuple(self.shape) and pixels:
                # torchvision's read_image gives uint8 C×H×W: --raw fed them unscaled
                hint = (" (C×H×W pixels: transpose them to H×W×C, x.transpose(0, 2, 3, 1) in "
                        "Python; --raw or raw=True would feed them unscaled)")
            elif self.layout == "NCHW" and tuple(shape) == tuple(self.shape):
                # every lrp command that takes samples has --raw (stop 25; until then
                # concepts, spray, sweep and sanity had not, and only images reached them)
                hint = (" (this is the model's own C×H×W input: add --raw, or raw=True in "
                        "Python, to feed it as it is)")
            raise ShapeError(f"samples of shape {got} do not fit the model, which takes raw "
                             f"{raw} images{hint}")

    def unpad(self, r) -> np.ndarray:
        """Crop a model-input-shaped array (e.g. relevance) back to the raw image's area."""
        r = np.asarray(r)
        n = r.shape[0]
        if self.layout != "flat":
            r = r.reshape((n,) + tuple(self.shape))
            if self.layout == "NCHW":
                r = r.transpose(0, 2, 3, 1)
            if self.pad:
                p = self.pad
                r = r[:, p:-p, p:-p, :]
        return r.reshape((n,) + tuple(self.raw_shape))


def onnx_input_spec(shape, raw_shape, layout) -> InputSpec:
    """The input of an ONNX model without a sidecar. Image inputs (C×H×W or H×W×C) take 8-bit
    pixels scaled to [0, 1] (torchvision's ``ToTensor``): every dataset the app and ``lrp`` open
    holds uint8 images, and fed unscaled they put 0…255 into a model trained on [0, 1].
    Feature vectors are fed as given. A sidecar changes either."""
    image = len(shape) == 3
    return InputSpec(shape=tuple(shape), raw_shape=tuple(raw_shape), layout=layout,
                     divide=255.0 if image else 1.0, offset=0.0, pad=0, value_range=(0.0, 1.0),
                     raw_range=(0.0, 255.0) if image else (0.0, 1.0), source="onnx")


def _numbers(values) -> str:
    return "[" + ", ".join(f"{v:g}" for v in values) + "]"


def span_fraction(x, lo, hi) -> np.ndarray:
    """(x − lo) / (hi − lo) where hi > lo, else 0; computed on halves: inputs near ±1.8e308
    overflowed the differences (numpy's warning, then 'input contains NaN or infinite
    values' for a finite input)."""
    span = np.asarray(hi, dtype=np.float64) / 2 - np.asarray(lo, dtype=np.float64) / 2
    return np.where(span > 0, (x / 2 - lo / 2) / np.where(span > 0, span, 1), 0.0)


def unit_inputs(spec, fed) -> np.ndarray:
    """A batch of model inputs scaled to [0, 1] for drawing digits and outlines: by the spec's
    value range (clipped), or without a spec each sample by its own range. The one formula of
    every PNG (``lrp explain --png``, ``lrp demo``, the desktop app), so they agree."""
    fed = np.asarray(fed, dtype=np.float64)
    if spec is not None:
        lo, hi = spec.value_range
        return np.clip(span_fraction(fed, lo, hi), 0, 1) if hi > lo else np.zeros_like(fed)
    axes = tuple(range(1, fed.ndim))
    lo, hi = fed.min(axis=axes, keepdims=True), fed.max(axis=axes, keepdims=True)
    return span_fraction(fed, lo, hi)


def side_for_unit_output(layers, channels: int, limit: int = 512):
    """Smallest square input side for which the whole stack fits and ends in a vector or a
    1×1 map."""
    for side in range(1, limit + 1):
        shape = (side, side, channels)
        try:
            for layer in layers:  # every layer must fit, a Linear after a Flatten included
                shape = layer.output_shape(shape)
        except ShapeError:
            continue
        if len(shape) == 1 or shape[:2] == (1, 1):
            return side
    return None


def _fits(layers, shape) -> bool:
    """Whether every layer takes what the previous one gives, from ``shape`` on."""
    try:
        for layer in layers:
            shape = layer.output_shape(shape)
    except ShapeError:
        return False
    return True


# A dense input of side² (or 3·side²) values is taken for a flattened image only from this side
# on (8×8: scikit-learn's digits); 4, 9 or 12 inputs are feature vectors, not 2×2 images.
MIN_IMAGE_SIDE = 8


def infer_input_spec(layers) -> InputSpec | None:
    """Guess the input of a model from its first weighted layer (toolbox conventions).

    Image-sized inputs get the toolbox's pixel scaling x/127.5 − 1; any other dense input is a
    feature vector taken as it is, assumed to lie in [0, 1] (the toolbox's XOR data) until a
    sidecar ``MODEL.json`` says otherwise. A guess the layers cannot take (a pooling layer
    before the first dense one needs images of unknown channels) is no guess: None. Nor is a
    channels-first input (a ``ToChannelsLast`` first, a PyTorch net's C×H×W): the toolbox's
    H×W×C conventions do not describe it, and a size that happened to fit was saved as an
    H×W×C spec that the file's own model then refused at load."""
    if layers and getattr(layers[0], "channels_first_input", False):
        return None
    first = next((layer for layer in layers if getattr(layer, "weighted", False)), None)
    if first is None:
        return None
    if not getattr(first, "convolution", False):  # a dense first layer
        if not _fits(layers, (first.m,)):
            return None
        m = first.m
        side = int(round(m ** 0.5))
        s = int(round((m // 3) ** 0.5))
        if side * side == m and side >= MIN_IMAGE_SIDE:
            raw = (side, side, 1)
        elif m % 3 == 0 and s * s == m // 3 and s >= MIN_IMAGE_SIDE:
            raw = (s, s, 3)
        else:  # not an image (the toolbox's XOR net, 4 or 9 features): fed as given
            return InputSpec(shape=(m,), raw_shape=(m,), layout="flat", divide=1.0, offset=0.0,
                             value_range=(0.0, 1.0), raw_range=(0.0, 1.0))
        return InputSpec(shape=(m,), raw_shape=raw, layout="flat")
    channels = first.W.shape[2]
    side = side_for_unit_output(layers, channels)
    if side is None:
        return None
    pad = (side - 28) // 2 if channels == 1 and 28 <= side <= 36 and side % 2 == 0 else 0
    raw_side = side - 2 * pad
    return InputSpec(shape=(side, side, channels), raw_shape=(raw_side, raw_side, channels),
                     layout="NHWC", pad=pad)
