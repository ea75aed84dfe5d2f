"""``lrp figure``: a titled grid of saved relevance maps (samples × colormaps) as one PNG."""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..export import check_figure_size, export_figure
from ..render import TOOLBOX_COLORMAPS, default_scaling
from .cmd_render import add_render_options, note_inputs_left_out
from .common import (
    add_command,
    check_png_out,
    check_png_out_of,
    check_sigma,
    plural,
    warn_unreadable,
)

EXAMPLE = ("lrp figure R.npy --input digits.npy --colormap black-firered --colormap "
           "gray-red --index 0 --index 1 --out figure.png")


def register(sub):
    p = add_command(sub, "figure", "Draw a titled grid of heatmaps (samples × colormaps).",
                    EXAMPLE, description=(
                        "Draw saved relevance maps as one PNG figure: one row per sample "
                        "(the input first, with --input), one column per colormap, with "
                        "titles. Without --colormap, the LRP Toolbox's five maps are used."))
    add_render_options(p)
    p.add_argument("--colormap", action="append", metavar="NAME",
                   help="a column's colormap (repeatable; default: the toolbox's five)")
    p.add_argument("--index", "--sample", action="append", type=int, metavar="I", dest="index",
                   help="a sample to show, numbered from 0 (repeatable; default: the "
                   "first --max-rows)")
    p.add_argument("--max-rows", type=int, default=8, metavar="N",
                   help="rows shown when no --index is given (default 8)")
    p.set_defaults(func=run)


def run(args) -> int:
    from .render_sources import RelevanceFile, fitted_inputs  # noqa: PLC0415

    check_sigma(args.sigma)
    check_png_out(args)
    source = RelevanceFile(args.relevance)
    if args.index:
        indices = list(args.index)
    else:
        if args.max_rows < 1:
            raise ShapeError(f"--max-rows must be at least 1, got {args.max_rows}")
        indices = source.default_indices(args.max_rows)
    cmaps = args.colormap or list(TOOLBOX_COLORMAPS)
    first = source.maps(indices[:1])[0]  # a sample out of range is refused as any other row
    if args.scaling is None:
        args.scaling = default_scaling(first)  # as lrp render and the explorer draw it
    try:  # before the other maps are read: each cell costs memory
        columns = len(cmaps) + bool(args.input or source.default_input)
        check_figure_size(len(indices), columns, first, args.scaling)
    except ShapeError as exc:
        raise ShapeError(f"{args.relevance}: {exc} (--index/--max-rows, --colormap, "
                         "--scaling)") from None
    maps = source.maps(indices)
    inputs, xs = fitted_inputs(args.input, source, indices, maps)
    if inputs is not None:
        warn_unreadable("figure", inputs.path, inputs.data)
    check_png_out_of(args, inputs)
    note_inputs_left_out("figure", args.relevance, source)
    info = {**source.provenance(), "input_file": None if inputs is None else inputs.where,
            **source.row_fields(indices)}
    rows = [source.row_title(i, inputs) for i in indices]
    path = export_figure(args.out, _stack(maps, args.relevance), _stack(xs, args.input),
                         cmaps, indices=indices, outline=args.outline, scaling=args.scaling,
                         sigma=args.sigma, info=info, overwrite=args.overwrite,
                         row_titles=rows, samples=[source.input_index(i) for i in indices])
    print(f"wrote {path} ({source.rows_text(len(indices))} × "
          f"{plural(len(cmaps), 'colormap')})")
    return 0


def _stack(items, path):
    if items is None:
        return None
    shapes = {a.shape for a in items}
    if len(shapes) != 1:
        raise ShapeError(f"{path}: the chosen samples have different shapes {sorted(shapes)}")
    return np.stack(items)
