"""The project's native model format: an ``.npz`` of parameter arrays plus a JSON header.

The header (a unicode string array named ``header``, so the file loads with pickling disabled)
describes the architecture, the input specification, class names, provenance and measured
accuracy. Parameter arrays are named ``layer{i}.W`` and ``layer{i}.B``.

Files are written uncompressed: a 5 M-parameter model then opens in about 15 ms instead of
about 160 ms (measured), and float weights hardly compress anyway. Compressed files (as
``np.savez_compressed`` writes them) are read too.

The reader opens the zip archive itself: it checks every array's ``.npy`` header (dtype,
shape) against the JSON header *before* reading data, and reads exactly the bytes the shape
needs, so a hostile file can neither make it allocate huge arrays nor inflate a zip bomb.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from dataclasses import replace

import numpy as np

from .. import (  # noqa: F401 - registers the graph layer kinds
    graph_activations,
    graph_channels,
    graph_dilated,
    graph_elementwise,
    graph_layers,
    graph_norms,
    graph_sequence,
    graph_upsampling,
)
from ..errors import ExportError, ModelFormatError, ShapeError
from ..graph import MAX_MODULE_PATH, MODULE_PATH, TOOLBOX, ZENNIT, GraphModel, Node
from ..layers import LAYER_KINDS, Pad, SoftMax, mark_functional
from ..model import Sequential
from .claims import NPY_HEADER_ERRORS, ZIP_ERRORS
from .layer_check import check_layer_chain
from .sidecar import check_accuracy
from .spec_json import check_layout, class_names_from_json, finite_number, spec_from_json
from .toolbox_txt import MAX_LAYERS

FORMAT = "lrp-explorer-model"
VERSION = 1
_MAX_ELEMENTS = 1 << 31
_MAX_HEADER_BYTES = 16 << 20
# a graph lists one node per layer: as many as the ONNX importer reads (onnx_graph.MAX_NODES;
# a DenseNet-201 has ~700 after import), where a chain keeps the toolbox formats' MAX_LAYERS
MAX_GRAPH_NODES = 100_000
# Deflate packs up to ~1000:1, so a small file may claim gigabytes of zeros. Real parameters
# hardly compress (even pruned ones stay far below this ratio): a large compressed member that
# would inflate more than this is refused before it is read.
_MAX_INFLATION = 100
_INFLATION_FLOOR = 16 << 20  # this much in all is read whatever the ratio
_DTYPES = {"float32": np.float32, "float64": np.float64}


# ---------------------------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------------------------


def _layer_header(layer) -> dict:
    """A layer's header entry: its registered kind and the fields its class declares."""
    if not isinstance(layer, LAYER_KINDS.get(layer.kind, ())):
        raise ExportError(f"layer type {layer.kind} cannot be stored in the native format")
    functional = {"functional": 1} if getattr(layer, "functional", False) else {}
    module = getattr(layer, "module_path", None)  # onnx_graph.record_module_paths
    return {"type": layer.kind, **layer.native_fields(), **functional,
            **({"module": module} if module else {})}


def model_header(model) -> dict:
    meta = {k: v for k, v in model.meta.items()
            if k not in ("class_names", "provenance", "accuracy")}
    spec = None
    if model.input_spec is not None and _spec_fits(model):
        spec = {k: v for k, v in model.input_spec.to_dict().items() if k != "source"}
    graph = None
    if getattr(model, "is_graph", False):
        graph = {"input": model.input_name, "output": model.output_name,
                 "convention": model.convention.name,
                 "nodes": [{"name": n.name, "inputs": list(n.inputs), "output": n.output}
                           for n in model.nodes]}
    return {
        "format": FORMAT,
        "version": VERSION,
        "graph": graph,
        "layers": [_layer_header(layer) for layer in model.layers],
        "input": spec,
        "class_names": model.meta.get("class_names"),
        "provenance": model.meta.get("provenance"),
        "accuracy": model.meta.get("accuracy"),
        "meta": meta,
    }


def _spec_fits(model) -> bool:
    """A spec that does not fit the layers (a wrong guess) is not stored: it would make the
    file unreadable."""
    try:
        model.shapes()
    except Exception:  # noqa: BLE001 - ShapeError from a layer
        return False
    return True


def _resolve_dtype(dtype):
    if dtype is None:
        return None
    name = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    if name not in _DTYPES:
        raise ExportError(f"parameters can be stored as float32 or float64, not {dtype}")
    return _DTYPES[name]


def _arrays(model, dtype=None) -> dict:
    dt = _resolve_dtype(dtype)
    try:
        header = json.dumps(model_header(model), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ExportError(f"model metadata cannot be stored as JSON: {exc}") from None
    arrays = {"header": np.array(header)}
    limit = MAX_GRAPH_NODES if getattr(model, "is_graph", False) else MAX_LAYERS
    if len(model.layers) > limit or arrays["header"].dtype.itemsize > _MAX_HEADER_BYTES:
        # what the reader refuses is not written: a graph of 1,001 nodes was converted
        # (exit 0) into a file that no command could open
        raise ExportError(f"a model of {len(model.layers):,} layers and a header of "
                          f"{arrays['header'].dtype.itemsize >> 20} MB does not fit the native "
                          f"format (at most {limit:,} layers and a {_MAX_HEADER_BYTES >> 20}-MB "
                          "header)")
    for i, layer in enumerate(model.layers):
        params = layer.native_params()
        if params is not None:
            W, B = params
            arrays[f"layer{i}.W"] = np.asarray(W, dtype=dt or W.dtype)
            arrays[f"layer{i}.B"] = np.asarray(B, dtype=dt or B.dtype)
    return arrays


def native_bytes(model, dtype=None, compress=False) -> bytes:
    """Serialise a model (parameters in ``dtype``, default: as stored)."""
    import io

    buf = io.BytesIO()
    (np.savez_compressed if compress else np.savez)(buf, **_arrays(model, dtype))
    return buf.getvalue()


def save_native(model, path, dtype=None, overwrite=True, compress=False) -> None:
    """Write a model file atomically (no partial file is left on failure)."""
    from ..fileio import atomic_open

    try:
        arrays = _arrays(model, dtype)
    except ExportError as exc:
        raise ExportError(f"{path}: {exc}") from None
    with atomic_open(path, "wb", overwrite=overwrite) as fh:
        (np.savez_compressed if compress else np.savez)(fh, **arrays)


# ---------------------------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------------------------


class _Archive:
    """The zip members of an ``.npz``, read with size and type checks."""

    def __init__(self, path):
        self.path = path
        try:
            self.zf = zipfile.ZipFile(path)
        except (ValueError, *ZIP_ERRORS) as exc:
            raise ModelFormatError(f"{path}: not a readable .npz model file "
                                   f"({str(exc)[:160]})") from None
        self.names = {name[:-4] for name in self.zf.namelist() if name.endswith(".npy")}
        self.inflated = 0  # bytes of compressed members read so far (see _check_inflation)

    def close(self):
        self.zf.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _member(self, key):
        if key not in self.names:
            raise ModelFormatError(f"{self.path}: array {key!r} is missing")
        return self.zf.open(key + ".npy")

    def _check_inflation(self, key, need):
        # members are charged together: many small members must not add up to gigabytes
        info = self.zf.getinfo(key + ".npy")
        if info.compress_type == zipfile.ZIP_STORED:
            return
        self.inflated += need
        packed = sum(i.compress_size for i in self.zf.infolist())
        if (need > _INFLATION_FLOOR and need > _MAX_INFLATION * max(info.compress_size, 1)) or (
                self.inflated > _INFLATION_FLOOR + _MAX_INFLATION * packed):
            raise ModelFormatError(f"{self.path}: array {key!r} would bring the inflated data "
                                   f"to {self.inflated} bytes from {packed} compressed bytes; "
                                   "not a plausible model file (a zip bomb?)")

    def read(self, key, shape=None, kinds="f", max_elements=_MAX_ELEMENTS) -> np.ndarray:
        """Read one array; its dtype kind must be in ``kinds`` and its shape ``shape``."""
        try:
            with self._member(key) as fh:
                version = np.lib.format.read_magic(fh)
                if version == (1, 0):
                    arr_shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
                elif version == (2, 0):
                    arr_shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
                else:
                    raise ModelFormatError(f"{self.path}: array {key!r} has .npy version "
                                           f"{version}, which is not supported")
                if dtype.kind not in kinds or dtype.hasobject or dtype.fields is not None:
                    raise ModelFormatError(f"{self.path}: array {key!r} has dtype {dtype}")
                if dtype.kind == "f" and dtype.itemsize not in (4, 8):
                    raise ModelFormatError(f"{self.path}: array {key!r} has dtype {dtype}; "
                                           "expected float32 or float64")
                if shape is not None and tuple(arr_shape) != tuple(shape):
                    raise ModelFormatError(f"{self.path}: array {key!r} has shape "
                                           f"{tuple(arr_shape)}; the header says {tuple(shape)}")
                count = math.prod(arr_shape)
                if count > max_elements:
                    raise ModelFormatError(f"{self.path}: array {key!r} is too large "
                                           f"({count} elements)")
                need = count * dtype.itemsize
                self._check_inflation(key, need)
                data = fh.read(need)
        except ModelFormatError:
            raise
        except NPY_HEADER_ERRORS:  # numpy's parser of old headers lets these through
            raise ModelFormatError(f"{self.path}: array {key!r} has a damaged .npy header "
                                   "(not a dictionary numpy can parse)") from None
        except (ValueError, RuntimeError, *ZIP_ERRORS) as exc:
            raise ModelFormatError(f"{self.path}: damaged array {key!r} ({exc})") from None
        if len(data) != need:
            raise ModelFormatError(f"{self.path}: array {key!r} is truncated ({len(data)} of "
                                   f"{need} bytes)")
        arr = np.frombuffer(data, dtype=dtype).reshape(arr_shape, order="F" if fortran else "C")
        return arr.astype(dtype.newbyteorder("="), order="C", copy=True)


def _checkpoint_note(archive) -> str | None:
    """What to do with ``lrp train``'s ``MODEL.ckpt.npz`` (loop state and parameters, no model
    header) when it is opened as a model; None for any other file."""
    if "state" not in archive.names or not any(n.startswith("param.") for n in archive.names):
        return None
    path = os.fspath(archive.path)
    run = ""
    try:  # the loop's JSON state: which epoch of which run (best effort, bounded)
        state = json.loads(str(archive.read("state", kinds="U", max_elements=1).item()))
        config = state.get("config", {}) if isinstance(state, dict) else {}
        run = f" (epoch {int(state['epoch'])} of {int(config['epochs'])}" \
            f"{', ' + str(config['arch'])[:40] if config.get('arch') else ''})"
    except (ModelFormatError, ValueError, TypeError, KeyError, AttributeError, RecursionError,
            OverflowError):  # "epoch": Infinity (Python's json reads it): int() refuses
        pass
    model = path[:-len(".ckpt.npz")] + ".npz" if path.endswith(".ckpt.npz") else None
    saved = (f"open the model it saved, {model}, " if model and os.path.isfile(model)
             else "open the model file 'lrp train --out' wrote, ")
    return (f"{path}: a training checkpoint of 'lrp train'{run}, not a model: {saved}or "
            f"continue the run with 'lrp train ... --resume {path}'")


def _header(archive) -> dict:
    path = archive.path
    if "header" not in archive.names:
        note = _checkpoint_note(archive)
        raise ModelFormatError(note or f"{path}: no 'header' entry; not an LRP Explorer model "
                               "file")
    raw = archive.read("header", kinds="U", max_elements=1)
    if raw.shape != () or raw.dtype.itemsize > _MAX_HEADER_BYTES:
        raise ModelFormatError(f"{path}: header is not a single JSON string")
    try:
        header = json.loads(str(raw.item()))
    except (ValueError, RecursionError) as exc:
        raise ModelFormatError(f"{path}: header is not valid JSON ({str(exc)[:200]})") from None
    if not isinstance(header, dict):
        raise ModelFormatError(f"{path}: header must be a JSON object")
    if header.get("format") != FORMAT:
        raise ModelFormatError(f"{path}: header format is {str(header.get('format'))[:40]!r}, "
                               f"expected {FORMAT!r}")
    if header.get("version") != VERSION or isinstance(header.get("version"), bool):
        raise ModelFormatError(f"{path}: format version {str(header.get('version'))[:20]} is "
                               f"not supported (this program reads version {VERSION})")
    layers = header.get("layers")
    if not isinstance(layers, list) or not layers:
        raise ModelFormatError(f"{path}: header lists no layers")
    limit = MAX_GRAPH_NODES if header.get("graph") is not None else MAX_LAYERS
    if len(layers) > limit:
        raise ModelFormatError(f"{path}: header lists {len(layers)} layers (limit {limit})")
    return header


def read_header(path) -> dict:
    """The JSON header of a native model file (validated for format and version)."""
    path = os.fspath(path)
    with _Archive(path) as archive:
        return _header(archive)


def _is_size(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 0 < v <= _MAX_ELEMENTS


def _ints(spec, key, n, where):
    vals = spec.get(key)
    if not isinstance(vals, list) or len(vals) != n or not all(_is_size(v) for v in vals):
        raise ModelFormatError(f"{where}: '{key}' must be {n} positive integers")
    if math.prod(vals) > _MAX_ELEMENTS:
        raise ModelFormatError(f"{where}: '{key}' {vals} is implausibly large")
    return vals


def _finite(arr, key, path):
    if not np.all(np.isfinite(arr)):
        raise ModelFormatError(f"{path}: {key} contains NaN or infinite values")
    return arr




class NativeFields:
    """A layer's header entry and parameter arrays, read with checks for
    ``Layer.from_native``: every defect is a ModelFormatError naming the file and layer."""

    max_elements = _MAX_ELEMENTS

    def __init__(self, i, spec, archive):
        self.i, self.spec, self.archive = i, spec, archive
        self.where = f"{archive.path}: header layer {i}"

    def fail(self, text):
        raise ModelFormatError(f"{self.where}: {text}")

    def param(self, name, shape):
        """The array ``layer{i}.{name}`` of exactly ``shape``, finite."""
        key = f"layer{self.i}.{name}"
        return _finite(self.archive.read(key, shape), key, self.archive.path)

    def ints(self, key, n):
        return _ints(self.spec, key, n, self.where)

    def size(self, key):
        """A positive whole number, or None when the field is not one."""
        v = self.spec.get(key)
        return v if _is_size(v) else None

    def number(self, key, default=None):
        """A finite number; ``default`` where the field is absent (None: it must be there)."""
        return _number(self.spec, key, self.where, default)

    def bound(self, key):
        """A finite number, or null for no bound (ONNX Clip's optional min and max); the field
        must be there: a header that lost it is damaged, not unbounded."""
        if key not in self.spec:
            self.fail(f"'{key}' is missing (a number, or null for no bound)")
        if self.spec[key] is None:
            return None
        return self.number(key)

    def flag(self, key, default=None):
        """0 or 1 (false or true); ``default`` where the field is absent (None: it must be
        there). bool(0.5) turned a HardSigmoid into a HardSwish without a word."""
        v = self.spec.get(key, default)
        if key not in self.spec and default is None:
            self.fail(f"'{key}' is missing (0 or 1)")
        if v not in (0, 1) or not isinstance(v, (bool, int)):
            self.fail(f"'{key}' must be 0 or 1, not {str(v)[:20]}")
        return bool(v)

    def pads(self, kind):
        """The 'pads' field of a padding layer ``kind``: (top, bottom, left, right), each a
        whole number from 0 to 4096."""
        pads = self.spec.get("pads")
        if (not isinstance(pads, list) or len(pads) != 4
                or not all(isinstance(p, int) and not isinstance(p, bool) and 0 <= p <= 4096
                           for p in pads)):
            self.fail(f"{kind} needs 'pads': four whole numbers from 0 to 4096")
        return pads

    def pad_layer(self):
        pads, value = self.pads("Pad"), self.spec.get("value", 0.0)
        if not finite_number(value):
            self.fail("Pad 'value' must be a finite number")
        return Pad(pads, value)


def _build_layer(i, spec, archive):
    where = f"{archive.path}: header layer {i}"
    if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
        raise ModelFormatError(f"{where} has no 'type'")
    cls = LAYER_KINDS.get(spec["type"])
    if cls is None:
        raise ModelFormatError(f"{where}: unknown layer type {spec['type'][:40]!r}")
    try:
        fields = NativeFields(i, spec, archive)
        layer = cls.from_native(fields)
        # a functional call of a PyTorch model's forward (layers.mark_functional)
        if fields.flag("functional", False) and not mark_functional(layer):
            fields.fail("'functional' applies to activations and average pools only")
        module = spec.get("module")
        if module is not None:  # the PyTorch module a dynamo export's node came from
            if not (isinstance(module, str) and len(module) <= MAX_MODULE_PATH
                    and MODULE_PATH.fullmatch(module)):
                fields.fail("'module' must be a PyTorch module path such as layer1.0.conv1 "
                            f"(dotted names, at most {MAX_MODULE_PATH} characters)")
            layer.module_path = module
        return layer
    except ShapeError as exc:
        raise ModelFormatError(f"{where}: {exc}") from None


def _number(spec, key, where, default=None):
    if key not in spec and default is None:
        raise ModelFormatError(f"{where}: '{key}' is missing (a finite number)")
    v = spec.get(key, default)
    if not finite_number(v):
        raise ModelFormatError(f"{where}: '{key}' must be a finite number")
    return float(v)


def _graph_model(header, layers, spec, path):
    """A GraphModel from the header's 'graph' entry (node names, inputs, outputs)."""
    graph = header["graph"]
    nodes_json = graph.get("nodes") if isinstance(graph, dict) else None
    if not isinstance(nodes_json, list) or len(nodes_json) != len(layers):
        raise ModelFormatError(f"{path}: header 'graph' must list one node per layer")
    nodes = []
    for i, (entry, layer) in enumerate(zip(nodes_json, layers, strict=True)):
        ok = (isinstance(entry, dict) and isinstance(entry.get("name"), str)
              and isinstance(entry.get("output"), str) and isinstance(entry.get("inputs"), list)
              and entry["inputs"] and all(isinstance(t, str) for t in entry["inputs"]))
        if not ok:
            raise ModelFormatError(f"{path}: header graph node {i} needs 'name', 'inputs' "
                                   "and 'output'")
        nodes.append(Node(entry["name"], layer, tuple(entry["inputs"]), entry["output"]))
    conventions = {"zennit": ZENNIT, "toolbox": TOOLBOX}
    name = graph.get("convention", "zennit")
    convention = conventions.get(name) if isinstance(name, str) else None
    if convention is ZENNIT:  # converted from ONNX before a Softmax was kept: as ONNX now reads
        nodes = [replace(n, layer=graph_activations.Softmax()) if type(n.layer) is SoftMax
                 else n for n in nodes]
    if convention is None or not isinstance(graph.get("input"), str) \
            or not isinstance(graph.get("output"), str):
        raise ModelFormatError(f"{path}: header 'graph' needs 'input', 'output' and a known "
                               "'convention'")
    try:
        return GraphModel(nodes, graph["input"], graph["output"], spec, source=path,
                          convention=convention)
    except ShapeError as exc:
        raise ModelFormatError(f"{path}: header graph: {exc}") from None


def _meta(header, path, n_classes) -> dict:
    meta = header.get("meta")
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise ModelFormatError(f"{path}: header 'meta' must be a JSON object")
    meta = dict(meta)
    if header.get("class_names") is not None:
        meta["class_names"] = class_names_from_json(header["class_names"],
                                                    f"{path}: header", n_classes)
    provenance = header.get("provenance")
    if provenance is not None:
        if not isinstance(provenance, str | dict):
            raise ModelFormatError(f"{path}: header 'provenance' must be a string or an object")
        meta["provenance"] = provenance
    if header.get("accuracy") is not None:
        meta["accuracy"] = check_accuracy(header["accuracy"], f"{path}: header")
    return meta


def _check_activations(shapes, path) -> None:
    """The bound ONNX imports have (a 14-KB native graph of 36 doubling Concats declared
    2³⁶ outputs: loaded, then an explanation ran the machine out of memory)."""
    from ..model import MAX_ACTIVATION_VALUES  # noqa: PLC0415

    values = sum(math.prod(s) for s in shapes)
    if values > MAX_ACTIVATION_VALUES:
        raise ModelFormatError(f"{path}: its layers' outputs hold {values:,} values per "
                               f"sample, more than {MAX_ACTIVATION_VALUES:,}; not a network "
                               "this program can explain")


def read_native(path) -> Sequential:
    """Read a native model; any defect raises ModelFormatError naming the file."""
    path = os.fspath(path)
    with _Archive(path) as archive:
        header = _header(archive)
        layers = [_build_layer(i, spec, archive) for i, spec in enumerate(header["layers"])]
    is_graph = header.get("graph") is not None
    if not is_graph:
        check_layer_chain(layers, lambda i: f"{path}: header layer {i}")
    spec = None
    if header.get("input") is not None:
        first = getattr(layers[0], "sequence_layout", None) if layers else None
        spec = spec_from_json(header["input"], f"{path}: header 'input'", source="file",
                              strict=False, sequence=first)
    if is_graph:
        model = _graph_model(header, layers, spec, path)
    else:
        model = Sequential(layers, spec, source=path)
    if spec is not None:
        try:
            shapes = model.shapes()
        except Exception as exc:  # noqa: BLE001 - ShapeError from a layer
            raise ModelFormatError(f"{path}: the header's input shape does not fit the "
                                   f"layers: {exc}") from None
        check_layout(spec, model, f"{path}: header 'input'")
        _check_activations(shapes, path)
    model.meta = _meta(header, path, model.n_classes)
    return model
