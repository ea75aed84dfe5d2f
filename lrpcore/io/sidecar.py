"""Sidecar files: ``MODEL.json`` beside ``MODEL.txt`` (or ``.nn``, ``.npz``, ``.onnx``).

Formats such as the toolbox's text files carry no input specification, and the one inferred
from the layers is a guess (toolbox MNIST conventions). A sidecar states it explicitly and may
name the classes::

    {"input": {"shape": [32, 32, 1], "raw_shape": [28, 28, 1], "pad": 2,
               "divide": 127.5, "offset": -1.0},
     "class_names": ["zero", "one", ...]}

Fields left out of ``input`` keep the value the model already had; an image's ``layout`` is
the one the model takes (NCHW for a PyTorch ONNX export), and a sidecar that names another is
refused, naming both. The sidecar of a native
``.npz`` overrides its header. Unknown keys are errors, so typos do not pass silently.
"""

from __future__ import annotations

import json
import os
import zipfile

from ..errors import ExportError, ModelFormatError, RuleError
from ..sample_layout import image_shape
from ..text import listing
from .spec_json import check_layout, class_names_from_json, finite_number, spec_from_json

SIDECAR_KEYS = ("input", "class_names", "provenance", "accuracy", "recommended_rule")
_MAX_BYTES = 1 << 20


def sidecar_path(model_path) -> str:
    """Where the sidecar of a model file lives: the same name with ``.json``."""
    return os.path.splitext(os.fspath(model_path))[0] + ".json"


def assumed_scaling(model, model_path) -> str | None:
    """Where a model's input scaling is assumed (an ONNX file holds none: EfficientNet-Lite0's
    export needs (x/255 − 0.498)/0.502, not the x/255 taken for it), the sentence saying so
    and which sidecar would set it; None where a file or sidecar states it. ``lrp info`` and
    the explorer's model summary both say it."""
    spec = model.input_spec
    if spec is None or spec.source != "onnx":
        return None
    return ("its scaling is assumed, an ONNX file holds none (a sidecar's \"input\" sets it: "
            f"{os.path.basename(sidecar_path(model_path))})")


def sidecar_owner(path, besides=()) -> str | None:
    """The model file beside ``path`` whose sidecar ``path`` is (``m.json`` of ``m.npz``), other
    than those in ``besides``, or None: an output written there would be applied to that model
    the next time it loads."""
    from ..bundled import MODEL_EXTENSIONS  # noqa: PLC0415

    stem, ext = os.path.splitext(os.fspath(path))
    if ext.lower() != ".json":
        return None
    skip = {os.path.realpath(p) for p in besides if p}
    for model_ext in MODEL_EXTENSIONS:
        for candidate in (stem + model_ext, stem + model_ext.upper()):
            if (os.path.isfile(candidate) and os.path.realpath(candidate) not in skip
                    and could_be_model(candidate)):
                return candidate
    return None


SNIFF_BYTES = 4096  # a toolbox text model's first layer line lies within its first bytes


def could_be_model(path) -> bool:
    """Whether the file ``path`` (of a model's extension) may be a model, judged from its
    first bytes: a ``.txt`` whose first line is no toolbox layer (``labels.txt``, notes) and an
    ``.npz`` without a model header (samples, a SpRAy result) are no models, and their
    ``.json`` no sidecar; anything unreadable counts as a model (kept safe)."""
    ext = os.path.splitext(os.fspath(path))[1].lower()
    try:
        if ext == ".txt":
            from .toolbox_txt import starts_like_toolbox_text  # noqa: PLC0415

            with open(path, "rb") as fh:
                return starts_like_toolbox_text(fh.read(SNIFF_BYTES))
        if ext == ".npz":
            if not zipfile.is_zipfile(path):
                return False
            with zipfile.ZipFile(path) as archive:
                return "header.npy" in archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return True
    return True


def refuse_model_sidecar(path, besides=()) -> None:
    """An output never replaces or creates a model's sidecar (of a model other than those in
    ``besides``), even with --overwrite: the model would lose its input specification and
    class names, or fail to load."""
    owner = sidecar_owner(path, besides)
    if owner:
        raise ExportError(f"{os.fspath(path)}: is the sidecar of the model "
                          f"{os.path.basename(owner)} beside it (its input specification and "
                          "class names, read whenever it loads); writing there would replace "
                          "it: give the output another name")


def read_sidecar(path) -> dict:
    """The sidecar's JSON object (checked for its keys; values are checked when applied)."""
    path = os.fspath(path)
    try:
        size = os.path.getsize(path)
        if size > _MAX_BYTES:
            raise ModelFormatError(f"{path}: sidecar is {size} bytes; more than a model "
                                   "description needs (limit 1 MiB)")
        with open(path, "rb") as fh:
            text = fh.read().decode("utf-8")
        data = json.loads(text)
    except UnicodeDecodeError as exc:
        raise ModelFormatError(f"{path}: sidecar is not UTF-8 text (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise ModelFormatError(f"{path}: sidecar is not valid JSON: {exc.msg} at line "
                               f"{exc.lineno}, column {exc.colno}") from None
    except ValueError as exc:  # an integer of 5,000 digits: Python refuses to convert it
        raise ModelFormatError(f"{path}: sidecar is not usable JSON: {str(exc)[:120]}") from None
    except (OSError, RecursionError) as exc:
        raise ModelFormatError(f"{path}: cannot read sidecar: {exc}") from None
    if not isinstance(data, dict):
        raise ModelFormatError(f"{path}: sidecar must hold a JSON object {{...}}")
    unknown = sorted(str(k)[:30] for k in data if k not in SIDECAR_KEYS)
    if unknown:
        raise ModelFormatError(f"{path}: unknown sidecar key(s) {listing(unknown)}; "
                               f"known: {', '.join(SIDECAR_KEYS)}")
    return data


def sidecar_input_shape(path):
    """The sidecar's ``input`` ``shape`` as written (checked where it is used), or None where
    it gives none. One that cannot be read is refused here, as :func:`apply_sidecar` would:
    read as none, a model whose sizes it was to fix was refused asking for the sidecar that
    was there, its own defect never named."""
    given = read_sidecar(path).get("input")
    return given.get("shape") if isinstance(given, dict) else None


def apply_sidecar(model, path) -> None:
    """Override the model's input spec and metadata with the sidecar at ``path``."""
    path = os.fspath(path)
    data = read_sidecar(path)
    if "input" in data:
        given = data["input"]
        if isinstance(given, dict) and "layout" not in given and isinstance(
                given.get("shape"), list) and len(given["shape"]) == 3:
            given = {**given, "layout": model.input_layout()}  # not NHWC by default
        spec = spec_from_json(given, f"{path}: 'input'", base=model.input_spec,
                              source="sidecar", sequence=model.sequence_layout())
        check_layout(spec, model, f"{path}: 'input'")
        try:
            model.shapes(spec.shape)
        except Exception as exc:  # noqa: BLE001 - ShapeError from the layers
            raise ModelFormatError(f"{path}: input shape {list(spec.shape)} does not fit the "
                                   f"model: {exc}") from None
        model.input_spec = spec
    if "class_names" in data:
        model.meta["class_names"] = class_names_from_json(data["class_names"], path,
                                                          model.n_classes)
    if "provenance" in data:
        if not isinstance(data["provenance"], str | dict):
            raise ModelFormatError(f"{path}: 'provenance' must be a string or an object")
        model.meta["provenance"] = data["provenance"]
    if "accuracy" in data:
        model.meta["accuracy"] = check_accuracy(data["accuracy"], path)
    if "recommended_rule" in data:
        model.meta["recommended_rule"] = check_rule_spec(data["recommended_rule"], path)


def check_rule_spec(value, where) -> str:
    """A ``recommended_rule``: a rule spec or preset name that parses (the README offers it
    in a sidecar, which refused it as an unknown key)."""
    from ..presets import preset_or_none
    from ..rules import parse_rule

    if not isinstance(value, str) or not value.strip():
        raise ModelFormatError(f"{where}: 'recommended_rule' must be a rule spec such as "
                               "\"EpsilonPlus\" or \"epsilon:0.01\"")
    try:
        if preset_or_none(value) is None:
            parse_rule(value)
    except RuleError as exc:
        raise ModelFormatError(f"{where}: 'recommended_rule': {exc}") from None
    return value.strip()


def check_accuracy(value, where):
    """Accuracy metadata: a fraction in [0, 1], or an object of such fractions and counts."""
    def fraction(v):
        return isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 1

    if fraction(value):
        return float(value)
    if isinstance(value, dict) and all(isinstance(k, str) for k in value) and all(
            isinstance(v, str) or finite_number(v) for v in value.values()):
        return dict(value)  # finite: NaN would reach every export's sidecar as invalid JSON
    raise ModelFormatError(f"{where}: 'accuracy' must be a number in [0, 1] or an object of "
                           "numbers")


def sidecar_data(model) -> dict:
    """What a sidecar must say so that a format without metadata (``.txt``) loses nothing:
    the input spec when it differs from the inferred one, and class names."""
    from ..spec import infer_input_spec
    from .spec_json import FIT_FIELDS, SPEC_FIELDS

    data = {}
    spec = model.input_spec
    if spec is not None and spec != infer_input_spec(model.layers):
        data["input"] = {k: v for k, v in spec.to_dict().items()
                         if k in SPEC_FIELDS + FIT_FIELDS}
    for key in ("class_names", "provenance", "accuracy", "recommended_rule"):
        if model.meta.get(key) is not None:
            data[key] = model.meta[key]
    return data


def write_sidecar(model, model_path, overwrite=False) -> str | None:
    """Write ``MODEL.json`` beside ``model_path`` when needed; returns its path or None."""
    from ..fileio import atomic_write_text

    data = sidecar_data(model)
    if not data:
        return None
    path = sidecar_path(model_path)
    atomic_write_text(path, json.dumps(data, indent=1) + "\n", overwrite=overwrite)
    return path


def guessed_size_hint(model, shape) -> str:
    """Where a model file records no input size and the one guessed from its layers (the
    smallest they take: 5×5 for a fully convolutional toolbox net) is not the data's
    (``shape``: one sample, as :func:`lrpcore.sample_layout.image_shape` sees it), which they
    take too: the sidecar that makes the data's size the model's. The one wording of the
    explorer's dataset refusal and of ``lrp explain``'s (``Explainer.prepare``)."""
    spec = getattr(model, "input_spec", None)
    source = getattr(model, "source", None)
    have = tuple(int(d) for d in image_shape(tuple(shape)))
    if spec is None or spec.source != "inferred" or spec.pad or len(have) != 3 \
            or not source or spec.layout != "NHWC" or have == tuple(spec.raw_shape) \
            or not model._takes(have):
        return ""
    side = os.path.basename(sidecar_path(source))
    return (f"; that size is guessed from its layers (the file records none), which take "
            f"{'×'.join(map(str, have))} too: a sidecar {side} of {{\"input\": {{\"shape\": "
            f"{list(have)}}}}} makes it the model's")
