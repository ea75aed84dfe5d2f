"""A run killed (SIGKILL) while its finished outputs take their real names leaves nothing that
can be mistaken for results: every file with a real name is complete, no description (sidecar)
stands beside a file of another run, the rest carry temporary names, and the next write into
the folder removes them. The kill point is exact: the child process kills itself on its k-th
rename into the output folder (os.replace patched in the child only)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lrpcore.errors import ExportError
from lrpcore.export import explanation_file_names
from lrpcore.fileio import TEMP_PREFIX, atomic_write_bytes, staged_writes
from lrpcore.render import DEFAULT_COLORMAP

REPO = Path(__file__).resolve().parents[1]
OLD = b"old result of an earlier run"
RENAMES = 8  # 2 PNGs, R.npy, Y.npy, and a sidecar for each

CHILD = textwrap.dedent("""
    import os, signal, sys
    kill_at, out = int(sys.argv[1]), os.path.abspath(sys.argv[2])
    real, seen = os.replace, []
    def replace(src, dst, **kw):
        if os.path.abspath(dst).startswith(out + os.sep):
            seen.append(dst)
            if len(seen) == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
        return real(src, dst, **kw)
    os.replace = replace
    from lrpcore.cli.main import main
    sys.exit(main(sys.argv[3:]))
""")


def _outputs(out: Path) -> list[Path]:
    return [out / "R.npy", out / "Y.npy"] + [out / "png" / n for n in
                                              explanation_file_names(range(2), [DEFAULT_COLORMAP])]


def _run_killed(tmp_path, kill_at):
    out = tmp_path / "out"
    (out / "png").mkdir(parents=True)
    for path in _outputs(out):  # an earlier run's results, to be replaced with --overwrite
        path.write_bytes(json.dumps({"old": True}).encode() if path.suffix == ".json" else OLD)
        if path.suffix == ".npy":
            (out / (path.name + ".json")).write_text(json.dumps({"old": True}))
    images = tmp_path / "two.npy"
    np.save(images, np.random.default_rng(0).integers(0, 255, (2, 28, 28), dtype=np.uint8))
    cmd = [sys.executable, "-c", CHILD, str(kill_at), str(out), "explain", "mnist-lenet5",
           str(images), "--out", str(out / "R.npy"), "--outputs", str(out / "Y.npy"),
           "--png", str(out / "png"), "--overwrite"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    return proc, out


def _is_new(path: Path) -> bool:
    return path.read_bytes() != OLD


def _complete(path: Path) -> None:
    if path.suffix == ".npy":
        np.load(path)
    elif path.suffix == ".png":
        Image.open(path).load()
    else:
        json.loads(path.read_text())


@pytest.mark.parametrize("kill_at", [1, 3, 6, RENAMES])  # before any, amid PNGs, R.npy, last
def test_kill_during_the_renames_leaves_no_mismatched_or_partial_result(tmp_path, kill_at):
    proc, out = _run_killed(tmp_path, kill_at)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    files = [p for p in out.rglob("*") if p.is_file()]
    real = [p for p in files if not p.name.startswith(TEMP_PREFIX)]
    for path in real:
        if path.suffix == ".json" or _is_new(path):
            _complete(path)  # no half-written file has a real name
        if path.suffix == ".json":  # a description stands only beside the file it describes
            described = path.with_name(path.name[: -len(".json")])
            assert described.exists(), f"{path.name} without {described.name}"
            new_side = "old" not in json.loads(path.read_text())
            assert new_side == _is_new(described), f"{path.name} describes another run"
    # the next write into each folder removes what the killed run left under temporary names
    for folder in (out, out / "png"):
        atomic_write_bytes(folder / "next.txt", b"x")
    assert not [p for p in out.rglob("*") if p.name.startswith(TEMP_PREFIX)]


def test_every_kill_point_is_inside_the_commit(tmp_path):
    """The run makes exactly RENAMES renames into its output folder (else the kill points
    above would miss the commit): killed at one more, it finishes normally."""
    proc, out = _run_killed(tmp_path, RENAMES + 1)
    assert proc.returncode == 0, proc.stderr.decode()
    assert all(_is_new(p) for p in _outputs(out))


def test_a_refused_target_at_the_end_renames_nothing(tmp_path):
    """Every staged target is checked before the first rename: when the last one was taken
    meanwhile, the first does not appear alone."""
    first, last = tmp_path / "a.npy", tmp_path / "b.npy"
    with pytest.raises(ExportError, match="b.npy: was created or replaced"):
        with staged_writes():
            atomic_write_bytes(first, b"new")
            atomic_write_bytes(last, b"new")
            last.write_bytes(b"someone else's")
    assert not first.exists() and last.read_bytes() == b"someone else's"
    assert [p.name for p in tmp_path.iterdir()] == ["b.npy"]
