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
