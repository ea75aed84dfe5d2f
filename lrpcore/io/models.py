"""Open and save models by file extension; every loader is safe on untrusted files.

``LOADERS`` and ``WRITERS`` map a lower-case extension to a function. After loading, a sidecar
``MODEL.json`` beside the file (see :mod:`lrpcore.io.sidecar`) overrides the input
specification and may add class names, whatever the format.
"""

from __future__ import annotations

import os

import numpy as np

from ..errors import ExportError, ModelFormatError
from ..fileio import read_bytes, require_regular_file
from ..model import Sequential
from ..text import printable_meta
from .native import read_native, save_native
from .sidecar import apply_sidecar, sidecar_input_shape, sidecar_path
from .toolbox_nn import read_toolbox_nn
from .toolbox_txt import read_toolbox_txt, write_toolbox_txt

MATLAB_HEADER = b"MATLAB 5.0 MAT-file"


def read_onnx(path, input_shape=None) -> Sequential:
    from .onnx_import import read_onnx as _read  # imports the optional onnx package

    return _read(path, input_shape)


# a loader that can take the sizes its file leaves open (an ONNX input's H and W exported with
# dynamic_axes) from the sidecar's "shape": the file alone cannot be loaded
read_onnx.takes_input_shape = True


def refuse_mat(path) -> Sequential:
    """MATLAB model files hold class objects that only MATLAB itself can read."""
    path = os.fspath(path)
    head = read_bytes(path, ModelFormatError, limit=1024)
    hint = ("open it in MATLAB and export the plain-text form with the toolbox's "
            "model.save('file.txt'), then load the .txt file here")
    if head.startswith(MATLAB_HEADER):
        raise ModelFormatError(f"{path}: a MATLAB .mat model file; MATLAB class objects cannot "
                               f"be read outside MATLAB: {hint}")
    if head.startswith(b"\x89HDF") or head[512:516] == b"\x89HDF":
        raise ModelFormatError(f"{path}: a MATLAB v7.3 (HDF5) file; MATLAB class objects cannot "
                               f"be read outside MATLAB: {hint}")
    raise ModelFormatError(f"{path}: not a MATLAB .mat file (no 'MATLAB 5.0 MAT-file' header); "
                           "model files from the MATLAB toolbox can only be read as .txt "
                           f"exports: {hint}")


def _efficientnet_lite0():
    from .imagenet import efficientnet_lite0_imagenet  # noqa: PLC0415

    return efficientnet_lite0_imagenet()


def _efficientnet_lite0_file():
    from .imagenet import checkpoint_path  # noqa: PLC0415

    return checkpoint_path()


# models opened by name, as the app lists them (``lrpcore.load_model("efficientnet-lite0")``):
# name → (builder, the file its weights come from: what provenance checksums)
NAMED_MODELS = {"efficientnet-lite0": _efficientnet_lite0}
NAMED_MODEL_FILES = {"efficientnet-lite0": _efficientnet_lite0_file}


def bundled_model(name):
    """The bundled model file named ``name`` (without its extension), or None."""
    from ..bundled import MODELS_DIR  # noqa: PLC0415

    if not isinstance(name, str) or os.sep in name or "/" in name:
        return None
    path = MODELS_DIR / f"{name}.npz"
    return path if os.path.isfile(path) else None  # never raises (a name too long)


def model_names() -> list[str]:
    """The names a model can be opened by instead of a path (a typo gets this list)."""
    from ..bundled import MODELS_DIR  # noqa: PLC0415

    stems = sorted(p.stem for p in MODELS_DIR.glob("*.npz")) if MODELS_DIR.is_dir() else []
    return stems + sorted(NAMED_MODELS)


def model_file(path_or_name):
    """The file a model comes from: the path itself, or a named model's weights file."""
    path = os.fspath(path_or_name)
    if not os.path.isfile(path) and path in NAMED_MODEL_FILES:
        return NAMED_MODEL_FILES[path]() or path
    if not os.path.isfile(path) and bundled_model(path) is not None:
        return bundled_model(path)
    return path


def read_pth(path):
    raise ModelFormatError(f"{path}: a PyTorch checkpoint holds weights, not an architecture: "
                           "convert it with 'lrp convert FILE.pth OUT.npz --arch "
                           "efficientnet-lite0' ('lrp info FILE.pth' lists its tensors)")


LOADERS = {".txt": read_toolbox_txt, ".npz": read_native, ".nn": read_toolbox_nn,
           ".onnx": read_onnx, ".mat": refuse_mat, ".pth": read_pth, ".pt": read_pth}
WRITERS: dict = {".npz": save_native, ".txt": write_toolbox_txt}


_LOADED: dict = {}  # model file → what it was (device, inode, size, mtime) when last loaded


def _stamp(path):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def changed_since_loaded(path) -> bool:
    """Whether the file at ``path`` is no longer the one this process last loaded a model
    from (retrained and saved over while the explorer shows it): its checksum would then
    describe other parameters than the results' (:func:`lrpcore.export.sidecar_info`)."""
    key = os.path.abspath(os.fspath(path))
    return key in _LOADED and _LOADED[key] != _stamp(key)


def no_such_model(path) -> ModelFormatError:
    """The refusal of a model name that is no file nor bundled model, in every command's
    words (lrp sweep and sanity said "no such model file or bundled model", naming none)."""
    return ModelFormatError(f"{path}: no such file or bundled model (bundled: "
                            f"{', '.join(model_names())})")


def load_model(path, sidecar=True) -> Sequential:
    """Open a model file; the format is chosen by its extension.

    ``path`` is a file (the toolbox's ``.txt`` and ``.nn`` — read without running code from
    the file —, the native ``.npz``, ``.onnx``) or a bundled name (``"mnist-lenet5"``,
    ``"mnist-maxnet"``, ``"mnist-dense-rect"``, ``"mnist-dense-tanh"``,
    ``"efficientnet-lite0"``). With ``sidecar`` (the default) a ``MODEL.json`` beside the file
    is applied (input specification, class names). A chain is a :class:`Sequential`, an ONNX
    graph a :class:`lrpcore.graph.GraphModel`; both explain alike.
    """
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    # a folder is never a model: one named as a bundled model (an output folder named after
    # the model, "--png mnist-lenet5") does not hide it
    if not os.path.isfile(path) and path in NAMED_MODELS:
        return NAMED_MODELS[path]()
    if not os.path.isfile(path) and bundled_model(path) is not None:
        path = os.fspath(bundled_model(path))  # a bundled model by name: "mnist-lenet5"
        ext = ".npz"
    if not os.path.exists(path):
        raise no_such_model(path)
    if os.path.isdir(path):
        raise ModelFormatError(f"{path}: is a folder, not a model file")
    require_regular_file(path, ModelFormatError)  # not a link to /dev/zero, not a pipe
    loader = LOADERS.get(ext)
    if loader is None:
        known = ", ".join(sorted(LOADERS))
        raise ModelFormatError(f"{path}: unknown model format {ext or '(no extension)'!r}; "
                               f"known: {known}")
    stamp = _stamp(path)  # before reading: a file replaced meanwhile is not this one
    side = sidecar_path(path)
    sidecar = sidecar and os.path.isfile(side)
    if sidecar and getattr(loader, "takes_input_shape", False):
        model = loader(path, input_shape=sidecar_input_shape(side))
    else:
        model = loader(path)
    _LOADED[os.path.abspath(path)] = stamp
    if sidecar:
        apply_sidecar(model, side)
    if isinstance(getattr(model, "meta", None), dict):  # no terminal escapes reach a screen
        model.meta = printable_meta(model.meta)
    return model


def load_classifier(path, maps=False) -> Sequential:
    """:func:`load_model`, refused naming the file when the model's output is no vector of
    class scores (a feature extractor, a segmentation model) unless ``maps`` (a command that
    explains a map's pixels): every command that scores or times it failed at its first batch
    in a message that named no file (lrp evaluate's named the samples)."""
    from ..targets import model_not_scores  # noqa: PLC0415

    model = load_model(path)
    if maps:
        return model
    problem = model_not_scores(model)
    if problem:
        raise ModelFormatError(f"{os.fspath(path)}: {problem}")
    return model


def load_if_unchanged(name, sha256):
    """The model a result's provenance names (file or bundled name) when its file still has
    the SHA-256 recorded with it; None when either is missing, the file changed or it does
    not load. What read an image folder to a model's size then reads it the same way again
    (``lrp render``/``lrp figure``, :meth:`RelevanceStore.open_dataset`)."""
    if not isinstance(name, str) or not isinstance(sha256, str):
        return None
    from ..errors import LRPError  # noqa: PLC0415
    from ..export import sha256_file  # noqa: PLC0415

    try:
        if os.path.getsize(model_file(name)) > MAX_NAMED_MODEL_BYTES:
            # a crafted sidecar naming a huge sparse file (/var/log/lastlog: up to a TB of
            # zeros) kept render hashing for minutes, as /dev/zero once did forever
            return None
        if sha256_file(model_file(name)) != sha256:
            return None
        return load_model(name)
    except (LRPError, OSError):
        return None


MAX_NAMED_MODEL_BYTES = 4 << 30  # an ONNX file holds at most 2 GiB; native files no more


def save_model(model, path, overwrite=False, dtype=None) -> None:
    """Write a model; the format is chosen by the extension (``.npz`` native, ``.txt``).

    ``dtype`` (``"float32"``/``"float64"``) converts the parameters; the text format always
    writes the shortest decimal form of each value.
    """
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    writer = WRITERS.get(ext)
    if writer is None:
        raise ModelFormatError(f"{path}: cannot write models as {ext or '(no extension)'!r}; "
                               f"writable: {', '.join(sorted(WRITERS))}")
    if os.path.exists(path) and not overwrite:
        raise ExportError(f"{path}: file exists (overwrite=True, or --overwrite on the command "
                          "line, replaces it)")
    _check_range(model, path, dtype)
    writer(model, path, dtype=dtype, overwrite=overwrite)


def _check_range(model, path, dtype) -> None:
    """Refuse parameters the chosen precision cannot hold: cast to float32, a weight of 1e300
    became inf, and the file written (exit 0) could not be read back."""
    try:
        narrow = dtype is not None and np.dtype(dtype) == np.float32
    except TypeError:
        narrow = False  # not a dtype: the writer names what it accepts (float16 too)
    limit = float(np.finfo(np.float32).max)
    for i, layer in enumerate(model.layers if narrow else ()):
        for a in layer.native_params() or ():
            a = np.asarray(a)
            top = float(np.abs(a).max()) if a.size else 0.0
            if top > limit:
                raise ExportError(f"{path}: layer {i} ({layer.describe()}) holds parameters "
                                  f"up to {top:.3g}, beyond {np.dtype(dtype).name}; store "
                                  "them as float64")
