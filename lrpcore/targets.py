"""What a relevance map explains: the one parser of target specs, used by the engine
(:func:`lrpcore.explain.initial_relevance`, the gradient baselines' seed), the command line,
the GUI's state and its workers.

A target is ``"pred"`` (the predicted class), ``"true"`` (the label), ``"output"`` (every
output at once), a class index (an int, or its digits as text) or, for a model with class
names, a class name ("Egyptian cat": any case, ``_`` for spaces, or an unambiguous start of
one such as "egyptian"). The words come first: a class that is named "true" is reached by
its index; digits are an index, and an index out of range that is also a class's name ("7"
of classes "3" and "7") is refused with that class's index.
"""

from __future__ import annotations

import difflib

import numpy as np

from .errors import RuleError, ShapeError
from .map_targets import (
    check_region,
    is_map,
    map_words,
    predicted_classes,
    refuse_true_target,
)
from .text import is_digits

TARGET_WORDS = ("pred", "true", "output")
# how a class name may be given, as the commands' --target helps say it (class_by_name)
CLASS_NAME_HELP = '"Egyptian cat"; any case, or its first whole words, "egyptian"'
# other spellings the engine has always taken
_ALIASES = {"predicted": "pred", "all": "output", "raw": "output"}


def parse_target(value, words=TARGET_WORDS, what="target", class_names=None):
    """``value`` as lrpcore takes it: one of ``words`` (lower case) or a class index (int).

    ``class_names`` (a sequence, or a callable returning one, called only when a name has to
    be looked up) lets ``value`` name a class and bounds the class indices. Raises RuleError
    naming ``what`` (e.g. "--target") for anything else, also for negative indices and
    booleans; an unknown name's error lists the closest class names.
    """
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return _checked_index(int(value), what, class_names)
    if not isinstance(value, str):
        raise RuleError(f"{what} {value!r}: {_usage(words, False)}")
    text = value.strip().lower()
    text = _ALIASES.get(text, text) if _ALIASES.get(text) in words else text
    if text in words:
        return text
    if _ALIASES.get(text, text) in TARGET_WORDS:  # e.g. "output" where one class is needed
        raise RuleError(f"{what} {value!r} is not available here: "
                        f"{_usage(words, _has_names(_names(class_names)))}")
    if is_digits(text):
        return _checked_index(int(text), what, class_names)
    if text.startswith("-") and is_digits(text[1:]):
        raise RuleError(f"{what} {value}: a class index cannot be negative")
    names = _names(class_names)
    if text and names and not _has_names(names):
        # an ONNX export's 1000 classes are "0".."999": "Egyptian cat" names none of them
        raise RuleError(f"{what} {value!r}: the model's classes are known by their indices "
                        f"only (0 … {len(names) - 1}; a sidecar's \"class_names\" can name "
                        f"them): {_usage(words, False)}")
    if not text or not names:
        raise RuleError(f"{what} {value!r}: {_usage(words, False)}")
    return class_by_name(value, names, what, words)


def target_spec(value, words=TARGET_WORDS, class_names=None) -> str:
    """The text form of a target (what settings and sidecars store): "pred", "3", ..."""
    return str(parse_target(value, words, class_names=class_names))


def explains_all_outputs(target) -> bool:
    """Whether ``target`` is ``output`` (in any spelling the parser takes)."""
    return isinstance(target, str) and _ALIASES.get(t := target.strip().lower(), t) == "output"


def one_class_per_sample(target, what, class_names=None, model=None):
    """``target`` for a tool that follows one class per sample (pixel-flipping, sanity
    checks, sweeps): parsed (a name becomes its index), arrays unchanged; ``output``, and a
    ``model`` whose output is a map (a segmentation model: no one score per sample to follow),
    raise ShapeError naming the tool (``what``)."""
    shape = None if model is None else model_map_shape(model)
    if shape is not None:
        raise ShapeError(f"{what} follows one class score per sample; this segmentation "
                         f"model's output is {map_words(shape)}: explain the pixels of a "
                         "class instead (the explorer's heatmap, lrp explain --target CLASS)")
    if explains_all_outputs(target):
        raise ShapeError(f"{what} follows one class per sample: use pred, true or a class")
    return parse_target(target, class_names=class_names) if isinstance(target, str) else target


def class_by_name(value: str, names, what="target", words=TARGET_WORDS) -> int:
    """The index of the class ``value`` names: an exact name (any case, ``_`` for spaces),
    else the one class whose name starts with it as whole words ("egyptian" for "Egyptian
    cat", not "cat" for "catamaran"). Ambiguous or unknown names raise RuleError listing the
    candidates (index and name), so the user can pick one."""
    key = _key(value)
    keys = [_key(n) for n in names]
    exact = [k for k, n in enumerate(keys) if n == key]
    if len(exact) == 1:
        return exact[0]
    if len(exact) > 1:
        raise RuleError(f"{what} {value!r} names {len(exact)} classes: "
                        f"{_listed(exact, names)}; give the class index")
    starts = [k for k, n in enumerate(keys) if n.startswith(key + " ")]
    if len(starts) == 1:
        return starts[0]
    if starts:
        raise RuleError(f"{what} {value!r} is the start of {len(starts)} class names: "
                        f"{_listed(starts, names)}; give more of the name or the class index")
    close = set(difflib.get_close_matches(key, keys, n=5, cutoff=0.6))
    near = [k for k, n in enumerate(keys) if key in n.split()] + \
        [k for k, n in enumerate(keys) if key in n and key not in n.split()] + \
        [k for k, n in enumerate(keys) if n in close and key not in n]
    hint = f"; close: {_listed(near, names)}" if near else _all_named(names, "; classes: ")
    raise RuleError(f"{what} {value!r}: no class of the model has this name{hint} "
                    f"({_usage(words, True)})")


def not_scores(sample_shape) -> str | None:
    """Why a command that scores or compares classes per sample cannot take outputs of
    per-sample shape ``sample_shape`` (None when they are a vector of class scores): a map
    (a segmentation model) is explained pixel by pixel (:mod:`lrpcore.map_targets`) by
    ``lrp explain``, ``lrp concepts``, ``lrp spray`` and the explorer only."""
    if not is_map(sample_shape):
        return None
    return (f"the model's output is {map_words(sample_shape)}, not a vector of class scores, "
            "which this command needs (lrp explain with --out R.npy, lrp concepts, lrp spray "
            "and the explorer explain a segmentation model's pixels)")


def model_not_scores(model) -> str | None:
    """:func:`not_scores` of ``model``'s output; None when its shape is not known from the
    model alone (then it is checked when data is fed)."""
    shape = model_map_shape(model)
    return None if shape is None else not_scores(shape)


def model_map_shape(model) -> tuple | None:
    """The per-sample shape of ``model``'s output when it is a map (a segmentation model,
    channels last), else None (a vector of scores, or a shape not known from the model
    alone)."""
    try:
        shapes = model.shapes()
    except Exception:  # noqa: BLE001 - an unknown input shape, a model that fails with data
        return None
    return tuple(shapes[-1]) if shapes and is_map(shapes[-1]) else None


def resolve_classes(y, target, labels=None, xp=np, class_names=None, region=None):
    """The explained class per sample of the outputs ``y`` (N×K, or a map N×…×K: see
    :mod:`lrpcore.map_targets`, whose ``region`` a map's ``pred`` counts pixels in) as an
    index array on the device, or None for ``output`` (every output is explained).
    ``target`` is anything :func:`parse_target` takes, or an array of per-sample classes."""
    if y.ndim < 2:
        raise ShapeError(f"expected outputs of shape N×K, got {y.shape}")
    check_region(region, y.shape[1:])  # a map's box, or refused
    n, k = y.shape[0], y.shape[-1]
    if isinstance(target, str):
        target = parse_target(target, class_names=class_names)
        if target == "output":
            return None
        if target == "pred":
            return predicted_classes(y, xp, region)
        if target == "true":
            if y.ndim > 2:
                refuse_true_target()
            if labels is None:
                raise ShapeError("target 'true' needs the samples' labels: pass labels= "
                                 "(one class per sample), or target='pred'")
            return class_array(_named_per_sample(labels, class_names, "label"), n, k, xp,
                               "label")
    return class_array(_named_per_sample(target, class_names), n, k, xp, "target class")


def _named_per_sample(target, class_names, what="target"):
    """Per-sample targets (or labels, ``what``) given by class name (``["tabby", "tiger
    cat"]``) as indices, read as one target is; anything else as it is. Names were "target
    classes must be whole numbers"."""
    if isinstance(target, str) or hasattr(target, "get") or np.ndim(target) != 1:
        return target
    arr = np.asarray(target)
    if arr.dtype.kind not in "US":
        return target
    out = []
    for i, text in enumerate(arr.tolist()):
        c = parse_target(text, what=f"{what} of sample {i}", class_names=class_names)
        if not isinstance(c, int):  # 'pred' and the other words mean one thing for all
            raise RuleError(f"{what} of sample {i} {text!r}: a per-sample {what} is a class "
                            f"(index or name); {c!r} is given as the one target for all")
        out.append(c)
    return np.asarray(out, dtype=np.int64)


def class_array(c, n, k, xp, what):
    """``c`` (one class or one per sample) as N class indices on the device, checked to be
    whole numbers within the K outputs."""
    given = np.asarray(c.get() if hasattr(c, "get") else c)
    arr = given.reshape(-1)
    many = what + ("es" if what.endswith("s") else "s")  # "target classes", not "classs"
    if arr.size == 1:
        arr = np.repeat(arr, n)
    if arr.size != n:
        raise count_mismatch(given, n, many)
    if arr.dtype == np.bool_:  # a mask (True read as class 1) explained classes 0 and 1
        raise ShapeError(f"{many} must be whole numbers, got booleans (a mask?)")
    try:  # as floats first: a class such as 10**20 fits no integer type
        f = arr.astype(np.float64)
    except (TypeError, ValueError, OverflowError):
        raise ShapeError(f"{many} must be whole numbers") from None
    if not np.all(np.isfinite(f)) or np.any(f != np.round(f)):
        raise ShapeError(f"{many} must be whole numbers")
    bad = f[(f < 0) | (f >= k)]
    if bad.size:
        raise ShapeError(f"{what} {bad[0]:.0f} is out of range: the model has {k} outputs "
                         f"(0..{k - 1})")
    return xp.asarray(f.astype(np.int64))


def count_mismatch(given, n, many) -> ShapeError:
    """The refusal of ``given`` (labels, target classes) that is not one per sample of ``n``;
    one-hot rows (N×K, as Keras and Captum users hold labels) are named with their remedy
    ("40 labels given for 4 samples" left the reader to work it out)."""
    given = np.asarray(given)
    if given.ndim == 2 and given.shape[0] == n and given.shape[1] > 1:
        return ShapeError(f"{many} of shape {given.shape[0]}×{given.shape[1]} given for {n} "
                          "samples: give one class index per sample (one-hot rows: "
                          "argmax(axis=1))")
    return ShapeError(f"{given.size} {many} given for {n} samples")


def _checked_index(index, what, class_names):
    if index < 0:
        raise RuleError(f"{what} {index}: a class index cannot be negative")
    names = _names(class_names) if class_names is not None and not callable(class_names) \
        else None
    if names and index >= len(names):
        valid = f"0..{len(names) - 1}{_all_named(names, ': ')}"
        raise RuleError(f"{what} {index} is out of range: the model has {len(names)} classes "
                        f"({valid}){_named(index, names, what)}")
    return index


def _all_named(names, lead, most=12) -> str:
    """The classes as "0 (cat), 1 (dog)" after ``lead``, so an error shows what is valid;
    empty for many classes or for classes named by their own index (nothing to add)."""
    if len(names) > most or all(n == str(k) for k, n in enumerate(names)):
        return ""
    return lead + _listed(range(len(names)), names, most)


def _named(index, names, what) -> str:
    """Digits are read as an index first; when they are also a class's name (classes "3" and
    "7" from image subfolders), say which index that class has."""
    named = [k for k, n in enumerate(names) if _key(n) == str(index)]
    return f"; '{index}' is the name of class {named[0]}: give {what} {named[0]}" if named else ""


def _names(class_names) -> list:
    names = class_names() if callable(class_names) else class_names
    return [str(n) for n in names] if names is not None else []


def _has_names(names) -> bool:
    """Whether the classes have names besides their indices (an ONNX export's are "0".."999")."""
    return any(n != str(k) for k, n in enumerate(names))


def _key(name) -> str:
    return " ".join(str(name).replace("_", " ").lower().split())


def _listed(indices, names, most=8) -> str:
    indices = list(indices)
    shown = ", ".join(f"{k} ({names[k]})" for k in indices[:most])
    return shown + (f", … {len(indices) - most} more" if len(indices) > most else "")


def _usage(words, with_names) -> str:
    name = ", a class index or a class name" if with_names else " or a class index"
    return f"use {', '.join(words)}{name}"
