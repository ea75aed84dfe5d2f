"""A fresh hostile review (after the graph engine, photo loader, concepts and Dask paths): each
test is built from an input it writes itself and failed before the fix it guards."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hostile_files import finished_relevance_store

from lrpcore import ModelFormatError, explain, load_model
from lrpcore.cli.main import main

onnx = pytest.importorskip("onnx")
from onnx import helper  # noqa: E402
from test_onnx_graph_hostile import _model  # noqa: E402


def _merge_of_one(op):
    """The Relu's output passes through a Sum/Mean/Concat of that one tensor (valid ONNX)."""
    def mutate(m):
        m.graph.node.insert(2, helper.make_node(op, ["r"], ["r1"], name="one", axis=1)
                            if op == "Concat" else helper.make_node(op, ["r"], ["r1"],
                                                                    name="one"))
        m.graph.node[3].input[0] = "r1"
    return mutate


@pytest.mark.parametrize("op", ["Sum", "Mean", "Concat"])
def test_an_onnx_merge_of_one_tensor_is_that_tensor(tmp_path, op):
    # Sum/Mean of one tensor loaded as an Add node of one input: every explanation ended in
    # an internal IndexError inside the engine
    plain, merged = tmp_path / "plain.onnx", tmp_path / "merged.onnx"
    onnx.save(_model(), str(plain))
    onnx.save(_model(mutate=_merge_of_one(op)), str(merged))
    x = np.random.RandomState(1).rand(2, 3, 8, 8)
    expected = explain(load_model(plain), x, rule="EpsilonPlus", raw=True)
    np.testing.assert_allclose(explain(load_model(merged), x, rule="EpsilonPlus", raw=True),
                               expected)


def _native_graph(tmp_path):
    from lrpcore.io.native import save_native

    src = tmp_path / "base.onnx"
    onnx.save(_model(), str(src))
    path = tmp_path / "base.npz"
    save_native(load_model(src), path)
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    return arrays, json.loads(str(arrays["header"]))


def _write(tmp_path, arrays, header):
    path = tmp_path / "crafted.npz"
    np.savez(path, **{**arrays, "header": np.array(json.dumps(header))})
    return path


def _node_of(header, kind):
    return next(k for k, layer in enumerate(header["layers"]) if layer["type"] == kind)


def _one_input_merge(h):
    k = _node_of(h, "Add")
    h["graph"]["nodes"][k]["inputs"] = h["graph"]["nodes"][k]["inputs"][:1]


def _two_input_relu(h):
    h["graph"]["nodes"][_node_of(h, "Rect")]["inputs"].append(h["graph"]["input"])


def _convention_list(h):
    h["graph"]["convention"] = ["zennit"]


@pytest.mark.parametrize("mutate, phrase", [(_one_input_merge, "reads 1 tensors"),
                                            (_two_input_relu, "reads 2 tensors"),
                                            (_convention_list, "convention")])
def test_a_native_graph_of_impossible_wiring_is_refused_at_load(tmp_path, capsys, mutate,
                                                                phrase):
    # these loaded, then failed inside the engine (IndexError, zip ValueError) or at load with
    # a TypeError: internal errors instead of one line naming the file
    arrays, header = _native_graph(tmp_path)
    mutate(header)
    path = _write(tmp_path, arrays, header)
    with pytest.raises(ModelFormatError) as info:
        load_model(path)
    assert str(info.value).startswith(str(path)) and phrase in str(info.value)
    x = tmp_path / "x.npy"
    np.save(x, np.random.RandomState(0).rand(2, 3, 8, 8))
    out = tmp_path / "out"
    out.mkdir()
    assert main(["explain", str(path), str(x), "--raw", "--out", str(out / "R.npy")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(path) in err and "internal" not in err
    assert list(out.iterdir()) == []


def _photo_folder(tmp_path):
    from PIL import Image

    folder = tmp_path / "photos"
    (folder / "cats").mkdir(parents=True)
    for i in range(3):
        Image.fromarray(np.full((28, 28), 40 * i, np.uint8)).save(folder / "cats" / f"{i}.png")
    return folder


def test_an_image_gone_since_the_folder_was_listed_is_named_as_unreadable(tmp_path):
    # it was reported as "not a valid PNG or JPEG file": the user would look for a broken image
    from lrpcore import DatasetError, open_dataset

    folder = _photo_folder(tmp_path)
    ds = open_dataset(folder)
    (folder / "cats" / "1.png").unlink()
    with pytest.raises(DatasetError) as info:
        ds.images([1])
    text = str(info.value)
    assert text.startswith(str(folder / "cats" / "1.png")) and "cannot read" in text
    assert "not a valid" not in text


def test_a_photo_folder_that_cannot_be_listed_is_one_line_exit_2(tmp_path, capsys, monkeypatch):
    # a folder without read permission (simulated: the tests run as root) was an internal error
    import errno
    import os

    folder = _photo_folder(tmp_path)
    listdir = os.listdir

    def denied(path="."):
        if os.fspath(path) == str(folder / "cats"):
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return listdir(path)

    monkeypatch.setattr(os, "listdir", denied)
    out = tmp_path / "R.npy"
    assert main(["explain", "mnist-dense-rect", str(folder), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "internal" not in err
    assert str(folder / "cats") in err and "Permission denied" in err
    assert not out.exists()


@pytest.mark.parametrize("array", ["relevance", "done"])
def test_a_relevance_store_with_a_damaged_chunk_is_one_line_exit_2(tmp_path, capsys, array):
    # a chunk file overwritten or cut short after the run (a copy interrupted, a bad disk):
    # zarr's codec raised RuntimeError, an internal error in render, figure and spray
    zarr = pytest.importorskip("zarr")
    from lrpcore.io.relevance_store import RUN

    out = finished_relevance_store(tmp_path / "R.zarr")
    assert dict(zarr.open_group(str(out), mode="r").attrs)[RUN]["chunk"] == 4
    chunk = next(p for p in (out / array).rglob("*") if p.is_file() and p.name != "zarr.json")
    chunk.write_bytes(b"\x28\xb5\x2f\xfd garbage")
    png = tmp_path / "r.png"
    assert main(["render", str(out), "--colormap", "jet", "--out", str(png)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(out) in err and "damaged" in err, err
    assert "internal" not in err and not png.exists()


@pytest.mark.parametrize("command", [
    ["evaluate", "mnist-dense-rect", "mnist-sample", "--n", "2", "--steps", "2", "--baseline",
     "noise", "--quiet", "--csv", "{out}"],
    ["sweep", "mnist-dense-rect", "mnist-sample", "--rule", "epsilon", "--n", "2", "--steps",
     "2", "--baseline", "noise", "--quiet", "--csv", "{out}"],
    ["sanity", "mnist-dense-rect", "mnist-sample", "--rule", "epsilon", "--n", "2", "--quiet",
     "--csv", "{out}"],
])
def test_a_negative_seed_is_refused_in_one_line(tmp_path, capsys, command):
    # numpy's generators refuse negative seeds: an internal ValueError after the work began
    out = tmp_path / "out.csv"
    argv = [a.replace("{out}", str(out)) for a in command] + ["--seed", "-5"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--seed" in err and "internal" not in err, err
    assert not out.exists()


@pytest.mark.parametrize("flags, words", [
    (["--workers", "100000"], "local worker processes"),  # started processes until memory ran out
    (["--scheduler", "nonsense"], "--scheduler nonsense"),  # an internal ValueError
])
def test_absurd_cluster_arguments_are_refused_in_one_line(tmp_path, capsys, flags, words):
    pytest.importorskip("distributed")
    pytest.importorskip("zarr")
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((4, 28, 28), np.uint8))
    out = tmp_path / "R.zarr"
    assert main(["explain", "mnist-dense-rect", str(x), "--out", str(out), *flags]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err and "internal" not in err, err
    assert not out.exists()


@pytest.mark.parametrize("foreign", ["thesis.tex", "references/notes.txt"])
def test_concepts_overwrite_replaces_only_a_concepts_folder(tmp_path, capsys, foreign):
    # `lrp concepts --out ~/thesis --overwrite` (a typo) replaced the folder and deleted
    # everything in it
    out = tmp_path / "folder"
    (out / "references").mkdir(parents=True)
    (out / "ranking.csv").write_text("channel,relevance,share\n")
    (out / foreign).write_text("precious")
    args = ["concepts", "mnist-lenet5", "mnist-sample", "--layer", "convolution1",
            "--references", "0", "--top", "1", "--out", str(out), "--overwrite"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(out) in err and foreign in err, err
    assert (out / foreign).read_text() == "precious"
    (out / foreign).unlink()  # now only what lrp concepts writes: replaced
    assert main(args) == 0
    assert (out / "conditional.npy").exists()


_SHRINK = """
import os, sys
import numpy as np
sys.path.insert(0, {repo!r})
path = {path!r}
np.save(path, np.arange(400 * 784, dtype=np.float64).reshape(400, 784) % 255)
def shrink():
    with open(path, "r+b") as fh:
        fh.truncate(4096)  # as numpy.save rewriting it, or a copy cut short
if sys.argv[1] == "dataset":
    from lrpcore import open_dataset
    ds = open_dataset(path)
    shrink()
    try:
        ds.images([399])
    except Exception as exc:
        print(type(exc).__name__, exc)
else:
    from lrpcore.cli.main import main
    from lrpcore.explain import Explainer
    prepare = Explainer.prepare
    def prepare_then_shrink(self, x, *a, **k):
        out = prepare(self, x, *a, **k)
        shrink()  # after the first batch was read
        return out
    Explainer.prepare = prepare_then_shrink
    sys.exit(main(["explain", "mnist-dense-rect", path, "--raw", "--batch-size", "10",
                   "--out", os.path.join(os.path.dirname(path), "R.npy")]))
"""


@pytest.mark.parametrize("how", ["dataset", "explain"])
def test_an_input_that_shrinks_while_it_is_read_is_an_error_not_a_crash(tmp_path, how):
    # .npy inputs were memory-mapped: a file truncated or rewritten meanwhile killed the
    # process with SIGBUS (the explorer with everything open; lrp explain without a word)
    import subprocess
    import sys
    from pathlib import Path

    path = tmp_path / "x.npy"
    script = _SHRINK.format(repo=str(Path(__file__).resolve().parents[1]), path=str(path))
    proc = subprocess.run([sys.executable, "-c", script, how], capture_output=True, text=True,
                          timeout=300)
    text = proc.stdout + proc.stderr
    assert proc.returncode == (0 if how == "dataset" else 2), (proc.returncode, text)
    assert str(path) in text and "truncated or rewritten while being read" in text, text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npy"]


def test_a_file_array_indexes_as_numpy_does(tmp_path):
    from lrpcore.io.file_array import open_npy_rows

    a = np.arange(7 * 3 * 2, dtype=">f4").reshape(7, 3, 2)  # big-endian, as files may be
    np.save(tmp_path / "a.npy", a)
    rows = open_npy_rows(tmp_path / "a.npy")
    assert rows.shape == a.shape and rows.dtype == a.dtype and len(rows) == 7
    mask = np.array([1, 0, 1, 1, 0, 0, 1], bool)
    for index in [3, -1, slice(None), slice(2, 5), slice(5, 2), slice(None, None, 3),
                  slice(None, None, -2), [4, 1, 1, 6], np.array([5, 6, 0]), np.array([], int),
                  mask, (slice(1, 4), 0), (2, 1, 1), (np.array([0, 2]), slice(None), 1)]:
        np.testing.assert_array_equal(rows[index], a[index], err_msg=str(index))
    np.testing.assert_array_equal(np.asarray(rows.reshape(7, 6)), a.reshape(7, 6))
    np.testing.assert_array_equal(rows.reshape(-1, 3)[4], a.reshape(-1, 3)[4])
    with pytest.raises(IndexError):
        rows[7]


@pytest.mark.parametrize("command", ["render", "figure"])
@pytest.mark.parametrize("sigma", ["1e308", "1e7", "nan"])
def test_an_absurd_outline_sigma_is_refused_in_one_line(tmp_path, capsys, command, sigma):
    # 1e308 overflowed inside the edge detector (internal error); 1e7 ran for minutes
    R, x = tmp_path / "R.npy", tmp_path / "x.npy"
    np.save(R, np.random.RandomState(0).randn(2, 28, 28))
    np.save(x, np.zeros((2, 28, 28), np.uint8))
    out = tmp_path / "out.png"
    assert main([command, str(R), "--input", str(x), "--sigma", sigma, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "sigma" in err and "internal" not in err, err
    assert not out.exists()


def test_references_are_shown_when_the_cache_cannot_keep_them(tmp_path, monkeypatch, capsys):
    # a full disk under LRP_CACHE_DIR failed `lrp concepts` after the references were computed
    import errno

    from lrpcore import fileio

    monkeypatch.setenv("LRP_CACHE_DIR", str(tmp_path / "cache"))
    atomic_open = fileio.atomic_open

    def full_in_cache(path, *a, **k):
        if "relmax" in str(path):
            raise fileio.ExportError(f"{path}: write failed: "
                                     f"{__import__('os').strerror(errno.ENOSPC)}")
        return atomic_open(path, *a, **k)

    monkeypatch.setattr(fileio, "atomic_open", full_in_cache)
    from hostile_files import run_concepts_on_digits  # noqa: PLC0415

    run_concepts_on_digits(tmp_path, capsys)
    assert not list((tmp_path / "cache" / "relmax").glob("*.npz"))


@pytest.mark.parametrize("cache", ["full", "not a folder"])
def test_a_gzipped_idx_opens_when_its_cache_cannot_be_written(tmp_path, monkeypatch, cache):
    # a full disk under LRP_CACHE_DIR (or a cache path that is a file) made every gzipped IDX
    # file unreadable, the bundled mnist-test (the explorer's default dataset) included
    import errno
    import gzip

    from lrpcore import open_dataset
    from lrpcore.io import idx

    images = np.random.RandomState(0).randint(0, 255, (5, 28, 28)).astype(np.uint8)
    head = bytes([0, 0, 8, 3]) + b"".join(int(d).to_bytes(4, "big") for d in images.shape)
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(head + images.tobytes()))
    if cache == "full":
        monkeypatch.setenv("LRP_CACHE_DIR", str(tmp_path / "cache"))
        real = idx.atomic_open

        class Full:
            def __init__(self, fh):
                self.fh = fh

            def write(self, data):
                raise OSError(errno.ENOSPC, "No space left on device")

        import contextlib

        @contextlib.contextmanager
        def full_disk(target, mode="wb"):
            with real(target, mode) as fh:
                yield Full(fh)

        monkeypatch.setattr(idx, "atomic_open", full_disk)
    else:
        (tmp_path / "cache").write_text("a file where the cache folder should be")
        monkeypatch.setenv("LRP_CACHE_DIR", str(tmp_path / "cache"))
    ds = open_dataset(path)
    np.testing.assert_array_equal(ds.images()[..., 0], images)
    if cache == "full":
        assert list((tmp_path / "cache" / "idx").iterdir()) == []  # nothing partial kept
    # bad data is still bad data, not a cache problem
    path.write_bytes(gzip.compress(head + images.tobytes())[:-20])
    from lrpcore import DatasetError

    with pytest.raises(DatasetError, match="t10k-images"):
        open_dataset(path).images()


def test_a_file_renamed_over_an_open_dataset_is_not_read_with_the_old_header(tmp_path):
    # the reader keeps the file it opened, as a memory map did: another file put in its place
    # (another header length, other data) must not be read at the old offsets
    import os

    from lrpcore import open_dataset

    path = tmp_path / "x.npy"
    old = np.arange(4 * 784, dtype=np.uint8).reshape(4, 28, 28)
    np.save(path, old)
    ds = open_dataset(path)
    np.save(tmp_path / "new.npy", np.zeros((4, 28, 28, 1, 1), np.float32))  # longer header
    os.replace(tmp_path / "new.npy", path)
    np.testing.assert_array_equal(ds.images([3])[0, ..., 0], old[3])


def test_an_absurd_number_of_reference_samples_is_refused_before_computing(tmp_path, capsys):
    # --references 999999999999 ran for hours: one conditional heatmap per channel and sample
    out = tmp_path / "c"
    assert main(["concepts", "mnist-lenet5", "mnist-sample", "--layer", "convolution1",
                 "--references", "999999999999", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--references" in err and "256" in err, err
    assert not out.exists()


@pytest.mark.parametrize("axes", [[2, 3], [-2, -1], [3, 2]])
def test_an_opset_18_pad_with_axes_loads_like_its_full_form(tmp_path, axes):
    # a valid file refused: Pad-18 names the padded axes in an input ("pads [1, 1, 2, 2]:
    # only the height and width of an N×C×H×W tensor", which they were)
    from onnx import numpy_helper

    top, left, bottom, right = 1, 2, 1, 0
    per_axis = {2: (top, bottom), 3: (left, right)}
    short_pads = [per_axis[a % 4][0] for a in axes] + [per_axis[a % 4][1] for a in axes]

    def with_pad(pads, axes_input):
        def mutate(m):
            m.opset_import[0].version = 18
            ins = ["r", "pads", ""] + (["axes"] if axes_input is not None else [])
            m.graph.node.insert(2, helper.make_node("Pad", ins, ["rp"], name="pad"))
            m.graph.node.insert(3, helper.make_node("Pad", ["x", "pads", ""] +
                                                    (["axes"] if axes_input is not None else []),
                                                    ["xp"], name="padx"))
            m.graph.node[4].input[:] = ["rp", "xp"]  # the residual Add reads both, padded
            m.graph.initializer.append(numpy_helper.from_array(np.array(pads, np.int64), "pads"))
            if axes_input is not None:
                m.graph.initializer.append(numpy_helper.from_array(
                    np.array(axes_input, np.int64), "axes"))
        return mutate

    full, short = tmp_path / "full.onnx", tmp_path / "axes.onnx"
    onnx.save(_model(mutate=with_pad([0, 0, top, left, 0, 0, bottom, right], None)), str(full))
    onnx.save(_model(mutate=with_pad(short_pads, axes)), str(short))
    x = np.random.RandomState(2).rand(2, 3, 8, 8)
    np.testing.assert_allclose(explain(load_model(short), x, rule="EpsilonPlus", raw=True),
                               explain(load_model(full), x, rule="EpsilonPlus", raw=True))


def test_outputs_that_overflow_blame_the_model_when_its_parameters_do(tmp_path, capsys):
    # a model whose weights are near float32's limit failed every explanation with "input
    # values too large for float32?": the user would look at the input, not the file
    from onnx import numpy_helper

    def huge(m):
        m.graph.initializer[2].CopyFrom(numpy_helper.from_array(
            np.full((2, 3), 3e38, np.float32), "G"))

    path = tmp_path / "huge.onnx"
    onnx.save(_model(mutate=huge), str(path))
    x = tmp_path / "x.npy"
    np.save(x, np.random.RandomState(0).rand(2, 3, 8, 8))
    args = ["explain", str(path), str(x), "--raw", "--dtype", "float32", "--out",
            str(tmp_path / "R.npy")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "parameters reach 3e+38" in err and "input values" not in err, err
    np.save(x, np.full((2, 3, 8, 8), 3e38))  # the plain model, an input that overflows
    onnx.save(_model(), str(path))
    assert main(args) == 2
    assert "input values too large for float32" in capsys.readouterr().err


def test_relevance_that_is_no_image_is_refused_naming_its_file(tmp_path, capsys):
    # "relevance: a flat vector of 3 values is not a square image" named no file
    path = tmp_path / "R.npz"
    np.savez(path, relevance=np.zeros((2, 28, 28)), other=np.zeros(3))
    out = tmp_path / "r.png"
    assert main(["render", f"{path}:other", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and "not square" in err, err
    assert not out.exists()
