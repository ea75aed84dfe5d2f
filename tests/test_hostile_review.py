"""Findings of a hostile review (issue 14), each with the input that broke a promise: every
refusal is one short line naming the file (exit 2), and nothing is replaced or mixed up."""

from __future__ import annotations

import io
import zipfile

import numpy as np

from lrpcore.cli.main import main


def _digits(path, n=3):
    np.save(path, np.random.default_rng(0).integers(0, 255, (n, 28, 28), dtype=np.uint8))
    return path


def test_two_outputs_naming_one_file_are_refused_before_computing(tmp_path, capsys):
    """``--out a.npy --outputs a.npy`` wrote the model outputs over the relevance, exit 0."""
    x = _digits(tmp_path / "x.npy")
    for outputs in ("a.npy", "a.npy.json"):  # the file itself, or the other's sidecar
        rc = main(["explain", "mnist-lenet5", str(x), "--out", str(tmp_path / "a.npy"),
                   "--outputs", str(tmp_path / outputs)])
        err = capsys.readouterr().err
        assert rc == 2 and "named for two outputs" in err and len(err.splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npy"]


def test_an_archive_of_many_members_is_named_in_a_short_line(tmp_path, capsys):
    """An error listed all 20,000 member names of a crafted .npz in its one line."""
    bad = tmp_path / "many.npz"
    member = io.BytesIO()
    np.save(member, np.zeros(4, np.float32))
    with zipfile.ZipFile(bad, "w") as zf:
        for i in range(20000):
            zf.writestr(f"member{i}.npy", member.getvalue())
    rc = main(["data", "info", str(bad)])
    err = capsys.readouterr().err
    assert rc == 2 and "20,000 in all" in err and len(err) < 400
