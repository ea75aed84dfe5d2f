"""Resumable training checkpoints: parameters, optimiser state and loop state in one ``.npz``.

Nothing is pickled: arrays are plain, the loop state (epoch, random-generator state, history,
configuration) is a JSON string. Written atomically, so an interrupted write never leaves a
broken checkpoint behind.
"""

from __future__ import annotations

import io
import json
import os

import numpy as np

from ..errors import LRPError, ModelFormatError
from ..fileio import atomic_write_bytes
from ..io.claims import NPY_HEADER_ERRORS, ZIP_ERRORS, check_npz_budget

FORMAT = "lrp-explorer-checkpoint"
VERSION = 1


def checkpoint_path(model_path) -> str:
    """Where the checkpoint of ``MODEL.npz`` lives: ``MODEL.ckpt.npz`` beside it."""
    root, _ = os.path.splitext(os.fspath(model_path))
    return root + ".ckpt.npz"


def save_checkpoint(path, state: dict, params, optimizer_arrays: dict, to_numpy) -> None:
    arrays = {"state": np.array(json.dumps({"format": FORMAT, "version": VERSION, **state}))}
    for i, p in enumerate(params):
        if p is not None:
            for key in ("W", "B"):
                arrays[f"param.{i}.{key}"] = to_numpy(p[key])
    for name, arr in optimizer_arrays.items():
        arrays[f"opt.{name}"] = to_numpy(arr)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def as_run_dtype(arr, dtype, xp, what):
    """A checkpoint's array as the run's ``dtype`` on the device, refused when a value lies
    beyond that dtype: a float64 checkpoint's 1e300 resumed in float32 became inf (with
    numpy's overflow warning), and the run wrote a model and a checkpoint no reader opens."""
    top = float(np.abs(arr).max()) if arr.size else 0.0
    if top > float(np.finfo(dtype).max):
        raise LRPError(f"{what} holds values up to {top:.3g}, beyond {np.dtype(dtype).name}; "
                       "resume with --dtype float64")
    return xp.asarray(arr, dtype=dtype)


def load_checkpoint(path, budget=None):
    """``(state, params_by_slot, optimizer_arrays)``; errors name the file and the problem.

    ``budget``: the most bytes the arrays of a checkpoint of this run can need (from the
    model's parameter count); a file claiming more is refused before anything is inflated.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise LRPError(f"{path}: no such checkpoint file")
    if budget is not None:
        check_npz_budget(path, budget, ModelFormatError, "checkpoint arrays")
    try:
        with np.load(path, allow_pickle=False) as npz:
            if not hasattr(npz, "files") or "state" not in npz.files:
                raise ModelFormatError(f"{path}: not a training checkpoint (no 'state' entry)")
            state = json.loads(str(npz["state"].item()))
            params, opt = {}, {}
            for key in npz.files:
                if key.startswith("param."):
                    params[key[len("param."):]] = npz[key]
                elif key.startswith("opt."):
                    opt[key[len("opt."):]] = npz[key]
    except ModelFormatError:
        raise
    except (ValueError, RecursionError, *ZIP_ERRORS, *NPY_HEADER_ERRORS) as exc:
        raise ModelFormatError(f"{path}: not a readable checkpoint ({str(exc)[:200]})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ModelFormatError(f"{path}: not an LRP Explorer training checkpoint")
    if state.get("version") != VERSION:
        raise ModelFormatError(f"{path}: checkpoint version {state.get('version')!r} is not "
                               f"supported (this program reads version {VERSION})")
    for name, arr in list(params.items()) + list(opt.items()):
        if arr.dtype.kind != "f" or not np.all(np.isfinite(arr)):
            raise ModelFormatError(f"{path}: array {name!r} is not finite floating point")
    return state, params, opt
