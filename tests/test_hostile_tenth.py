"""Found by the tenth hostile review (outputs over inputs, ...): each test writes the input it
needs and failed before the fix it guards."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from lrpcore.cli.main import main

MODELS = Path(__file__).parents[1] / "models"


def _one_line(capsys, *parts):
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert "internal error" not in err, err
    for part in parts:
        assert part in err, err
    return err


def _digits(path, n=3):
    np.save(path, np.random.RandomState(0).randint(0, 255, (n, 28, 28)).astype(np.uint8))
    return path


@pytest.mark.parametrize("command", [
    ["evaluate", "{m}", "{x}", "--steps", "2", "--csv", "{out}"],
    ["sweep", "{m}", "{x}", "--rule", "epsilon", "--param", "epsilon=0.1,1", "--steps", "2",
     "--csv", "{out}"],
    ["sanity", "{m}", "{x}", "--rule", "epsilon", "--csv", "{out}"],
])
@pytest.mark.parametrize("victim", ["x", "m", "sidecar"])
def test_a_csv_named_as_a_file_the_command_reads_is_refused(tmp_path, capsys, command, victim):
    """``lrp evaluate|sweep|sanity M x.npy --csv x.npy --overwrite`` replaced the samples (or
    the model, or its sidecar) with the CSV it wrote; ``lrp explain`` refuses that output."""
    m = tmp_path / "m.npz"
    shutil.copy(MODELS / "mnist-lenet5.npz", m)
    (tmp_path / "m.json").write_text('{"class_names": ["0","1","2","3","4","5","6","7","8",'
                                     '"9"]}')
    x = _digits(tmp_path / "x.npy")
    out = {"x": x, "m": m, "sidecar": tmp_path / "m.json"}[victim]
    before = out.read_bytes()
    args = [a.format(m=m, x=x, out=out) for a in command] + ["--overwrite"]
    assert main(args) == 2
    _one_line(capsys, "is also a file this command reads")
    assert out.read_bytes() == before
