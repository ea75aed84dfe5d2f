"""``--raw`` and ``--labels`` in every command that takes samples (CLI acceptance review, stop
25): ``lrp explain`` and ``lrp evaluate`` fed arrays in the model's own layout with ``--raw``,
while ``concepts``, ``spray``, ``sweep`` and ``sanity`` could only prepare them as raw images
— a PyTorch user's N×1×28×28 floats in [0, 1] were divided by 255 again, silently. The same
samples given as images, or as the fed arrays with ``--raw``, now give the same results in
all of them, and the arrays without ``--raw`` draw explain's warning."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from shared_data import shared_path

from lrpcore.cli.main import build_parser, main
from lrpcore.spray import SprayResult

COMMANDS = ("explain", "evaluate", "concepts", "spray", "sweep", "sanity")


@pytest.fixture(scope="module")
def resnet():
    return str(shared_path("models", "torch_onnx", "mnist_resnet.onnx"))


@pytest.fixture
def digits(tmp_path):
    """The same 40 digits as uint8 images (labels beside) and as what the model is fed."""
    images = np.load(shared_path("data", "mnist_test_images.npy"))[:40]
    labels = np.load(shared_path("data", "mnist_test_labels.npy"))[:40]
    np.save(tmp_path / "d_images.npy", images)
    np.save(tmp_path / "d_labels.npy", labels)
    np.save(tmp_path / "fed.npy", (images / 255.0).reshape(-1, 1, 28, 28))
    np.save(tmp_path / "plain.npy", images)  # no labels beside
    return tmp_path


def _help_of(command) -> str:
    sub = next(a for a in build_parser()._actions if a.dest == "command").choices[command]
    return next(a.help for a in sub._actions if "--raw" in a.option_strings)


def test_every_command_that_takes_samples_has_raw_with_one_meaning():
    texts = {c: _help_of(c) for c in COMMANDS}
    assert texts["explain"] == "feed INPUT as stored, no preprocessing"
    for command in ("concepts", "spray", "sweep", "sanity"):
        assert texts[command] == "feed DATA as stored, no preprocessing"


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("command, options, column", [
    ("sweep", ["--rule", "epsilon", "--param", "epsilon=0.01,1", "--steps", "4"],
     "faithfulness"),
    ("sanity", ["--rule", "epsilon:0.01"], "spearman_abs_median"),
])
def test_sweep_and_sanity_take_fed_arrays(resnet, digits, capsys, command, options, column):
    runs = {}
    for name, extra in (("images", ["d_images.npy"]), ("fed", ["fed.npy", "--raw"])):
        out = digits / f"{name}.csv"
        code = main([command, resnet, str(digits / extra[0]), *extra[1:], "--n", "6",
                     "--quiet", "--csv", str(out), *options])
        assert code in (0, 3), capsys.readouterr().err
        assert "preprocessed already" not in capsys.readouterr().err
        runs[name] = [float(r[column]) for r in _rows(out)]
    np.testing.assert_allclose(runs["fed"], runs["images"], rtol=1e-4, atol=1e-6)
    main([command, resnet, str(digits / "fed.npy"), "--n", "6", "--quiet", *options])
    err = capsys.readouterr().err
    assert f"lrp {command}: warning: " in err and "add --raw" in err


def test_spray_takes_fed_arrays(resnet, digits, capsys):
    common = ["--class", "1", "--embedding", "none", "--labels", str(digits / "d_labels.npy")]
    assert main(["spray", resnet, str(digits / "d_images.npy"), "--out",
                 str(digits / "a.npz"), *common]) == 0
    assert main(["spray", resnet, str(digits / "fed.npy"), "--raw", "--out",
                 str(digits / "b.npz"), *common]) == 0
    assert "preprocessed already" not in capsys.readouterr().err
    a, b = SprayResult.load(digits / "a.npz"), SprayResult.load(digits / "b.npz")
    np.testing.assert_allclose(b.heatmaps, a.heatmaps, atol=1e-6 * np.abs(a.heatmaps).max())
    assert b.meta["raw"] is True and "raw" not in a.meta
    assert main(["spray", resnet, str(digits / "fed.npy"), "--out", str(digits / "c.npz"),
                 *common]) == 0
    assert "add --raw" in capsys.readouterr().err


def test_concepts_takes_fed_arrays_and_caches_them_apart(resnet, digits, capsys,
                                                         monkeypatch):
    monkeypatch.setenv("LRP_CACHE_DIR", str(digits / "cache"))
    common = ["--layer", "/layer2/Add", "--sample", "3", "--top", "2", "--references", "2"]

    def run(data, name, *extra):
        out = digits / name
        assert main(["concepts", resnet, str(digits / data), "--out", str(out), *common,
                     *extra]) == 0, capsys.readouterr().err
        return out

    images = run("d_images.npy", "ci")
    fed = run("fed.npy", "cf", "--raw")
    assert "preprocessed already" not in capsys.readouterr().err
    a, b = np.load(images / "conditional.npy"), np.load(fed / "conditional.npy")
    np.testing.assert_allclose(b, a, atol=1e-6 * np.abs(a).max())
    with np.load(images / "references" / "references.npz") as ra, \
            np.load(fed / "references" / "references.npz") as rb:
        np.testing.assert_array_equal(rb["samples"], ra["samples"])
    # the same file read as images (divided by 255 again): warned, and its references are
    # not the ones cached for the --raw run of that file
    scaled = run("fed.npy", "cs")
    assert "add --raw" in capsys.readouterr().err
    with np.load(scaled / "references" / "references.npz") as rs, \
            np.load(fed / "references" / "references.npz") as rb:
        assert not np.allclose(rs["relevance"], rb["relevance"])


def test_labels_for_target_true_in_sweep_sanity_and_concepts(resnet, digits, capsys,
                                                             monkeypatch):
    """``--target true`` on samples without labels was a dead end in these three commands:
    they had no --labels (explain, evaluate and spray have)."""
    monkeypatch.setenv("LRP_CACHE_DIR", str(digits / "cache"))
    labels = ["--labels", str(digits / "d_labels.npy")]
    runs = [("sweep", ["--rule", "epsilon", "--param", "epsilon=0.01", "--steps", "2",
                       "--n", "4", "--quiet"]),
            ("sanity", ["--rule", "epsilon:0.01", "--n", "4", "--quiet"]),
            ("concepts", ["--layer", "/layer2/Add", "--references", "0", "--out",
                          str(digits / "c")])]
    for command, options in runs:
        args = [command, resnet, str(digits / "plain.npy"), "--target", "true", *options]
        assert main(args) == 2
        err = capsys.readouterr().err
        assert "plain.npy: --target true needs --labels FILE" in err, err
        assert main(args + labels) in (0, 3), capsys.readouterr().err


@pytest.mark.parametrize("command, extra", [
    ("explain", ["--out", "R.npy"]), ("evaluate", []), ("spray", ["--out", "s.npz"]),
    ("sweep", ["--rule", "epsilon"]), ("sanity", []),
    ("concepts", ["--layer", "/layer2/Add", "--out", "c"])])
def test_target_true_without_labels_names_the_file(resnet, digits, capsys, monkeypatch,
                                                    command, extra):
    monkeypatch.chdir(digits)
    assert main([command, resnet, "plain.npy", "--target", "true", *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"lrp {command}: error: plain.npy: --target true needs --labels"), err
    assert not (digits / "R.npy").exists() and not (digits / "s.npz").exists()


def test_explain_names_a_target_class_once(resnet, digits, capsys):
    """'(target 3: 3)': a model without class names has its numbers for names."""
    out = digits / "R.npy"
    assert main(["explain", resnet, str(digits / "d_images.npy"), "--target", "3", "--out",
                 str(out)]) == 0
    said = capsys.readouterr().out
    assert "(target 3)" in said and "3: 3" not in said
