"""The Dask path of ``lrp explain`` (``--out R.zarr``): a bad ``--rule`` or ``--layer-rule`` is
refused before a cluster is started or reached (it was found only after connecting, inside
the run), and the exit status says whose the failure is — chunks that failed for bad input
are the user's to fix (exit 2, as without a cluster; it was 1, an internal error's), other
failures (a lost worker) stay 1 and are not blamed on the input."""

from __future__ import annotations

import numpy as np
import pytest

from lrpcore.cli.main import main

pytest.importorskip("zarr")


@pytest.fixture
def digits(tmp_path):
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((3, 28, 28), dtype=np.uint8))
    return x


@pytest.mark.parametrize("flags, says", [
    (["--rule", "epsilon:-1"], "epsilon"),
    (["--rule", "no-such-rule"], "no-such-rule"),
    (["--rule", "epsilon:0.01", "--layer-rule", "no_such_layer=flat"], "no_such_layer"),
])
def test_a_bad_rule_is_refused_before_a_cluster_starts(tmp_path, capsys, monkeypatch, digits,
                                                       flags, says):
    from lrpcore import distributed

    def refuse(*_a, **_k):
        raise AssertionError("a cluster was started before --rule was checked")

    monkeypatch.setattr(distributed, "connect", refuse)
    assert main(["explain", "mnist-lenet5", str(digits), "--out", str(tmp_path / "R.zarr"),
                 "--dtype", "float32", *flags]) == 2
    err = capsys.readouterr().err
    assert says in err and "AssertionError" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npy"]


@pytest.mark.parametrize("bad_input, status", [(True, 2), (False, 1)])
def test_the_exit_status_says_whose_a_failed_chunk_is(tmp_path, capsys, monkeypatch, digits,
                                                     bad_input, status):
    from lrpcore import distributed

    class Closable:
        def close(self):
            pass

    failed = [{"chunk": 1, "samples": [1, 1], "bad_input": bad_input,
               "error": "DatasetError: 1.png: cannot decode" if bad_input else "cancelled"}]
    result = distributed.Result(chunks=3, computed=2, skipped=0, failed=failed, seconds=0.1,
                                chunk_seconds=[], store=str(tmp_path / "R.zarr.partial"))
    monkeypatch.setattr(distributed, "connect", lambda *_a: (Closable(), None))
    monkeypatch.setattr(distributed, "explain_to_store", lambda *_a, **_k: result)
    assert main(["explain", "mnist-lenet5", str(digits), "--out", str(tmp_path / "R.zarr"),
                 "--workers", "1"]) == status
    err = capsys.readouterr().err
    assert "chunk 1 (samples 1..1) failed" in err and "rerun the same command" in err
    assert ("fix the input" in err) == bad_input
