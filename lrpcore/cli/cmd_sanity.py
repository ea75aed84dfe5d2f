"""``lrp sanity``: does the explanation depend on the model? (Adebayo et al., 2018)"""

from __future__ import annotations

import os
import sys

from ..conventions import RULE_DEFAULT_HELP
from ..fileio import staged_writes
from .common import add_command, check_outputs_free, model_defaults, png_output
from .progress import ProgressBar
from .trust_args import add_model_data, load_inputs, model_path, read_files, target_of, write_csv

EXAMPLE = "lrp sanity mnist-lenet5 mnist-sample --rule EpsilonGammaBox --n 64 --csv --plot"
# exit status of a rule that fails the check: not 1 (an internal error) nor 2 (bad input), so
# a script or CI job can tell "the check ran and the rule failed" from "the check did not run"
CHECK_FAILED = 3


def register(sub):
    p = add_command(
        sub, "sanity", "Cascading model randomisation: does the heatmap depend on the model?",
        EXAMPLE, description=(
            "Randomise the model's weighted layers from the output towards the input, one more "
            "at each step (a copy: the model file is not touched), explain N samples spread "
            "over DATA at every step and compare the heatmaps with the original ones (Spearman "
            "rank correlation and SSIM, medians over the samples). A rule whose heatmaps stay "
            "similar once half of the layers are random fails the check. Exit status: 0 "
            f"when the rule passes, {CHECK_FAILED} when it fails the check (the verdict is "
            "printed either way), 2 on bad input, 1 on an internal error."))
    add_model_data(p, 64)
    p.add_argument("--rule", default=None,
                   help="rule spec, preset, sensitivity or gradxinput; " + RULE_DEFAULT_HELP
                   + ", as for 'lrp explain'")
    p.add_argument("--seed", type=int, default=0, help="seed of the random weights (default 0)")
    p.add_argument("--csv", nargs="?", const="-", default=None, metavar="PATH",
                   help="similarity per step as CSV to PATH (to stdout without a PATH)")
    p.add_argument("--plot", nargs="?", const=True, default=None, metavar="PNG", type=png_output,
                   help="heatmaps of the first samples at every step (default file: "
                   "MODEL-sanity-RULE.png in the current folder)")
    p.set_defaults(func=run)
    return p


def _plot_path(args) -> str | None:
    """--plot alone (const True, not '': an empty name is refused as every option's is)
    takes the default name."""
    if args.plot is None:
        return None
    if args.plot is not True:
        return args.plot
    stem = os.path.splitext(os.path.basename(model_path(args.model)))[0]
    rule = "".join(c if c.isalnum() or c in "-_." else "_" for c in args.rule)
    return f"{stem}-sanity-{rule}.png"


def run(args) -> int:
    from ..insight.pixelflip import check_seed  # noqa: PLC0415
    from ..insight.sanity import cascading_randomisation, csv_text, figure  # noqa: PLC0415
    from ..render.compose import save_png  # noqa: PLC0415
    from .cmd_explain import check_rule_specs, layer_rules_of  # noqa: PLC0415

    check_seed(args.seed)  # before anything is read or computed
    check_rule_specs(args.rule, args.layer_rule)  # before anything is read
    model = None
    if args.rule is None:  # the model's rule, as lrp explain takes it; the plot is named by it
        from ..explain import DEFAULT_RULE  # noqa: PLC0415
        from .map_args import load_scoring_model  # noqa: PLC0415

        model = load_scoring_model(model_path(args.model), "sanity")
        model_defaults(args, model)
        args.rule = args.rule or DEFAULT_RULE  # a toolbox chain's: lrp explain's 'simple'
    plot = _plot_path(args)
    check_outputs_free([None if args.csv in (None, "-") else args.csv, plot], args.overwrite,
                       inputs=read_files(args))
    model, x, labels = load_inputs(args, 64, model)
    layer_rules = layer_rules_of(args.layer_rule, model, args.model) or None
    target = target_of(args, labels, model)
    bar = ProgressBar(1, "randomising", enabled=args.progress)
    try:
        result = cascading_randomisation(model, x, args.rule, target=target, labels=labels,
                                         raw=args.raw, layer_rules=layer_rules,
                                         seed=args.seed, backend=args.backend,
                                         dtype=args.dtype, progress=bar)
    finally:
        bar.close()
    out = sys.stderr if args.csv == "-" else sys.stdout
    written = []
    with staged_writes():  # the CSV and the plot take their names together, or neither
        if args.csv is not None:
            where = write_csv(args.csv, csv_text(result), args.overwrite)
            if where != "stdout":
                written.append(where)
        if plot:
            save_png(plot, figure(result), overwrite=args.overwrite)
            written.append(plot)
    print(f"{result.n} samples, {len(result.steps) - 1} weighted layers randomised from the "
          f"top in {result.seconds:.2f} s", file=out)
    for line in step_lines(result):
        print(line, file=out)
    print(result.verdict(), file=out)
    for path in written:
        print(f"wrote {path}", file=out)
    return 0 if result.passed else CHECK_FAILED


def step_lines(result) -> list[str]:
    """One line per randomisation step, its numbers in one column however many steps (a
    graph model has dozens: "10. top 10 random" pushed them one place right)."""
    from ..insight.sanity import rounded  # noqa: PLC0415

    number = len(str(len(result.steps) - 1))
    label = max([34] + [len(s.label) for s in result.steps])
    return [f"  {k:>{number}}. {s.label:<{label}} Spearman |ρ| "
            f"{rounded(s.spearman_abs_median, 3, 6)}  |SSIM| {rounded(s.ssim_abs_median, 3, 6)}"
            f"{'  similar' if k and s.similar(result.threshold) else ''}"
            for k, s in enumerate(result.steps)]
