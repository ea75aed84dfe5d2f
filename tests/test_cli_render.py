"""``lrp render``, ``lrp figure`` and ``lrp demo`` run in-process: files, exit codes, messages,
and no partial files after a failure."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from cli_help import help_words
from shared_data import shared_arrays
from shared_data import shared_path as shared
from skimage import io as skio

from lrpcore.cli.main import main
from lrpcore.render import TOOLBOX_COLORMAPS, compose, digit, heatmap


@pytest.fixture(scope="module")
def ref():
    return shared_arrays("reference", "render_dev.npz")


@pytest.fixture
def files(tmp_path, ref):
    """A saved batch of relevance (N×32×32×1, as lrp explain writes it) and raw uint8 digits."""
    r = tmp_path / "R.npy"
    np.save(r, ref["R"][..., None])
    x = tmp_path / "X.npy"
    raw = np.rint(ref["xs"][:, 2:-2, 2:-2] * 255).astype(np.uint8).reshape(4, 784)
    np.save(x, raw)
    return r, x


def test_help_of_every_command_has_an_example(capsys):
    for cmd in ("render", "figure", "demo"):
        with pytest.raises(SystemExit) as exc:
            main([cmd, "--help"])
        assert exc.value.code == 0
        out = capsys.readouterr().out
        assert "example:" in out and f"lrp {cmd}" in out


def test_render_side_by_side_matches_toolbox(files, ref, tmp_path, capsys):
    r, x = files
    out = tmp_path / "one.png"
    rc = main(["render", str(r), "--input", str(x), "--index", "0", "--colormap", "jet",
               "--side-by-side", "--out", str(out)])
    assert rc == 0 and "wrote" in capsys.readouterr().out
    np.testing.assert_array_equal(skio.imread(out)[..., :3], ref["save_image_uint8"])
    side = json.loads(Path(str(out) + ".json").read_text())
    assert side["relevance_file"] == str(r) and side["sample"] == 0


def test_render_heatmap_alone_options(files, ref, tmp_path):
    r, x = files
    out = tmp_path / "alone.png"
    rc = main(["render", str(r), "--input", str(x), "--index", "2", "--colormap", "gray-red",
               "--no-outline", "--scaling", "2", "--out", str(out)])
    assert rc == 0
    want = compose([heatmap(ref["R"][2], cmap="gray-red", scaling=2)])
    np.testing.assert_array_equal(skio.imread(out)[..., :3], want)


def test_render_refuses_overwrite_then_obeys(files, tmp_path, capsys):
    r, _ = files
    out = tmp_path / "o.png"
    assert main(["render", str(r), "--out", str(out)]) == 0
    before = out.read_bytes()
    assert main(["render", str(r), "--colormap", "jet", "--out", str(out)]) == 2
    assert "exists" in capsys.readouterr().err
    assert out.read_bytes() == before
    assert main(["render", str(r), "--colormap", "jet", "--out", str(out), "--overwrite"]) == 0
    assert out.read_bytes() != before


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_bytes(b"\x93NUMPY garbage"), "R.npy"),
    (lambda p: np.save(p, np.array([[np.nan, 1.0], [1.0, 1.0]])), "NaN"),
    (lambda p: np.save(p, np.ones(10)), "square"),
])
def test_render_bad_relevance_exits_2_without_output(tmp_path, capsys, make, message):
    bad = tmp_path / "R.npy"
    make(bad)
    out = tmp_path / "never.png"
    assert main(["render", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lrp render: error:") and message in err
    assert not out.exists() and not Path(str(out) + ".json").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["R.npy"]


def test_render_mismatched_input_and_bad_index(files, tmp_path, capsys):
    r, _ = files
    wrong = tmp_path / "W.npy"
    np.save(wrong, np.zeros((4, 25, 25), dtype=np.uint8))
    assert main(["render", str(r), "--input", str(wrong), "--out", str(tmp_path / "a.png")]) == 2
    assert "W.npy" in capsys.readouterr().err
    assert main(["render", str(r), "--index", "9", "--out", str(tmp_path / "b.png")]) == 2
    assert "out of range" in capsys.readouterr().err
    assert main(["render", str(r), "--colormap", "nope", "--out", str(tmp_path / "c.png")]) == 2
    assert "unknown colormap" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["R.npy", "W.npy", "X.npy"]


def test_render_into_missing_folder_is_an_export_error(files, tmp_path, capsys):
    r, _ = files
    assert main(["render", str(r), "--out", str(tmp_path / "no" / "dir" / "a.png")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_figure_grid(files, ref, tmp_path, capsys):
    r, x = files
    out = tmp_path / "fig.png"
    rc = main(["figure", str(r), "--input", str(x), "--colormap", "jet", "--colormap",
               "black-firered", "--index", "1", "--index", "3", "--out", str(out)])
    assert rc == 0 and "2 samples × 2 colormaps" in capsys.readouterr().out
    img = skio.imread(out)[..., :3]
    assert img.shape[0] > 2 * 96 and img.shape[1] > 3 * 96
    side = json.loads(Path(str(out) + ".json").read_text())
    assert side["samples"] == [1, 3] and side["colormaps"] == ["jet", "black-firered"]
    # the digit of sample 3 is in the first image column of the second row
    d = compose([digit(ref["xs"][3])])
    top = img.shape[0] // 2  # the second row lies in the lower half
    assert any(np.array_equal(img[r0:r0 + 96, c0:c0 + 96], d)
               for r0 in range(top, img.shape[0] - 95) for c0 in range(0, 60)
               if img[r0, c0, 0] == d[0, 0, 0])


def test_figure_defaults_to_toolbox_maps(files, tmp_path):
    r, _ = files
    out = tmp_path / "f.png"
    assert main(["figure", str(r), "--max-rows", "2", "--out", str(out)]) == 0
    side = json.loads(Path(str(out) + ".json").read_text())
    assert side["colormaps"] == list(TOOLBOX_COLORMAPS) and side["samples"] == [0, 1]


@pytest.fixture(scope="module")
def demo_data(tmp_path_factory):
    """The first 300 MNIST test digits and labels, and the toolbox's LeNet-5."""
    images = np.load(shared("data", "mnist_test_images.npy"), mmap_mode="r")[:300]
    labels = np.load(shared("data", "mnist_test_labels.npy"))[:300]
    folder = tmp_path_factory.mktemp("demo-data")
    np.save(folder / "x.npy", np.array(images))
    np.save(folder / "y.npy", labels)
    return shared("models", "lrp_toolbox", "LeNet-5.txt"), folder / "x.npy", folder / "y.npy"


def test_demo_reproduces_toolbox_demo(demo_data, tmp_path, capsys):
    model, x, y = demo_data
    out = tmp_path / "demo"
    rc = main(["demo", "--model", str(model), "--dataset", str(x), "--labels", str(y),
               "--out", str(out), "--backend", "numpy"])
    text = capsys.readouterr().out
    assert rc == 0, text
    labels = np.load(y)
    acc = re.search(r"accuracy: ([\d.]+) % \((\d+)/300\)", text)
    assert acc and int(acc.group(2)) >= 295  # LeNet-5 gets 99.24 % on the test set
    shown = [int(i) for i in re.findall(r"^sample (\d+): true class", text, re.M)]
    # one digit of each class, the first of its class in the dataset (samples 3, 2, 1, ...)
    assert sorted(labels[shown]) == list(range(10)) and 0 in shown
    assert shown == [int(np.flatnonzero(labels == k)[0]) for k in range(10)]
    for i in shown:
        m = re.search(rf"sample {i}: true class (\d), predicted class (\d)", text)
        assert m and int(m.group(1)) == labels[i]
    assert re.search(r"^Computation of 256 heatmaps using numpy in [\d.]+ s$", text, re.M)
    names = {p.name for p in out.iterdir()}
    w = len(str(max(shown)))  # numbers zero-padded to the largest one's digits
    for i in shown:
        assert f"relevance_{i:0{w}d}.npy" in names
        for c in TOOLBOX_COLORMAPS:
            assert f"heatmap_{i:0{w}d}_{c}.png" in names
            assert f"heatmap_{i:0{w}d}_{c}.png.json" in names
    batch = np.load(out / "relevance_simple_output_256.npy")
    assert batch.shape == (256, 32, 32, 1)
    # sample 0 equals the toolbox's epsilon-0.01 relevance and its rendering
    ref = np.load(shared("reference", "lenet5_dev.npz"))
    r0 = np.load(out / f"relevance_{0:0{w}d}.npy")
    np.testing.assert_allclose(r0, ref["R__epsilon_0p01"][0], atol=1e-10 * np.abs(r0).max())
    with np.load(shared("reference", "render_dev.npz")) as rd:
        want = compose([rd["digit"][0], rd["hm_gray_red"][0]])
        edges = rd["edges"][0]
    got = skio.imread(out / f"heatmap_{0:0{w}d}_gray-red.png")[..., :3]
    np.testing.assert_array_equal(got[:, :96], want[:, :96])
    np.testing.assert_array_equal(got[:, 98:][~edges], want[:, 98:][~edges])
    side = json.loads((out / f"heatmap_{0:0{w}d}_gray-red.png.json").read_text())
    assert side["rules"] == "epsilon:0.01" and side["model_sha256"]
    # the timed batch is the toolbox's 'simple' rule on all logits (config simple_allout)
    want = ref["R__simple_allout"]
    np.testing.assert_allclose(batch[:16], want, atol=1e-10 * np.abs(want).max())


def test_demo_bad_dataset_exits_2(demo_data, tmp_path, capsys):
    model, _, _ = demo_data
    bad = tmp_path / "bad.npy"
    bad.write_bytes(b"not an array")
    rc = main(["demo", "--model", str(model), "--dataset", str(bad), "--out",
               str(tmp_path / "o")])
    assert rc == 2 and "bad.npy" in capsys.readouterr().err
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_demo_refuses_existing_outputs_before_computing(demo_data, tmp_path, capsys,
                                                      monkeypatch):
    model, x, y = demo_data
    out = tmp_path / "o"
    out.mkdir()
    (out / "relevance_simple_output_20.npy").write_bytes(b"keep me")
    from lrpcore.cli import cmd_demo

    def no_computing(*args, **kwargs):
        raise AssertionError("the demo computed before checking its outputs")

    monkeypatch.setattr(cmd_demo, "accuracy", no_computing)
    rc = main(["demo", "--model", str(model), "--dataset", str(x), "--labels", str(y),
               "--out", str(out), "--count", "2", "--batch", "20"])
    err = capsys.readouterr().err
    assert rc == 2 and "relevance_simple_output_20.npy" in err and "--overwrite" in err
    assert sorted(p.name for p in out.iterdir()) == ["relevance_simple_output_20.npy"]
    assert (out / "relevance_simple_output_20.npy").read_bytes() == b"keep me"


def test_demo_run_twice_writes_a_fresh_folder(demo_data, tmp_path, capsys, monkeypatch):
    """Without --out every run gets a folder of its own; with --out the refusal says how."""
    model, x, y = demo_data
    monkeypatch.chdir(tmp_path)
    args = ["demo", "--model", str(model), "--dataset", str(x), "--labels", str(y),
            "--count", "2", "--batch", "4"]
    assert main(args) == 0 and main(args) == 0
    text = capsys.readouterr().out
    assert "wrote" in text and "lrp-demo-2" in text
    assert (tmp_path / "lrp-demo").is_dir() and (tmp_path / "lrp-demo-2").is_dir()
    assert main(args + ["--out", "lrp-demo"]) == 2
    err = capsys.readouterr().err
    assert "--overwrite" in err and "leave out --out" in err


def test_demo_finds_the_labels_beside_the_images(demo_data, tmp_path, capsys):
    model, x, y = demo_data
    data = tmp_path / "data"
    data.mkdir()
    np.save(data / "digits_images.npy", np.load(x)[:40])
    np.save(data / "digits_labels.npy", np.load(y)[:40].reshape(-1, 1).astype(float))
    rc = main(["demo", "--model", str(model), "--dataset", str(data / "digits_images.npy"),
               "--out", str(tmp_path / "o"), "--count", "2", "--batch", "20"])
    text = capsys.readouterr().out
    assert rc == 0
    assert re.search(r"accuracy: [\d.]+ % \(\d+/40\)", text)


def test_demo_default_hooks(tmp_path, monkeypatch):
    from lrpcore.bundled import default_dataset, default_model_path
    from lrpcore.errors import LRPError
    from lrpcore.io.download import mnist_path

    monkeypatch.setenv("LRP_CACHE_DIR", str(tmp_path))
    assert default_dataset() == "mnist-test"  # the bundled, held-out test set
    monkeypatch.setattr("lrpcore.io.datasets.BUNDLED_DIR", tmp_path / "trimmed")
    assert default_dataset() == "mnist-sample"  # neither bundled nor downloaded: the sample
    for role in ("images", "labels"):
        path = mnist_path("test", role)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    assert default_dataset() == "mnist-test"
    try:
        path = default_model_path()
    except LRPError as exc:
        assert "model" in str(exc)
    else:
        assert path.is_file() and path.name == "mnist-lenet5.npz"


def test_demo_failing_late_removes_its_files(demo_data, tmp_path, capsys):
    model, x, y = demo_data
    out = tmp_path / "demo"
    out.mkdir()
    (out / "relevance_simple_output_256.npy").write_bytes(b"older result")
    rc = main(["demo", "--model", str(model), "--dataset", str(x), "--labels", str(y),
               "--out", str(out), "--backend", "numpy", "--count", "2"])
    assert rc == 2 and "exists" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["relevance_simple_output_256.npy"]


# --- relevance as users have it: .npz (named arrays) and a relevance store R.zarr --------
def test_render_reads_an_npz_by_its_one_array_its_relevance_member_or_a_name(files, ref,
                                                                              tmp_path):
    r, x = files
    R = np.load(r)
    np.savez(tmp_path / "one.npz", R)
    np.savez(tmp_path / "named.npz", relevance=R, inputs=np.load(x))
    np.savez(tmp_path / "two.npz", a=R, b=-R)
    want = compose([heatmap(ref["R"][2], cmap="gray-red", scaling=2)])
    for spec in ("one.npz", "named.npz", "two.npz:a"):
        out = tmp_path / f"{spec.replace(':', '_')}.png"
        assert main(["render", str(tmp_path / spec), "--index", "2", "--colormap",
                     "gray-red", "--no-outline", "--scaling", "2", "--out", str(out)]) == 0
        np.testing.assert_array_equal(skio.imread(out)[..., :3], want)


def test_an_ambiguous_or_wrongly_named_npz_lists_its_arrays(files, tmp_path, capsys):
    r, _ = files
    np.savez(tmp_path / "two.npz", a=np.load(r), b=np.load(r))
    for spec, words in (("two.npz", ("2 arrays (a, b)", "two.npz:NAME")),
                        ("two.npz:c", ("no array named 'c'", "arrays: a, b"))):
        for cmd in ("render", "figure"):
            out = tmp_path / f"{cmd}.png"
            assert main([cmd, str(tmp_path / spec), "--out", str(out)]) == 2
            err = capsys.readouterr().err
            assert err.startswith(f"lrp {cmd}: error: {tmp_path / 'two.npz'}")
            assert all(w in err for w in words) and err.count("\n") == 1
            assert not out.exists()


def test_render_and_figure_take_dataset_names_as_input(files, tmp_path):
    r, _ = files
    out = tmp_path / "side.png"
    assert main(["render", str(r), "--input", "mnist-test", "--sample", "1",
                 "--side-by-side", "--out", str(out)]) == 0
    side = json.loads(Path(str(out) + ".json").read_text())
    assert side["input_file"] == "mnist-test" and side["sample"] == 1
    assert main(["figure", str(r), "--input", "mnist-test", "--sample", "0", "--sample", "3",
                 "--out", str(tmp_path / "f.png")]) == 0


@pytest.fixture
def store(tmp_path):
    """``lrp explain --out R.zarr`` of 12 test digits, made on an in-process Dask cluster."""
    distributed = pytest.importorskip("distributed")
    pytest.importorskip("zarr")
    import lrpcore
    from lrpcore import distributed as dist
    from lrpcore.bundled import default_model_path

    x = tmp_path / "x12.npy"
    np.save(x, lrpcore.open_dataset("mnist-test").images(np.arange(12)))
    source, _ = dist.open_source(str(x))
    out = tmp_path / "R.zarr"
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=1,
                            dashboard_address=None) as client:
        args = {"model": str(default_model_path()), "backend": "numpy", "dtype": "float64",
                "rule": "epsilon:0.01", "layer_rules": {}, "target": "pred", "raw": False,
                "batch_size": 5, "source": source}
        assert dist.explain_to_store(args, out, client=client, progress=False).failed == []
    return out, x


def test_render_and_figure_read_a_relevance_store_by_sample(store, tmp_path):
    from lrpcore import open_relevance_store

    path, x = store
    np.save(tmp_path / "R.npy", open_relevance_store(path).heatmaps(slice(None)))
    # the store's sample 7, drawn beside the dataset it explained (no --input needed)
    assert main(["render", str(path), "--sample", "7", "--side-by-side", "--colormap", "bwr",
                 "--out", str(tmp_path / "z.png")]) == 0
    assert main(["render", str(tmp_path / "R.npy"), "--input", str(x), "--index", "7",
                 "--side-by-side", "--colormap", "bwr", "--out", str(tmp_path / "n.png")]) == 0
    np.testing.assert_array_equal(skio.imread(tmp_path / "z.png"),
                                  skio.imread(tmp_path / "n.png"))
    side = json.loads((tmp_path / "z.png.json").read_text())
    assert side["relevance_store"]["rules"] == "epsilon:0.01" and side["sample"] == 7
    out = tmp_path / "fig.png"
    assert main(["figure", str(path), "--sample", "2", "--sample", "11", "--colormap", "bwr",
                 "--out", str(out)]) == 0
    assert json.loads(Path(str(out) + ".json").read_text())["samples"] == [2, 11]


def test_a_store_sample_out_of_range_or_a_plain_folder_is_one_line(store, tmp_path, capsys):
    path, _ = store
    assert main(["render", str(path), "--sample", "12", "--out", str(tmp_path / "a.png")]) == 2
    assert "out of range (12 samples, numbered 0..11)" in capsys.readouterr().err
    (tmp_path / "plain").mkdir()
    assert main(["render", str(tmp_path / "plain"), "--out", str(tmp_path / "b.png")]) == 2
    err = capsys.readouterr().err
    assert "plain: a folder, not a relevance store" in err and err.count("\n") == 1
    assert not (tmp_path / "a.png").exists() and not (tmp_path / "b.png").exists()


def test_a_single_map_is_the_sample_its_sidecar_names_drawn_over_its_dataset(tmp_path,
                                                                             capsys):
    """relevance_3.npy of 'lrp demo' holds sample 3: rendered beside mnist-test's sample 3
    without --input or --sample (before: sample 0's input, or 'index 3 out of range')."""
    import lrpcore
    from lrpcore.bundled import default_model_path

    demo = tmp_path / "demo"
    assert main(["demo", "--model", str(default_model_path()), "--count", "2", "--batch", "2",
                 "--out", str(demo)]) == 0
    capsys.readouterr()
    one = next(p for p in sorted(demo.glob("relevance_*.npy")) if p.stem[10:].isdigit())
    k = int(one.stem[10:])
    auto, named = tmp_path / "auto.png", tmp_path / "named.png"
    assert main(["render", str(one), "--side-by-side", "--out", str(auto)]) == 0
    np.save(tmp_path / "x.npy", lrpcore.open_dataset("mnist-test").images([k]))
    np.save(tmp_path / "r.npy", np.load(one))  # no sidecar: the input must be given
    assert main(["render", str(tmp_path / "r.npy"), "--input", str(tmp_path / "x.npy"),
                 "--side-by-side", "--out", str(named)]) == 0
    np.testing.assert_array_equal(skio.imread(auto), skio.imread(named))
    assert json.loads((tmp_path / "auto.png.json").read_text())["sample"] == k
    assert main(["render", str(one), "--sample", str(k + 1), "--out",
                 str(tmp_path / "x.png")]) == 2
    assert f"holds the relevance of sample {k} only" in capsys.readouterr().err
    assert main(["render", str(tmp_path / "r.npy"), "--side-by-side", "--out",
                 str(tmp_path / "y.png")]) == 2
    assert "--side-by-side needs --input" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [
    ["render", "{R}", "--out", "{d}/heatmap.jpg"],
    ["figure", "{R}", "--out", "{d}/figure.jpeg"],
    ["evaluate", "mnist-lenet5", "mnist-test", "--n", "2", "--csv", "{d}/f.csv", "--plot",
     "{d}/flip.JPG"],
    ["sanity", "mnist-lenet5", "mnist-test", "--n", "2", "--rule", "simple", "--plot",
     "{d}/sanity"],
])
def test_an_image_output_not_named_png_is_refused_before_anything_is_written(
        argv, tmp_path, capsys):
    """PNG bytes were written under any name (``--out heatmap.jpg`` made a PNG called .jpg):
    a one-line usage error naming the file, exit 2, and no file."""
    np.save(tmp_path / "R.npy", np.zeros((2, 28, 28)))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(SystemExit) as stop:  # a usage error, as argparse exits
        main([a.format(R=tmp_path / "R.npy", d=out) for a in argv])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.count("\n") == 1 and "name the file ….png" in err
    assert list(out.iterdir()) == []


def test_demo_help_names_its_real_default_dataset(capsys):
    """'lrp demo --help' said the default was mnist-test only "when downloaded"; it ships with
    the package and is what the demo opens (lrpcore.bundled.default_dataset)."""
    from lrpcore.bundled import default_dataset

    text = help_words(capsys, ["demo"])
    assert default_dataset() == "mnist-test"
    assert "default: mnist-test, the MNIST test set bundled" in text and "downloaded" not in text


def test_figure_summary_counts_in_the_singular(tmp_path, capsys):
    """'wrote fig.png (2 samples × 1 colormaps)': one colormap or one sample is singular."""
    np.save(tmp_path / "R.npy", np.random.default_rng(0).normal(size=(2, 28, 28)))
    assert main(["figure", str(tmp_path / "R.npy"), "--colormap", "jet", "--out",
                 str(tmp_path / "f.png")]) == 0
    assert "(2 samples × 1 colormap)" in capsys.readouterr().out
    assert main(["figure", str(tmp_path / "R.npy"), "--index", "1", "--out",
                 str(tmp_path / "g.png")]) == 0
    assert "(1 sample × 5 colormaps)" in capsys.readouterr().out
