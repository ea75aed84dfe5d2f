"""``lrp explain``: relevance of a batch of samples, written as ``.npy`` (and optionally PNG)."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time

import numpy as np

from ..batch_export import export_explained, sample_classes
from ..conventions import DEFAULTS_HELP
from ..errors import ExportError, NonFiniteSample, RuleError, ShapeError
from ..explain import Explainer, check_finite_outputs, host_trace, resolve_rules
from ..fileio import atomic_npy_memmap, atomic_save_npy, staged_writes, within
from ..graph import LAYER_KEY_HELP
from ..insight.conservation import conservation_from_trace, format_conservation
from ..insight.diagnose import Accumulator, sample_activations
from ..io.image_folder import IMAGE_EXTENSIONS
from ..map_targets import declared_outputs
from ..render import DEFAULT_COLORMAP, check_scaling, get_colormap
from ..rules import RULES
from ..targets import CLASS_NAME_HELP
from ..text import is_digits, printable_line
from .common import (
    MODEL_HELP,
    SCALING_HELP,
    DatasetArray,
    add_backend_argument,
    add_command,
    add_dtype_argument,
    add_progress_arguments,
    add_raw_argument,
    check_outputs_free,
    labels_help,
    load_labels,
    load_samples,
    model_defaults,
    plural,
    print_diagnosis,
    refuse_shadowing,
    refuse_undrawable,
    remove_quietly,
    remove_with_sidecars,
    samples_help,
    scaling_option,
    warn_if_incomplete,
    warn_if_preprocessed,
    warn_unreadable,
)
from .map_args import MAP_TARGET_HELP, add_region_argument, read_target, region_field
from .progress import ProgressBar

EXAMPLE = ("lrp explain mnist-lenet5 digits.npy --out R.npy --rule epsilon:0.01 "
           "--layer-rule 0=flat --target pred --png heatmaps/ --colormap black-firered\n"
           "  lrp explain resnet.onnx x.npy --raw --out R.npy --rule EpsilonPlus "
           "--layer-rule 'layer1.*=alphabeta:2' --layer-rule '/layer1/Add=epsilon:0.01'")


def register(sub):
    p = add_command(sub, "explain", "Explain samples with LRP and save the relevance.", EXAMPLE,
                    description=(
                        "Explain the samples of INPUT (an array file, any dataset file lrp "
                        "opens, a folder of images or a built-in dataset name) with Layer-wise "
                        "Relevance Propagation. Without --raw, INPUT holds raw images (e.g. "
                        "uint8 MNIST digits, N×784 or N×28×28, or photographs, resized and "
                        "cropped as the model's input specification says) that the model's "
                        "preprocessing turns into its input; with --raw, INPUT is fed exactly "
                        "as stored. The relevance is "
                        "saved with the shape of the fed input. A toolbox model's SoftMax output "
                        "layer is dropped before explaining; an ONNX model's Softmax is kept "
                        "(its probabilities explained, as zennit does)."))
    p.add_argument("model", help=MODEL_HELP)
    p.add_argument("input", help=samples_help())
    p.add_argument("--out", required=True,
                   help="where to write the relevance: R.npy, or R.zarr for a Dask cluster "
                   "(see below)")
    p.add_argument("--rule", default=None,
                   help="rule spec or preset: "
                   + ", ".join(cls.usage() for cls in RULES.values())
                   + ", or a preset name (see 'lrp rules'); " + DEFAULTS_HELP)
    p.add_argument("--layer-rule", action="append", default=[], metavar="KEY=SPEC",
                   help="rule for one layer or node, repeatable. " + LAYER_KEY_HELP)
    p.add_argument("--target", default="pred",
                   help="pred (predicted class, default), true (the dataset's labels or --labels), "
                   "output (the whole output vector), a class index or a class name "
                   f"({CLASS_NAME_HELP})" + MAP_TARGET_HELP)
    add_region_argument(p)
    p.add_argument("--labels", metavar="FILE",
                   help=labels_help("INPUT", "for --target true"))
    add_raw_argument(p)
    p.add_argument("--outputs", metavar="Y.npy",
                   help="also write the model outputs: the scores explained (a toolbox "
                   "model's before its SoftMax; an ONNX model's Softmax probabilities, as it "
                   "is kept)")
    add_backend_argument(p)
    add_dtype_argument(p)
    p.add_argument("--batch-size", type=int, default=256, metavar="N",
                   help="samples per forward/backward pass (default 256; on the CPU a pass "
                   "holds at most 64 MB of activations, so larger values change nothing)")
    p.add_argument("--png", metavar="DIR",
                   help="also write heatmap PNGs into DIR: heatmap_I_CMAP.png (input | heatmap "
                   "of sample I of INPUT in colormap CMAP; I zero-padded to the digits of the "
                   "last sample's number, heatmap_07 … heatmap_12), each with a JSON sidecar "
                   "(heatmap_I_CMAP.png.json: model, rule, target, predicted and explained "
                   "class, and the sample's image file when INPUT is photographs)")
    p.add_argument("--colormap", action="append", metavar="NAME",
                   help=f"colormap of the PNGs (repeatable; default {DEFAULT_COLORMAP}, as in "
                   "the explorer)")
    p.add_argument("--outline", action=argparse.BooleanOptionalAction, default=True,
                   help="draw the input's edges on the heatmap PNGs (default: on)")
    p.add_argument("--scaling", type=scaling_option, default=None, metavar="K",
                   help=SCALING_HELP)
    p.add_argument("--trace", action="store_true",
                   help="print the relevance sum at every layer or node (conservation "
                   "check); under a merge (Add, Concat), what each input branch received")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    add_progress_arguments(p)
    from .explain_cluster import add_cluster_arguments  # noqa: PLC0415

    add_cluster_arguments(p)
    p.set_defaults(func=run)


def parse_layer_rules(items) -> dict:
    """``I=SPEC`` items: I is a layer index, or for graph models a node name or glob
    (``'layer1.*=zplus'``); which layers it names is resolved against the model."""
    rules = {}
    for item in items:
        index, sep, spec = item.rpartition("=")
        if not sep or not spec or not index:
            raise RuleError(f"--layer-rule {item!r}: expected I=SPEC, e.g. 0=flat")
        index = index.strip()
        rules[int(index) if is_digits(index.lstrip("-")) else index] = spec
    return rules


def check_rule_specs(rules, items) -> None:
    """The spelling of ``--rule`` (one, or evaluate's list) and of each ``--layer-rule``'s
    form and SPEC, before any model or sample is read: 'EpsilonPluss' or '0=flatt' was refused
    only after every photograph of a folder had been decoded. Which layers a key names needs
    the model (:func:`layer_rules_of`)."""
    from ..insight.baselines import baseline_name  # noqa: PLC0415
    from ..presets import preset_or_none  # noqa: PLC0415
    from ..rules import parse_rule  # noqa: PLC0415

    for rule in rules if isinstance(rules, list) else [rules]:  # evaluate's baselines pass
        if rule and preset_or_none(rule) is None and baseline_name(rule) is None:
            parse_rule(rule)
    for item in items or []:
        ((_, spec),) = parse_layer_rules([item]).items()
        try:
            if preset_or_none(spec) is None:
                parse_rule(spec)
        except RuleError as exc:
            raise RuleError(f"--layer-rule {item!r}: {exc}") from None


def layer_rules_of(items, model, model_name) -> dict:
    """:func:`parse_layer_rules`, each item checked against ``model``'s layers before any
    work: a key that names no layer (or one that takes no rule) is refused naming the option
    and the model file ``model_name`` — it named neither ("no node is named or matches
    '/nope'"), though the key is right for another model; a bad SPEC names the option.
    The keys are resolved against ``model.analysis_layers()``, the layers every Explainer
    explains, so that no explainer is built here only to be thrown away."""
    layers = model.analysis_layers()
    for item in items:
        check_rule_specs(None, [item])
        ((key, spec),) = parse_layer_rules([item]).items()
        try:
            resolve_rules(layers, None, {key: spec})
        except RuleError as exc:
            raise RuleError(f"--layer-rule {item!r}: {printable_line(str(model_name))}: "
                            f"{exc}") from None
    return parse_layer_rules(items)


def check_png_options(args) -> None:
    """Bad colormaps, scaling or PNG folder fail before anything is computed; without --png
    the options that only draw PNGs are said to do nothing (a run with --colormap jet wrote
    no picture and said nothing)."""
    if not args.png:
        unused = [name for name, given in (("--colormap", args.colormap),
                                           ("--scaling", args.scaling is not None),
                                           ("--no-outline", not args.outline)) if given]
        if unused:
            print(f"lrp explain: warning: {', '.join(unused)} only draw the --png heatmaps; "
                  "without --png no picture is written (add --png DIR)", file=sys.stderr)
        return
    for name in args.colormap or []:
        get_colormap(name)
    if args.scaling is not None:
        check_scaling(args.scaling)
    if os.path.exists(args.png) and not os.path.isdir(args.png):
        raise ExportError(f"{args.png}: exists and is not a folder (--png needs a folder)")
    if not os.path.exists(args.png) and args.png.lower().endswith(IMAGE_EXTENSIONS):
        # "--png cat.png" made a folder cat.png/ holding heatmap_0_bwr.png
        raise ExportError(f"{args.png}: --png names a folder for the heatmaps "
                          "(heatmap_I_CMAP.png in it), not a picture file; give a folder, "
                          "e.g. --png heatmaps/")
    refuse_shadowing([args.png], folders=True)
    for path in _with_sidecars([args.out, args.outputs]):  # the folder was made, every
        # sample explained, and the rename onto it failed: "is a folder" of a name never one
        if os.path.realpath(args.png) == os.path.realpath(path):
            raise ExportError(f"{args.png}: named both for the --png folder and for the file "
                              f"{path}; give the heatmaps' folder another name")
    if os.path.isdir(args.input) and within(args.png, args.input):  # heatmaps as photos
        raise ExportError(f"{args.png}: is inside the image folder {args.input} being "
                          "explained; its heatmaps would be read as photos next time: give "
                          "--png a folder outside it")


def check_output_names(args) -> None:
    """--out and --outputs write NumPy arrays: a name such as R.png or R.npz got .npy bytes
    (and a sidecar saying "npy") under a name that promised a picture or an archive."""
    for option, path, hint in (("--out", args.out, " (or NAME.zarr for a Dask store; heatmap "
                                "PNGs come from --png DIR)"), ("--outputs", args.outputs, "")):
        if path is None or (os.path.exists(path) and not os.path.isfile(path)):
            continue  # a device or folder is refused by name where outputs are written
        if not str(path).lower().endswith(".npy"):
            raise ExportError(f"{path}: {option} writes a NumPy array: give it a name ending "
                              f"in .npy{hint}")


def run(args) -> int:
    from ..io.models import load_classifier
    from .explain_cluster import wants_cluster

    check_rule_specs(args.rule, args.layer_rule)
    if wants_cluster(args):  # --out *.zarr, --workers or --scheduler: lrpcore.distributed
        from .explain_cluster import run_cluster

        return run_cluster(args)

    check_outputs_free(_with_sidecars([args.out, args.outputs]), args.overwrite,
                       inputs=[args.input, args.labels, args.model])
    check_output_names(args)
    check_png_options(args)
    model = load_classifier(args.model, maps=True)  # a segmentation model's pixels too
    model_defaults(args, model)
    x, found_labels = load_samples(args.input, mmap=True, model=model)  # read batch by batch
    warn_unreadable("explain", args.input, x)
    left = x.dataset.left_out_note() if isinstance(x, DatasetArray) else None
    if left:
        print(f"lrp explain: warning: {args.input}: {left}", file=sys.stderr)
    depth = x.dataset.depth_note() if isinstance(x, DatasetArray) else None
    if depth:
        print(f"lrp explain: note: {args.input}: {depth}", file=sys.stderr)
    layer_rules = layer_rules_of(args.layer_rule, model, args.model)
    target, region = read_target(args, model, bool(args.labels) or found_labels is not None,
                                 args.input)
    if args.batch_size < 1:
        raise RuleError("--batch-size must be at least 1")
    explainer = Explainer(model, args.backend, args.dtype)
    config = resolve_rules(explainer.layers, args.rule, layer_rules)  # fail fast on bad rules
    fed_shape = _fed_shape(explainer, x, args)  # fail fast on shapes, before any output
    # hints about samples and model after the checks that refuse them: a warning that the
    # values exceed a sequence model's range came before "samples … do not fit the model"
    if not args.raw:
        warn_if_preprocessed("explain", args.input, x, model, args.dtype)
    warn_if_incomplete("explain", args.model, model, x)
    n = fed_shape[0]
    labels = load_labels(args.labels, n, model.n_classes) if args.labels else None
    if labels is None and found_labels is not None:  # e.g. mnist-test carries its labels
        from ..io.datasets import check_labels_fit  # noqa: PLC0415

        check_labels_fit(found_labels, model.n_classes, args.input)
        labels = np.asarray(found_labels)
    pngs = PngWriter(args, model, explainer, config, fed_shape, target, region)

    Y = None
    bar = ProgressBar(n, "explaining", enabled=args.progress)
    traces = []
    trace_classes = {}  # sample → the class its trace explains ("285 (Egyptian cat)")
    checks = Accumulator.of(explainer, config)  # conservation, layer by layer
    t0 = time.perf_counter()
    outputs = []
    stage = None
    try:
        with staged_writes() as stage:  # results take their names together at the end
            with atomic_npy_memmap(args.out, fed_shape, explainer.dtype, args.overwrite) as R:
                for start, stop in explainer.passes(fed_shape, args.batch_size):
                    with _naming_input(args, start, stop):  # e.g. NaN in a later batch
                        fed = explainer.prepare(x[start:stop], raw=args.raw)
                        fwd = explainer.forward(fed, raw=True)
                        y = fwd.outputs()
                        # values that overflow: of the input, or of the model's parameters
                        check_finite_outputs(y, explainer.dtype, explainer.model, fwd)
                    lab = labels[start:stop] if labels is not None else None
                    r = _explain_checked(fwd, config, target, lab, checks, traces if args.trace
                                         else None, range(start, stop), region)
                    if args.trace and start < TRACE_SAMPLES:
                        trace_classes.update(_classes_of(explainer.model, y, target, lab,
                                                         start, stop, region))
                    R[start:stop] = r
                    if Y is None:
                        Y = np.empty((n,) + y.shape[1:], dtype=y.dtype)
                    Y[start:stop] = y
                    pngs.write(explainer, r, fed, start, y, target, lab, x, region)
                    bar(stop, n)
            outputs.append(args.out)
            if args.outputs:
                Y = declared_outputs(explainer.model, Y)  # a map as the file declares it
                atomic_save_npy(args.outputs, Y, overwrite=args.overwrite)
                outputs.append(args.outputs)
            diagnosis = checks.result()
            record = _record(args, config, explainer, target, round(time.perf_counter() - t0, 4),
                             diagnosis=diagnosis.to_dict(), **region_field(region))
            outputs.append(record(args.out, "relevance", fed_shape))
            if args.outputs:
                outputs.append(record(args.outputs, "model outputs", Y.shape))
    except BaseException:
        if stage is None or not stage.committed:  # nothing took its real name: keep what is there
            outputs, pngs.written = [], []
        remove_quietly(outputs)
        pngs.remove()
        raise
    elapsed = time.perf_counter() - t0
    if args.trace:
        _print_trace(traces, trace_classes)
    print_diagnosis(diagnosis)
    name = target_name(target, model)  # unnamed classes' "names" are their numbers: once
    shown = target if name in (None, str(target)) else f"{target}: {printable_line(name)}"
    print(f"explained {plural(n, 'sample')} with {config.description} (target {shown}) using "
          f"{explainer.backend.name} {explainer.dtype.name} in {elapsed:.3f} s → {args.out}")
    return 0


def target_name(target, model) -> str | None:
    """The class name of a parsed class-index target (ImageNet's 285 is "Egyptian cat"),
    else None."""
    names = list(getattr(model, "class_names", None) or [])
    return names[target] if isinstance(target, int) and target < len(names) else None


def _with_sidecars(paths) -> list:
    from ..export import sidecar_path

    return [q for p in paths if p for q in (p, sidecar_path(p))]


def _explain_checked(fwd, config, target, labels, checks, traces, samples, region=None):
    """Relevance of one batch; its trace feeds the conservation diagnosis (``checks``) and,
    with ``--trace``, the printed table (``traces``). The trace stays on the device: only a
    few sums per sample and layer come back."""
    backend = fwd.backend
    r, layers = fwd.relevance(config, target, labels=labels, trace=True, to_numpy=False,
                              region=region)
    r = backend.to_numpy(r)
    fwd.check_finite(r, config)
    checks.add(layers, sample_activations(fwd), backend.xp)
    if traces is not None:
        traces += conservation_from_trace(host_trace(layers, backend),
                                          fwd.explainer.layers, samples)
    return r


def _record(args, config, explainer, target, seconds, **extra):
    """``record(path, content, shape)`` writes the JSON sidecar of an output array (as every
    export of the project has one) and returns its path."""
    from .. import export

    name = target_name(target, explainer.model)
    if name is not None:
        extra = {"explained_name": name, **extra}
    info = export.sidecar_info(args.model, config.description, str(target),
                               explainer.backend.name, explainer.dtype.name,
                               dataset=args.input, raw=bool(args.raw), seconds=seconds,
                               **extra)

    def record(path, content, shape):
        return export.write_sidecar(path, info, args.overwrite, format="npy", content=content,
                                    shape=list(shape), dtype_saved=explainer.dtype.name)

    return record


def _fed_shape(explainer, x, args) -> tuple:
    """Shape of the whole fed batch, from the first sample (the rest is checked per batch)."""
    if x.ndim >= 1 and x.shape[0] == 0:
        raise ShapeError(f"{args.input}: no samples (array of shape {x.shape})")
    with _naming_input(args, 0, 1):
        first = explainer.prepare(x[:1] if x.ndim >= 2 else x, raw=args.raw)  # 1-d: refused
    return (x.shape[0],) + first.shape[1:]


@contextlib.contextmanager
def _naming_input(args, start, stop):
    """Shape and value errors of samples ``start..stop-1`` name the input file and them."""
    try:
        yield
    except NonFiniteSample as exc:  # numbered in the file, as every command numbers it
        raise exc.at(start + exc.index, args.input) from None
    except ShapeError as exc:
        where = "" if (start, stop) == (0, 1) else f" (samples {start}..{stop - 1})"
        raise ShapeError(f"{args.input}{where}: {exc}") from None


class PngWriter:
    """Heatmap PNGs of ``--png``, written batch by batch; existing files are refused before
    anything is computed, and ``remove`` takes back every file (and sidecar) written."""

    def __init__(self, args, model, explainer, config, fed_shape, target, region=None):
        from .. import export

        self.export, self.args, self.model = export, args, model
        self.written = []
        self.created_dir = False
        if not args.png:
            return
        self.cmaps = args.colormap or [DEFAULT_COLORMAP]
        # a model input that cannot be drawn (e.g. 2 features) fails before computing
        refuse_undrawable(model, args.model, fed_shape, self.cmaps[0], args.outline,
                          args.scaling, why="--png: ")
        self.width = export.number_width(range(fed_shape[0]))  # heatmap_07 … heatmap_12
        if not args.overwrite:
            export.refuse_existing(args.png,
                                   export.explanation_file_names(range(fed_shape[0]), self.cmaps,
                                                                 width=self.width),
                                   hint="use --overwrite to replace them")
        # the samples' source as the .npy sidecars name it: a PNG is traced back to its data
        self.info = export.sidecar_info(args.model, config.description, str(target),
                                        explainer.backend.name, explainer.dtype.name,
                                        dataset=args.input, raw=bool(args.raw),
                                        **region_field(region))
        self.created_dir = not os.path.isdir(args.png)

    def write(self, explainer, R, fed, start, y, target, labels, x=None, region=None) -> None:
        if not self.args.png:
            return
        args = self.args
        indices = np.arange(start, start + R.shape[0])
        files = x.dataset.sample_files(indices) if isinstance(x, DatasetArray) else None
        self.written += export_explained(  # the writer of 'lrp demo' and the GUI's batch
            args.png, explainer, R, fed, indices, self.cmaps,
            npy=False, outline=args.outline, scaling=args.scaling, info=self.info,
            overwrite=args.overwrite, width=self.width,
            classes=sample_classes(self.model, y, target, labels, files, region),
            raw=None if args.raw or x is None else x[start:start + R.shape[0]])

    def remove(self) -> None:
        remove_with_sidecars(self.written)
        self.written = []
        if self.created_dir:
            with contextlib.suppress(OSError):
                os.rmdir(self.args.png)  # only when empty


TRACE_SAMPLES = 10


def _classes_of(model, y, target, labels, start, stop, region=None) -> dict:
    """What each sample of a batch explains, as the trace heads it: "class 285 (Egyptian
    cat)", "class 3" where the name is the number, "every output" for target output. With
    target pred the trace said "explained output f(x)" without saying of which class."""
    keep = TRACE_SAMPLES - start
    fields = sample_classes(model, y[:keep], target, None if labels is None else labels[:keep],
                            region=region)
    texts = {}
    for i, f in zip(range(start, stop), fields, strict=False):
        if "explained_class" not in f:
            texts[i] = "every output"
            continue
        k, name = f["explained_class"], f["explained_name"]
        texts[i] = f"class {k}" if name == str(k) else f"class {k} ({printable_line(name)})"
    return texts


def _print_trace(rows, classes=None):
    """Per-layer relevance sums of the first samples (conservation check)."""
    shown = [row for row in rows if row.sample < TRACE_SAMPLES]
    print(format_conservation(shown, classes))
    n = 1 + max(row.sample for row in rows)
    if n > TRACE_SAMPLES:
        print(f"(trace shown for the first {TRACE_SAMPLES} of {n} samples)")
