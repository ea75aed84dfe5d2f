"""``lrp evaluate``: pixel-flipping curves and AOPC of LRP rules (Samek et al., 2017)."""

from __future__ import annotations

import argparse
import sys
import time

from ..errors import NonFiniteSample, ShapeError
from ..fileio import atomic_write_text, staged_writes
from ..insight.pixelflip import DEFAULTS
from ..targets import CLASS_NAME_HELP
from .common import (
    MODEL_HELP,
    SCORING_FLOAT32,
    add_backend_argument,
    add_command,
    add_dtype_argument,
    add_layer_rule_argument,
    add_progress_arguments,
    add_raw_argument,
    check_outputs_free,
    check_samples_fit,
    labels_help,
    load_labels,
    load_samples,
    model_files,
    no_labels,
    parse_target,
    plural,
    png_output,
    samples_help,
    warn_if_incomplete,
    warn_if_preprocessed,
    warn_unreadable,
)
from .progress import ProgressBar


def register(sub):
    p = add_command(
        sub, "evaluate", "Pixel-flipping evaluation: output curves and AOPC per rule.",
        "lrp evaluate LeNet-5.txt images.npy --rule epsilon:0.01 --rule alphabeta:2 --random "
        "--n 1000 --csv flip.csv --plot flip.png")
    p.add_argument("model", help=MODEL_HELP)
    p.add_argument("input", help=samples_help())
    p.add_argument("--labels", metavar="FILE",
                   help=labels_help("INPUT", "for --target true"))
    add_raw_argument(p)
    p.add_argument("--rule", action="append", default=[], metavar="SPEC",
                   help="rule spec, preset, 'sensitivity' or 'gradxinput' (repeatable; "
                        "default: the model's rule, as for 'lrp explain')")
    add_layer_rule_argument(p)
    p.add_argument("--random", action=argparse.BooleanOptionalAction,
                   default=DEFAULTS["random"],
                   help="add random ordering as a reference (default: on, as in the GUI)")
    p.add_argument("--target", default="pred",
                   help="pred (default), true, a class index or a class "
                   f"name ({CLASS_NAME_HELP})")
    d = DEFAULTS  # the GUI panel's defaults too
    p.add_argument("--steps", type=int, default=d["steps"],
                   help=f"perturbation steps (default {d['steps']})")
    p.add_argument("--patch", type=int, default=None,
                   help="side of the flipped patches (default: single pixels up to 55 "
                   "pixels a side, the side // 28 above, e.g. 8 at 224×224: as the GUI)")
    p.add_argument("--per-step", type=int, default=d["per_step"],
                   help=f"patches flipped per step (default {d['per_step']})")
    p.add_argument("--baseline", choices=["zero", "background", "noise"], default=d["baseline"],
                   help="replacement value: 0 in model units, the model's value of a 0 pixel, "
                        f"or uniform noise over the input range (default {d['baseline']})")
    p.add_argument("--region", choices=["input", "raw"], default=d["region"],
                   help="flip anywhere in the model input, or only in the raw image area "
                        f"(padding excluded; default {d['region']})")
    p.add_argument("--seed", type=int, default=0, help="seed of noise and random order (default 0)")
    p.add_argument("--n", type=int, help="use the first N samples (default: all)")
    p.add_argument("--batch-size", type=int, default=256, metavar="N",
                   help="perturbed inputs per forward pass (default 256)")
    add_backend_argument(p)
    add_dtype_argument(p, "float32", SCORING_FLOAT32)
    p.add_argument("--csv", nargs="?", const="-", default=None, metavar="PATH",
                   help="the curves as CSV (rule, step, flipped, mean output, AOPC up to that "
                        "step) to PATH, or to stdout without a PATH (the summary then goes "
                        "to stderr); without --csv only the AOPC summary is printed")
    p.add_argument("--plot", type=png_output, help="output PNG with the mean curves")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    add_progress_arguments(p)
    p.set_defaults(func=run)
    return p


def csv_text(results) -> str:
    lines = ["rule,step,flipped,mean_output,aopc"]
    for res in results:
        label = res.label.replace('"', "'")
        running = res.running_aopc()
        for k, (flipped, mean) in enumerate(zip(res.flipped, res.mean_curve, strict=True)):
            lines.append(f'"{label}",{k},{int(flipped)},{mean:.10g},{running[k]:.10g}')
    return "\n".join(lines) + "\n"


def _write_outputs(args, results) -> list:
    """The CSV and the plot, both or neither (earlier files at those names stay as they were
    when either fails: :func:`lrpcore.fileio.staged_writes`); returns the files written."""
    written = []
    with staged_writes():
        if args.csv not in (None, "-"):
            atomic_write_text(args.csv, csv_text(results), overwrite=args.overwrite)
            written.append(args.csv)
        if args.plot:
            from ..insight.plot import curve_plot  # noqa: PLC0415
            from ..render.compose import save_png  # noqa: PLC0415

            save_png(args.plot, curve_plot(results), overwrite=args.overwrite)
            written.append(args.plot)
    return written


def run(args) -> int:
    from ..insight.pixelflip import check_seed, evaluate_methods  # noqa: PLC0415
    from .cmd_explain import check_rule_specs, layer_rules_of  # noqa: PLC0415
    from .map_args import load_scoring_model  # noqa: PLC0415

    check_seed(args.seed)  # before anything is read or computed
    check_rule_specs(args.rule, args.layer_rule)  # before anything is read
    # --csv x.npy --overwrite replaced the samples it evaluates (lrp explain refuses it)
    check_outputs_free([None if args.csv in (None, "-") else args.csv, args.plot],
                       args.overwrite, inputs=[args.input, args.labels, *model_files(args.model)])
    if args.n is not None and args.n < 1:
        raise ShapeError(f"--n must be ≥ 1, got {args.n}")
    model = load_scoring_model(args.model, "evaluate")
    layer_rules = layer_rules_of(args.layer_rule, model, args.model) or None
    if not args.rule:  # AOPC of random order alone compares nothing: the model's rule
        from ..conventions import convention_of, recommended_rule  # noqa: PLC0415

        args.rule = [recommended_rule(model) or convention_of(model).command_rule]
    x, labels = load_samples(args.input, model=model)
    warn_unreadable("evaluate", args.input, x)
    # before the hints about these samples, as lrp explain does: a warning that their
    # values exceed a sequence model's range came before "samples … do not fit the model"
    check_samples_fit(args.input, model, x, raw=args.raw)
    if not args.raw:
        warn_if_preprocessed("evaluate", args.input, x, model, args.dtype)
    warn_if_incomplete("evaluate", args.model, model, x)
    if args.labels:
        labels = load_labels(args.labels, len(x), model.n_classes)
    if args.n is not None:
        x = x[:args.n]
        labels = None if labels is None else labels[:args.n]
    target = parse_target(args.target, words=("pred", "true"), model=model)
    if target == "true" and labels is None:
        raise no_labels(args.input, model=model)
    bar = ProgressBar(len(x), "evaluating", enabled=args.progress)
    start = time.perf_counter()
    try:
        results = evaluate_methods(
            model, x, args.rule, target=target, labels=labels, raw=args.raw, random=args.random,
            steps=args.steps, patch=args.patch, per_step=args.per_step, baseline=args.baseline,
            region=args.region, seed=args.seed, batch_size=args.batch_size,
            backend=args.backend, dtype=args.dtype, progress=bar, layer_rules=layer_rules)
    except NonFiniteSample as exc:  # all samples are prepared at once: numbered in the file
        raise exc.at(source=args.input) from None
    except ShapeError as exc:
        raise ShapeError(f"{args.input}: {exc}") from None
    finally:
        bar.close()
    seconds = time.perf_counter() - start
    written = _write_outputs(args, results)
    out = sys.stdout
    if args.csv == "-":  # the CSV alone on stdout, as lrp sweep and lrp sanity write it
        sys.stdout.write(csv_text(results))
        sys.stdout.flush()
        out = sys.stderr
    n = results[0].outputs.shape[0]
    steps = results[0].flipped.size - 1
    unit = results[0].unit
    many = args.per_step != 1  # "100 steps of 1 pixel", "50 steps of 16 8×8 patches"
    units = ("pixels" if many else "pixel") if unit == 1 else \
        f"{unit}×{unit} {'patches' if many else 'patch'}"
    curves = plural(len(results), "curve")
    print(f"{plural(n, 'sample')} × {plural(steps, 'step')} of {args.per_step} {units}, "
          f"{curves} in {seconds:.1f} s", file=out)
    print("AOPC (higher = the ordering finds what the model needs):", file=out)
    ranked = sorted(results, key=lambda r: -r.aopc)
    width = len(str(len(ranked)))  # "10. random" stood one place right of "9. flat"
    for rank, res in enumerate(ranked, 1):
        print(f"  {rank:>{width}}. {res.label:<40} {res.aopc:.6g}", file=out)
    for path in written:  # as lrp sweep and lrp sanity say where their files went
        print(f"wrote {path}", file=out)
    return 0
