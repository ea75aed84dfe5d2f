"""Small files and runs the hostile tests build again and again: an ONNX graph saved from its
nodes, a feature extractor (an ONNX model without a classifier head), a finished relevance
store of four 28×28 maps, `lrp concepts` on six random digits, a RelMax cache entry, random
digits to feed beside a broken file; and their check that a refusal is one plain line."""

from __future__ import annotations

import numpy as np


def one_line(capsys, *parts):
    """The command's error: one line, no traceback and no 'internal error', holding every one
    of ``parts``."""
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert "internal error" not in err, err
    for part in parts:
        assert part in err, err
    return err


def cached_relmax_entry(tmp_path, monkeypatch):
    """A RelMax cache entry under ``tmp_path`` (LRP_CACHE_DIR) for LeNet-5, made by a stand-in
    for ``compute_references`` that records each run in ``computed``. Returns (entry,
    computed, explainer)."""
    import lrpcore  # noqa: PLC0415
    from lrpcore import relmax  # noqa: PLC0415
    from lrpcore.explain import Explainer  # noqa: PLC0415

    monkeypatch.setenv("LRP_CACHE_DIR", str(tmp_path))
    computed = []

    def fake(explainer, images, k, rule=None, target="pred", labels=None, n=8, **kw):
        computed.append(k)
        return relmax.References(k, np.zeros((2, 1), np.int64), np.zeros((2, 1)),
                                 np.zeros((2, 1, 4), np.int32),
                                 np.ones((2, 1, 4, 4), np.float32), np.zeros((3, 2)))

    monkeypatch.setattr(relmax, "compute_references", fake)
    ex = Explainer(lrpcore.load_model("mnist-lenet5"), "numpy")
    relmax.references(ex, None, 3, rule="epsilon", dataset_id="d")
    (entry,) = (tmp_path / "relmax").glob("*.npz")
    return entry, computed, ex


def save_onnx_graph(path, nodes, inits, in_shape, out_shape, opset=17, elem_type=None):
    """An ONNX model of ``nodes`` (input "x", output as the last node names it) saved at
    ``path``, its input and output of ONNX type ``elem_type`` (float32 by default); returns
    ``path``."""
    import onnx  # noqa: PLC0415 (the callers skip without it)
    from onnx import TensorProto, helper  # noqa: PLC0415

    elem_type = TensorProto.FLOAT if elem_type is None else elem_type
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", elem_type, list(in_shape))],
        [helper.make_tensor_value_info(nodes[-1].output[0], elem_type, list(out_shape))],
        inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]),
              str(path))
    return path


def save_feature_extractor(path, side):
    """An ONNX model whose output is a map, not class scores: one 3×3 convolution of a
    1 × side × side input into four channels; returns ``path``."""
    import onnx  # noqa: PLC0415 (the callers skip without it)

    W = onnx.numpy_helper.from_array(np.ones((4, 1, 3, 3), np.float32), "W")
    conv = onnx.helper.make_node("Conv", ["x", "W"], ["y"], name="features")
    return save_onnx_graph(path, [conv], [W], [1, 1, side, side], [1, 4, side - 2, side - 2])


def run_concepts_on_digits(tmp_path, capsys):
    """``lrp concepts`` on six random digits into ``tmp_path/c`` (must succeed); returns
    the output folder."""
    from lrpcore.cli.main import main  # noqa: PLC0415

    x = tmp_path / "x.npy"
    np.save(x, np.random.RandomState(0).randint(0, 255, (6, 28, 28)).astype(np.uint8))
    out = tmp_path / "c"
    assert main(["concepts", "mnist-lenet5", str(x), "--layer", "convolution1", "--top", "1",
                 "--references", "2", "--out", str(out)]) == 0, capsys.readouterr().err
    assert (out / "references" / "references.npz").exists()
    return out


def finished_relevance_store(out):
    """A complete relevance store at ``out``: 4 samples of 28×28×1 in one chunk, all done."""
    from lrpcore.distributed import prepare_store  # noqa: PLC0415 (needs zarr)

    key = {"n": 4, "chunk": 4, "input": "digits.npy", "rule": None, "layer_rules": [],
           "dtype": "float32", "model_sha256": "0" * 64}
    g = prepare_store(out, key, (4, 28, 28, 1), 10, "float32", {"model": "m.npz"}, False)
    g["relevance"][:] = np.random.RandomState(0).rand(4, 28, 28, 1).astype(np.float32)
    g["done"][:] = 1
    return out


def save_pth_storage_bomb(path, storages, numel):
    """A PyTorch zip checkpoint whose ``storages`` float64 storages of ``numel`` zeros each are
    deflated (~1000:1) and read through one-element tensors, padded with random bytes to
    ``numel`` bytes so every storage is as large as the reader lets the file declare; returns
    ``path``."""
    import os  # noqa: PLC0415
    import zipfile  # noqa: PLC0415

    ops = bytearray(b"\x80\x02ccollections\nOrderedDict\n)R")
    for k in range(storages):
        key = str(k).encode()
        ops += b"X" + len(key).to_bytes(4, "little") + key  # the entry's name
        ops += b"ctorch._utils\n_rebuild_tensor_v2\n(("  # the call, its arguments, the pid
        ops += b"X\x07\x00\x00\x00storagectorch\nDoubleStorage\n"
        ops += b"X" + len(key).to_bytes(4, "little") + key
        ops += b"X\x03\x00\x00\x00cpuJ" + numel.to_bytes(4, "little") + b"tQ"
        ops += b"K\x00K\x01\x85K\x01\x85\x89NtRs"  # offset 0, shape (1,), stride (1,)
    ops += b"."
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("archive/data.pkl", bytes(ops))
        zeros = bytes(8 * numel)
        for k in range(storages):
            zf.writestr(f"archive/data/{k}", zeros)
    missing = numel + 256 - os.path.getsize(path)
    if missing > 0:
        with zipfile.ZipFile(path, "a", zipfile.ZIP_STORED) as zf:
            zf.writestr("archive/padding", os.urandom(missing))
    return path


_PTH_STORAGES = {"float32": b"FloatStorage", "float64": b"DoubleStorage", "int64": b"LongStorage"}


def save_pth_state_dict(path, arrays):
    """A PyTorch zip checkpoint (as ``torch.save(state_dict)`` writes it, without torch) of
    ``arrays`` ({name: numpy array of float32, float64 or int64}); returns ``path``."""
    import zipfile  # noqa: PLC0415

    def text(s):
        s = s.encode()
        return b"X" + len(s).to_bytes(4, "little") + s

    def ints(values):
        return b"(" + b"".join(b"J" + int(v).to_bytes(4, "little", signed=True)
                               for v in values) + b"t"

    ops = bytearray(b"\x80\x02ccollections\nOrderedDict\n)R")
    blobs = {}
    for k, (name, arr) in enumerate(arrays.items()):
        arr = np.ascontiguousarray(arr)
        strides = [s // arr.itemsize for s in arr.strides]
        ops += text(name) + b"ctorch._utils\n_rebuild_tensor_v2\n(("
        ops += text("storage") + b"ctorch\n" + _PTH_STORAGES[arr.dtype.name] + b"\n"
        ops += text(str(k)) + text("cpu") + b"J" + arr.size.to_bytes(4, "little") + b"tQ"
        ops += b"K\x00" + ints(arr.shape) + ints(strides) + b"\x89ccollections\nOrderedDict\n)R"
        ops += b"tRs"
        blobs[str(k)] = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
    ops += b"."
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("archive/data.pkl", bytes(ops))
        for key, blob in blobs.items():
            zf.writestr(f"archive/data/{key}", blob)
    return path


def save_onnx_bias_chain(path, pairs):
    """An ONNX chain of ``pairs`` MatMul + Add(bias) pairs on 2 features (identity weights):
    each Add is folded into the MatMul before it; returns ``path``."""
    from onnx import helper, numpy_helper  # noqa: PLC0415 (the callers skip without it)

    nodes, prev = [], "x"
    for i in range(pairs):
        nodes.append(helper.make_node("MatMul", [prev, "W"], [f"m{i}"], name=f"mm{i}"))
        nodes.append(helper.make_node("Add", [f"m{i}", "B"], [f"a{i}"], name=f"add{i}"))
        prev = f"a{i}"
    inits = [numpy_helper.from_array(np.eye(2, dtype=np.float32), "W"),
             numpy_helper.from_array(np.zeros(2, np.float32), "B")]
    return save_onnx_graph(path, nodes, inits, [1, 2], [1, 2])


def save_onnx_relu_chain(path, relus):
    """An ONNX chain of ``relus`` Relu nodes and one MatMul on 2 features; returns ``path``."""
    from onnx import helper, numpy_helper  # noqa: PLC0415 (the callers skip without it)

    nodes = [helper.make_node("Relu", ["x" if i == 0 else f"r{i - 1}"], [f"r{i}"],
                              name=f"relu{i}") for i in range(relus)]
    nodes.append(helper.make_node("MatMul", [f"r{relus - 1}", "W"], ["y"], name="out"))
    W = numpy_helper.from_array(np.eye(2, dtype=np.float32), "W")
    return save_onnx_graph(path, nodes, [W], [1, 2], [1, 2])


def save_digits(path, n=3):
    """``n`` random 28×28 uint8 digits (seed 0) saved at ``path``, the samples a hostile test
    feeds a command beside the broken file it tests; returns ``path``."""
    np.save(path, np.random.RandomState(0).randint(0, 255, (n, 28, 28)).astype(np.uint8))
    return path
