"""Sample indices on the command line are numbered from 0, as 'lrp explain' numbers them: a
negative ``--index``/``--sample`` is refused like one out of range (exit 2, one line naming
the file, nothing written). Before, ``lrp render --index -1`` drew the last sample (and its
sidecar said sample -1) and ``lrp figure`` titled a row "#-1"."""

from __future__ import annotations

import numpy as np
import pytest

from lrpcore.cli.main import main


@pytest.fixture
def files(tmp_path):
    np.save(tmp_path / "R.npy", np.random.default_rng(0).normal(size=(3, 28, 28)))
    np.save(tmp_path / "X.npy", np.zeros((3, 28, 28), dtype=np.uint8))
    return tmp_path


@pytest.mark.parametrize("argv", [
    ["render", "R.npy", "--index", "-1"],
    ["render", "R.npy", "--sample", "-3"],
    ["render", "R.npy", "--index", "-1", "--input", "X.npy", "--side-by-side"],
    ["figure", "R.npy", "--index", "-1"],
    ["figure", "R.npy", "--index", "0", "--sample", "-2", "--input", "X.npy"],
])
def test_a_negative_sample_index_is_refused_naming_the_file(files, monkeypatch, capsys, argv):
    monkeypatch.chdir(files)
    assert main([*argv, "--out", "out.png"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal" not in err
    assert "R.npy: sample index -" in err and "out of range (3 samples, numbered 0..2)" in err
    assert sorted(p.name for p in files.iterdir()) == ["R.npy", "X.npy"]


def test_the_last_sample_is_reached_by_its_number(files, monkeypatch, capsys):
    monkeypatch.chdir(files)
    assert main(["render", "R.npy", "--index", "2", "--out", "out.png"]) == 0
    assert main(["render", "R.npy", "--index", "3", "--out", "no.png"]) == 2
    assert "sample index 3 out of range (3 samples, numbered 0..2)" in capsys.readouterr().err


def test_concepts_refuses_a_negative_sample_too(files, monkeypatch, capsys):
    monkeypatch.chdir(files)
    assert main(["concepts", "mnist-lenet5", "X.npy", "--layer", "convolution1", "--sample",
                 "-1", "--references", "0", "--out", "c"]) == 2
    err = capsys.readouterr().err
    assert "--sample -1" in err and "0..2" in err and err.count("\n") == 1
    assert not (files / "c").exists()


@pytest.mark.parametrize("command", ["render", "figure"])
@pytest.mark.parametrize("sigma", ["-1", "nan", "inf", "1e9", "x"])
def test_a_bad_sigma_is_refused_naming_the_option(files, monkeypatch, capsys, command, sigma):
    """--sigma was checked only where an outline was drawn: without --input a NaN or negative
    value passed silently (and was recorded in the sidecar)."""
    monkeypatch.chdir(files)
    with pytest.raises(SystemExit) as exc:
        main([command, "R.npy", "--sigma", sigma, "--out", "out.png"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "argument --sigma" in err
    assert sorted(p.name for p in files.iterdir()) == ["R.npy", "X.npy"]
