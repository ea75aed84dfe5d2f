"""The `lrp explain` command-line contract."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from lrpcore.cli.main import main


@pytest.fixture()
def files(tmp_path, reference):
    x_raw = tmp_path / "x_raw.npy"
    x_fed = tmp_path / "x_fed.npy"
    labels = tmp_path / "labels.npy"
    np.save(x_raw, reference["X_uint8"])
    np.save(x_fed, reference["X"])
    np.save(labels, reference["labels"].astype(np.float64).reshape(-1, 1))  # toolbox layout
    return {"raw": x_raw, "fed": x_fed, "labels": labels, "dir": tmp_path}


def rel(a, b):
    return np.abs(a - b).max() / np.abs(b).max()


def run(args, capsys):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_raw_input_reproduces_toolbox(files, lenet_txt, reference, capsys):
    out = files["dir"] / "R.npy"
    ys = files["dir"] / "Y.npy"
    code, _, _ = run(["explain", lenet_txt, files["fed"], "--raw", "--out", out,
                      "--rule", "alphabeta:2", "--outputs", ys], capsys)
    assert code == 0
    assert rel(np.load(out), reference["R__alphabeta_2"]) < 1e-8
    assert rel(np.load(ys), reference["Y"]) < 1e-12


def test_raw_uint8_images_are_preprocessed(files, lenet_txt, reference, capsys):
    out = files["dir"] / "R.npy"
    code, _, _ = run(["explain", lenet_txt, files["raw"], "--out", out, "--rule",
                      "epsilon:0.01", "--batch-size", "5"], capsys)
    assert code == 0
    R = np.load(out)
    assert R.shape == (16, 32, 32, 1)
    assert rel(R, reference["R__epsilon_0p01"]) < 1e-8


@pytest.mark.parametrize("target, key", [("3", "epsilon_0p01_class3"), ("pred", "epsilon_0p01")])
def test_targets(files, lenet_txt, reference, capsys, target, key):
    out = files["dir"] / "R.npy"
    code, _, _ = run(["explain", lenet_txt, files["fed"], "--raw", "--out", out, "--rule",
                      "epsilon:0.01", "--target", target], capsys)
    assert code == 0
    assert rel(np.load(out), reference[f"R__{key}"]) < 1e-8


def test_output_target_and_true_labels(files, lenet_txt, reference, capsys):
    out = files["dir"] / "R.npy"
    assert run(["explain", lenet_txt, files["fed"], "--raw", "--out", out, "--target", "output"],
               capsys)[0] == 0
    assert rel(np.load(out), reference["R__simple_allout"]) < 1e-8
    out2 = files["dir"] / "R2.npy"
    assert run(["explain", lenet_txt, files["fed"], "--raw", "--out", out2, "--target", "true",
                "--labels", files["labels"]], capsys)[0] == 0
    assert rel(np.load(out2), reference["R__simple"]) < 1e-8


def test_layer_rules_reproduce_toolbox_composite(files, lenet_txt, reference, capsys):
    out = files["dir"] / "R.npy"
    code, _, _ = run(["explain", lenet_txt, files["fed"], "--raw", "--out", out,
                      "--rule", "alphabeta:1", "--layer-rule", "0=ww"], capsys)
    assert code == 0
    assert rel(np.load(out), reference["R__composite_alpha1_ww"]) < 1e-8


def test_float32(files, lenet_txt, reference, capsys):
    out = files["dir"] / "R.npy"
    assert run(["explain", lenet_txt, files["fed"], "--raw", "--out", out, "--dtype", "float32",
                "--rule", "epsilon:0.01"], capsys)[0] == 0
    R = np.load(out)
    assert R.dtype == np.float32
    assert rel(R, reference["R__epsilon_0p01"]) < 1e-4


@pytest.mark.parametrize("extra, message", [
    (["--rule", "bogus"], "unknown rule"),
    (["--rule", "epsilon:-3"], "epsilon"),
    (["--layer-rule", "1=flat"], "layer 1 (Rect)"),
    (["--layer-rule", "42=flat"], "layer 42 does not exist"),
    (["--layer-rule", "x=flat"], "no node is named or matches 'x'"),
    (["--target", "11"], "out of range"),
    (["--target", "true"], "--labels"),
    (["--backend", "cupy"], "cupy"),
])
def test_bad_arguments_exit_2_without_output(files, lenet_txt, capsys, extra, message):
    out = files["dir"] / "R.npy"
    code, _, err = run(["explain", lenet_txt, files["fed"], "--raw", "--out", out, *extra],
                       capsys)
    if extra == ["--backend", "cupy"]:
        from lrpcore.backend import gpu_available

        if gpu_available():
            pytest.skip("a GPU is present")
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_bad_files_exit_2(files, lenet_txt, tmp_path, capsys):
    out = tmp_path / "R.npy"
    broken = tmp_path / "broken.txt"
    broken.write_text("Linear 3 2\n1 2 3\n")
    for model, data, raw, needle in [
        (tmp_path / "missing.txt", files["fed"], True, "no such file"),
        (broken, files["fed"], True, "broken.txt"),
        (lenet_txt, files["raw"], True, "do not fit"),  # raw flag with 784-vectors
        (lenet_txt, files["fed"], False, "do not fit"),  # preprocessing 32×32 images
        (lenet_txt, tmp_path / "nothing.npy", False, "nothing.npy"),
    ]:
        code, _, err = run(["explain", model, data, "--out", out] + (["--raw"] if raw else []),
                           capsys)
        assert code == 2, err
        assert needle in err
        assert not out.exists()


@pytest.mark.parametrize("command", ["explain", "evaluate"])
def test_out_of_range_label_names_the_label_file(files, lenet_txt, reference, tmp_path, capsys,
                                                command):
    labels = reference["labels"].astype(np.int64).copy()
    labels[1] = 12
    bad = tmp_path / "bad_labels.npy"
    np.save(bad, labels)
    out = tmp_path / ("R.npy" if command == "explain" else "flip.csv")
    args = ([command, lenet_txt, files["raw"], "--target", "true", "--labels", bad]
            + (["--out", out] if command == "explain" else ["--rule", "simple", "--steps", "2",
                                                            "--csv", out, "--quiet"]))
    code, _, err = run(args, capsys)
    assert code == 2
    assert "bad_labels.npy" in err and "label 12 of sample 1" in err
    assert not out.exists()


def test_nan_input_is_refused(tmp_path, lenet_txt, reference, capsys):
    x = reference["X"].copy()
    x[0, 5, 5, 0] = np.nan
    np.save(tmp_path / "x.npy", x)
    code, _, err = run(["explain", lenet_txt, tmp_path / "x.npy", "--raw", "--out",
                        tmp_path / "R.npy"], capsys)
    assert code == 2 and "NaN" in err and not (tmp_path / "R.npy").exists()


def test_a_bad_later_batch_leaves_no_file_of_the_earlier_ones(tmp_path, lenet_txt, reference,
                                                               capsys):
    x = reference["X"].copy()
    x[-1, 5, 5, 0] = np.nan  # in the last batch: earlier batches were written already
    np.save(tmp_path / "x.npy", x)
    png = tmp_path / "png"
    code, _, err = run(["explain", lenet_txt, tmp_path / "x.npy", "--raw", "--out",
                        tmp_path / "R.npy", "--outputs", tmp_path / "Y.npy", "--batch-size", "4",
                        "--png", png], capsys)
    assert code == 2 and "x.npy" in err and "NaN" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npy"]  # no R, Y, PNGs, temp files


def test_existing_pngs_are_refused_before_computing(files, lenet_txt, capsys, monkeypatch):
    png = files["dir"] / "png"
    png.mkdir()
    (png / "heatmap_03_gray-red.png").write_bytes(b"mine")  # of 16 samples: 00 … 15
    def no_computing(*args, **kwargs):
        raise AssertionError("computed before checking the PNG outputs")

    explainer_cls = sys.modules["lrpcore.explain"].Explainer
    monkeypatch.setattr(explainer_cls, "forward", no_computing)
    code, _, err = run(["explain", lenet_txt, files["fed"], "--raw", "--out",
                        files["dir"] / "R.npy", "--png", png, "--colormap", "gray-red"], capsys)
    assert code == 2 and "heatmap_03_gray-red.png" in err and "--overwrite" in err
    assert sorted(p.name for p in png.iterdir()) == ["heatmap_03_gray-red.png"]
    assert not (files["dir"] / "R.npy").exists()


def test_full_disk_is_found_before_computing(files, lenet_txt, capsys, monkeypatch):
    import errno
    import os

    def no_space(fd, offset, length):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "posix_fallocate", no_space)
    out = files["dir"] / "R.npy"
    code, _, err = run(["explain", lenet_txt, files["fed"], "--raw", "--out", out], capsys)
    assert code == 2 and "R.npy" in err and "No space left" in err
    assert not out.exists() and not [p for p in files["dir"].iterdir() if p.name.startswith(".")]


def test_explained_in_batches_equals_one_batch(files, lenet_txt, capsys):
    one, many = files["dir"] / "one.npy", files["dir"] / "many.npy"
    assert run(["explain", lenet_txt, files["raw"], "--out", one, "--rule", "alphabeta:2"],
               capsys)[0] == 0
    assert run(["explain", lenet_txt, files["raw"], "--out", many, "--rule", "alphabeta:2",
                "--batch-size", "3"], capsys)[0] == 0
    a, b = np.load(one), np.load(many)
    assert a.shape == (16, 32, 32, 1)
    np.testing.assert_allclose(b, a, rtol=0, atol=1e-12 * np.abs(a).max())


def test_relevance_and_outputs_get_json_sidecars(files, lenet_txt, capsys):
    import json

    out, outputs = files["dir"] / "R.npy", files["dir"] / "Y.npy"
    assert run(["explain", lenet_txt, files["raw"], "--out", out, "--outputs", outputs,
                "--rule", "epsilon:0.01", "--dtype", "float32"], capsys)[0] == 0
    side = json.loads((files["dir"] / "R.npy.json").read_text())
    assert side["file"] == "R.npy" and side["shape"] == list(np.load(out).shape)
    assert side["rules"] == "epsilon:0.01" and side["dtype"] == "float32"
    assert len(side["model_sha256"]) == 64 and side["dataset"].endswith("x_raw.npy")
    side_y = json.loads((files["dir"] / "Y.npy.json").read_text())
    assert side_y["shape"] == [16, 10] and side_y["content"] == "model outputs"


def test_an_existing_sidecar_is_not_overwritten(files, lenet_txt, capsys):
    side = files["dir"] / "R.npy.json"
    side.write_text("mine")
    code, _, err = run(["explain", lenet_txt, files["raw"], "--out", files["dir"] / "R.npy"],
                       capsys)
    assert code == 2 and "R.npy.json" in err and side.read_text() == "mine"
    assert not (files["dir"] / "R.npy").exists()


def test_png_of_a_model_input_that_is_no_image_fails_before_computing(tmp_path, capsys,
                                                                       monkeypatch):
    from conftest import shared_path

    xor = shared_path("models", "lrp_toolbox", "xor_net_small.txt")
    np.save(tmp_path / "x.npy", np.array([[0.0, 1.0], [1.0, 1.0]]))
    explainer_cls = sys.modules["lrpcore.explain"].Explainer
    monkeypatch.setattr(explainer_cls, "forward", lambda *a, **k: pytest.fail("computed"))
    code, _, err = run(["explain", xor, tmp_path / "x.npy", "--out", tmp_path / "R.npy",
                        "--png", tmp_path / "png"], capsys)
    assert code == 2 and "--png" in err and "square image" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npy"]


def test_existing_output_is_kept_unless_overwrite(files, lenet_txt, capsys):
    out = files["dir"] / "R.npy"
    out.write_bytes(b"precious")
    code, _, err = run(["explain", lenet_txt, files["fed"], "--raw", "--out", out], capsys)
    assert code == 2 and "exists" in err and out.read_bytes() == b"precious"
    code, _, _ = run(["explain", lenet_txt, files["fed"], "--raw", "--out", out, "--overwrite"],
                     capsys)
    assert code == 0 and np.load(out).shape == (16, 32, 32, 1)


def test_help_has_example(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["explain", "--help"])
    assert exc.value.code == 0
    assert "example:" in capsys.readouterr().out


def test_console_script_exit_status(files, lenet_txt, tmp_path):
    cmd = [sys.executable, "-m", "lrpcore.cli.main", "explain", str(lenet_txt),
           str(files["fed"]), "--raw", "--out", str(tmp_path / "R.npy"), "--rule", "nope"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "unknown rule" in proc.stderr


def test_trace_prints_per_layer_sums(files, lenet_txt, capsys):
    out = files["dir"] / "R.npy"
    code, text, _ = run(["explain", lenet_txt, files["fed"], "--raw", "--out", out, "--rule",
                         "alphabeta:2", "--trace"], capsys)
    assert code == 0
    lines = [line.split() for line in text.splitlines() if "SumPool" in line]
    # the toolbox's alpha-beta rule multiplies relevance by alpha at every sum pooling
    ratios = [float(parts[-2]) for parts in lines]
    assert ratios and all(abs(r - 2.0) < 0.05 for r in ratios)
    assert "first 10 of 16 samples" in text


def test_preprocessed_floats_without_raw_get_a_warning(tmp_path, capsys):
    """Toolbox data already scaled to [-1, 1] (x/127.5 − 1), given without --raw, was scaled
    a second time, silently: every digit became a flat grey. One warning line naming the file
    and --raw; raw uint8 digits and --raw runs get none."""
    import lrpcore

    digits = lrpcore.open_dataset("mnist-test").images(slice(0, 3))
    np.save(tmp_path / "scaled.npy", digits / 127.5 - 1)
    np.save(tmp_path / "digits.npy", digits)
    for name, warned in (("scaled.npy", True), ("digits.npy", False)):
        assert main(["explain", "mnist-lenet5", str(tmp_path / name), "--out",
                     str(tmp_path / f"R-{name}")]) == 0
        err = capsys.readouterr().err
        lines = [line for line in err.splitlines() if "look preprocessed" in line]
        assert len(lines) == warned, err
        assert not warned or (name in lines[0] and "--raw" in lines[0])
    assert main(["evaluate", "mnist-lenet5", str(tmp_path / "scaled.npy"), "--steps", "2",
                 "--csv", str(tmp_path / "f.csv")]) == 0
    assert "scaled.npy: values in [-1, 1] look preprocessed" in capsys.readouterr().err
    fed = lrpcore.Explainer(lrpcore.load_model("mnist-lenet5")).prepare(digits)
    np.save(tmp_path / "fed.npy", fed)
    assert main(["explain", "mnist-lenet5", str(tmp_path / "fed.npy"), "--raw", "--out",
                 str(tmp_path / "R-fed.npy")]) == 0
    assert "look preprocessed" not in capsys.readouterr().err
