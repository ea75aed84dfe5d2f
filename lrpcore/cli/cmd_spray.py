"""``lrp spray``: Spectral Relevance Analysis of one class (or all), saved to reopen."""

from __future__ import annotations

import sys

import numpy as np

from ..errors import DatasetError, RuleError
from .common import add_command, check_outputs_free, load_labels, load_samples, parse_target
from .progress import ProgressBar

EXAMPLE = "lrp spray mnist-lenet5 mnist-sample --class 3 --out spray3.npz --rule epsilon:0.01"


def register(sub):
    p = add_command(sub, "spray", "Cluster the heatmaps of a class (SpRAy).", EXAMPLE,
                    description=(
                        "Explain every sample of class C in DATA (all samples without "
                        "--class), downsample the heatmaps, cluster them (spectral clustering "
                        "on a k-nearest-neighbour affinity; k from the eigengap unless --k) "
                        "and embed them in 2-D (t-SNE, or UMAP when installed). The result "
                        "(.npz) opens again in the explorer's SpRAy window. With --relevance "
                        "R.zarr the heatmaps are read from a store written by 'lrp explain "
                        "MODEL DATA --out R.zarr' (e.g. on a cluster) instead of computed; "
                        "its rule and target are used."))
    p.add_argument("model", help="model file or bundled model name")
    p.add_argument("data", help="dataset with labels: a name (mnist-sample) or a file")
    p.add_argument("--labels", default=None,
                   help="label file for DATA when DATA carries none (e.g. a .npy)")
    p.add_argument("--class", dest="cls", default=None,
                   help="class index to analyse, or 'all' (default all)")
    p.add_argument("--out", required=True, help="result file (.npz)")
    p.add_argument("--relevance", metavar="R.zarr", default=None,
                   help="precomputed heatmaps of MODEL on DATA (a store written by 'lrp "
                        "explain ... --out R.zarr'): nothing is explained again")
    p.add_argument("--rule", default=None, help="rule spec or preset (as 'lrp explain')")
    p.add_argument("--target", default=None,
                   help="true (default: each sample's label), pred, or a class index")
    p.add_argument("--k", type=int, default=None, help="number of clusters (default: eigengap)")
    p.add_argument("--neighbours", type=int, default=10, help="k-NN affinity (default 10)")
    p.add_argument("--size", type=int, default=8, help="downsampled heatmap side (default 8)")
    p.add_argument("--embedding", choices=["tsne", "umap", "none"], default="tsne")
    p.add_argument("--backend", choices=["numpy", "cupy", "auto"], default="auto")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--overwrite", action="store_true", help="replace an existing OUT")
    p.add_argument("--progress", action="store_true", default=None)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..explain import Explainer, resolve_rules
    from ..io import load_model
    from ..spray import spray, spray_store

    if not args.out.lower().endswith(".npz"):
        raise RuleError(f"{args.out}: a SpRAy result is saved as .npz")
    check_outputs_free([args.out], args.overwrite)
    for name, v in (("--k", args.k), ("--neighbours", args.neighbours), ("--size", args.size),
                    ("--batch-size", args.batch_size)):
        if v is not None and v < 1:
            raise RuleError(f"{name} must be at least 1")
    model = load_model(args.model)
    x, labels = load_samples(args.data)
    if args.labels:
        labels = load_labels(args.labels, len(x), model.n_classes)
    cls = None if args.cls in (None, "all") else _class(args.cls, model.n_classes)
    ex = Explainer(model, args.backend)
    embed = None if args.embedding == "none" else args.embedding
    analysis = {"k": args.k, "neighbours": args.neighbours, "size": args.size, "embed": embed}
    if args.relevance:
        store = _open_store(args, ex, len(x), labels)
        bar = ProgressBar(1, "reading", enabled=args.progress)
        res = spray_store(store, labels, cls, batch_size=args.batch_size,
                          progress=lambda d, t: bar(d, t), **analysis)
    else:
        target = parse_target(args.target or "true")
        resolve_rules(ex.layers, args.rule)  # fail fast
        data = getattr(x, "dataset", None)
        if data is None or args.labels:  # an array, or a dataset with other labels
            data = _Array(x if data is not None else np.asarray(x), labels)
        bar = ProgressBar(1, "explaining", enabled=args.progress)
        res = spray(ex, data, cls, args.rule, target, batch_size=args.batch_size,
                    progress=lambda d, t: bar(d, t), **analysis)
    res.meta.update(model=str(args.model), data=str(args.data))
    res.save(args.out, overwrite=args.overwrite)
    sizes = ", ".join(str(s) for s in res.sizes())
    print(f"{len(res.indices)} samples → {res.k} clusters (sizes {sizes}) → {args.out}",
          file=sys.stdout)
    return 0


def _open_store(args, ex, n, labels):
    """The store of ``--relevance``, checked to hold MODEL's heatmaps of DATA under the
    rule and target asked for (a mismatch is one line naming the store, before any work)."""
    from ..distributed import labels_sha256
    from ..explain import resolve_rules
    from ..export import sha256_file
    from ..io.models import model_file
    from ..io.relevance_store import open_relevance_store

    store = open_relevance_store(args.relevance)
    run, name = store.run, args.relevance
    if sha256_file(model_file(args.model)) != run["model_sha256"]:
        raise DatasetError(f"{name}: computed with another model than {args.model} "
                           "(SHA-256 differs)")
    if len(store) != n:
        raise DatasetError(f"{name}: holds {len(store)} samples, {args.data} has {n}")
    if labels is not None and run.get("labels_sha256") not in (None, labels_sha256(labels)):
        raise DatasetError(f"{name}: explained with other labels than those of {args.data}")
    stored = resolve_rules(ex.layers, run["rule"], dict(run["layer_rules"])).description
    if args.rule is not None and resolve_rules(ex.layers, args.rule).description != stored:
        raise RuleError(f"{name}: holds relevance by {stored}, not --rule {args.rule} "
                        "(omit --rule to use the store's)")
    if args.target is not None and str(parse_target(args.target)) != str(run["target"]):
        raise RuleError(f"{name}: holds relevance for target {run['target']}, not --target "
                        f"{args.target} (omit --target to use the store's)")
    return store


def _class(text, n_classes) -> int:
    try:
        c = int(text)
    except ValueError:
        raise RuleError(f"--class {text!r}: expected a class index or 'all'") from None
    if not 0 <= c < (n_classes or 1 << 30):
        raise RuleError(f"--class {c}: the model has classes 0..{n_classes - 1}")
    return c


class _Array:
    """An array of samples with labels, seen as a dataset."""

    def __init__(self, x, labels):
        self.x, self.labels = x, labels

    def __len__(self):
        return len(self.x)

    def images(self, index):
        return self.x[index]
