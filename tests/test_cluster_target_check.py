"""The Dask path of ``lrp explain`` (``--out R.zarr``) checks ``--target`` before any work:
a class index out of range was found only inside the workers, so the run started a cluster,
failed every chunk (exit 1) and left ``R.zarr.partial`` behind. Now it is the single-process
path's one line, exit 2, before a cluster starts."""

from __future__ import annotations

import numpy as np
import pytest

from lrpcore.cli.main import main

pytest.importorskip("zarr")


@pytest.fixture
def no_cluster(monkeypatch):
    """A cluster that must not start: the check comes first."""
    from lrpcore import distributed

    def refuse(*_a, **_k):
        raise AssertionError("a cluster was started before --target was checked")

    monkeypatch.setattr(distributed, "connect", refuse)


@pytest.mark.parametrize("target", ["11", "10", "12345"])
def test_a_class_out_of_range_is_refused_before_a_cluster_starts(tmp_path, capsys, no_cluster,
                                                                 target):
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((3, 28, 28), dtype=np.uint8))
    plain = ["explain", "mnist-lenet5", str(x), "--target", target]
    assert main([*plain, "--out", str(tmp_path / "R.npy")]) == 2
    want = capsys.readouterr().err
    assert "out of range" in want
    assert main([*plain, "--out", str(tmp_path / "R.zarr"), "--rule", "epsilon:0.01",
                 "--dtype", "float32"]) == 2
    assert capsys.readouterr().err == want  # the same line as without a cluster
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npy"]
