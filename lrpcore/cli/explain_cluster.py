"""``lrp explain ... --out R.zarr [--workers N | --scheduler ADDR]``: the Dask path.

Kept apart from cmd_explain so that the default single-process path imports neither dask nor
zarr; this module only turns the command line into a :mod:`lrpcore.distributed` run.
"""

from __future__ import annotations

import sys

from ..errors import RuleError
from .common import parse_target, plural, warn_unreadable

UNSUPPORTED = (("png", "--png"), ("outputs", "--outputs"), ("trace", "--trace"))


def add_cluster_arguments(p) -> None:
    g = p.add_argument_group(
        "cluster (Dask)", "with --out R.zarr the samples are explained in chunks on a Dask "
        "cluster into a Zarr store (relevance, outputs, predictions, provenance); rerunning "
        "the same command continues an interrupted run")
    g.add_argument("--workers", type=int, metavar="N",
                   help="start a local Dask cluster of N worker processes (default 1 with "
                   "--out *.zarr)")
    g.add_argument("--scheduler", metavar="ADDR",
                   help="run on an existing Dask cluster, e.g. tcp://HOST:8786")


def wants_cluster(args) -> bool:
    return bool(getattr(args, "workers", None) or getattr(args, "scheduler", None)
                or str(args.out).rstrip("/").lower().endswith(".zarr"))


def run_cluster(args) -> int:
    from .. import distributed

    if not str(args.out).rstrip("/").lower().endswith(".zarr"):
        raise RuleError("--workers/--scheduler write a Zarr store: give --out NAME.zarr")
    if args.workers is not None and args.scheduler:
        raise RuleError("give either --workers N (a local cluster) or --scheduler ADDR")
    if args.workers is not None and args.workers < 1:
        raise RuleError("--workers must be at least 1")
    most = distributed.max_local_workers()
    if args.workers is not None and args.workers > most:  # each one is a process
        raise RuleError(f"--workers {args.workers}: at most {most} local worker processes on "
                        "this machine (4 per core); for more, start a Dask cluster and give "
                        "--scheduler ADDR")
    for attr, flag in UNSUPPORTED:
        if getattr(args, attr, None):
            raise RuleError(f"{flag} is not available with --out *.zarr (the store holds the "
                            "outputs; draw heatmaps from it with 'lrp render R.zarr --sample "
                            "I' or 'lrp figure R.zarr', or open it in the explorer)")
    if getattr(args, "region", None) is not None:  # it would be dropped without a word
        raise RuleError("--region is not available with --out *.zarr: a cluster run explains "
                        "class scores, not a segmentation model's map (write --out R.npy)")
    import os

    from ..io.image_folder import is_image_file  # noqa: PLC0415
    from ..io.models import load_classifier  # noqa: PLC0415
    from .cmd_explain import layer_rules_of

    model = None
    if (args.rule is None or args.dtype is None or os.path.isdir(args.input)
            or is_image_file(args.input)):  # photographs are fitted to the model
        from .common import model_defaults

        model = load_classifier(args.model)
        model_defaults(args, model)  # the model's rule and dtype, as without a cluster
    loaded = model
    target = parse_target(args.target, model=lambda: loaded or load_classifier(args.model))
    # a folder: fitted to the model; a Zarr array: its chunking checked
    source, found_labels = distributed.open_source(args.input, model)
    warn_unreadable("explain", args.input, source)
    if args.batch_size >= 1:  # before a cluster starts: passes are at most --batch-size
        distributed.check_tasks(args.input, source.shape[0], args.batch_size)
    labels = _labels(args, target, source, found_labels, model)
    loaded = loaded or load_classifier(args.model)
    job_args = {"model": args.model, "backend": args.backend, "dtype": args.dtype,
                "rule": args.rule, "layer_rules": layer_rules_of(args.layer_rule, loaded,
                                                                 args.model),
                "target": target, "raw": bool(args.raw), "batch_size": args.batch_size,
                "source": source}
    _check_rules(loaded, args.rule, job_args["layer_rules"],
                 args.dtype)  # before a cluster is started or reached, not after
    with distributed.layout.run_lock(args.out):  # one run at a time fills a store
        result = _run_on_cluster(args, distributed, job_args, labels)
    if result.diagnosis is not None:
        from .common import print_diagnosis  # noqa: PLC0415

        print_diagnosis(result.diagnosis)
    not_computed = [f for f in result.failed if f.get("not_computed")]
    for f in result.failed:
        if not f.get("not_computed"):
            print(f"lrp explain: chunk {f['chunk']} (samples {f['samples'][0]}.."
                  f"{f['samples'][1]}) failed: {f['error']}", file=sys.stderr)
    if not_computed:  # one line, not thousands: they all stopped for the same reason
        print(f"lrp explain: {plural(len(not_computed), 'more chunk')} "
              f"{not_computed[0]['error']}", file=sys.stderr)
    print(f"explained {plural(result.computed, 'chunk')} of {result.chunks} ({result.skipped} "
          f"already done, {len(result.failed)} failed) in {result.seconds:.3f} s → "
          f"{result.store or args.out}")
    if not result.failed:
        return 0
    bad_input = all(f.get("bad_input") for f in result.failed)
    # a store that could not be written (a full disk) is no fault of the input
    fix = ("fix what the errors above name and " if any(f.get("unwritten") for f in result.failed)
           else "fix the input and ")
    print(f"lrp explain: {args.out} is written when every chunk is done; {result.store} "
          f"keeps the finished ones: {fix if bad_input else ''}rerun the same command",
          file=sys.stderr)
    return 2 if bad_input else 1  # bad input is the user's to fix (exit 2, as elsewhere)


def _run_on_cluster(args, distributed, job_args, labels):
    """Connect (or start a local cluster), fill the store, close the cluster."""
    import os  # noqa: PLC0415

    client, cluster = distributed.connect(args.scheduler, args.workers)
    try:
        return distributed.explain_to_store(
            job_args, args.out, client=client, labels=labels, overwrite=args.overwrite,
            progress=args.progress, log=lambda text: print(text, file=sys.stderr, flush=True))
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the done chunks wait under the partial name
        work = distributed.layout.partial_path(args.out)
        if os.path.isdir(work):
            print(f"lrp explain: the finished chunks are kept in {work} (not a result); rerun "
                  "the same command to finish it", file=sys.stderr)
        raise
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _check_rules(model, rule, layer_rules, dtype) -> None:
    """Refuse a bad --rule or --layer-rule (RuleError) as the single-process path does."""
    from ..explain import Explainer, resolve_rules  # noqa: PLC0415

    resolve_rules(Explainer(model, "numpy", dtype).layers, rule, layer_rules)


def _labels(args, target, source, found_labels, model=None):
    import numpy as np

    from .common import load_labels, no_labels

    n = source.shape[0]
    if args.labels:
        return load_labels(args.labels, n)
    if target == "true":
        if found_labels is None:
            raise no_labels(args.input, model=model)
        return np.asarray(found_labels)
    return None
