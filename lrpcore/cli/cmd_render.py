"""``lrp render``: re-render a saved relevance map as a PNG, no model needed.

Also holds the helpers ``lrp figure`` shares: reading relevance and input arrays of any
common layout, scaling inputs to [0, 1] and fitting raw images to padded model inputs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

from ..errors import ShapeError
from ..export import export_heatmap, export_input_heatmap, sha256_file
from ..render import DEFAULT_COLORMAP, colormap_names
from ..spec import span_fraction
from .common import (
    SCALING_HELP,
    add_command,
    check_png_out,
    check_png_out_of,
    check_sigma,
    png_output,
    scaling_option,
    warn_unreadable,
)

EXAMPLE = ("lrp render R.npy --input digits.npy --index 3 --colormap black-firered "
           "--out heatmap3.png")


def add_render_options(p, scaling_help=SCALING_HELP):
    """Options shared by render and figure; without --scaling both follow their maps' size
    (:func:`lrpcore.render.default_scaling`)."""
    p.add_argument("relevance", help="relevance: a .npy (one map, H×W[×C] or a square vector, "
                   "or a batch, N×H×W×C, N×H×W, N×D), an .npz (its one array, the one named "
                   "'relevance', or FILE.npz:NAME) or a relevance store R.zarr of 'lrp "
                   "explain'")
    p.add_argument("--input", metavar="X",
                   help="the inputs: a .npy (raw uint8 images, or floats in [0, 1] or "
                   "[-1, 1]) or a dataset (mnist-sample, mnist-test, IDX, .npz, .mat, an "
                   "image folder); shown beside the heatmap and outlined on it (default: the "
                   "dataset the relevance came from, as an R.zarr or the file's sidecar "
                   "names it, when it opens and fits)")
    p.add_argument("--out", required=True, metavar="FILE.png", type=png_output,
                   help="PNG to write")
    p.add_argument("--scaling", type=scaling_option, default=None, metavar="K",
                   help=scaling_help)
    p.add_argument("--outline", action=argparse.BooleanOptionalAction, default=True,
                   help="draw the input's edges (Canny) on the heatmap, black for digits and "
                   "light grey for photographs (default: on, where the inputs are known: "
                   "--input or its default)")
    p.add_argument("--sigma", type=float, default=None, metavar="S",
                   help="smoothing of the edge detector, in enlarged pixels (default: 2 for "
                   "digits, 3 for photographs)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")


def register(sub):
    p = add_command(sub, "render", "Render a saved relevance map as a PNG heatmap.", EXAMPLE,
                    description=(
                        "Render a relevance map saved by 'lrp explain' (a .npy, .npz or "
                        "R.zarr) as a PNG heatmap, without recomputing it: pick the "
                        "colormap, the enlargement and the outline of the input. With "
                        "--side-by-side the PNG shows the input, a 2-pixel black gap and the "
                        "heatmap, as the LRP Toolbox does. A JSON sidecar FILE.png.json "
                        "records where it came from. Colormaps: "
                        + ", ".join(colormap_names()) + " (and matplotlib's, if installed)."))
    add_render_options(p)
    p.add_argument("--colormap", default=DEFAULT_COLORMAP, metavar="NAME",
                   help=f"colormap (default {DEFAULT_COLORMAP}, as in the explorer)")
    p.add_argument("--index", "--sample", type=int, metavar="I", dest="index",
                   help="which sample of a batch or store to render, numbered from 0 "
                   "(default: the first; a "
                   "single map whose sidecar names its sample, e.g. relevance_3.npy of 'lrp "
                   "demo', is that sample)")
    p.add_argument("--side-by-side", action="store_true",
                   help="put the input left of the heatmap (toolbox layout; needs the inputs: "
                   "--input or its default)")
    p.set_defaults(func=run)


# --- reading arrays ----------------------------------------------------------------------
def as_batch(a: np.ndarray, path) -> np.ndarray:
    """Samples along axis 0, whatever layout a relevance or input file has.

    One sample: a square vector, H×W, or H×W×C with C ≤ 4. Batches: N×D (D a square, N ≠ D),
    N×H×W (last axis > 4), N×H×W×C, and N×C×H×W (C ≤ 4 < W: what ``lrp explain`` writes for
    a PyTorch-layout model), turned to N×H×W×C.
    """
    if a.ndim == 0 or a.size == 0:
        raise ShapeError(f"{path}: empty or scalar array (shape {a.shape})")
    if a.ndim == 1:
        return a[None]
    if a.ndim == 2:
        side = int(round(a.shape[1] ** 0.5))
        flat_batch = side * side == a.shape[1] and a.shape[0] != a.shape[1] and side > 1
        return a if flat_batch else a[None]
    if a.ndim == 3:
        return a[None] if a.shape[2] <= 4 else a
    if a.ndim == 4:
        if a.shape[1] <= 4 < a.shape[3]:  # channels first
            return np.ascontiguousarray(a.transpose(0, 2, 3, 1))
        return a
    raise ShapeError(f"{path}: cannot read maps from an array of shape {a.shape}")


def to_unit(x: np.ndarray) -> np.ndarray:
    """Inputs scaled to [0, 1]: uint8 (or 0..255 values) / 255, [-1, 1] → (x + 1)/2."""
    xf = x.astype(np.float64)
    lo, hi = (float(xf.min()), float(xf.max())) if xf.size else (0.0, 1.0)
    if x.dtype == np.uint8 or (hi > 1.0 and lo >= 0.0 and hi <= 255.0):
        return xf / 255.0
    if lo < 0.0 and lo >= -1.0 and hi <= 1.0:
        return (xf + 1.0) / 2.0
    if lo < 0.0 or hi > 1.0:
        return span_fraction(xf, lo, hi)
    return xf


def _hw(sample: np.ndarray) -> tuple[int, int]:
    if sample.ndim == 1:
        side = int(round(sample.size ** 0.5))
        return side, side
    return sample.shape[0], sample.shape[1]


# the widest border fit_input pads around an input, as a share of its side: a model pads its
# raw input by a few pixels (LeNet-5: 28 → 32); a 280×280 map over a 28×28 digit was drawn
# with the digit a speck in its middle
MAX_BORDER = 0.25


def fit_input(x: np.ndarray, r: np.ndarray, x_path, r_path) -> np.ndarray:
    """One input sample in the relevance map's H×W: a raw image smaller by an even margin (at
    most MAX_BORDER of its side on each side) is centred on a zero (background) border, as
    the toolbox pads MNIST digits for LeNet-5."""
    if x.ndim == 1:
        side = int(round(x.size ** 0.5))
        if side * side != x.size:
            raise ShapeError(f"{x_path}: an input of {x.size} values is not a square image")
        x = x.reshape(side, side)
    (xh, xw), (rh, rw) = _hw(x), _hw(r)
    if (xh, xw) == (rh, rw):
        return x
    dh, dw = rh - xh, rw - xw
    why = ""
    if dh >= 0 and dw >= 0 and dh % 2 == 0 and dw % 2 == 0:
        if dh // 2 <= xh * MAX_BORDER and dw // 2 <= xw * MAX_BORDER:
            pad = [(dh // 2, dh // 2), (dw // 2, dw // 2)] + [(0, 0)] * (x.ndim - 2)
            return np.pad(x, pad)
        why = (f" (the maps are far larger: a border of {max(dh, dw) // 2} pixels around the "
               "input is no model's padding)")
    raise ShapeError(f"{x_path}: inputs of {xh}×{xw} pixels do not fit the {rh}×{rw} maps "
                     f"of {r_path}{why}")


SIDECAR_MAX_BYTES = 16 << 20  # a relevance sidecar is a few KB; more is not one


def provenance(r_path, x_path) -> dict:
    """Sidecar facts of a re-render: the source files, and the relevance's own sidecar."""
    info = {"relevance_file": os.path.abspath(r_path), "relevance_sha256": sha256_file(r_path),
            "input_file": None if x_path is None else os.path.abspath(x_path)}
    side = os.fspath(r_path) + ".json"
    if os.path.isfile(side):
        try:  # a crafted sidecar (huge, or nested 10^5 deep) is noted, never fatal
            if os.path.getsize(side) > SIDECAR_MAX_BYTES:
                raise ValueError(f"larger than {SIDECAR_MAX_BYTES >> 20} MB")
            with open(side, encoding="utf-8") as fh:
                info["relevance_sidecar"] = json.load(fh)
        except (OSError, ValueError, RecursionError) as exc:
            info["relevance_sidecar_error"] = f"{side}: unreadable ({str(exc)[:200]})"
    return info


def note_inputs_left_out(command, path, source) -> None:
    """One line on stderr when the inputs the maps' sidecar or store names could not be
    read: the heatmap is then drawn without them (no input panel, no outline)."""
    if source.default_input_problem:
        from ..text import printable_line  # noqa: PLC0415

        print(f"lrp {command}: note: {printable_line(os.fspath(path))}: "
              f"{printable_line(source.default_input_problem)}; drawn without them (give --input)",
              file=sys.stderr)


def run(args) -> int:
    from .render_sources import RelevanceFile, fitted_inputs  # noqa: PLC0415

    check_sigma(args.sigma)
    check_png_out(args)
    source = RelevanceFile(args.relevance)
    if args.index is None:
        args.index = source.default_indices(1)[0]
    r = source.maps([args.index])[0]
    inputs, xs = fitted_inputs(args.input, source, [args.index], [r])
    if inputs is not None:
        warn_unreadable("render", inputs.path, inputs.data)
    check_png_out_of(args, inputs)
    x = None if xs is None else xs[0]
    if x is None and args.side_by_side:
        problem = source.default_input_problem
        raise ShapeError("--side-by-side needs --input" + (
            f": {args.relevance}: {problem}" if problem else ""))
    note_inputs_left_out("render", args.relevance, source)
    info = {**source.provenance(), "input_file": None if inputs is None else inputs.where,
            "sample": source.input_index(args.index)}
    common = dict(cmap=args.colormap, outline=args.outline, scaling=args.scaling,
                  sigma=args.sigma, info=info, overwrite=args.overwrite)
    if args.side_by_side:
        path = export_input_heatmap(args.out, r, x, **common)
    else:
        path = export_heatmap(args.out, r, x, **common)
    print(f"wrote {path}")
    return 0
