"""Defects earlier reviews noticed and left (stop 23, command line): relevance of a --raw run
rendered without its dataset; one broken photo that made a folder unusable; lrp concepts'
three-digit file numbers; a damaged chunk trusted on resume; a FIFO output refused after the
work; αβ overflow called a division by zero; a sidecar naming / as its dataset; any .txt
taken for a model beside an output."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hostile_files import one_line
from skimage import io as skio

import lrpcore
from lrpcore.cli.main import main


def _padded_digits(n):
    """``n`` MNIST digits as LeNet-5 takes them (--raw): 32×32×1 in [-1, 1]."""
    x = lrpcore.open_dataset("mnist-test").images(np.arange(n)).astype(np.float64)
    x = x.reshape(n, 28, 28, 1) / 127.5 - 1.0
    return np.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0)), constant_values=-1.0)


@pytest.mark.parametrize("command", ["render", "figure"])
def test_relevance_of_a_raw_run_is_drawn_over_the_dataset_its_sidecar_names(
        tmp_path, capsys, command):
    """lrp explain --raw writes a sidecar naming its samples (and "raw": true); lrp render and
    lrp figure ignored them ('--side-by-side needs --input'; a figure without its input
    column), while the same maps without --raw were drawn over their dataset."""
    x = tmp_path / "x.npy"
    np.save(x, _padded_digits(3))
    r = tmp_path / "R.npy"
    assert main(["explain", "mnist-lenet5", str(x), "--raw", "--out", str(r)]) == 0
    assert json.loads((tmp_path / "R.npy.json").read_text())["raw"] is True
    capsys.readouterr()
    extra = ["--side-by-side", "--index", "2"] if command == "render" else ["--index", "2"]
    auto, given = tmp_path / "auto.png", tmp_path / "given.png"
    assert main([command, str(r), *extra, "--out", str(auto)]) == 0
    assert "note:" not in capsys.readouterr().err
    assert main([command, str(r), *extra, "--input", str(x), "--out", str(given)]) == 0
    np.testing.assert_array_equal(skio.imread(auto), skio.imread(given))
    assert json.loads((tmp_path / "auto.png.json").read_text())["input_file"] == str(x)


@pytest.mark.parametrize("count, first, last", [
    (5, "conditional_000_ch0.png", "conditional_004_ch4.png"),  # the names scripts know
    (1000, "conditional_000_ch0.png", "conditional_999_ch999.png"),
    (1001, "conditional_0000_ch0.png", "conditional_1000_ch1000.png"),
])
def test_concept_files_are_numbered_wide_enough_to_sort_in_rank_order(
        tmp_path, monkeypatch, count, first, last):
    """lrp concepts numbered its conditional heatmaps with three digits: with --top all on a
    layer of 1,000+ channels conditional_1000_… sorted before conditional_101_…. The width
    follows the count; below 1,000 maps the names are as before."""
    from lrpcore import concepts_export
    from lrpcore.concepts import Ranking

    drawn = []
    monkeypatch.setattr(concepts_export, "export_input_heatmap",
                        lambda path, *a, info=None, **k: drawn.append((path, info.get("rank"))))
    ranking = Ranking(0, "conv", np.arange(count), np.ones(count), np.ones(count) / count,
                      np.zeros((2, 2)))
    concepts_export.write_concepts(tmp_path, ranking, np.zeros((count, 2, 2)),
                                   np.zeros((2, 2)), {})
    names = [p.rsplit("/", 1)[-1] for p, _ in drawn[1:]]  # [0]: heatmap.png
    assert names[0] == first and names[-1] == last and len(names) == count
    assert [rank for _, rank in drawn[1:]] == list(range(count))
    assert sorted(names) == names  # rank order is file-name order


@pytest.mark.parametrize("argv", [
    ["evaluate", "mnist-lenet5", "mnist-test", "--n", "2", "--steps", "2", "--csv", "OUT"],
    ["sanity", "mnist-lenet5", "mnist-test", "--n", "2", "--csv", "OUT"],
    ["sweep", "mnist-lenet5", "mnist-test", "--rule", "epsilon", "--param", "epsilon=0.1,1",
     "--n", "2", "--csv", "OUT"],
    ["bench", "--models", "lenet5", "--json", "OUT"],
])
def test_a_pipe_as_output_is_refused_before_any_work(tmp_path, capsys, monkeypatch, argv):
    """--csv FIFO --overwrite ran the whole computation, then the write refused the pipe
    ('is not a regular file'); check_outputs_free refuses it first, as every output check."""
    import os

    from lrpcore.explain import Explainer, Forward

    fifo = tmp_path / "out.csv"
    os.mkfifo(fifo)
    passes = []
    real = Forward.relevance
    monkeypatch.setattr(Forward, "relevance",
                        lambda self, *a, **k: passes.append(1) or real(self, *a, **k))
    monkeypatch.setattr(Explainer, "forward", lambda *a, **k: passes.append(2) or 1 / 0)
    assert main([str(fifo) if a == "OUT" else a for a in argv] + ["--overwrite"]) == 2
    one_line(capsys, "out.csv: is not a regular file (a device or pipe)")
    assert passes == []


@pytest.mark.parametrize("beside, refused", [
    ("labels.txt", False),     # a list of class names: no model
    ("labels.npz", False),     # samples: no model header
    ("model.txt", True),       # a toolbox text model: its sidecar stays protected
    ("model.npz", True),       # a native model
])
def test_only_a_real_model_beside_an_output_makes_it_a_sidecar(tmp_path, capsys, beside,
                                                                 refused):
    """Any .txt (or .npz) beside an output counted as a model: --csv labels.json beside a
    labels.txt of class names was refused as 'the sidecar of the model labels.txt'. Only a
    file that is a model (a toolbox layer first, a native model's header) protects its
    .json."""
    import shutil
    from pathlib import Path

    models = Path(__file__).resolve().parents[1] / "models"
    stem = beside.split(".")[0]
    if beside == "labels.txt":
        (tmp_path / beside).write_text("cat\ndog\n")
    elif beside == "labels.npz":
        np.savez(tmp_path / beside, x=np.zeros((2, 28, 28)))
    elif beside == "model.txt":
        assert main(["convert", str(models / "mnist-dense-rect.npz"),
                     str(tmp_path / beside)]) == 0
        (tmp_path / "model.json").unlink(missing_ok=True)
    else:
        shutil.copy(models / "mnist-dense-rect.npz", tmp_path / beside)
    capsys.readouterr()
    out = tmp_path / f"{stem}.json"
    status = main(["evaluate", "mnist-lenet5", "mnist-test", "--n", "2", "--steps", "2",
                   "--csv", str(out)])
    if refused:
        assert status == 2
        one_line(capsys, f"{stem}.json: is the sidecar of the model {beside} beside it")
        assert not out.exists()
    else:
        assert status == 0, capsys.readouterr().err
        assert out.read_text().startswith("rule,")


@pytest.mark.parametrize("named", ["/", "folder"])
def test_a_sidecar_naming_the_root_or_a_folder_of_no_images_as_its_dataset(
        tmp_path, capsys, named):
    """A relevance sidecar naming / as its dataset made every --out 'inside the folder / this
    command reads' (refused: nothing could be rendered), and / opened as an image folder of
    the classes bin, etc, home, …. The root is refused as a dataset, naming it; a sidecar's
    folder that holds no dataset is noted and the map drawn alone, as any dataset the
    sidecar names that cannot be used."""
    (tmp_path / "maps").mkdir()
    r = tmp_path / "maps" / "R.npy"
    np.save(r, np.random.RandomState(0).randn(2, 28, 28))
    dataset = "/" if named == "/" else str(tmp_path / "maps")
    (tmp_path / "maps" / "R.npy.json").write_text(json.dumps(
        {"content": "relevance", "shape": [2, 28, 28], "dataset": dataset}))
    out = tmp_path / "maps" / "h.png"
    assert main(["render", str(r), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "note:" in err and "drawn without them" in err
    if named == "/":
        assert "/: the root of the file system, not a folder of images" in err
        assert main(["render", str(r), "--side-by-side", "--out", str(tmp_path / "s.png")]) == 2
        one_line(capsys, "--side-by-side needs --input", "/: the root of the file system")
        assert main(["data", "info", "/"]) == 2
        one_line(capsys, "/: the root of the file system, not a folder of images")
    assert out.is_file() and json.loads((tmp_path / "maps" / "h.png.json").read_text())[
        "input_file"] is None


@pytest.mark.parametrize("rule", ["alphabeta", "EpsilonAlpha2Beta1"])
def test_alphabeta_over_samples_near_1e300_says_the_numbers_overflow(tmp_path, capsys, rule):
    """αβ over --raw float64 samples near 1e300: relevance near 1e300 over the rule's
    stabiliser 1e-16 overflowed, and the run ended in 'a division by zero (e.g. epsilon:0
    …); choose a rule with a stabiliser > 0'. It names the layer, the rule and the
    overflow, as the other overflow guards do; samples that do not overflow are explained."""
    x = np.zeros((2, 32, 32, 1))
    x[:, 5:20, 5:20, 0] = 1e300
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "r.npy"
    argv = ["explain", "mnist-lenet5", str(tmp_path / "x.npy"), "--raw", "--dtype", "float64",
            "--rule", rule, "--out", str(out)]
    assert main(argv) == 2
    err = one_line(capsys, "layer 0 (Convolution", "alphabeta:2: the numbers overflow float64",
                   "too large for the rule's divisions")
    assert "division by zero" not in err and not out.exists()
    np.save(tmp_path / "x.npy", np.random.RandomState(0).randn(2, 32, 32, 1) * 1e300)
    assert main(argv) == 0 and np.isfinite(np.load(out)).all()


def _digit_folder(root, broken):
    """Ten 28×28 digits in two class folders; ``broken`` (name → bytes) replaces some."""
    from PIL import Image

    digits = lrpcore.open_dataset("mnist-test").images(np.arange(10))
    for k, img in enumerate(digits):
        (root / f"c{k % 2}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(img.reshape(28, 28)).save(root / f"c{k % 2}" / f"d{k}.png")
    for name, data in broken.items():
        whole = (root / name).read_bytes() if (root / name).exists() else b""
        (root / name).write_bytes(data(whole))
    return digits


CUT = {"c0/d0.png": lambda b: b"not an image", "c1/d3.png": lambda b: b[:len(b) // 2],
       "c0/d4.png": lambda b: b""}


def test_a_folder_with_broken_photos_opens_with_the_others_and_names_them(tmp_path):
    """One damaged image (the first one, here) made the whole folder unusable: 'c0/d0.png:
    cannot decode the image …' for every command. The others are its samples now, their
    labels kept; the broken ones are named with the reason."""
    digits = _digit_folder(tmp_path / "photos", CUT)
    ds = lrpcore.open_dataset(tmp_path / "photos")
    kept = [2, 6, 8, 1, 5, 7, 9]  # c0: d2, d6, d8; c1: d1, d5, d7, d9
    assert len(ds) == 7 and ds.labels.tolist() == [0, 0, 0, 1, 1, 1, 1]
    np.testing.assert_array_equal(ds.images()[..., 0], digits[kept].reshape(7, 28, 28))
    assert ds.sample_files([0, 3]) == ["c0/d2.png", "c1/d1.png"]
    note = ds.unreadable_note()
    assert note.startswith("3 images cannot be read and are left out:")
    for name, why in [("c0/d0.png", "not a valid PNG or JPEG file"),
                      ("c0/d4.png", "not a valid PNG or JPEG file"),
                      ("c1/d3.png", "its PNG data is damaged or cut short")]:
        assert f"{name} (cannot decode the image: {why})" in note
    assert note.endswith("the other 7 are used") and f"note:    {note}" in ds.describe()


def test_a_folder_of_nothing_readable_is_still_refused_naming_the_folder(tmp_path):
    from lrpcore.errors import DatasetError

    (tmp_path / "photos").mkdir()
    for k in range(3):
        (tmp_path / "photos" / f"{k}.jpg").write_bytes(b"x" * k)
    with pytest.raises(DatasetError) as exc:
        lrpcore.open_dataset(tmp_path / "photos")
    text = str(exc.value)
    assert text.startswith(f"{tmp_path / 'photos'}: none of its 3 images can be read: 0.jpg")
    assert "(and 2 more)" in text
    (tmp_path / "one.png").write_bytes(b"broken")  # one image given alone: its own error
    with pytest.raises(DatasetError, match="one.png: cannot decode the image"):
        lrpcore.open_dataset(tmp_path / "one.png")


@pytest.mark.parametrize("argv", [
    ["explain", "mnist-lenet5", "{d}", "--out", "{t}/r.npy"],
    ["evaluate", "mnist-lenet5", "{d}", "--n", "3", "--steps", "2"],
    ["sanity", "mnist-lenet5", "{d}", "--n", "3", "--rule", "simple"],
    ["data", "info", "{d}"],
])
def test_every_command_says_which_photos_it_left_out(tmp_path, capsys, argv):
    _digit_folder(tmp_path / "photos", CUT)
    d = str(tmp_path / "photos")
    assert main([a.format(d=d, t=tmp_path) for a in argv]) == 0
    captured = capsys.readouterr()
    said = captured.out if argv[0] == "data" else captured.err
    line = next(x for x in said.splitlines() if "cannot be read" in x)
    if argv[0] == "data":
        assert line.startswith("note:    3 images cannot be read")
    else:
        assert line.startswith(f"lrp {argv[0]}: warning: {d}: 3 images cannot be read")
    assert "c1/d3.png (cannot decode the image: its PNG data is damaged or cut short)" in line
    if argv[0] == "explain":
        assert np.load(tmp_path / "r.npy").shape[0] == 7


@pytest.mark.parametrize("damage", ["values changed", "file removed", "file cut short", "nan",
                                    "older store"])
def test_a_resumed_store_recomputes_a_done_chunk_that_is_damaged(tmp_path, damage):
    """A resumed run (lrp explain --out R.zarr, rerun) trusted every chunk marked done: one
    whose relevance was changed or whose chunk file was removed (read as zeros) was renamed
    into R.zarr as it was, and one cut short ended the run. Each done chunk is checked
    (readable, finite, its predictions its outputs' argmax, the checksum recorded when it
    was marked done) and a damaged one computed again, saying so."""
    distributed = pytest.importorskip("distributed")
    zarr = pytest.importorskip("zarr")
    from pathlib import Path

    from local_store import job_args

    from lrpcore import distributed as dist
    from lrpcore import open_relevance_store
    from lrpcore.io.relevance_store import partial_path

    x = tmp_path / "x.npy"
    np.save(x, lrpcore.open_dataset("mnist-test").images(np.arange(20)))  # mixed classes
    out = tmp_path / "R.zarr"
    source, _ = dist.open_source(str(x))
    args = job_args("mnist-dense-rect", source, batch_size=5)
    said = []
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=1,
                            dashboard_address=None) as client:
        def run():
            return dist.explain_to_store(args, out, client=client, progress=False,
                                         log=said.append)

        whole = run()
        assert whole.failed == [] and whole.computed == 4
        want = open_relevance_store(out).heatmaps(slice(None))
        Path(out).rename(partial_path(out))  # as an interrupted run leaves it: all done
        g = zarr.open_group(partial_path(out), mode="r+")
        def chunk_2(array):  # the file of chunk 2 (samples 10..14): c/2/… in zarr 3
            found = [p for p in Path(partial_path(out), array, "c", "2").rglob("*")
                     if p.is_file()]
            assert len(found) == 1, found
            return found[0]

        chunk_file = chunk_2("relevance")
        if damage == "values changed":
            g["relevance"][10:12] = g["relevance"][10:12] * 1.5
        elif damage == "file removed":
            chunk_file.unlink()
        elif damage == "file cut short":
            chunk_file.write_bytes(chunk_file.read_bytes()[:40])
        elif damage == "nan":
            g["relevance"][11] = np.nan
        else:  # a store of an earlier version: no checksums; its outputs' chunk removed
            del g["checksums"]
            chunk_2("outputs").unlink()
        said.clear()
        again = run()
    assert (again.computed, again.skipped, again.failed) == (1, 3, [])
    line = next(s for s in said if "damaged" in s)
    assert "chunk 3/4 (samples 10..14) is marked done but damaged" in line
    assert line.endswith("computing it again")
    np.testing.assert_array_equal(open_relevance_store(out).heatmaps(slice(None)), want)
