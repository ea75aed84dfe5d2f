"""``lrp info``: what a model file holds (layers, shapes, parameters, input, metadata)."""

from __future__ import annotations

import json
import os

from ..errors import ModelFormatError
from ..map_targets import map_targets_words
from ..model import RECORDED_ACCURACY, format_accuracy
from ..targets import model_map_shape
from ..text import printable
from .common import add_command, warn_if_incomplete


def register(sub):
    p = add_command(sub, "info", "Show a model's layers, shapes, parameters and input.",
                    "lrp info mnist-lenet5",
                    description="Prints every layer with its output shape and parameter count, "
                    "the input specification (how raw samples are scaled and padded), and the "
                    "class names, accuracy and provenance the file carries. Reads .txt, .nn, "
                    ".npz and .onnx models; a MODEL.json sidecar beside the file is applied.")
    p.add_argument("model", help="model file (.txt, .nn, .npz, .onnx, .pth) or a bundled "
                   "model's name (mnist-lenet5, efficientnet-lite0)")
    p.add_argument("--no-sidecar", action="store_true", help="ignore MODEL.json beside the file")
    p.set_defaults(func=run)


PROVENANCE_SHOWN = 2000  # characters: a crafted file's provenance may be megabytes


def _text(value, limit=PROVENANCE_SHOWN) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    if len(text) > limit:
        text = f"{text[:limit]}… ({len(text):,} characters)"
    return text


def describe_model(model, path) -> str:
    """The report ``lrp info`` prints (also usable by other front ends)."""
    from ..io.models import model_file  # noqa: PLC0415
    from ..io.sidecar import assumed_scaling, sidecar_path

    source = os.fspath(model_file(path))  # a bundled or built-in name: its weights file
    ext = os.path.splitext(source)[1].lower()
    where = path if source == os.fspath(path) else f"{path} = {source}"
    lines = [f"model: {where} ({ext[1:] or '?'} format)", model.summary()]
    spec = model.input_spec
    if spec is not None:
        # an ONNX file holds no preprocessing: "from the ONNX input" read as if its x/255 were
        # the file's, and EfficientNet-Lite0's export needs (x/255 − 0.498)/0.502
        onnx = f"the ONNX input's shape; {assumed_scaling(model, source)}"
        origin = {"inferred": "guessed from the layers", "sidecar": sidecar_path(path),
                  "file": "stored in the file", "onnx": onnx}.get(spec.source, spec.source)
        lines.append(f"input specification: {origin}")
        lines.append(f"input layout: {layout_text(spec, model)}")
    n = model.n_classes
    names = model.meta.get("class_names")
    problem = model_map_shape(model)
    last = model.nodes[-1].layer.kind if getattr(model, "is_graph", False) else None
    if problem:  # a segmentation model: its 6×6×4 map is no 144 classes but 4 per pixel
        scores = MAP_SCORES.get(last)  # a softmax over each pixel's classes: probabilities
        lines.append(f"output: {map_targets_words(problem)}"
                     + (f"; its scores are {scores}" if scores else ""))
    if names:
        shown = ", ".join(printable(n) for n in names[:CLASSES_SHOWN])
        more = f", … ({len(names) - CLASSES_SHOWN} more)" if len(names) > CLASSES_SHOWN else ""
        lines.append(f"classes ({len(names)}): {shown}{more}")
    elif n:
        # say where names would come from (a user of an ONNX export has no other hint)
        lines.append(f"classes: {n} outputs, unnamed (a sidecar's \"class_names\" names "
                     f"them: {os.path.basename(sidecar_path(source))})")
    if not problem:
        lines.append("output: " + (
            "SoftMax probabilities (LRP explains the scores before it)"
            if model.ends_with_softmax() else
            "softmax probabilities (the predicted class's probability is explained; relevance "
            "passes the softmax as its gradient, as zennit's does)" if last == "Softmax" else
            "log-probabilities (relevance passes the LogSoftmax as its gradient, as zennit's "
            "does)" if last == "LogSoftmax" else "raw scores")
            + ("" if spec is not None else  # a vector or a map: its shape follows the input's
               "; their shape (one per class, or a map of them per pixel) follows from the "
               "input's, which the file does not record (a sidecar "
               f"{os.path.basename(sidecar_path(source))}'s \"input\" gives it)"))
    from ..conventions import recommended_rule  # noqa: PLC0415

    if recommended_rule(model):  # a sidecar's or header's: where else would a user see it?
        lines.append(f"recommended rule: {printable(recommended_rule(model))} (lrp explain and "
                     "the explorer start from it)")
    if model.meta.get("accuracy") is not None:
        acc = model.meta["accuracy"]
        # _text: its "dataset" may be a 900 KB name
        lines.append(f"{RECORDED_ACCURACY}: {_text(format_accuracy(acc))}")
    if model.meta.get("provenance") is not None:
        lines.append(f"provenance: {_text(model.meta['provenance'])}")
    return "\n".join(lines)


# what a segmentation graph's last operator makes of its map's scores (said as a
# classifier's are: a map of probabilities read as scores misled)
MAP_SCORES = {
    "Softmax": "softmax probabilities over each pixel's classes (relevance passes the softmax "
               "as its gradient, as zennit's does)",
    "LogSoftmax": "log-probabilities over each pixel's classes (relevance passes the "
                  "LogSoftmax as its gradient, as zennit's does)",
}


def layout_text(spec, model=None) -> str:
    """The layout arrays given as model input take (``raw``), and what images convert to;
    ``model``: a 1-D sequence input (its first layer a SequenceToChannelsLast) is no flat
    vector, though its spec says "flat"."""
    dims = "×".join(map(str, spec.shape))
    sequence = model.sequence_layout() if model is not None else None
    if spec.layout == "flat" and sequence == "C×L":
        return f"N×{dims} (C×L, channels first, sequence, as PyTorch exports)"
    if spec.layout == "flat" and sequence == "L×C":
        return f"N×{dims} (L×C, channels last, sequence, as Keras exports)"
    if spec.layout == "NCHW":
        return (f"N×{dims} (NCHW, channels first, as PyTorch exports); images H×W×C are "
                "converted")
    if spec.layout == "NHWC":
        return f"N×{dims} (NHWC, channels last, as Keras and the LRP Toolbox)"
    return f"N×{dims} (flat)"


CLASSES_SHOWN = 20  # ImageNet's 1000 names would fill the terminal


def run(args) -> int:
    from ..io.models import load_model

    if os.fspath(args.model).lower().endswith((".pth", ".pt")):
        print(describe_state_dict(os.fspath(args.model)))
        return 0
    try:
        model = load_model(args.model, sidecar=not args.no_sidecar)
    except ModelFormatError as exc:
        if not _looks_like_data(os.fspath(args.model)):
            raise
        raise ModelFormatError(f"{exc}; it looks like samples: 'lrp data info "
                               f"{printable(os.fspath(args.model))}' describes a dataset") from None
    print(printable(describe_model(model, os.fspath(args.model))))
    warn_if_incomplete("info", args.model, model)
    return 0


def _looks_like_data(path) -> bool:
    """A built-in dataset's name, a folder, an array or a photograph: what a new user may
    give 'lrp info' (a model's report) for 'lrp data info' (a dataset's)."""
    from ..io.datasets import DATASET_NAMES  # noqa: PLC0415
    from ..io.image_folder import IMAGE_EXTENSIONS  # noqa: PLC0415

    return path in DATASET_NAMES or os.path.isdir(path) or (
        os.path.isfile(path)
        and path.lower().endswith((".npy", ".idx", ".ubyte", ".gz", *IMAGE_EXTENSIONS)))


def describe_state_dict(path) -> str:
    """The tensors of a PyTorch state dict (read safely, never run), one line each."""
    from ..io.torch_pth import read_state_dict  # noqa: PLC0415

    tensors = read_state_dict(path)
    width = min(48, max(len(k) for k in tensors))
    lines = [f"{printable(path)}: PyTorch state dict, {len(tensors)} tensors, "
             f"{sum(t.size for t in tensors.values()):,} values"]
    for name, t in tensors.items():
        shape = "×".join(map(str, t.shape)) or "scalar"
        lines.append(f"  {printable(name):<{width}}  {shape:<18} {t.dtype}")
    lines.append("build a model from it: lrp convert FILE.pth OUT.npz --arch efficientnet-lite0")
    return "\n".join(lines)
