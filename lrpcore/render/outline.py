"""Shape handling shared by the renderers: maps as 2-D arrays, enlarging, the input outline."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ShapeError


def as_map(a, what="relevance") -> np.ndarray:
    """A float64 H×W view of ``a``: H×W, H×W×C (summed over channels) or a square vector."""
    a = np.asarray(a)
    if not (np.issubdtype(a.dtype, np.number) or a.dtype == bool) or a.dtype.kind == "c":
        raise ShapeError(f"{what} must be real numbers, got dtype {a.dtype}")
    if a.ndim == 1:
        side = int(round(a.size ** 0.5))
        if side * side != a.size or a.size == 0:
            raise ShapeError(f"{what}: a flat vector of {a.size} values is not a square image")
        a = a.reshape(side, side)
    elif a.ndim == 3:
        a = a.sum(axis=2, dtype=np.float64)
    elif a.ndim != 2:
        raise ShapeError(f"{what}: expected H×W, H×W×C or a square vector, got shape {a.shape}")
    a = a.astype(np.float64, copy=False)
    if not np.all(np.isfinite(a)):
        raise ShapeError(f"{what} contains NaN or infinite values")
    return a


MAX_PIXELS = 1 << 26  # 8192 × 8192: far above any figure, far below exhausting memory


def check_scaling(scaling, height=1, width=1) -> int:
    """``scaling`` as an int ≥ 1 that keeps an enlarged height × width map under MAX_PIXELS."""
    s = int(scaling)
    if s < 1:
        raise ShapeError(f"scaling must be a positive integer, got {scaling}")
    if height * width * s * s > MAX_PIXELS:
        raise ShapeError(f"scaling {s} would make a {height * s}×{width * s} image; at most "
                         f"{MAX_PIXELS:,} pixels are drawn")
    return s


DIGIT_SCALING = 3  # the toolbox's: a 28×28 digit drawn 84×84
ENLARGED_UP_TO = 96  # images with no side longer than this are enlarged (digits, icons)


def scaling_for(height: int, width: int) -> int:
    """Pixels per image pixel when none are asked for: DIGIT_SCALING for small images, 1 for
    photographs (a 224×224 one has a screen's resolution already; at 3 a PNG of it was
    1,346 pixels wide). One rule for the explorer's views, its exports and every command."""
    return DIGIT_SCALING if max(height, width) <= ENLARGED_UP_TO else 1


def default_scaling(a) -> int:
    """:func:`scaling_for` a map or image as the renderers take it: H×W, H×W×C, C×H×W (a
    PyTorch-layout map) or a square vector (a dense model's digit)."""
    shape = np.shape(a)
    if len(shape) == 3 and shape[0] <= 4 < min(shape[1], shape[2]):
        shape = shape[1:]  # C×H×W
    if len(shape) == 1:
        side = int(round(shape[0] ** 0.5))
        return scaling_for(side, side)
    return scaling_for(*shape[:2])


def enlarge(a: np.ndarray, scaling: int) -> np.ndarray:
    """Replicate every pixel into a scaling × scaling block (nearest neighbour), as a copy."""
    s = check_scaling(scaling, *a.shape[:2])
    if s == 1:
        return np.array(a)
    return np.repeat(np.repeat(a, s, axis=0), s, axis=1)


MAX_SIGMA = 100.0  # enlarged pixels: the Gaussian costs 8·sigma per pixel (1e308 overflowed)


def outline_mask(x01_enlarged: np.ndarray, sigma: float = 2.0) -> np.ndarray:
    """Canny edges of the enlarged input (scikit-image, default thresholds): the outline."""
    if not 0 <= sigma <= MAX_SIGMA:  # NaN fails too
        raise ShapeError(f"outline sigma must be a number from 0 to {MAX_SIGMA:g}, got {sigma}")
    from skimage.feature import canny  # noqa: PLC0415 (pulls in scipy.ndimage: ~0.6 s a start)

    return canny(x01_enlarged, sigma=sigma)


@dataclass(frozen=True)
class OutlineStyle:
    """How an input's outline is drawn over its map: edge smoothing (``sigma``, in enlarged
    pixels), grey level and opacity of the line. One choice for the CLI's PNGs and the views."""

    sigma: float
    grey: float
    alpha: float


# a digit: solid black edges of its strokes (the toolbox's look)
DIGIT_OUTLINE = OutlineStyle(sigma=2.0, grey=0.0, alpha=1.0)
# a photograph: fewer edges (smoother), mid grey at about a third of full opacity. Solid
# black edges of every texture covered EpsilonPlus's sparse relevance of a colour photograph,
# and a dark line vanished on a dark colormap's background; mid grey shows on dark and light
PHOTO_OUTLINE = OutlineStyle(sigma=3.0, grey=0.5, alpha=0.35)


def outline_style(x01) -> OutlineStyle:
    """The outline style of input ``x01`` (H×W, H×W×C, C×H×W or a square vector): a
    photograph's (colour, or too large to be enlarged) or a digit's (also for None: no input,
    no outline drawn)."""
    if x01 is None:
        return DIGIT_OUTLINE
    shape = tuple(np.shape(x01))
    if len(shape) == 3 and shape[0] <= 4 < min(shape[1], shape[2]):
        shape = shape[1:] + shape[:1]  # C×H×W
    colour = len(shape) == 3 and shape[2] == 3
    return PHOTO_OUTLINE if colour or default_scaling(x01) == 1 else DIGIT_OUTLINE


def outline_sigma(x01, sigma=None) -> float:
    """``sigma`` when one is chosen, else that of ``x01``'s :func:`outline_style`."""
    return float(outline_style(x01).sigma if sigma is None else sigma)


def draw_outline(rgb: np.ndarray, mask: np.ndarray, style: OutlineStyle) -> np.ndarray:
    """Blend the outline ``mask`` into ``rgb`` in place, in ``style`` (a digit's: black)."""
    rgb[mask] = rgb[mask] * (1.0 - style.alpha) + style.grey * style.alpha
    return rgb
