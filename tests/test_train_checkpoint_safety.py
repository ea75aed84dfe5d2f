"""A hostile ``lrp train --resume``
checkpoint (wrong types, absurd epochs) is refused with one line naming the file and field."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from test_train import _cfg, _toy_data

from lrpcore.errors import LRPError
from lrpcore.train.checkpoint import checkpoint_path
from lrpcore.train.loop import train

KW = {"backend": "numpy", "log": lambda s: None}


def _tampered(tmp_path, **changes):
    """A real checkpoint whose JSON loop state is rewritten by the test."""
    out = tmp_path / "real.npz"
    train(_cfg(epochs=1), _toy_data(), out, **KW)
    with np.load(checkpoint_path(out)) as npz:
        arrays = {k: npz[k] for k in npz.files}
    state = json.loads(str(arrays["state"].item()))
    state.update(changes)
    arrays["state"] = np.array(json.dumps(state))
    bad = tmp_path / "bad.ckpt.npz"
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    bad.write_bytes(buf.getvalue())
    return bad


@pytest.mark.parametrize("changes, field", [
    ({"epoch": -1e30}, "epoch"),
    ({"epoch": "1"}, "epoch"),
    ({"config": []}, "config"),
    ({"history": "x"}, "history"),
    ({"best": "high"}, "best"),
    ({"rng": 5}, "rng"),
    ({"optimizer": {"steps": -3}}, "optimizer"),
])
def test_hostile_resume_checkpoints_are_refused(tmp_path, changes, field):
    bad = _tampered(tmp_path, **changes)
    with pytest.raises(LRPError, match=rf"bad\.ckpt\.npz: checkpoint field '{field}'"):
        train(_cfg(epochs=3), _toy_data(), tmp_path / "next.npz", resume=bad, **KW)


def test_hostile_resume_from_the_cli_is_exit_2_one_line(tmp_path, capsys):
    from lrpcore.cli.main import main

    bad = _tampered(tmp_path, epoch=-1e30)
    data = _toy_data()
    np.savez(tmp_path / "toy.npz", images=data.images.reshape(-1, 8, 8, 1), labels=data.labels)
    rc = main(["train", "--layers", "linear:10,softmax", "--dataset", str(tmp_path / "toy.npz"),
               "--epochs", "3", "--out", str(tmp_path / "cli.npz"), "--resume", str(bad)])
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "internal" not in err


def _with_member(tmp_path, shape, stored):
    """A real checkpoint plus one ``opt.`` member whose header claims ``shape`` (float64)
    while its entry holds ``stored`` zero bytes (deflated: a few KB on disk)."""
    import zipfile

    bad = _tampered(tmp_path)
    head = io.BytesIO()
    np.lib.format.write_array_header_1_0(head, {"descr": "<f8", "fortran_order": False,
                                                "shape": shape})
    with zipfile.ZipFile(bad, "a", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("opt.zzz.npy", "w", force_zip64=True) as fh:
            fh.write(head.getvalue())
            for _ in range(stored >> 20):
                fh.write(bytes(1 << 20))
    return bad


@pytest.mark.parametrize("shape, stored", [
    ((64 << 17,), 64 << 20),  # 64 MB of zeros: far more than a toy model's state needs
    ((1 << 40,), 1 << 20),    # a header claiming 8 TB in an entry of 1 MB
], ids=["inflates-beyond-the-model", "header-claims-more-than-the-entry"])
def test_a_checkpoint_claiming_more_than_the_model_needs_is_refused(tmp_path, shape, stored):
    bad = _with_member(tmp_path, shape, stored)
    with pytest.raises(LRPError, match=r"bad\.ckpt\.npz: .*(would take|claims shape)"):
        train(_cfg(epochs=3), _toy_data(), tmp_path / "next.npz", resume=bad, **KW)
