"""Found by the seventh hostile review: each hostile file or run ends in one line naming the
file (CLI exit 2) before it costs memory, time or the user's files."""

from __future__ import annotations

import os
import zipfile

import numpy as np
import pytest
from hostile_files import save_pth_state_dict, save_pth_storage_bomb

from lrpcore import ModelFormatError
from lrpcore.cli.main import main
from lrpcore.io.torch_pth import read_state_dict


def test_deflated_pth_storages_are_refused_before_they_are_inflated(tmp_path, monkeypatch,
                                                                   capsys):
    """Each storage may declare as many elements as the file has bytes; 24 deflated storages
    of zeros in a 120-KB file inflated to 23 MB (a 300-KB file of 100: 240 MB)."""
    path = save_pth_storage_bomb(tmp_path / "bomb.pth", 24, 120_000)
    read = []
    real_read = zipfile.ZipFile.read
    monkeypatch.setattr(zipfile.ZipFile, "read",
                        lambda self, name, *a: read.append(name) or real_read(self, name, *a))
    with pytest.raises(ModelFormatError, match="zip bomb") as info:
        read_state_dict(path)
    assert str(info.value).startswith(str(path))
    assert not [name for name in read if "/data/" in name]  # no storage was inflated
    assert main(["info", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(path) in err


def test_a_checkpoint_of_stored_storages_still_loads(tmp_path):
    """The bound counts compressed bytes: a checkpoint stored uncompressed, as torch writes
    it, loads whatever its size."""
    path = save_pth_storage_bomb(tmp_path / "m.pth", 3, 1000)
    with zipfile.ZipFile(path) as zf, zipfile.ZipFile(tmp_path / "s.pth", "w") as out:
        for info in zf.infolist():
            out.writestr(info.filename, zf.read(info.filename), zipfile.ZIP_STORED)
    assert sorted(read_state_dict(tmp_path / "s.pth")) == ["0", "1", "2"]


def test_an_onnx_file_beyond_protobufs_limit_is_refused_before_it_is_read(tmp_path,
                                                                         monkeypatch, capsys):
    """onnx.load reads the whole file before protobuf refuses anything over 2 GiB: a 20-GB
    sparse file named .onnx filled the memory. (This one is sparse: no disk space.)"""
    onnx = pytest.importorskip("onnx")
    path = tmp_path / "huge.onnx"
    with open(path, "wb") as fh:
        fh.truncate((2 << 30) + 1)
    monkeypatch.setattr(onnx, "load", lambda *a, **k: pytest.fail("the file was read"))
    assert main(["info", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(path) in err and "2 GiB" in err


def test_writing_a_file_never_clears_the_umask_of_other_threads(tmp_path, monkeypatch):
    """Each new export asked for the umask by setting it to 0 and back: a file or folder
    another thread created in between (an explorer worker, a parallel shard) was
    world-writable. The mode is still the one a plain open() would give."""
    import os

    from lrpcore.fileio import atomic_write_bytes, process_umask

    mask = os.umask(0o027)
    try:
        assert process_umask() == 0o027
        calls = []
        monkeypatch.setattr(os, "umask", lambda m: calls.append(m) or 0o027)
        atomic_write_bytes(tmp_path / "a.bin", b"x")
        assert calls == []
        assert (tmp_path / "a.bin").stat().st_mode & 0o777 == 0o640
    finally:
        monkeypatch.undo()
        os.umask(mask)


def _lite0_weights():
    from lrpcore.io.imagenet import checkpoint_path

    path = checkpoint_path()
    if path is None:
        pytest.skip("the EfficientNet-Lite0 checkpoint package is not installed")
    return read_state_dict(path)


@pytest.mark.parametrize("tensor, value, words", [
    ("_blocks.3._bn1.running_var", lambda v: -np.ones_like(v), "running_var"),
    ("_fc.weight", lambda w: w[:, :100].copy(), "_fc.weight has shape (1000, 100)"),
    ("_bn0.bias", lambda b: b[:3].copy(), "_bn0.bias has shape (3,)"),
])
def test_convert_refuses_a_checkpoint_whose_tensors_no_model_can_hold(tmp_path, capsys, tensor,
                                                                     value, words):
    """A negative BatchNorm variance was folded into NaN weights and a classifier of 100
    inputs into a model no input fits: both were written, exit 0 (the first then refused
    by every command as NaN, the second lost its input format)."""
    weights = _lite0_weights()
    weights[tensor] = value(weights[tensor])
    path = save_pth_state_dict(tmp_path / "bad.pth", weights)
    out = tmp_path / "out.npz"
    code = main(["convert", str(path), str(out), "--arch", "efficientnet-lite0"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and not out.exists()
    assert len(err.splitlines()) == 1 and str(path) in err and words in err, err


def test_an_onnx_file_cut_before_its_opset_is_refused(tmp_path, capsys):
    """PyTorch writes the opset last: the MNIST ResNet's file without its last 4 bytes
    parsed, and loaded with opset 13 guessed (operators read by another version's rules)."""
    onnx = pytest.importorskip("onnx")
    from hostile_files import save_feature_extractor

    full = save_feature_extractor(tmp_path / "full.onnx", 8)
    proto = onnx.load(str(full))
    del proto.opset_import[:]
    path = tmp_path / "cut.onnx"
    path.write_bytes(proto.SerializeToString())
    assert main(["info", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(path) in err and "opset" in err


@pytest.mark.parametrize("dtype, top, warned", [("uint16", 65535, True), ("int32", 1000, True),
                                                ("uint8", 255, False), ("float64", 255.0, False)])
def test_raw_samples_beyond_the_models_raw_range_are_warned_about(tmp_path, capsys, dtype, top,
                                                                 warned):
    """16-bit images (0…65535) for a model of 8-bit pixels were explained without a word,
    while values that look preprocessed already got a warning."""
    x = tmp_path / "x.npy"
    np.save(x, np.linspace(0, top, 2 * 28 * 28).reshape(2, 28, 28).astype(dtype))
    assert main(["explain", "mnist-lenet5", str(x), "--out", str(tmp_path / "R.npy")]) == 0
    err = capsys.readouterr().err
    assert ("exceed the model's raw input range [0, 255]" in err) == warned, err


def test_a_regenerated_input_of_the_same_shape_is_not_taken_for_the_stored_run(tmp_path):
    """``lrp explain batch.npy --out R.zarr`` rerun after batch.npy was written again with
    other samples of the same shape answered 'all chunks already done' with the old
    samples' relevance (or resumed a partial store, mixing both)."""
    pytest.importorskip("zarr")
    from hostile_files import finished_relevance_store

    from lrpcore import distributed as dist
    from lrpcore.errors import ExportError

    x = tmp_path / "batch.npy"
    np.save(x, np.zeros((4, 28, 28), np.uint8))
    before, _ = dist.open_source(x)
    store = finished_relevance_store(tmp_path / "R.zarr")
    key = dict(dist.layout.RelevanceStore(store).run, input_stamp=before.stamp)
    group = dist.layout.import_zarr().open_group(str(store), mode="r+")
    group.attrs[dist.layout.RUN] = key
    assert dist.layout.finished_store(store, key, False)  # the same samples: done
    np.save(x, np.ones((4, 28, 28), np.uint8))
    os.utime(x, ns=(1, 1))  # another modification time, whatever the clock's resolution
    after, _ = dist.open_source(x)
    with pytest.raises(ExportError, match="input_stamp"):
        dist.layout.finished_store(store, dict(key, input_stamp=after.stamp), False)
    assert after.read(0, 2).sum() == 2 * 28 * 28


def test_loading_an_onnx_chain_of_folded_biases_takes_linear_work(tmp_path, monkeypatch):
    """Every bias fold searched the whole node list and tensor table: a 3-MB chain of 50,000
    MatMul + Add pairs took about ten minutes to load (8,000 pairs: 17 s). Counted here as
    reads of node outputs and tensor names, which grew with the square of the pairs."""
    pytest.importorskip("onnx")
    import dataclasses

    from hostile_files import save_onnx_bias_chain

    from lrpcore.io import onnx_graph

    reads = [0]

    @dataclasses.dataclass(frozen=True)
    class CountedNode(onnx_graph.Node):
        def __getattribute__(self, name):
            if name == "output":
                reads[0] += 1
            return object.__getattribute__(self, name)

    class CountedTensor(onnx_graph._Tensor):
        def __getattribute__(self, name):
            if name == "name":
                reads[0] += 1
            return object.__getattribute__(self, name)

    monkeypatch.setattr(onnx_graph, "Node", CountedNode)
    monkeypatch.setattr(onnx_graph, "_Tensor", CountedTensor)
    pairs = 1500
    model = onnx_graph.read_onnx_graph(save_onnx_bias_chain(tmp_path / "chain.onnx", pairs))
    assert len(model.nodes) == pairs
    assert reads[0] < 40 * pairs, reads[0]  # was 6.8 M


def test_a_graph_of_over_a_thousand_nodes_converts_and_reads_back(tmp_path, capsys):
    """The native reader took at most 1,000 layers (the toolbox formats' limit), graphs
    included, while ONNX imports take 100,000 nodes: a graph of 1,101 nodes was converted,
    exit 0, into a file no command could open."""
    pytest.importorskip("onnx")
    from hostile_files import save_onnx_relu_chain

    from lrpcore import load_model

    path = save_onnx_relu_chain(tmp_path / "deep.onnx", 1100)
    out = tmp_path / "deep.npz"
    assert main(["convert", str(path), str(out)]) == 0, capsys.readouterr().err
    assert len(load_model(out).nodes) == len(load_model(path).nodes) == 1101


def test_convert_refuses_what_the_native_reader_would_refuse(tmp_path, capsys, monkeypatch):
    """A header beyond the reader's bound (16 MB: a graph of 100,000 long-named nodes) was
    written; now the writer says so and writes nothing (the bound is made small here)."""
    pytest.importorskip("onnx")
    from hostile_files import save_onnx_relu_chain

    from lrpcore.io import native

    path = save_onnx_relu_chain(tmp_path / "deep.onnx", 100)
    monkeypatch.setattr(native, "_MAX_HEADER_BYTES", 4096)
    out = tmp_path / "deep.npz"
    assert main(["convert", str(path), str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(out) in err and "native format" in err, err
    assert list(tmp_path.iterdir()) == [path]


def test_render_does_not_hash_a_huge_file_a_sidecar_names_as_the_model(tmp_path, monkeypatch,
                                                                       capsys):
    """With --input FOLDER, render checks the model a relevance sidecar names by its
    SHA-256: a crafted sidecar naming a huge sparse file (/var/log/lastlog reaches a TB of
    zeros) kept it hashing for minutes. (This file is sparse: no disk space.)"""
    import json

    from PIL import Image

    from lrpcore import export

    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(2):
        Image.fromarray(np.full((28, 28), 40 * i, np.uint8)).save(folder / f"{i}.png")
    huge = tmp_path / "huge.npz"
    with open(huge, "wb") as fh:
        fh.truncate(5 << 30)
    relevance = tmp_path / "R.npy"
    np.save(relevance, np.random.RandomState(0).rand(2, 28, 28, 1))
    (tmp_path / "R.npy.json").write_text(json.dumps(
        {"file": "R.npy", "model": str(huge), "model_sha256": "0" * 64}))
    hashed = []
    real = export.sha256_file
    monkeypatch.setattr(export, "sha256_file", lambda p: hashed.append(str(p)) or real(p))
    out = tmp_path / "x.png"
    assert main(["render", str(relevance), "--input", str(folder), "--out", str(out),
                 "--side-by-side"]) == 0, capsys.readouterr().err
    assert out.exists() and str(huge) not in hashed


@pytest.mark.parametrize("sample, words", [(3, "sample 3 contains NaN"),
                                           (0, "sample 3 contains NaN")])
def test_concepts_of_data_holding_nan_names_the_file(tmp_path, capsys, sample, words):
    """'lrp concepts' said only 'samples contain NaN or infinite values' (which file? the
    explained sample, or one of the references?)."""
    x = np.random.RandomState(0).randint(0, 255, (6, 28, 28)).astype(np.float64)
    x[3, 3, 3] = np.nan
    path = tmp_path / "digits.npy"
    np.save(path, x)
    out = tmp_path / "c"
    assert main(["concepts", "mnist-lenet5", str(path), "--layer", "convolution1",
                 "--sample", str(sample), "--references", "2", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(path) in err and words in err, err
    assert not out.exists()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["Sigmoid", "Silu"])
def test_a_sigmoid_of_large_negative_inputs_warns_nothing(dtype, kind):
    """1/(1 + e^−x) overflowed for x below −89 (float32) or −710 (float64): numpy printed its
    RuntimeWarning with the source line on the terminal of 'lrp explain'."""
    import warnings

    from lrpcore import graph_activations

    layer = getattr(graph_activations, kind)()
    x = np.array([-1e4, -800.0, -20.0, 0.0, 20.0, 800.0, 1e4], dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = layer.forward(x, np)
        g = layer.gradient(x, y, np.ones_like(x), np, dtype)
    assert y.dtype == dtype and np.isfinite(g).all()
    with np.errstate(over="ignore"):
        plain = 1 / (1 + np.exp(-x)) * (x if kind == "Silu" else 1)
    np.testing.assert_allclose(y, plain, rtol=1e-6 if dtype == np.float32 else 1e-15, atol=0)


def test_a_file_another_run_writes_between_check_and_rename_is_kept(tmp_path, monkeypatch):
    """The check that a new output's name is free and the rename that takes it were two
    steps: a file another run wrote there in between was replaced (two runs into one new
    R.npy could leave R.npy of one beside R.npy.json of the other). The race is made
    certain here by hiding the other run's b.bin from the check."""
    from lrpcore import fileio
    from lrpcore.errors import ExportError

    theirs = tmp_path / "b.bin"
    theirs.write_bytes(b"theirs")
    real = fileio._identity
    monkeypatch.setattr(fileio, "_identity",
                        lambda p: None if os.fspath(p) == str(theirs) else real(p))
    with pytest.raises(ExportError, match="created by something else"):
        with fileio.staged_writes():
            fileio.atomic_write_bytes(tmp_path / "a.bin", b"mine", overwrite=False)
            fileio.atomic_write_bytes(theirs, b"mine", overwrite=False)
    assert theirs.read_bytes() == b"theirs"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.bin"]  # a.bin undone, no temps


def test_a_concepts_folder_gets_the_mode_other_outputs_get(tmp_path, capsys):
    """The folder was made by mkdtemp (mode 0700) and renamed into place: with a umask of
    022 every other output is readable by the group and others, 'lrp concepts' results were
    not."""
    from hostile_files import run_concepts_on_digits

    from lrpcore.fileio import process_umask

    out = run_concepts_on_digits(tmp_path, capsys)
    assert out.stat().st_mode & 0o777 == 0o777 & ~process_umask()


def test_onnx_constants_folded_into_inf_weights_are_refused_at_load(tmp_path, capsys):
    """Twelve Mul nodes by 1e30 after a MatMul are each finite, folded into its weights they
    reach inf: the model loaded (numpy's overflow warning on stderr), 'lrp info' showed it,
    'lrp convert' wrote it (exit 0) into a file no reader opens."""
    pytest.importorskip("onnx")
    import warnings

    from hostile_files import save_onnx_graph
    from onnx import helper, numpy_helper

    inits = [numpy_helper.from_array(np.eye(2, dtype=np.float32), "W"),
             numpy_helper.from_array(np.array(1e30, np.float32), "K")]
    nodes = [helper.make_node("MatMul", ["x", "W"], ["m0"], name="first")]
    nodes += [helper.make_node("Mul", [f"m{i}", "K"], [f"m{i + 1}"], name=f"mul{i}")
              for i in range(12)]
    nodes.append(helper.make_node("MatMul", ["m12", "W"], ["y"], name="last"))
    path = save_onnx_graph(tmp_path / "m.onnx", nodes, inits, [1, 2], [1, 2])
    out = tmp_path / "m.npz"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert main(["convert", str(path), str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(path) in err and "'first'" in err, err
    assert not out.exists()
