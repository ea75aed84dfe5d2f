"""Text for figures, headless: a real, anti-aliased font without Qt or matplotlib.

Pillow (already installed with scikit-image) carries a scalable FreeType font
(``ImageFont.load_default(size=...)``, no font files needed); text is drawn with it in
:func:`draw_text`. Where Pillow has no FreeType, a tiny 5×7 bitmap font drawn here (capitals,
digits, punctuation; one string per row, '#' = ink) is used instead.
"""

from __future__ import annotations

import functools
import unicodedata

import numpy as np

GLYPH_W, GLYPH_H = 5, 7

_GLYPHS = {
    "A": (".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"),
    "B": ("####.", "#...#", "#...#", "####.", "#...#", "#...#", "####."),
    "C": (".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."),
    "D": ("####.", "#...#", "#...#", "#...#", "#...#", "#...#", "####."),
    "E": ("#####", "#....", "#....", "####.", "#....", "#....", "#####"),
    "F": ("#####", "#....", "#....", "####.", "#....", "#....", "#...."),
    "G": (".###.", "#...#", "#....", "#.###", "#...#", "#...#", ".####"),
    "H": ("#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"),
    "I": (".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."),
    "J": ("..###", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."),
    "K": ("#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#"),
    "L": ("#....", "#....", "#....", "#....", "#....", "#....", "#####"),
    "M": ("#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"),
    "N": ("#...#", "#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#"),
    "O": (".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."),
    "P": ("####.", "#...#", "#...#", "####.", "#....", "#....", "#...."),
    "Q": (".###.", "#...#", "#...#", "#...#", "#.#.#", "#..#.", ".##.#"),
    "R": ("####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"),
    "S": (".####", "#....", "#....", ".###.", "....#", "....#", "####."),
    "T": ("#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."),
    "U": ("#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."),
    "V": ("#...#", "#...#", "#...#", "#...#", "#...#", ".#.#.", "..#.."),
    "W": ("#...#", "#...#", "#...#", "#.#.#", "#.#.#", "#.#.#", ".#.#."),
    "X": ("#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#"),
    "Y": ("#...#", "#...#", ".#.#.", "..#..", "..#..", "..#..", "..#.."),
    "Z": ("#####", "....#", "...#.", "..#..", ".#...", "#....", "#####"),
    "0": (".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."),
    "1": ("..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."),
    "2": (".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"),
    "3": ("#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."),
    "4": ("...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."),
    "5": ("#####", "#....", "####.", "....#", "....#", "#...#", ".###."),
    "6": ("..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."),
    "7": ("#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."),
    "8": (".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."),
    "9": (".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."),
    " ": (".....",) * 7,
    "-": (".....", ".....", ".....", "#####", ".....", ".....", "....."),
    "_": (".....", ".....", ".....", ".....", ".....", ".....", "#####"),
    ".": (".....", ".....", ".....", ".....", ".....", ".##..", ".##.."),
    ",": (".....", ".....", ".....", ".....", ".##..", "..#..", ".#..."),
    ":": (".....", ".##..", ".##..", ".....", ".##..", ".##..", "....."),
    "=": (".....", ".....", "#####", ".....", "#####", ".....", "....."),
    "+": (".....", "..#..", "..#..", "#####", "..#..", "..#..", "....."),
    "(": ("...#.", "..#..", ".#...", ".#...", ".#...", "..#..", "...#."),
    ")": (".#...", "..#..", "...#.", "...#.", "...#.", "..#..", ".#..."),
    "/": (".....", "....#", "...#.", "..#..", ".#...", "#....", "....."),
    "#": (".#.#.", ".#.#.", "#####", ".#.#.", "#####", ".#.#.", ".#.#."),
    "%": ("##...", "##..#", "...#.", "..#..", ".#...", "#..##", "...##"),
    "'": ("..#..", "..#..", ".#...", ".....", ".....", ".....", "....."),
    "<": ("...#.", "..#..", ".#...", "#....", ".#...", "..#..", "...#."),
    ">": (".#...", "..#..", "...#.", "....#", "...#.", "..#..", ".#..."),
    "?": (".###.", "#...#", "....#", "...#.", "..#..", ".....", "..#.."),
}
_UNKNOWN = ("#####", "#...#", "#...#", "#...#", "#...#", "#...#", "#####")


@functools.cache
def glyph(ch: str) -> np.ndarray:
    """The 7×5 boolean bitmap of one character."""
    rows = _GLYPHS.get(ch.upper(), _UNKNOWN)
    return np.array([[c == "#" for c in row] for row in rows], dtype=bool)


FONT_PX = 12  # pixel size of the scalable font at scale 1

# Pillow's built-in font covers Latin letters only: what figures write beyond them (the sanity
# plot's "Spearman |ρ|", rule and class names) was drawn as empty boxes. Such characters are
# spelled with letters it has; others lose their accents (é → e) or, failing that, stay.
SPELLED = {"ρ": "rho", "ε": "eps", "α": "alpha", "β": "beta", "γ": "gamma", "σ": "sigma",
           "Σ": "sum ", "μ": "u", "µ": "u", "×": "x", "→": "->", "←": "<-", "≥": ">=",
           "≤": "<=", "−": "-", "–": "-", "—": "-", "▼": "v", "⚠": "!", "·": "-"}
_NO_GLYPH = "\U0010fffd"  # a private code point no font draws: its box is the missing glyph


@functools.lru_cache(maxsize=16)
def _font(px: int):
    """Pillow's built-in scalable font at ``px`` pixels, or None without FreeType."""
    try:
        from PIL import ImageFont, features  # noqa: PLC0415 (only when text is drawn)

        if not features.check("freetype2"):
            return None
        font = ImageFont.load_default(size=px)
    except (ImportError, OSError, TypeError):
        return None
    return font if hasattr(font, "getbbox") and hasattr(font, "size") else None


def _ink(font, text: str) -> tuple:
    mask = font.getmask(text)
    return mask.size, bytes(mask)


@functools.lru_cache(maxsize=4096)
def _has_glyph(px: int, ch: str) -> bool:
    """Whether the font at ``px`` pixels draws ``ch`` (the bitmap font: one of its glyphs)."""
    font = _font(px)
    if font is None:
        return ch.upper() in _GLYPHS
    return ch.isspace() or _ink(font, ch) != _ink(font, _NO_GLYPH)


def _spelling(ch: str) -> str:
    if ch in SPELLED:
        return SPELLED[ch]
    base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
    return base if base and base != ch else ch


def drawable(text: str, scale: int = 1) -> str:
    """``text`` as it is drawn: each character the font lacks spelled with ones it has."""
    px = FONT_PX * scale
    return "".join(ch if _has_glyph(px, ch) else _spelling(ch) for ch in text)


def title_scale(side: int) -> int:
    """Text scale for titles beside images ``side`` pixels tall: 12-pixel text up to about
    336 pixels, one step more per 224 (a 672-pixel photograph, 224 at scaling 3, gets 36-pixel
    titles; 12-pixel ones were a speck beside it), at most 8."""
    return max(1, min(8, round(int(side) / 224)))


def line_height(scale: int = 1) -> int:
    """Height in pixels of one line of text (ascent + descent), the same for every text."""
    font = _font(FONT_PX * scale)
    if font is None:
        return GLYPH_H * scale
    ascent, descent = font.getmetrics()
    return int(ascent + descent)


def text_coverage(text: str, scale: int = 1) -> np.ndarray:
    """Ink coverage in [0, 1] of one line of ``text``: H×W float, H = :func:`line_height`."""
    text = drawable(text, scale)
    font = _font(FONT_PX * scale)
    if font is None:
        return _bitmap_mask(text, scale).astype(np.float64)
    from PIL import Image, ImageDraw  # noqa: PLC0415

    h = line_height(scale)
    w = int(np.ceil(font.getlength(text))) if text else 0
    canvas = Image.new("L", (max(w, 1), h), 0)
    ImageDraw.Draw(canvas).text((0, 0), text, fill=255, font=font)
    return np.asarray(canvas, dtype=np.float64)[:, :w] / 255.0


def text_size(text: str, scale: int = 1) -> tuple[int, int]:
    """(height, width) in pixels of ``text`` drawn on one line."""
    text = drawable(text, scale)
    font = _font(FONT_PX * scale)
    if font is None:
        return GLYPH_H * scale, max(0, len(text) * (GLYPH_W + 1) - 1) * scale
    return line_height(scale), int(np.ceil(font.getlength(text))) if text else 0


def text_mask(text: str, scale: int = 1) -> np.ndarray:
    """Boolean ink mask of ``text`` (one line)."""
    return text_coverage(text, scale) >= 0.5


def _bitmap_mask(text: str, scale: int = 1) -> np.ndarray:
    """The 5×7 bitmap font's ink of ``text`` (capitals; one blank column between glyphs)."""
    h, w = GLYPH_H, max(0, len(text) * (GLYPH_W + 1) - 1)
    mask = np.zeros((h, max(w, 0)), dtype=bool)
    for i, ch in enumerate(text):
        x0 = i * (GLYPH_W + 1)
        mask[:, x0:x0 + GLYPH_W] = glyph(ch)
    if scale > 1:
        mask = np.repeat(np.repeat(mask, scale, axis=0), scale, axis=1)
    return mask


def draw_text(image: np.ndarray, text: str, top: int, left: int, colour=(0, 0, 0),
              scale: int = 1) -> None:
    """Draw ``text`` into an H×W×3 uint8 image in place (anti-aliased: the ink is blended
    with the background by its coverage), clipped at the image's border."""
    cover = text_coverage(text, scale)
    h, w = cover.shape
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + h, image.shape[0]), min(left + w, image.shape[1])
    if y1 <= y0 or x1 <= x0:
        return
    a = cover[y0 - top:y1 - top, x0 - left:x1 - left, None]
    region = image[y0:y1, x0:x1].astype(np.float64)
    ink = np.asarray(colour, dtype=np.float64).reshape(1, 1, -1)
    image[y0:y1, x0:x1] = np.clip(np.round(region * (1 - a) + ink * a), 0, 255).astype(
        image.dtype)
