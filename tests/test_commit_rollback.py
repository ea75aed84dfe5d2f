"""An OS error (not a kill) in the middle of the final renames of a multi-file output puts
every earlier file back and removes the new ones: the folder is as it was before the run, and
the error is one line naming the file (exit 2). The failing rename is exact: ``os.replace``
raises ENOSPC on its k-th call into the output folder.

Also: temporary files are owned by a host as well as a process, so a shared folder's files of
another machine's run are never removed because their process number is not alive here.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tiny_models import dense_digit_model

import lrpcore
from lrpcore import fileio
from lrpcore.cli.main import main
from lrpcore.errors import ExportError

OLD = b"an earlier run's result"


@pytest.fixture()
def work(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    lrpcore.save_model(dense_digit_model(rng), tmp_path / "m.npz")
    np.save(tmp_path / "x.npy", rng.integers(0, 256, size=(3, 784), dtype=np.uint8))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def failing_rename_at(monkeypatch, folder, k):
    """Make the k-th ``os.replace`` or ``os.link`` into ``folder`` (or below it) fail with
    ENOSPC (a new file takes its name by a hard link, made only where the name is free)."""
    seen = []
    folder = os.path.abspath(folder) + os.sep

    def failing(real, link=False):
        def step(src, dst, **kw):
            # (hard links to temporary names keep earlier files aside: not a name taken)
            if os.path.abspath(dst).startswith(folder) and not (
                    link and os.path.basename(dst).startswith(fileio.TEMP_PREFIX)):
                seen.append(dst)
                if len(seen) == k:
                    raise OSError(errno.ENOSPC, "No space left on device")
            return real(src, dst, **kw)
        return step

    monkeypatch.setattr(os, "replace", failing(os.replace))
    monkeypatch.setattr(os, "link", failing(os.link, link=True))
    return seen


def snapshot(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def one_line_error(code, capsys, *words):
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for w in words:
        assert w in err, err


def explain_args(out):
    return ["explain", "m.npz", "x.npy", "--out", str(out / "R.npy"), "--outputs",
            str(out / "Y.npy"), "--png", str(out / "png"), "--colormap", "jet", "--overwrite"]


@pytest.mark.parametrize("k", [1, 3, 7, 10])  # the first PNG … the last sidecar
def test_explain_rename_failure_puts_every_earlier_file_back(work, monkeypatch, capsys, k):
    out = work / "out"
    out.mkdir()
    assert main(explain_args(out)[:-1]) == 0  # a complete earlier run
    capsys.readouterr()
    for p in out.rglob("*"):  # mark every earlier file, so that a replaced one shows
        if p.is_file():
            p.write_bytes(OLD + p.name.encode())
    before = snapshot(out)
    assert len(before) == 10  # 3 PNGs, R.npy, Y.npy and a sidecar of each
    seen = failing_rename_at(monkeypatch, out, k)
    code = main(explain_args(out))
    one_line_error(code, capsys, "No space left on device", "as it was before")
    assert len(seen) >= k  # the failing rename was reached (the undo renames follow it)
    assert snapshot(out) == before  # nothing replaced, nothing new, no temporary file


def test_explain_rename_failure_leaves_no_new_file(work, monkeypatch, capsys):
    out = work / "out"
    out.mkdir()
    failing_rename_at(monkeypatch, out, 5)
    code = main(explain_args(out)[:-1])
    one_line_error(code, capsys, "No space left on device")
    assert [p.name for p in out.rglob("*") if p.is_file()] == []


def test_figure_keeps_the_earlier_figure_when_its_sidecar_cannot_be_renamed(work, monkeypatch,
                                                                            capsys):
    np.save(work / "R.npy", np.random.default_rng(1).normal(size=(2, 28, 28)))
    (work / "figs").mkdir()
    fig = work / "figs" / "fig.png"
    fig.write_bytes(OLD)
    (work / "figs" / "fig.png.json").write_bytes(OLD + b"json")
    before = snapshot(work / "figs")
    failing_rename_at(monkeypatch, work / "figs", 2)  # the figure is in place, its sidecar fails
    code = main(["figure", "R.npy", "--colormap", "jet", "--out", str(fig), "--overwrite"])
    one_line_error(code, capsys, "fig.png", "No space left on device")
    assert snapshot(work / "figs") == before


def test_demo_is_all_or_nothing(work, monkeypatch, capsys):
    out = work / "demo"
    args = ["demo", "--out", str(out), "--count", "2", "--batch", "2", "--backend", "numpy"]
    assert main(args) == 0
    capsys.readouterr()
    for p in out.rglob("*"):
        p.write_bytes(OLD + p.name.encode())
    before = snapshot(out)
    n = len(before)
    failing_rename_at(monkeypatch, out, n - 1)  # all but the last file renamed already
    code = main(args + ["--overwrite"])
    one_line_error(code, capsys, "No space left on device")
    assert snapshot(out) == before


def test_a_failed_rename_inside_the_library_raises_and_restores(tmp_path, monkeypatch):
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    a.write_bytes(b"old a")
    failing_rename_at(monkeypatch, tmp_path, 2)
    with pytest.raises(ExportError, match="b.bin: cannot give the finished file its name"):
        with fileio.staged_writes():
            fileio.atomic_write_bytes(a, b"new a")
            fileio.atomic_write_bytes(b, b"new b")
    assert snapshot(tmp_path) == {"a.bin": b"old a"}


# --- temporary files of another host ------------------------------------------------------
def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_only_this_hosts_dead_runs_are_cleaned(tmp_path):
    pid = dead_pid()
    mine = tmp_path / f"{fileio.TEMP_PREFIX}{pid}-@{fileio.host_tag()}-abc-R.npy"
    other = tmp_path / f"{fileio.TEMP_PREFIX}{pid}-@otherhost123abc-abc-R.npy"
    legacy = tmp_path / f"{fileio.TEMP_PREFIX}{pid}-abcdefghR.npy"  # no host: maybe another's
    live = tmp_path / f"{fileio.TEMP_PREFIX}{os.getpid()}-@{fileio.host_tag()}-abc-R.npy"
    for p in (mine, other, legacy, live):
        p.write_bytes(b"partial")
    fileio.atomic_write_bytes(tmp_path / "next.bin", b"x")  # any write cleans the folder
    assert not mine.exists()
    assert other.exists() and legacy.exists() and live.exists()


def test_temporary_names_carry_this_host(tmp_path, monkeypatch):
    monkeypatch.setattr(fileio.socket, "gethostname", lambda: "node-17.cluster.example")
    tag = fileio.host_tag()
    assert tag.startswith("node17clusterexa") and len(tag) == 22
    names = []
    with fileio.staged_writes() as stage:
        fileio.atomic_write_bytes(tmp_path / "R.npy", b"x")
        names = [os.path.basename(t) for t, *_ in stage.pending]
    assert names[0].startswith(f"{fileio.TEMP_PREFIX}{os.getpid()}-@{tag}-")
    monkeypatch.setattr(fileio.socket, "gethostname", lambda: "node-17-cluster.example")
    assert fileio.host_tag() != tag  # punctuation alone still tells two hosts apart


def test_evaluate_keeps_the_earlier_csv_when_the_plot_cannot_be_renamed(work, monkeypatch,
                                                                        capsys):
    (work / "c.csv").write_bytes(OLD)
    (work / "p.png").write_bytes(OLD + b"png")
    before = snapshot(work)
    failing_rename_at(monkeypatch, work, 2)  # c.csv took its name, the plot fails
    code = main(["evaluate", "m.npz", "x.npy", "--rule", "simple", "--csv", "c.csv",
                 "--plot", "p.png", "--overwrite"])
    one_line_error(code, capsys, "No space left on device")
    assert snapshot(work) == before


def test_a_concepts_folder_is_put_back_when_the_new_one_cannot_take_its_name(tmp_path,
                                                                            monkeypatch):
    from lrpcore.concepts_export import output_folder

    out = tmp_path / "concepts"
    out.mkdir()
    (out / "ranking.csv").write_bytes(OLD)
    real = os.rename

    def rename(src, dst):
        if os.path.abspath(dst) == str(out) and "-concepts" in os.path.basename(src):
            raise OSError(errno.EIO, "Input/output error")
        return real(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(ExportError, match="concepts: cannot give the finished folder its name"):
        with output_folder(out, overwrite=True) as tmp:
            (Path(tmp) / "ranking.csv").write_bytes(b"new")
    assert snapshot(tmp_path) == {"concepts/ranking.csv": OLD}


def test_convert_keeps_the_earlier_model_and_sidecar_when_the_sidecar_cannot_be_renamed(
        work, monkeypatch, capsys):
    (work / "out.txt").write_bytes(OLD)
    (work / "out.json").write_bytes(OLD + b"json")
    before = snapshot(work)
    failing_rename_at(monkeypatch, work, 2)  # out.txt took its name, out.json fails
    code = main(["convert", "mnist-lenet5", "out.txt", "--overwrite"])  # its metadata: a sidecar
    one_line_error(code, capsys, "out.json", "No space left on device")
    assert snapshot(work) == before
