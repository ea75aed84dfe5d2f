"""The project's native model format: an ``.npz`` of parameter arrays plus a JSON header.

The header (stored as a unicode string array named ``header``, so the file loads with pickling
disabled) describes the architecture, the input specification, class names, provenance and
measured accuracy. Parameter arrays are named ``layer{i}.W`` and ``layer{i}.B``.
"""

from __future__ import annotations

import io
import json
import os
import zipfile

import numpy as np

from ..errors import ModelFormatError
from ..layers import Convolution, Flatten, Linear, MaxPool, Rect, SoftMax, SumPool, Tanh
from ..model import Sequential
from ..spec import InputSpec

FORMAT = "lrp-explorer-model"
VERSION = 1
_PLAIN = {"Rect": Rect, "Tanh": Tanh, "SoftMax": SoftMax, "Flatten": Flatten}


def _layer_header(layer) -> dict:
    k = layer.kind
    if k in _PLAIN:
        return {"type": k}
    if k == "Linear":
        return {"type": k, "inputs": layer.m, "outputs": layer.n}
    if k == "Convolution":
        return {"type": k, "filters": list(layer.W.shape), "stride": list(layer.stride)}
    if k in ("SumPool", "MaxPool"):
        return {"type": k, "pool": list(layer.pool), "stride": list(layer.stride)}
    raise ModelFormatError(f"layer type {k} cannot be stored in the native format")


def model_header(model) -> dict:
    meta = dict(model.meta)
    return {
        "format": FORMAT,
        "version": VERSION,
        "layers": [_layer_header(layer) for layer in model.layers],
        "input": model.input_spec.to_dict() if model.input_spec else None,
        "class_names": meta.pop("class_names", None),
        "provenance": meta.pop("provenance", None),
        "accuracy": meta.pop("accuracy", None),
        "meta": meta,
    }


def native_bytes(model, dtype=None) -> bytes:
    """Serialise a model (parameters in ``dtype``, default: as stored)."""
    arrays = {"header": np.array(json.dumps(model_header(model)))}
    for i, layer in enumerate(model.layers):
        if layer.weighted:
            arrays[f"layer{i}.W"] = np.asarray(layer.W, dtype=dtype or layer.W.dtype)
            arrays[f"layer{i}.B"] = np.asarray(layer.B, dtype=dtype or layer.B.dtype)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def save_native(model, path, dtype=None, overwrite=True) -> None:
    from ..fileio import atomic_write_bytes

    atomic_write_bytes(path, native_bytes(model, dtype), overwrite=overwrite)


def _array(npz, key, path, shape):
    if key not in npz.files:
        raise ModelFormatError(f"{path}: parameter array {key!r} is missing")
    arr = npz[key]
    if arr.dtype not in (np.float32, np.float64):
        raise ModelFormatError(f"{path}: {key} has dtype {arr.dtype}; expected float32/64")
    if tuple(arr.shape) != tuple(shape):
        raise ModelFormatError(f"{path}: {key} has shape {arr.shape}; the header says {shape}")
    if not np.all(np.isfinite(arr)):
        raise ModelFormatError(f"{path}: {key} contains NaN or infinite values")
    return arr


def _ints(spec, key, n, path, i):
    vals = spec.get(key)
    if (not isinstance(vals, list) or len(vals) != n
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in vals)):
        raise ModelFormatError(f"{path}: layer {i}: '{key}' must be {n} positive integers")
    return vals


def _build_layer(i, spec, npz, path):
    if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
        raise ModelFormatError(f"{path}: layer {i} of the header has no 'type'")
    k = spec["type"]
    if k in _PLAIN:
        return _PLAIN[k]()
    if k == "Linear":
        m, n = spec.get("inputs"), spec.get("outputs")
        if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (m, n)):
            raise ModelFormatError(f"{path}: layer {i}: Linear needs positive 'inputs'/'outputs'")
        return Linear(_array(npz, f"layer{i}.W", path, (m, n)),
                      _array(npz, f"layer{i}.B", path, (n,)))
    if k == "Convolution":
        f = _ints(spec, "filters", 4, path, i)
        s = _ints(spec, "stride", 2, path, i)
        return Convolution(_array(npz, f"layer{i}.W", path, f),
                           _array(npz, f"layer{i}.B", path, (f[3],)), s)
    if k in ("SumPool", "MaxPool"):
        p = _ints(spec, "pool", 2, path, i)
        s = _ints(spec, "stride", 2, path, i)
        return (SumPool if k == "SumPool" else MaxPool)(p, s)
    raise ModelFormatError(f"{path}: layer {i}: unknown layer type {k[:40]!r}")


def read_header(path) -> dict:
    """The JSON header of a native model file (validated for format and version)."""
    path = os.fspath(path)
    with _open(path) as npz:
        return _header(npz, path)


def _open(path):
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ModelFormatError(f"{path}: not a readable .npz model file ({exc})") from None


def _header(npz, path) -> dict:
    if not hasattr(npz, "files"):
        raise ModelFormatError(f"{path}: not an .npz archive")
    if "header" not in npz.files:
        raise ModelFormatError(f"{path}: no 'header' entry; not an LRP Explorer model file")
    try:
        raw = npz["header"]
        text = str(raw.item()) if raw.shape == () else None
        header = json.loads(text) if text is not None else None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
        raise ModelFormatError(f"{path}: header is not valid JSON ({exc})") from None
    if not isinstance(header, dict):
        raise ModelFormatError(f"{path}: header must be a JSON object")
    if header.get("format") != FORMAT:
        raise ModelFormatError(f"{path}: header format is {header.get('format')!r}, "
                               f"expected {FORMAT!r}")
    if header.get("version") != VERSION:
        raise ModelFormatError(f"{path}: format version {header.get('version')!r} is not "
                               f"supported (this program reads version {VERSION})")
    if not isinstance(header.get("layers"), list) or not header["layers"]:
        raise ModelFormatError(f"{path}: header lists no layers")
    return header


def read_native(path) -> Sequential:
    path = os.fspath(path)
    with _open(path) as npz:
        header = _header(npz, path)
        try:
            layers = [_build_layer(i, spec, npz, path) for i, spec in enumerate(header["layers"])]
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
            if isinstance(exc, ModelFormatError):
                raise
            raise ModelFormatError(f"{path}: damaged parameter data ({exc})") from None
    spec = None
    if isinstance(header.get("input"), dict):
        try:
            spec = InputSpec.from_dict(header["input"], source="file")
        except (TypeError, ValueError) as exc:
            raise ModelFormatError(f"{path}: bad input specification ({exc})") from None
    meta = dict(header.get("meta") or {})
    for key in ("class_names", "provenance", "accuracy"):
        if header.get(key) is not None:
            meta[key] = header[key]
    model = Sequential(layers, spec, meta, source=path)
    try:
        model.shapes()
    except Exception as exc:
        raise ModelFormatError(f"{path}: layers do not fit together: {exc}") from None
    return model
