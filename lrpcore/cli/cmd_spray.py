"""``lrp spray``: Spectral Relevance Analysis of one class (or all), saved to reopen."""

from __future__ import annotations

import sys

from ..conventions import RULE_DEFAULT_HELP
from ..errors import RuleError
from .common import (
    EXPLORER_FLOAT64,
    MODEL_HELP,
    add_backend_argument,
    add_command,
    add_dtype_argument,
    add_layer_rule_argument,
    add_progress_arguments,
    add_raw_argument,
    check_outputs_free,
    check_samples_fit,
    labels_help,
    model_defaults,
    no_labels,
    parse_target,
    samples_help,
    warn_if_preprocessed,
    warn_unreadable,
)
from .map_args import add_region_argument, read_target
from .progress import ProgressBar

EXAMPLE = "lrp spray mnist-lenet5 mnist-sample --class 3 --out spray3.npz --rule epsilon:0.01"


def register(sub):
    p = add_command(sub, "spray", "Cluster the heatmaps of a class (SpRAy).", EXAMPLE,
                    description=(
                        "Explain every sample of class C in DATA (all samples without "
                        "--class), downsample the heatmaps, cluster them (spectral clustering "
                        "on a k-nearest-neighbour affinity; k from the eigengap unless --k) "
                        "and embed them in 2-D (t-SNE, or UMAP when installed). The result "
                        "(.npz) opens again in the explorer's SpRAy window."))
    p.add_argument("model", help=MODEL_HELP)
    p.add_argument("data", help=samples_help(", or an R.zarr relevance store of 'lrp explain' "
                                             "(its heatmaps are used as they are: nothing is "
                                             "explained again)"))
    add_raw_argument(p, "DATA")
    p.add_argument("--labels", metavar="FILE", default=None,
                   help=labels_help("DATA", "for --class and the default --target true"))
    p.add_argument("--class", dest="cls", default=None,
                   help="class index or name to analyse, or 'all' (default all)")
    p.add_argument("--out", required=True, help="result file (.npz)")
    p.add_argument("--rule", default=None, help="rule spec or preset (as 'lrp explain'); "
                   + RULE_DEFAULT_HELP)
    add_layer_rule_argument(p)
    p.add_argument("--target", default=None,
                   help="true (default: each sample's label), pred, a class index or a "
                   "class name; on a segmentation model: the pixels of that class (pred, the "
                   "default: the class at the most pixels; output: the whole map; true is "
                   "refused; samples whose map predicts the class nowhere are left out)")
    add_region_argument(p)
    p.add_argument("--k", type=int, default=None, help="number of clusters (default: eigengap)")
    p.add_argument("--neighbours", type=int, default=10, help="k-NN affinity (default 10)")
    p.add_argument("--size", type=int, default=8, help="downsampled heatmap side (default 8)")
    p.add_argument("--embedding", choices=["tsne", "umap", "none"], default="tsne",
                   help="2-D map of the samples: t-SNE (default), UMAP (needs umap-learn) "
                   "or none")
    add_backend_argument(p, PASS_DEFAULTS["backend"])
    add_dtype_argument(p, PASS_DEFAULTS["dtype"], EXPLORER_FLOAT64)
    p.add_argument("--batch-size", type=int, default=PASS_DEFAULTS["batch_size"], metavar="N",
                   help=f"samples per forward/backward pass (default "
                   f"{PASS_DEFAULTS['batch_size']})")
    p.add_argument("--overwrite", action="store_true", help="replace an existing OUT")
    add_progress_arguments(p)
    # None: not given (the help says the defaults, which run() fills in), so that a store's
    # note names every pass option given — '--dtype float64', the default, went unmentioned
    p.set_defaults(func=run, **dict.fromkeys(PASS_DEFAULTS))


# options of the LRP passes (not used for a relevance store, which holds their result)
PASS_DEFAULTS = {"backend": "auto", "dtype": "float64", "batch_size": 256}


def run(args) -> int:
    from ..explain import Explainer, resolve_rules
    from ..export import DATASET_KEY, where_found
    from ..io import open_dataset
    from ..io.models import load_classifier
    from ..io.relevance_store import is_zarr_path
    from ..map_targets import region_words
    from ..spray import check_k, class_indices, spray
    from ..targets import model_map_shape
    from .cmd_explain import check_rule_specs, layer_rules_of

    check_rule_specs(args.rule, args.layer_rule)  # before anything is read
    if not args.out.lower().endswith(".npz"):
        raise RuleError(f"{args.out}: a SpRAy result is saved as .npz")
    check_outputs_free([args.out], args.overwrite, inputs=[args.data, args.labels, args.model])
    for name, v in (("--k", args.k), ("--neighbours", args.neighbours), ("--size", args.size),
                    ("--batch-size", args.batch_size)):
        if v is not None and v < 1:
            raise RuleError(f"{name} must be at least 1")
    model = load_classifier(args.model, maps=True)  # a segmentation model's pixels too
    cls = None if args.cls is None else parse_target(args.cls, ("all",), model, "--class")
    cls = None if cls == "all" else cls
    embed = None if args.embedding == "none" else args.embedding
    if is_zarr_path(args.data):
        res = _spray_store(args, model, cls, embed)
        data = res.meta.pop("store_input", args.data)  # the dataset its indices count in
    else:
        for name, default in PASS_DEFAULTS.items():  # before model_defaults: float64 stays
            if getattr(args, name) is None:
                setattr(args, name, default)
        model_defaults(args, model)
        data = open_dataset(args.data, labels=args.labels, model=model)
        warn_unreadable("spray", args.data, data)
        head = data.images(list(range(min(len(data), 64))))  # what warnings look at
        check_samples_fit(args.data, model, head, raw=args.raw)
        if not args.raw:
            warn_if_preprocessed("spray", args.data, head, model)
        # a label per sample says nothing about a map's pixels: its default is pred
        default = "pred" if model_map_shape(model) else "true"
        target, region = read_target(args, model, True, args.data,
                                     target=args.target or default)
        # refused before the note below: "explained for its predicted class" came first, then
        # "--class needs a dataset with labels" (or "5 clusters of 3 samples")
        check_k(args.k, len(class_indices(data.labels, len(data), cls, args.data)))
        if target == "true" and data.labels is None:
            if args.target is not None:  # asked for: refused, as by lrp explain
                raise no_labels(args.data, model=model)
            print(f"lrp spray: note: {args.data} has no labels: each sample is explained for "
                  "its predicted class (--target pred)", file=sys.stderr)
        ex = Explainer(model, args.backend, args.dtype)
        config = resolve_rules(ex.layers, args.rule,
                               layer_rules_of(args.layer_rule, model, args.model))
        bar = ProgressBar(1, "explaining", enabled=args.progress)
        res = spray(ex, data, cls, config, target, k=args.k, neighbours=args.neighbours,
                    size=args.size, embed=embed, batch_size=args.batch_size,
                    progress=lambda d, t: bar(d, t), raw=args.raw, region=region)
        if res.meta.get("left_out"):
            print(f"lrp spray: note: {args.data}: {res.meta['left_out']} of "
                  f"{res.meta['left_out'] + len(res.indices)} samples predict class "
                  f"{target} at no pixel{region_words(region)} (nothing to explain): left "
                  "out", file=sys.stderr)
        data = args.data
    # files absolute: the explorer's SpRAy window checks that the open dataset is this one
    res.meta.update({"model": where_found(args.model), DATASET_KEY: where_found(data)})
    res.save(args.out, overwrite=args.overwrite)
    sizes = ", ".join(str(s) for s in res.sizes())
    print(f"{len(res.indices)} samples → {res.k} cluster{'s' * (res.k != 1)} (sizes {sizes}) "
          f"→ {args.out}",
          file=sys.stdout)
    return 0


def _spray_store(args, model, cls, embed):
    """SpRAy of a relevance store's heatmaps: its model, rules and target are fixed, so the
    options that would change them are refused rather than silently ignored."""
    from ..export import sha256_file, where_found
    from ..io.models import model_file
    from ..io.relevance_store import open_relevance_store
    from ..spray import spray_precomputed
    from .common import load_labels

    store = open_relevance_store(args.data)
    given = [f for f, v in (("--rule", args.rule), ("--target", args.target),
                            ("--layer-rule", args.layer_rule or None),
                            ("--region", args.region),
                            ("--raw", args.raw or None)) if v is not None]
    if given:
        raise RuleError(f"{args.data}: a relevance store holds heatmaps of rule "
                        f"{store.provenance.get('rules')}, target "
                        f"{store.provenance.get('target')}; {_listed(given)} cannot "
                        "change them (explain again with 'lrp explain ... --out R.zarr')")
    if sha256_file(model_file(args.model)) != store.run.get("model_sha256"):
        stored = store.provenance.get("model")
        if isinstance(stored, str) and where_found(stored) == where_found(args.model):
            # the same file name: "another model (m.npz) than m.npz" named no difference
            raise RuleError(f"{args.data}: its heatmaps are of another version of "
                            f"{args.model}: the file changed since the store was made (its "
                            "SHA-256 differs from the one the store records)")
        raise RuleError(f"{args.data}: its heatmaps are of another model "
                        f"({stored}) than {args.model}")
    _note_passes_unused(args)
    labels = None if args.labels is None else load_labels(args.labels, len(store),
                                                          model.n_classes)
    res = spray_precomputed(store, cls, labels, k=args.k, neighbours=args.neighbours,
                            size=args.size, embed=embed)
    res.meta["store_input"] = store.input
    return res


def _note_passes_unused(args) -> None:
    """One note naming the options of LRP passes given for a store: its heatmaps are read, not
    computed, so they change nothing (they were dropped without a word); a note, as lrp
    convert's for --arch, since the result is the one asked for."""
    given = [f"--{k.replace('_', '-')}" for k in PASS_DEFAULTS if getattr(args, k) is not None]
    if given:
        print(f"lrp spray: note: {args.data} holds computed relevance; {_listed(given)} "
              f"{'is' if len(given) == 1 else 'are'} not used (no LRP pass is run)",
              file=sys.stderr)


def _listed(options) -> str:
    """'--rule', '--rule and --target', '--rule, --target and --raw'."""
    return " and ".join([", ".join(options[:-1]), options[-1]] if options[1:] else options)
