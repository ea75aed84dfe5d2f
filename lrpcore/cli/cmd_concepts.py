"""``lrp concepts``: which channels of a layer a decision used (CRP), written to a folder."""

from __future__ import annotations

import numpy as np

from ..conventions import RULE_DEFAULT_HELP
from ..errors import NonFiniteSample, RuleError, ShapeError
from ..render import DEFAULT_COLORMAP
from ..targets import CLASS_NAME_HELP
from ..text import printable_line
from .common import (
    EXPLORER_FLOAT64,
    MODEL_HELP,
    DatasetArray,
    add_backend_argument,
    add_command,
    add_dtype_argument,
    add_layer_rule_argument,
    add_progress_arguments,
    add_raw_argument,
    labels_help,
    load_labels,
    load_samples,
    model_defaults,
    plural,
    refuse_folder_in_folders_read,
    refuse_shadowing,
    samples_help,
    warn_if_preprocessed,
    warn_unreadable,
)
from .map_args import MAP_TARGET_HELP, add_region_argument, read_target, region_field
from .progress import ProgressBar

EXAMPLE = ("lrp concepts mnist-lenet5 mnist-sample --layer convolution1 --sample 7 --top 5 "
           "--out concepts/ --rule epsilon:0.01")
MAX_REFERENCES = 256  # per channel; the explorer shows 8


def register(sub):
    p = add_command(sub, "concepts", "Concept relevance (CRP) of one sample at one layer.",
                    EXAMPLE, description=(
                        "Rank the channels of LAYER by their relevance for sample I of DATA, "
                        "and write for the top K the conditional heatmaps (input relevance "
                        "when only that channel passes relevance at LAYER) and RelMax "
                        "reference samples over DATA (cached on disk; the reference crops of "
                        "those K channels alone are searched). OUT gets ranking.csv "
                        "(channel,relevance,share; best first), conditional.npy (K × input "
                        "shape, ranking order), PNGs and references/, each with a JSON "
                        "sidecar."))
    p.add_argument("model", help=MODEL_HELP)
    p.add_argument("data", help=samples_help())
    add_raw_argument(p, "DATA")
    p.add_argument("--labels", metavar="FILE", default=None,
                   help=labels_help("DATA", "for --target true"))
    p.add_argument("--layer", required=True,
                   help="layer index or name (chain: convolution1, rect0, ...; graph: the "
                   "ONNX node name, e.g. /layer3/Add, or a PyTorch module path that names one "
                   "layer: lrp info's module column)")
    p.add_argument("--sample", type=int, default=0, metavar="I", help="sample index (default 0)")
    p.add_argument("--top", default="5", metavar="K",
                   help="how many channels get conditional heatmaps (a number or 'all'; "
                   "default 5)")
    p.add_argument("--out", required=True, help="output folder (created; must not exist "
                   "unless empty or --overwrite)")
    p.add_argument("--rule", default=None, help="rule spec or preset (as 'lrp explain'); "
                   + RULE_DEFAULT_HELP)
    add_layer_rule_argument(p)
    p.add_argument("--target", default="pred",
                   help="pred, true, output, a class index or a class name "
                   f"({CLASS_NAME_HELP}; default pred)"
                   + MAP_TARGET_HELP)
    add_region_argument(p)
    p.add_argument("--references", type=int, default=8, metavar="N",
                   help="RelMax reference samples over DATA per channel of the top K (default "
                   "8; 0: none; at most 256; --top all: every channel's)")
    p.add_argument("--colormap", default=DEFAULT_COLORMAP, metavar="NAME",
                   help=f"colormap of the PNGs (default {DEFAULT_COLORMAP}, as in the explorer)")
    add_backend_argument(p)
    add_dtype_argument(p, "float64", EXPLORER_FLOAT64)
    p.add_argument("--overwrite", action="store_true", help="replace an existing OUT")
    add_progress_arguments(p)
    p.set_defaults(func=run)


def parse_top(text, n_channels) -> int:
    if str(text).strip().lower() == "all":
        return n_channels
    try:
        k = int(text)
    except ValueError:
        raise RuleError(f"--top {text!r}: expected a number or 'all'") from None
    if k < 1:
        raise RuleError("--top must be at least 1")
    return min(k, n_channels)


def run(args) -> int:
    from .. import concepts, export, relmax
    from ..concepts_export import check_output_folder, image01, output_folder, write_concepts
    from ..explain import Explainer, layer_labels, resolve_rules
    from ..io.models import load_classifier
    from ..render import get_colormap
    from .cmd_explain import check_rule_specs, layer_rules_of

    check_rule_specs(args.rule, args.layer_rule)  # before anything is read
    get_colormap(args.colormap)
    check_output_folder(args.out, args.overwrite)  # before anything is computed
    refuse_folder_in_folders_read(args.out, [args.data])
    refuse_shadowing([args.out], folders=True)
    model = load_classifier(args.model, maps=True)  # a segmentation model's pixels too
    model_defaults(args, model)
    x, labels = load_samples(args.data, model=model)
    warn_unreadable("concepts", args.data, x)
    n = len(x)
    if not 0 <= args.sample < n:
        raise RuleError(f"--sample {args.sample}: {args.data} has samples 0..{n - 1}")
    if args.labels:
        labels = load_labels(args.labels, n, model.n_classes)
    if args.references < 0:
        raise RuleError("--references must not be negative")
    if args.references > MAX_REFERENCES:  # one conditional heatmap per channel and sample:
        raise RuleError(f"--references {args.references}: at most {MAX_REFERENCES} reference "
                        "samples per channel")  # 10¹² ran for hours towards a MemoryError
    target, region = read_target(args, model, labels is not None, args.data)
    ex = Explainer(model, args.backend, args.dtype)
    try:
        k = concepts.resolve_layer(ex, args.layer)
    except RuleError as exc:  # it named neither the option nor the model
        raise RuleError(f"--layer {args.layer!r}: {printable_line(str(args.model))}: "
                        f"{exc}") from None
    config = resolve_rules(ex.layers, args.rule,
                           layer_rules_of(args.layer_rule, model, args.model))
    lab = None if labels is None else np.asarray(labels)
    try:
        fed = ex.prepare(np.asarray(x[args.sample:args.sample + 1]), args.raw)
    except NonFiniteSample as exc:
        raise exc.at(args.sample, args.data) from None
    except ShapeError as exc:  # a NaN in the sample: the message named no file
        raise ShapeError(f"{args.data} (sample {args.sample}): {exc}") from None
    if not args.raw:  # a hint, after the checks that refuse the samples (as lrp explain)
        warn_if_preprocessed("concepts", args.data, x, model)
    fwd = ex.forward(fed, raw=True)
    one_label = None if lab is None else lab[args.sample:args.sample + 1]
    try:
        ranking = concepts.rank_channels(fwd, k, config, target, one_label, region=region)
    except ShapeError as exc:  # a class its map predicts nowhere: which sample of which file
        raise ShapeError(f"{args.data} (sample {args.sample}): {exc}") from None
    top = parse_top(args.top, len(ranking.channels))
    conditional = concepts.conditional_heatmaps(fwd, k, ranking.channels[:top], config, target,
                                                one_label, region=region)
    info = export.sidecar_info(args.model, config.description, args.target, ex.backend.name,
                               ex.dtype.name, model_name=str(args.model), dataset=args.data,
                               sample=args.sample, layer=k, layer_name=ranking.name,
                               **({"raw": True} if args.raw else {}), **region_field(region))
    classes = _sample_classes(model, fwd, target, one_label, x, args.sample, region)
    x01 = image01(ex, x, model.input_spec, args.raw)(args.sample)
    refs = gallery = None
    if args.references:
        data = getattr(x, "dataset", x)
        bar = ProgressBar(n, "references", enabled=args.progress)
        try:
            refs = relmax.references(ex, data, k, config, target, lab, n=args.references,
                                     dataset_id=_dataset_id(args.data, n), raw=args.raw,
                                     progress=bar, region=region,
                                     channels=_searched(ranking, top),
                                     known=(args.sample, ranking.at_layer))
        except NonFiniteSample as exc:  # relmax numbers it in the data
            raise exc.at(source=args.data) from None
        except ShapeError as exc:
            raise ShapeError(f"{args.data}: {exc}") from None
        finally:
            bar.close()
        gallery = image01(ex, data, model.input_spec, args.raw)
    with output_folder(args.out, args.overwrite) as tmp:
        write_concepts(tmp, ranking, conditional, x01, info, refs, gallery, args.colormap,
                       sample_fields=classes)
    label = layer_labels(ex.layers)[k]  # a dynamo export's node_conv2d_14 [layer4.1.conv2]
    print(f"layer {k} ({printable_line(label)}): {plural(len(ranking.channels), 'channel')} "
          f"for sample {args.sample} ({_classes_said(classes)}); top "
          f"{', '.join(f'{c} ({s:.1%})' for c, _, s in list(ranking.rows())[:min(top, 5)])} "
          f"→ {args.out}")
    return 0


def _searched(ranking, top):
    """The channels whose reference maps are searched: the top ones, which the folder
    draws (None: every channel, as ``--top all`` always searched). Each is a backward pass
    per reference sample: every channel of EfficientNet-Lite0's 1,280-channel head took
    about an hour for three galleries."""
    return None if top >= len(ranking.channels) else ranking.channels[:top]


def _sample_classes(model, fwd, target, labels, x, index, region=None) -> dict:
    """The sample's predicted and explained class, by index and name (and its image file),
    as every other sample's heatmap records them: a ranking for target "pred" said nowhere
    which class its channels are relevant for."""
    from ..batch_export import sample_classes  # noqa: PLC0415

    files = (x.dataset.sample_files(np.array([index])) if isinstance(x, DatasetArray)
             else None)
    return sample_classes(model, fwd.outputs(), target, labels, files, region)[0]


def _classes_said(classes) -> str:
    """"predicted 285 (Egyptian cat), explained 285 (Egyptian cat)"; a name that is only
    the number is not repeated."""

    def said(k, name):
        return f"{k}" if name == str(k) else f"{k} ({printable_line(name)})"

    text = f"predicted {said(classes['predicted_class'], classes['predicted_name'])}"
    if "explained_class" in classes:
        return f"{text}, explained {said(classes['explained_class'], classes['explained_name'])}"
    return f"{text}, explained: every output"


def _dataset_id(data, n) -> str:
    """What the reference cache is keyed by (:func:`lrpcore.relmax.dataset_key`)."""
    from ..relmax import dataset_key  # noqa: PLC0415

    return dataset_key(data, n)
