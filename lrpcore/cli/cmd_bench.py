"""``lrp bench``: how fast the engine explains, against the machine's arithmetic floor."""

from __future__ import annotations

import json
import sys

from ..errors import LRPError, RuleError
from .common import (
    DTYPES,
    add_backend_argument,
    add_command,
    check_outputs_free,
    model_files,
)

DEFAULTS = {"batch_sizes": "1,16,64,256", "repeat": 7}
QUICK = {"batch_sizes": "1,16", "repeat": 3}  # --quick, for what is not given explicitly


def _csv(text, cast=str, option=None):
    """The values of a comma-separated list; with ``option``, an empty list is refused (an
    empty --rules was an internal error, empty --models or --dtypes timed nothing) and an
    unreadable one is refused naming it."""
    try:
        items = tuple(cast(t.strip()) for t in text.split(",") if t.strip())
    except ValueError:
        raise RuleError(f"{option or 'list'} {text!r}: give whole numbers ≥ 1 separated by "
                        "commas") from None
    if option is not None and not items:
        raise RuleError(f"{option} {text!r}: give at least one value")
    return items


def register(sub):
    p = add_command(sub, "bench", "Benchmark forward and LRP speed (LeNet-5, long-rect; "
                    "graph models: resnet, efficientnet-lite0).",
                    "lrp bench --batch-sizes 1,256 --dtypes float32",
                    description="Times the forward pass and each LRP rule for the toolbox's "
                    "LeNet-5 and its 784-1296-1296-1296-10 'long-rect' network (random "
                    "weights), reports heatmaps per second, peak extra memory, and the "
                    "arithmetic floor: forward + one backward multiply-adds divided by the "
                    "matrix-multiply rate measured in the same run. '×floor' is (forward + "
                    "first rule) / floor. --models resnet,efficientnet-lite0 time the graph "
                    "engine on those architectures (random weights; e.g. --batch-sizes 1,16 "
                    "--rules EpsilonPlus).")
    from ..bench import BENCH_MODELS  # noqa: PLC0415

    p.add_argument("--models", default="lenet5,long-rect", metavar="M1,M2,...",
                   help="comma-separated architectures to time, of "
                   f"{', '.join(BENCH_MODELS)} (random weights), or model files or bundled "
                   "models' names as 'lrp explain' takes them (e.g. my_net.onnx, "
                   "mnist-lenet5); default lenet5,long-rect")
    p.add_argument("--batch-sizes", metavar="N1,N2,...",
                   help="comma-separated samples per pass (default 1,16,64,256; --quick: 1,16)")
    p.add_argument("--dtypes", default="float64,float32", metavar="D1,D2,...",
                   help="comma-separated precisions, float64 and/or float32 (default both)")
    p.add_argument("--rules", default="epsilon:0.01,alphabeta:2,EpsilonPlus,EpsilonGammaBox",
                   metavar="R1,R2,...",
                   help="comma-separated rule specs or presets, as --rule of 'lrp explain' "
                   "takes them; the first is the one '×floor' uses (default "
                   "epsilon:0.01,alphabeta:2,EpsilonPlus,EpsilonGammaBox)")
    add_backend_argument(p, help_text="numpy (CPU), cupy (GPU) or auto: the GPU when one is "
                         "usable (default auto)")
    p.add_argument("--repeat", type=int,
                   help="timings per figure, their median shown (default 7; --quick: 3)")
    p.add_argument("--quick", action="store_true",
                   help="batch sizes 1 and 16, 3 repeats (--batch-sizes and --repeat given "
                   "with it are kept)")
    p.add_argument("--concepts", action="store_true",
                   help="instead: time SpRAy (one class, all 5,000 digits) and RelMax "
                   "references over the MNIST sample on the bundled LeNet-5")
    p.add_argument("--trust", action="store_true",
                   help="instead: time a 5 × 3 EpsilonGammaBox sweep (256 samples, 100 "
                   "flipping steps) and a cascading randomisation (64 samples) on LeNet-5")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..backend import get_dtype
    from ..bench import (
        BENCH_MODELS,
        OVERHEAD_NOTE,
        bench_model,
        format_header,
        format_row,
        run_benchmark,
    )
    from ..fileio import atomic_write_text
    from ..presets import preset_or_none
    from ..rules import parse_rule

    if args.concepts or args.trust:
        return _run_concepts(args)
    models = _csv(args.models, option="--models")
    for m in models:  # a file that does not open is refused before any timing
        if m not in BENCH_MODELS:
            bench_model(m)
    rules = _csv(args.rules, option="--rules")
    for r in rules:
        if preset_or_none(r) is None:
            parse_rule(r)
    quick = QUICK if args.quick else DEFAULTS  # what is given explicitly wins over --quick
    sizes = quick["batch_sizes"] if args.batch_sizes is None else args.batch_sizes
    batches = _csv(sizes, int, "--batch-sizes")
    if not batches or min(batches) < 1:
        raise RuleError(f"--batch-sizes {sizes!r}: give whole numbers ≥ 1")
    dtypes = _csv(args.dtypes, option="--dtypes")
    for dtype in dtypes:
        try:
            get_dtype(dtype)
        except LRPError:  # it named no option ("unsupported dtype float16")
            raise RuleError(f"--dtypes {args.dtypes!r}: {dtype} is no precision the engine "
                            f"computes in: choose from {', '.join(DTYPES)}") from None
    if args.json:  # fail before minutes of timing; never over a model file it times
        check_outputs_free([args.json], args.overwrite,
                           inputs=[f for m in models if m not in BENCH_MODELS
                                   for f in model_files(m)])
    repeat = quick["repeat"] if args.repeat is None else args.repeat
    if repeat < 1:  # max(1, …) used to turn 0 into one quiet timing
        raise RuleError(f"--repeat {repeat}: give a whole number ≥ 1")
    _note_busy_cores(args.backend)
    print(format_header(rules))
    rows, rates = run_benchmark(models, batches, dtypes, rules, args.backend, repeat,
                                report=lambda row: print(format_row(row), flush=True))
    for dtype, rate in rates.items():
        print(f"matmul rate ({dtype}): {rate / 1e9:.1f} G multiply-adds/s")
    if any(r.overhead_bound for r in rows):
        print(OVERHEAD_NOTE)
    if args.json:
        data = {"rates": rates, "rows": [dict(vars(r), times_floor=r.times_floor,
                                              overhead_bound=r.overhead_bound) for r in rows]}
        atomic_write_text(args.json, json.dumps(data, indent=1), overwrite=args.overwrite)
    return 0


def _note_busy_cores(backend):
    """Say when other processes hold cores: passes then stay on the free ones
    (lrpcore.cpu_load), and the figures measure the contention, not the engine."""
    from ..backend import get_backend  # noqa: PLC0415
    from ..cpu_load import usable_cores  # noqa: PLC0415
    from ..parallel import cpu_count  # noqa: PLC0415

    total, free = cpu_count(), usable_cores()
    if free < total and get_backend(backend).name == "numpy":
        print(f"note: other processes are using about {total - free} of the {total} cores: "
              "single passes run on the free ones and these figures measure that contention "
              "(LRP_IGNORE_CPU_LOAD=1 splits them anyway)", file=sys.stderr)


def _run_concepts(args) -> int:
    """--concepts and/or --trust: the dataset-wide analyses (lrpcore.bench_concepts)."""
    from ..bench_concepts import format_concepts_row, run_concepts_benchmark, run_trust_benchmark
    from ..fileio import atomic_write_text

    if args.json:
        check_outputs_free([args.json], args.overwrite)
    rows = []
    report = lambda row: print(format_concepts_row(row), flush=True)  # noqa: E731
    if args.concepts:
        rows += run_concepts_benchmark(args.backend, report=report)
    if args.trust:
        rows += run_trust_benchmark(args.backend, report=report)
    if args.json:
        data = [dict(vars(r), total=r.total) for r in rows]
        atomic_write_text(args.json, json.dumps(data, indent=1), overwrite=args.overwrite)
    return 0
