"""``lrp explain --out R.zarr`` on a Dask LocalCluster of 2 worker processes (issue 18):
bit-equal to the single-process run, resumable after the client is killed, unchanged by a
killed worker, and a corrupt image fails only its own chunk."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from shared_data import shared_path

pytest.importorskip("distributed")
pytest.importorskip("zarr")

from lrpcore import distributed as dist  # noqa: E402
from lrpcore import open_relevance_store  # noqa: E402
from lrpcore.cli.main import main  # noqa: E402
from lrpcore.errors import DatasetError  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "mnist-dense-rect.npz"
BATCH = 64  # 157 chunks of the 10,000 digits: enough to interrupt a run in its middle


@pytest.fixture(scope="module")
def mnist():
    return shared_path("data", "mnist_test_images.npy")


@pytest.fixture(scope="module")
def cluster():
    client, cluster = dist.connect(workers=2)
    yield client, cluster
    client.close()
    cluster.close()


@pytest.fixture(scope="module")
def reference(mnist, tmp_path_factory):
    """The single-process run of the same command (relevance and outputs)."""
    d = tmp_path_factory.mktemp("ref")
    assert main(["explain", str(MODEL), str(mnist), "--out", str(d / "R.npy"), "--outputs",
                 str(d / "Y.npy"), "--batch-size", str(BATCH)]) == 0
    return np.load(d / "R.npy"), np.load(d / "Y.npy")


def job_args(source, **kw):
    args = {"model": str(MODEL), "backend": "numpy", "dtype": "float64", "rule": None,
            "layer_rules": {}, "target": "pred", "raw": False, "batch_size": BATCH,
            "source": source}
    args.update(kw)
    return args


def assert_equal_to(reference, path):
    store = open_relevance_store(path)
    R, Y = reference
    assert store.complete and not store.failed
    assert np.array_equal(store.relevance[:], R)  # bit for bit
    assert np.array_equal(store.outputs[:], Y)
    assert np.array_equal(store.predictions[:], Y.argmax(1))
    return store


def test_two_workers_equal_the_single_process_run(cluster, mnist, reference, tmp_path):
    client, _ = cluster
    source, _ = dist.open_source(mnist)
    out = tmp_path / "R.zarr"
    result = dist.explain_to_store(job_args(source), out, client=client, progress=False)
    assert (result.chunks, result.computed, result.failed) == (157, 157, [])
    store = assert_equal_to(reference, out)
    prov = store.provenance
    assert len(prov["model_sha256"]) == 64 and prov["rules"] == "simple"
    assert prov["target"] == "pred" and prov["version"] and prov["dtype"] == "float64"
    assert store.relevance.chunks[0] == BATCH  # chunked by samples
    assert np.array_equal(store.heatmaps([3, 9000]), reference[0][[3, 9000]])
    loads = client.run(lambda: dist.MODEL_LOADS[0])
    assert max(loads.values()) == 1  # once per worker, not per task


def test_a_worker_killed_mid_run_changes_nothing(cluster, mnist, reference, tmp_path):
    client, _ = cluster
    source, _ = dist.open_source(mnist)
    pids = client.run(os.getpid)
    killed = []

    def kill_a_busy_worker(i, a, b):
        if killed:
            return
        busy = [w for w, keys in client.processing().items() if keys and w in pids]
        assert busy, "no task in flight: the run ended before a worker could be killed"
        os.kill(pids[busy[0]], signal.SIGKILL)
        killed.append(pids[busy[0]])

    result = dist.explain_to_store(job_args(source), tmp_path / "R.zarr", client=client,
                                   progress=False, on_chunk=kill_a_busy_worker)
    assert killed and result.failed == []
    assert_equal_to(reference, tmp_path / "R.zarr")
    client.wait_for_workers(2)  # the nanny restarts it, for the tests that follow


def test_resume_after_the_client_is_killed(cluster, mnist, reference, tmp_path, capsys):
    _, cluster_ = cluster
    out = tmp_path / "R.zarr"
    cmd = ["explain", str(MODEL), str(mnist), "--out", str(out), "--batch-size", str(BATCH),
           "--scheduler", cluster_.scheduler_address]
    proc = subprocess.Popen([sys.executable, "-m", "lrpcore.cli.main", *cmd], cwd=ROOT,
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    for line in proc.stderr:  # one line per finished chunk when stderr is no terminal
        if line.startswith("chunk "):
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait()
    proc.stderr.close()
    assert not out.exists()  # R.zarr is written only when complete: never a partial result
    done = int(open_relevance_store(dist.layout.partial_path(out)).done.sum())
    assert 0 < done < 157
    assert main(cmd) == 0
    assert not os.path.exists(dist.layout.partial_path(out))
    captured = capsys.readouterr()
    assert f"{done} of 157 chunks already done, computing {157 - done}" in captured.err
    assert f"explained {157 - done} chunks of 157 ({done} already done, 0 failed)" \
        in captured.out
    assert_equal_to(reference, out)
    # a rerun with another rule is refused, naming what differs; the store is untouched
    assert main(cmd + ["--rule", "epsilon:0.01"]) == 2
    err = capsys.readouterr().err
    assert "other settings" in err and "rule: stored None, now 'epsilon:0.01'" in err
    assert_equal_to(reference, out)


def _damage_pixels(path):
    """Garble the compressed pixels of a PNG, its header and end whole: the folder opens with
    it (an unreadable header is left out as the folder opens), its decoding fails."""
    data = bytearray(path.read_bytes())
    start = data.index(b"IDAT") + 6  # past the chunk type and the zlib header
    data[start:start + 8] = b"\xff" * 8
    path.write_bytes(bytes(data))


def test_a_corrupt_image_fails_only_its_chunk(cluster, mnist, tmp_path, capsys):
    from skimage import io as skio

    import lrpcore

    _, cluster_ = cluster
    digits = np.load(mnist, mmap_mode="r")[:40].reshape(40, 28, 28)
    folder = tmp_path / "digits"
    folder.mkdir()
    for i, img in enumerate(digits):
        skio.imsave(folder / f"{i:03d}.png", np.asarray(img, dtype=np.uint8),
                    check_contrast=False)
    _damage_pixels(folder / "025.png")
    out = tmp_path / "R.zarr"
    assert main(["explain", str(MODEL), str(folder), "--out", str(out), "--batch-size", "8",
                 "--scheduler", cluster_.scheduler_address]) == 2  # bad input: the user's
    err = capsys.readouterr().err
    assert "chunk 3 (samples 24..31) failed" in err and "025.png" in err
    assert "fix the input and rerun" in err
    assert not out.exists() and f"{dist.layout.partial_path(out)} keeps the finished" in err
    store = open_relevance_store(dist.layout.partial_path(out))
    assert store.done.tolist() == [True, True, True, False, True]
    assert store.failed[0]["samples"] == [24, 31]
    with pytest.raises(DatasetError, match="sample 25 has no relevance"):
        store.heatmaps(25)
    good = np.r_[0:24, 32:40]
    ex = lrpcore.Explainer(lrpcore.load_model(MODEL), "numpy", "float64")
    for a in range(0, 40, 8):
        if a != 24:
            fwd = ex.forward(digits[a:a + 8][..., None])
            assert np.array_equal(store.heatmaps(slice(a, a + 8)), fwd.relevance())
    assert store.available()[good].all()



def test_the_conservation_warning_reaches_stderr_and_the_store(cluster, mnist, tmp_path,
                                                               monkeypatch, capsys):
    """Issue 17 on the cluster path: the workers' conservation checks add up to the same
    diagnosis as the single-process run's sidecar (αβ at LeNet-5's sum pools is named), the
    store keeps it as an attribute and the command prints it; a healthy rule gives none."""
    import json

    client, _ = cluster
    lenet = ROOT / "models" / "mnist-lenet5.npz"
    x = tmp_path / "x.npy"
    np.save(x, np.load(mnist, mmap_mode="r")[:128])
    assert main(["explain", str(lenet), str(x), "--out", str(tmp_path / "R.npy"), "--rule",
                 "alphabeta:2", "--batch-size", str(BATCH)]) == 0
    single = json.loads((tmp_path / "R.npy.json").read_text())["diagnosis"]
    source, _ = dist.open_source(x)
    result = dist.explain_to_store(job_args(source, model=str(lenet), rule="alphabeta:2"),
                                   tmp_path / "R.zarr", client=client, progress=False)
    store = open_relevance_store(tmp_path / "R.zarr")
    assert store.diagnosis["warnings"] == single["warnings"] == result.diagnosis.warnings()
    assert {f["cause"] for f in store.diagnosis["findings"]} == {"alphabeta-sumpool"}
    healthy = dist.explain_to_store(job_args(source, model=str(lenet), rule="EpsilonPlus"),
                                    tmp_path / "H.zarr", client=client, progress=False)
    assert healthy.diagnosis.n == 128 and healthy.diagnosis.ok
    assert open_relevance_store(tmp_path / "H.zarr").diagnosis["ok"] is True
    # the command prints the workers' diagnosis (the cluster itself stubbed: it ran above)
    class Closable:
        def close(self):
            pass

    monkeypatch.setattr(dist, "connect", lambda *_a: (Closable(), None))
    for res, says in ((healthy, False), (result, True)):
        monkeypatch.setattr(dist, "explain_to_store", lambda *_a, _r=res, **_k: _r)
        capsys.readouterr()
        assert main(["explain", str(lenet), str(x), "--out", str(tmp_path / "S.zarr"),
                     "--workers", "1"]) == 0
        err = capsys.readouterr().err
        assert ("warning: layer 8 (SumPool" in err) == says, err


def test_no_dead_dashboard_link_for_an_existing_scheduler(cluster):
    """``--scheduler ADDR`` printed 'Dask dashboard: http://…:8787/status' for a scheduler
    without bokeh, a page that only answers 404; the scheduler is now asked whether it can
    serve one (here the LocalCluster's, reached by address as an existing cluster is)."""
    import importlib.util

    import distributed

    _, local = cluster
    has_bokeh = importlib.util.find_spec("bokeh") is not None
    with distributed.Client(local.scheduler_address, timeout="30s") as client:
        assert getattr(client, "cluster", None) is None
        link = dist.dashboard_link(client)
    assert (link is not None) == has_bokeh, link



def test_a_failing_chunk_is_one_line_not_a_worker_traceback(mnist, tmp_path, capfd):
    """A corrupt image is reported in one line naming its samples; the local workers used to
    print their own 'Compute Failed' log with a traceback on the same terminal. (A cluster
    of its own: workers write to the terminal they were started on.)"""
    from skimage import io as skio

    folder = tmp_path / "digits"
    folder.mkdir()
    for i, img in enumerate(np.load(mnist, mmap_mode="r")[:2].reshape(2, 28, 28)):
        skio.imsave(folder / f"{i}.png", np.asarray(img, dtype=np.uint8), check_contrast=False)
    skio.imsave(folder / "2.png", np.asarray(np.load(mnist, mmap_mode="r")[2].reshape(28, 28),
                                             dtype=np.uint8), check_contrast=False)
    _damage_pixels(folder / "2.png")
    assert main(["explain", str(MODEL), str(folder), "--out", str(tmp_path / "R.zarr"),
                 "--batch-size", "1", "--workers", "1"]) == 2
    err = capfd.readouterr().err
    assert "chunk 2 (samples 2..2) failed: DatasetError" in err
    assert "Compute Failed" not in err and "Traceback" not in err, err


def test_the_store_records_the_backend_the_workers_used(cluster, tmp_path):
    """--backend auto (the CLI default) is resolved in the provenance ("auto" said nothing
    about how the numbers were made); the run key keeps "auto" so the same command resumes."""
    client, _ = cluster
    images = np.random.default_rng(0).integers(0, 256, (40, 28, 28)).astype(np.uint8)
    np.save(tmp_path / "x.npy", images)
    source, _ = dist.open_source(str(tmp_path / "x.npy"))
    dist.explain_to_store(job_args(source, backend="auto"), tmp_path / "R.zarr", client=client,
                          progress=False)
    store = open_relevance_store(tmp_path / "R.zarr")
    assert store.provenance["backend"] == dist.resolved_backend("auto") != "auto"
    assert store.provenance["backend"] in ("numpy", "cupy")
    assert store.run["backend"] == "auto"


def test_a_resumed_run_keeps_the_backends_of_the_first():
    from lrpcore.io import relevance_store as layout

    class Group:
        def __init__(self, backend):
            self.attrs = {layout.PROVENANCE: {"backend": backend}}

    mixed = Group("cupy")
    dist._record_backends(mixed, {"numpy"}, resumed=True)
    assert mixed.attrs[layout.PROVENANCE]["backend"] == "cupy, numpy"
    fresh = Group("cupy")  # the client's guess; the workers had no GPU
    dist._record_backends(fresh, {"numpy"}, resumed=False)
    assert fresh.attrs[layout.PROVENANCE]["backend"] == "numpy"
