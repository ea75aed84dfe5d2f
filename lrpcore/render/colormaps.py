"""Relevance colormaps: the LRP Toolbox's five maps, standard diverging maps, a registry.

A colormap turns an (enlarged) relevance map R into an RGB image in [0, 1]. Most maps are a
pure lookup of a normalised value t = R / scale in [-1, 1], where the scale is max|R|
(``norm="absmax"``) or, for three toolbox maps, max(R) (``norm="max"``); such maps also
offer a 256-entry palette for fast display (see :func:`palette`). ``gray-red2`` is not a
lookup: it first discards values above 10·var(R), so it needs the whole map.

Numerics follow the toolbox's ``render.py`` as documented in the reference README (§9);
differences are deliberate: the caller's array is never modified, an all-zero or constant
map gives no NaN, and colours are clipped to [0, 1].
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import RuleError
from . import luts

TOOLBOX_COLORMAPS = ("gray-red", "gray-red2", "black-green", "black-firered",
                     "blue-black-yellow")
# the one default of every command, the explorer and the render functions: the toolbox's own
# (its render.hm_to_rgb draws bwr), so `lrp explain --png` matches what the explorer shows
DEFAULT_COLORMAP = "bwr"


class ColormapError(RuleError):
    """Unknown colormap name (a setting error, like an unknown rule)."""


@dataclass(frozen=True)
class Colormap:
    """A named map from relevance to colour.

    ``of_t`` maps normalised values t ∈ [-1, 1] to RGB (lookup maps); ``whole`` maps a whole
    relevance map to RGB (maps that are not lookups). ``norm`` names the scale t is taken
    against: "absmax" (max|R|) or "max" (max(R), the toolbox's choice for three maps).
    """

    name: str
    description: str
    of_t: Callable[[np.ndarray], np.ndarray] | None = None
    whole: Callable[[np.ndarray], np.ndarray] | None = None
    norm: str = "absmax"
    lut: np.ndarray | None = None

    @property
    def is_lookup(self) -> bool:
        return self.of_t is not None

    def scale(self, R: np.ndarray) -> float:
        """The value that maps to t = 1 (never zero, so constant maps give no NaN)."""
        absmax = float(np.max(np.abs(R))) if R.size else 0.0
        if self.norm == "max":
            top = float(np.max(R)) if R.size else 0.0
            if top > 0:
                return top
        return absmax if absmax > 0 else 1.0

    def levels(self, R) -> tuple[float, float]:
        """The (low, high) data range a :func:`palette` of this map must be stretched over."""
        s = self.scale(np.asarray(R, dtype=np.float64))
        return (-s, s)

    def __call__(self, R: np.ndarray) -> np.ndarray:
        R = np.asarray(R, dtype=np.float64)
        if self.whole is not None:
            return self.whole(R)
        return self.of_t(R / self.scale(R))


def lookup(lut: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """The matplotlib convention: v = (t + 1)/2, row floor(N·v), v = 1 → last row."""
    n = lut.shape[0]

    def of_t(t):
        v = (t + 1.0) / 2.0
        idx = np.clip((v * n).astype(np.intp, copy=False), 0, n - 1)
        return lut[idx]

    return of_t


# --- the toolbox's own maps --------------------------------------------------------------
def gray_red(t):
    """Gray background (0.8); positive → red, negative → blue (toolbox ``gray-red``)."""
    t = np.clip(t, -1.0, 1.0)
    neg = np.minimum(t, 0.0)
    pos = np.maximum(t, 0.0)
    rg_neg = 0.8 + 0.8 * neg
    return np.stack([rg_neg + 0.2 * pos, rg_neg - 0.8 * pos, 0.8 - 0.2 * neg - 0.8 * pos],
                    axis=-1)


def black_green(t):
    """Black background; positive → green, negative → blue (toolbox ``black-green``)."""
    zero = np.zeros_like(t)
    return np.stack([zero, np.maximum(t, 0.0), np.maximum(-t, 0.0)], axis=-1)


def blue_black_yellow(t):
    """Black background; positive → yellow, negative → blue (toolbox ``blue-black-yellow``)."""
    pos = np.maximum(t, 0.0)
    return np.stack([pos, pos, np.maximum(-t, 0.0)], axis=-1)


def _fire(t):
    """Ramps of the fire scale: first channel on [0, .25], second on [.25, .5], third on [.5, 1]."""
    return (np.clip(t / 0.25, 0.0, 1.0), np.clip((t - 0.25) / 0.25, 0.0, 1.0),
            np.clip((t - 0.5) / 0.5, 0.0, 1.0))


def black_firered(t):
    """Black background; positive → red-yellow-white, negative → blue-cyan-white."""
    pr, pg, pb = _fire(np.maximum(t, 0.0))
    nb, ng, nr = _fire(np.maximum(-t, 0.0))
    return np.stack([pr + nr, pg + ng, pb + nb], axis=-1)


def gray_red2(R):
    """Toolbox ``gray-red2``: drops values above 10·var(R), then a light-gray-to-red ramp.

    The cut is in absolute units, so the picture depends on the relevance's scale, as in the
    toolbox; its output lies in [0, 0.9]. Works on a copy (the toolbox's version modifies
    its argument).
    """
    R = np.array(R, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):  # |R| beyond 1e154: var is inf (or
        cut = 10.0 * np.var(R)  # NaN, +inf and -inf summed), and no value is dropped
    R[R > cut] = 0.0
    R[R < 0.0] = 0.0
    top = float(np.max(R)) if R.size else 0.0
    return gray_red2_ramp(R / top if top > 0 else R)


def gray_red2_ramp(x):
    """gray-red2's colours of ``x`` in [0, 1] (the kept relevance over its maximum); the GUI's
    colour bar draws them beside what the map cleared."""
    x = np.asarray(x, dtype=np.float64)
    hi = np.clip(x - 0.3, 0.0, 0.7) / 0.7
    gb = 0.9 - 0.5 * np.clip(x, 0.0, 0.3) / 0.3 - 0.4 * hi
    return np.stack([0.9 - 0.5 * hi, gb, gb], axis=-1)


def gray_red2_bar(R, vmax, n=256) -> tuple[np.ndarray, float]:
    """(n × 3 uint8 colours from −vmax to +vmax, the cut 10·var(R)) of gray-red2 for the map
    ``R``: every value the map clears (above the cut, and all negative relevance) gets the
    colour of zero, as in the heatmap, so a colour bar shows what was cleared."""
    R = np.asarray(R, dtype=np.float64)
    cut = 10.0 * float(np.var(R))
    kept = R[(R > 0) & (R <= cut)]
    top = float(kept.max()) if kept.size else 1.0
    values = np.linspace(-vmax, vmax, n)
    rgb = gray_red2_ramp(np.where((values > 0) & (values <= cut), values / top, 0.0))
    return np.clip(np.round(rgb * 255), 0, 255).astype(np.uint8), cut


def _table_map(name, description):
    lut = luts.table(name)
    return Colormap(name, description, of_t=lookup(lut), lut=lut)


COLORMAPS: dict[str, Colormap] = {}


def register(cmap: Colormap) -> Colormap:
    COLORMAPS[cmap.name] = cmap
    return cmap


register(Colormap("gray-red", "toolbox: gray, red for positive, blue for negative "
                  "(scaled by max R)", of_t=gray_red, norm="max"))
register(Colormap("gray-red2", "toolbox: light gray to red for positive relevance; drops "
                  "values above 10·var(R) first (not a lookup)", whole=gray_red2))
register(Colormap("black-green", "toolbox: black, green for positive, blue for negative "
                  "(scaled by max R)", of_t=black_green, norm="max"))
register(Colormap("black-firered", "toolbox: black, fire (red-yellow-white) for positive, "
                  "ice (blue-cyan-white) for negative", of_t=black_firered))
register(Colormap("blue-black-yellow", "toolbox: black, yellow for positive, blue for "
                  "negative (scaled by max R)", of_t=blue_black_yellow, norm="max"))
register(_table_map("seismic", "dark blue, blue, white, red, dark red (matplotlib seismic)"))
register(_table_map("bwr", "blue, white, red (matplotlib bwr; the toolbox's default)"))
register(_table_map("coolwarm", "Moreland's perceptual blue-white-red (matplotlib coolwarm)"))
register(_table_map("jet", "rainbow from dark blue to dark red (matplotlib jet)"))


def colormap_names() -> list[str]:
    """Names of the built-in maps (the toolbox's five first); matplotlib names also work."""
    return list(COLORMAPS)


def _from_matplotlib(name: str) -> Colormap | None:
    try:
        import matplotlib  # noqa: PLC0415 (optional: only for maps we do not define)
    except ImportError:
        return None
    try:
        mpl = matplotlib.colormaps[name]
    except KeyError:
        return None
    lut = np.asarray(mpl(np.arange(mpl.N))[:, :3], dtype=np.float64)
    lut.setflags(write=False)
    return Colormap(name, f"matplotlib {name}", of_t=lookup(lut), lut=lut)


def get_colormap(name) -> Colormap:
    """The colormap called ``name`` (a built-in, or any matplotlib map if it is installed)."""
    if isinstance(name, Colormap):
        return name
    cmap = COLORMAPS.get(str(name))
    if cmap is None:
        cmap = _from_matplotlib(str(name))
    if cmap is None:
        raise ColormapError(f"unknown colormap {name!r}; known: {', '.join(COLORMAPS)} "
                            "(and matplotlib's maps when matplotlib is installed)")
    return cmap


def palette(name, n: int = 256) -> np.ndarray:
    """An (n, 3) uint8 table for a lookup map: row i shows t = -1 + 2i/(n-1).

    Stretch it over ``get_colormap(name).levels(R)`` (e.g. pyqtgraph ``levels=``) to display
    R as :func:`~lrpcore.render.heatmap` does (up to the 1/256 quantisation). ``gray-red2``
    is not a lookup (its cut depends on the whole map) and raises :class:`ColormapError`.
    """
    cmap = get_colormap(name)
    if not cmap.is_lookup:
        raise ColormapError(f"colormap {cmap.name!r} is not a pure lookup table; render it "
                            "with lrpcore.render.heatmap")
    n = int(n)
    if n < 2:
        raise ColormapError(f"a palette needs at least 2 entries, got {n}")
    if cmap.lut is not None and cmap.lut.shape[0] == n:
        rgb = cmap.lut
    else:
        rgb = cmap.of_t(np.linspace(-1.0, 1.0, n))
    return np.clip(np.asarray(rgb) * 255.0, 0.0, 255.0).astype(np.uint8)
