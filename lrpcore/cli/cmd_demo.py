"""``lrp demo``: the LRP Toolbox's MNIST demo, headless.

Prints the model's accuracy, explains one digit of each class (the classes taken in turn, so
that ten samples show ten classes even on a dataset sorted by class) with epsilon = 0.01 for
the predicted class (writing PNGs in the toolbox's five colormaps and the relevance), then
times a batch of 256 explanations with the ``simple`` rule for the whole output, as the
toolbox's demo does.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import numpy as np

from ..batch_export import explain_and_export
from ..bundled import DEFAULT_MODEL_NAME, default_dataset, default_model_path
from ..errors import LRPError
from ..explain import Explainer
from ..export import (
    explanation_file_names,
    export_relevance_batch,
    sidecar_info,
    sidecar_path,
)
from ..fileio import staged_writes
from ..io.models import load_classifier
from ..render import TOOLBOX_COLORMAPS
from .common import (
    add_backend_argument,
    add_command,
    add_dtype_argument,
    check_outputs_free,
    check_samples_fit,
    labels_help,
    model_files,
    refuse_undrawable,
    warn_unreadable,
)

EXAMPLE = "lrp demo --out demo-output/"


def register(sub):
    p = add_command(sub, "demo", "Run the LRP Toolbox's MNIST demo headless.", EXAMPLE,
                    description=(
                        "Reproduce the LRP Toolbox's MNIST demo without a window: print the "
                        "model's accuracy on the dataset, explain one digit of each class (the "
                        "classes in turn) with epsilon 0.01 for the predicted class (PNGs "
                        "heatmap_I_CMAP.png in the "
                        "toolbox's five colormaps and relevance_I.npy, I zero-padded to the "
                        "digits of the largest sample number, each with a JSON "
                        "sidecar), then time 256 explanations with the 'simple' rule for the "
                        "whole output and save them as one .npy."))
    p.add_argument("--model", help=f"model file (default: the bundled {DEFAULT_MODEL_NAME})")
    p.add_argument("--dataset", help="dataset file or name (default: mnist-test, the MNIST "
                   "test set bundled with the package; mnist-sample when an installation left "
                   "it out)")
    p.add_argument("--labels", metavar="FILE",
                   help=labels_help("--dataset", "for the accuracy and one digit per class"))
    p.add_argument("--out", metavar="DIR",
                   help="folder for the PNG and .npy files (default: a new folder ./lrp-demo, "
                   "./lrp-demo-2, ... so that a second run never meets the first one's files)")
    add_backend_argument(p)
    add_dtype_argument(p, "float64", "the toolbox demo's, whatever --model")
    p.add_argument("--count", type=int, default=10, metavar="N",
                   help="samples explained and drawn (default 10)")
    p.add_argument("--batch", type=int, default=256, metavar="N",
                   help="size of the timed batch (default 256)")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.set_defaults(func=run)


def open_demo_dataset(name, labels, model=None):
    """The demo's samples; with ``model``, a folder of photographs is fitted to its input as
    every other command reads it (the demo refused them: "300×301×3 do not fit")."""
    from ..io.datasets import open_dataset  # noqa: PLC0415 (heavy only when the demo runs)

    ds = open_dataset(name, labels=labels, model=model)
    warn_unreadable("demo", name, ds)
    return ds


def accuracy(explainer: Explainer, ds, chunk=1000) -> tuple[int, int]:
    """(correct, total) of the model on the labelled dataset, in chunks."""
    correct = 0
    for start in range(0, len(ds), chunk):
        x = ds.images(slice(start, min(len(ds), start + chunk)))
        pred = explainer.forward(x).predictions()
        correct += int(np.sum(pred == ds.labels[start:start + len(x)]))
    return correct, len(ds)


def planned_outputs(out: Path, indices, m: int) -> list[Path]:
    """Every file the demo writes (sidecars included) for samples ``indices`` (or the first
    ``indices`` samples, when a count) and a batch of ``m``."""
    batch = f"relevance_simple_output_{m}.npy"
    if isinstance(indices, int):
        indices = range(indices)
    names = explanation_file_names(list(indices), TOOLBOX_COLORMAPS, npy=True)
    return [out / name for name in names + [batch, sidecar_path(batch).name]]


def _note_training_data(model, ds) -> None:
    """Say so when the accuracy was measured on the digits the model was trained on."""
    trained_on = str((model.meta.get("provenance") or {}).get("dataset", ""))
    if trained_on and trained_on.split(" ")[0] == ds.name:
        stored = model.meta.get("accuracy") or {}
        held_out = (f"; on {stored.get('n', '?')} held-out test digits it scores "
                    f"{100.0 * stored['top1']:.2f} %" if "top1" in stored else "")
        print(f"note: the model was trained on {ds.name}{held_out} "
              "(run 'lrp data download --kind test' to use the MNIST test set)")


def fresh_folder(base="lrp-demo") -> Path:
    """``base``, or ``base-2``, ``base-3``, ...: the first name not taken yet."""
    k, path = 1, Path(base)
    while path.exists():
        k += 1
        path = Path(f"{base}-{k}")
    return path


def demo_indices(ds, n: int) -> list[int]:
    """The samples the demo draws: the classes in turn (one digit of each class first)."""
    from ..io.datasets import mixed_order  # noqa: PLC0415

    return [int(i) for i in mixed_order(ds.labels, len(ds))[:n]]


def run(args) -> int:
    if args.count < 1 or args.batch < 1:
        raise LRPError("--count and --batch must be at least 1")
    model_path = Path(args.model) if args.model else default_model_path()
    model = load_classifier(model_path)
    ds = open_demo_dataset(args.dataset or default_dataset(), args.labels, model)
    out = Path(args.out) if args.out else fresh_folder()
    n, m = min(args.count, len(ds)), min(args.batch, len(ds))
    chosen = demo_indices(ds, n)
    check_samples_fit(args.dataset or ds.name, model, ds.images(chosen[:1]))
    fed = Explainer(model, "numpy").prepare(ds.images(chosen[:1]))
    refuse_undrawable(model, model_path, fed.shape, why="the demo draws heatmaps: ")
    try:
        # --dataset photos --out photos: heatmaps became photos of the folder it explained
        check_outputs_free(planned_outputs(out, chosen, m), args.overwrite,
                           folders_must_exist=False,
                           inputs=[args.dataset, args.labels, *model_files(str(model_path))])
    except LRPError as exc:
        raise LRPError(f"{exc}; or leave out --out to write into a new folder") from None
    ex = Explainer(model, backend=None if args.backend == "auto" else args.backend,
                   dtype=args.dtype)
    backend = ex.backend.name
    print(f"model: {model_path}")
    print(f"dataset: {ds.name} ({len(ds)} samples)")
    if ds.labels is not None:
        correct, total = accuracy(ex, ds)
        print(f"accuracy: {100.0 * correct / total:.2f} % ({correct}/{total})")
        _note_training_data(model, ds)
    else:
        print("accuracy: not computed (the dataset has no labels)")

    pred = ex.forward(ds.images(np.asarray(chosen, dtype=np.int64))).predictions()
    for k, i in enumerate(chosen):
        true = "?" if ds.labels is None else _class_name(model, ds, int(ds.labels[i]))
        print(f"sample {i}: true class {true}, predicted class "
              f"{_class_name(model, ds, int(pred[k]))}")
    data = args.dataset or ds.name  # a file as given (recorded absolute), not its base name
    info = sidecar_info(model_path, "epsilon:0.01", "pred", backend, ex.dtype, dataset=data)
    created = not out.exists()
    try:
        with staged_writes():  # all files take their names together at the end, or none
            written = explain_and_export(out, ex, ds.images, chosen, "epsilon:0.01", "pred",
                                         cmaps=TOOLBOX_COLORMAPS, npy=True, info=info,
                                         overwrite=args.overwrite)  # the GUI's batch export
            written += _time_and_save_batch(ex, ds, data, model_path, out, m, args.overwrite)
    except BaseException:  # a failed demo leaves no half set of files (the stage's promise)
        if created:  # nor the folder it made for them
            with contextlib.suppress(OSError):
                out.rmdir()
        raise
    print(f"wrote {len(written)} files to {out}")
    return 0


def _time_and_save_batch(ex: Explainer, ds, data, model_path, out: Path, m: int,
                         overwrite: bool):
    """The toolbox demo's timed batch: ``m`` heatmaps with 'simple' for the whole output."""
    backend = ex.backend.name
    xb = ex.prepare(ds.images(slice(0, m)))
    start = time.perf_counter()
    Rb = ex.forward(xb, raw=True).relevance("simple", "output")
    ex.backend.synchronize()
    seconds = time.perf_counter() - start
    print(f"Computation of {m} heatmaps using {backend} in {seconds:.3f} s")
    info_b = sidecar_info(model_path, "simple", "output", backend, ex.dtype, dataset=data,
                          seconds=round(seconds, 4))
    return export_relevance_batch(out / f"relevance_simple_output_{m}.npy", Rb, info=info_b,
                                  overwrite=overwrite)


def _class_name(model, ds, k: int) -> str:
    """Class ``k`` by number and, when the model or dataset names it otherwise, by name:
    "7" for a digit, "971 (bubble)" for an ImageNet model (was "971" alone)."""
    names = list(getattr(model, "class_names", None) or []) or list(ds.class_names or [])
    name = str(names[k]) if 0 <= k < len(names) else str(k)
    return str(k) if name == str(k) else f"{k} ({name})"

