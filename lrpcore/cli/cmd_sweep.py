"""``lrp sweep``: a rule's or preset's parameter grid ranked by pixel-flipping faithfulness."""

from __future__ import annotations

import sys

from .common import add_command, check_outputs_free, plural
from .progress import ProgressBar
from .trust_args import add_model_data, load_inputs, read_files, target_of, write_csv

EXAMPLE = ("lrp sweep mnist-lenet5 mnist-sample --rule EpsilonGammaBox "
           "--param gamma=0,0.1,0.25,0.5,1 --n 256 --csv")


def register(sub):
    p = add_command(
        sub, "sweep", "Rank a rule's parameter settings by faithfulness (pixel-flipping).",
        EXAMPLE, description=(
            "Explain N samples spread over DATA with every setting of the rule's parameters "
            "(ε, γ, α; default grids when no --param is given), score each by pixel-flipping "
            "(area between the least- and most-relevant-first curves: higher is better) and "
            "list them best first. Presets vary the parameter on all layers or on a layer "
            "group (--group first/middle/last) and print the --layer-rule options of each "
            "setting."))
    add_model_data(p, 256)
    p.add_argument("--rule", required=True, help="rule spec or preset to sweep")
    p.add_argument("--param", action="append", default=[], metavar="NAME=V1,V2,...",
                   help="values of one parameter (epsilon, gamma, alpha); repeatable: the grid "
                   "is their product")
    p.add_argument("--group", action="append", default=None,
                   choices=["all", "first", "middle", "last"],
                   help="layers whose parameters vary (repeatable; default all)")
    p.add_argument("--steps", type=int, default=100, help="flipping steps (default 100)")
    p.add_argument("--per-step", type=int, default=None,
                   help="pixels flipped per step (default: all pixels over the steps)")
    p.add_argument("--baseline", choices=["zero", "background", "noise"], default="background",
                   help="value of a flipped pixel (default: the model's value of a black pixel)")
    p.add_argument("--seed", type=int, default=0, help="seed of the noise baseline (default 0)")
    p.add_argument("--csv", nargs="?", const="-", default=None, metavar="PATH",
                   help="write the ranking as CSV to PATH (to stdout without a PATH)")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    from ..insight.params import parse_values  # noqa: PLC0415
    from ..insight.pixelflip import check_seed  # noqa: PLC0415
    from ..insight.sweep import csv_text, run_sweep  # noqa: PLC0415
    from .cmd_explain import check_rule_specs, layer_rules_of  # noqa: PLC0415

    check_seed(args.seed)  # before anything is read or computed
    params = dict(parse_values(t) for t in args.param) or None
    check_rule_specs(args.rule, args.layer_rule)  # before anything is read
    if args.csv not in (None, "-"):
        check_outputs_free([args.csv], args.overwrite, inputs=read_files(args))
    model, x, labels = load_inputs(args, 256)
    layer_rules = layer_rules_of(args.layer_rule, model, args.model) or None
    target = target_of(args, labels, model)
    bar = ProgressBar(1, "sweeping", enabled=args.progress)
    try:
        result = run_sweep(model, x, args.rule, params=params,
                           groups=tuple(args.group or ["all"]),
                           layer_rules=layer_rules,
                           target=target, labels=labels,
                           raw=args.raw, steps=args.steps, per_step=args.per_step,
                           baseline=args.baseline, seed=args.seed, backend=args.backend,
                           dtype=args.dtype, progress=bar)
    finally:
        bar.close()
    out = sys.stderr if args.csv == "-" else sys.stdout
    if args.csv is not None:
        where = write_csv(args.csv, csv_text(result), args.overwrite)
        if where != "stdout":
            print(f"wrote {where}", file=out)
    print(f"{plural(len(result.rows), 'setting')} × {plural(result.n, 'sample')} × "
          f"{plural(result.steps, 'step')} ({plural(result.per_step, 'pixel')} each) in "
          f"{result.seconds:.1f} s; faithfulness = "
          "AOPC(MoRF) − AOPC(LeRF), higher is better", file=out)
    for rank, row in enumerate(result.rows, 1):
        mark = ("  ⚠ relevance not finite" if not row.finite else
                "" if row.diagnosis.ok else "  ⚠ not conserved")
        print(f"  {rank:2d}. {row.label:<44} {row.score:9.4g}{mark}", file=out)
    if result.best is None:
        print(f"no best: no setting gives finite relevance in {args.dtype} (a stabiliser "
              "too small for it, or too large: choose other values, or --dtype float64)",
              file=out)
        return 0
    scores = [row.score for row in result.rows if row.finite]
    if len(scores) > 1 and max(scores) - min(scores) <= 1e-9 * max(1.0, *map(abs, scores)):
        # blank samples: every ordering flips pixels that change nothing, so every setting
        # scores alike and the first was named best by the order of the grid; or settings
        # that only scale the heatmaps (ε of a last dense layer alone): the same ordering
        print(f"no best: every setting scores {scores[0]:.4g}; they flip these samples' pixels "
              "in the same order (settings that only scale the heatmaps, such as ε of the "
              "last layer alone), or flipping changes the outputs alike whatever the "
              "heatmap (blank or constant images?)", file=out)
        return 0
    best = result.best.setting
    names = getattr(model.analysis_layers(), "names", None)  # a graph's node names
    print(f"best: {best.cli_args(names)}", file=out)
    return 0
