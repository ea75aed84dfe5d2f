"""``lrp info``: what a model file holds (layers, shapes, parameters, input, metadata)."""

from __future__ import annotations

import json
import os

from ..model import format_accuracy
from .common import add_command


def register(sub):
    p = add_command(sub, "info", "Show a model's layers, shapes, parameters and input.",
                    "lrp info models/LeNet-5.txt",
                    description="Prints every layer with its output shape and parameter count, "
                    "the input specification (how raw samples are scaled and padded), and the "
                    "class names, accuracy and provenance the file carries. Reads .txt, .nn, "
                    ".npz and .onnx models; a MODEL.json sidecar beside the file is applied.")
    p.add_argument("model", help="model file (.txt, .nn, .npz, .onnx)")
    p.add_argument("--no-sidecar", action="store_true", help="ignore MODEL.json beside the file")
    p.set_defaults(func=run)


def _text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def describe_model(model, path) -> str:
    """The report ``lrp info`` prints (also usable by other front ends)."""
    from ..io.sidecar import sidecar_path

    ext = os.path.splitext(path)[1].lower()
    lines = [f"model: {path} ({ext[1:] or '?'} format)", model.summary()]
    spec = model.input_spec
    if spec is not None:
        origin = {"inferred": "guessed from the layers", "sidecar": sidecar_path(path),
                  "file": "stored in the file", "onnx": "from the ONNX input"}.get(spec.source,
                                                                                  spec.source)
        lines.append(f"input specification: {origin}")
    n = model.n_classes
    names = model.meta.get("class_names")
    if names:
        lines.append(f"classes ({len(names)}): {', '.join(names)}")
    elif n:
        lines.append(f"classes: {n} outputs, unnamed")
    lines.append("output: " + ("SoftMax probabilities (LRP explains the scores before it)"
                               if model.ends_with_softmax() else "raw scores"))
    if model.meta.get("accuracy") is not None:
        acc = model.meta["accuracy"]
        lines.append(f"accuracy: {format_accuracy(acc)}")
    if model.meta.get("provenance") is not None:
        lines.append(f"provenance: {_text(model.meta['provenance'])}")
    return "\n".join(lines)


def run(args) -> int:
    from ..io.models import load_model

    model = load_model(args.model, sidecar=not args.no_sidecar)
    print(describe_model(model, os.fspath(args.model)))
    return 0
