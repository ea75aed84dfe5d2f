"""MNIST download against a local HTTP server: checksums, truncation, no network, cancel."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import json
import socket
import threading
from pathlib import Path

import numpy as np
import pytest

from lrpcore.errors import DatasetError
from lrpcore.io.download import (
    DownloadCancelled,
    download_mnist,
    load_manifest,
    mirror_list,
)

REPO = Path(__file__).resolve().parents[1]
TORCHVISION_MD5 = {  # published MNIST checksums (torchvision's list), independent of our code
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}


def idx_bytes(array: np.ndarray) -> bytes:
    code = {1: 0x01, 3: 0x03}[array.ndim]
    head = bytes([0, 0, 0x08, code]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return head + array.astype(np.uint8).tobytes()


def fake_mnist(n_train=200, n_test=12, seed=0):
    """Gzipped IDX files of random digits (incompressible, so bigger than one chunk)."""
    rng = np.random.default_rng(seed)
    files, arrays = {}, {}
    for kind, prefix, n in (("train", "train", n_train), ("test", "t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        files[f"{prefix}-images-idx3-ubyte.gz"] = gzip.compress(idx_bytes(images), mtime=0)
        files[f"{prefix}-labels-idx1-ubyte.gz"] = gzip.compress(idx_bytes(labels), mtime=0)
        arrays[kind] = (images, labels)
    return files, arrays


def manifest_for(files: dict) -> dict:
    manifest = load_manifest()
    manifest = json.loads(json.dumps(manifest))
    for kind in manifest["kinds"].values():
        for entry in kind.values():
            entry["md5"] = hashlib.md5(files[entry["file"]]).hexdigest()
    return manifest


class Server:
    """A local HTTP server: ``routes`` maps a path to bytes; ``lie`` paths announce more."""

    def __init__(self):
        self.routes: dict[str, bytes] = {}
        self.lie: set[str] = set()
        self.requests: list[str] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                owner.requests.append(self.path)
                body = owner.routes.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                extra = 5000 if self.path in owner.lie else 0
                self.send_header("Content-Length", str(len(body) + extra))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/mnist/"

    def serve(self, files: dict):
        for name, body in files.items():
            self.routes[f"/mnist/{name}"] = body

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def server():
    srv = Server()
    yield srv
    srv.close()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LRP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("LRP_MNIST_MIRROR", raising=False)
    return tmp_path / "cache"


def closed_port_url() -> str:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/mnist/"


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_manifest_lists_the_published_md5_sums():
    manifest = load_manifest()
    found = {e["file"]: e["md5"] for kind in manifest["kinds"].values() for e in kind.values()}
    assert found == TORCHVISION_MD5
    assert all(m.startswith(("http://", "https://")) for m in manifest["mirrors"])


def test_repository_copy_of_the_manifest_agrees_with_the_packaged_one():
    top = REPO / "data" / "mnist.json"
    packaged = REPO / "lrpcore" / "data" / "mnist.json"
    assert json.loads(top.read_text()) == json.loads(packaged.read_text())


def test_download_succeeds_reports_progress_and_opens(server, cache):
    from lrpcore.io.datasets import open_dataset

    files, arrays = fake_mnist()
    server.serve(files)
    calls = []
    paths = download_mnist("all", mirrors=server.url, manifest=manifest_for(files),
                           progress=lambda d, t, f: calls.append((d, t, f)))
    assert sorted(paths) == sorted(files)
    for name, path in paths.items():
        assert path.read_bytes() == files[name]
        mine = [c for c in calls if c[2] == name]
        assert mine, f"no progress for {name}"
        assert mine[-1][:2] == (len(files[name]), len(files[name]))
        assert all(d <= t for d, t, _ in mine)
        assert [d for d, _, _ in mine] == sorted(d for d, _, _ in mine)
    big = [c for c in calls if c[2] == "train-images-idx3-ubyte.gz"]
    assert len(big) > 2  # streamed in several chunks

    n_requests = len(server.requests)
    download_mnist("all", mirrors=server.url, manifest=manifest_for(files))
    assert len(server.requests) == n_requests  # already cached, checksum verified

    # The named datasets find the cached files (the packaged manifest has the same file names).
    ds = open_dataset("mnist-train")
    images, labels = arrays["train"]
    assert len(ds) == len(images) and ds.sample_shape == (28, 28, 1)
    np.testing.assert_array_equal(ds.images()[..., 0], images)
    np.testing.assert_array_equal(ds.labels, labels)
    test = open_dataset("mnist-test")
    np.testing.assert_array_equal(test.images([3])[0, ..., 0], arrays["test"][0][3])


def test_corrupted_file_is_rejected_and_not_cached(server, cache):
    files, _ = fake_mnist()
    manifest = manifest_for(files)
    broken = dict(files)
    body = bytearray(files["t10k-labels-idx1-ubyte.gz"])
    body[len(body) // 2] ^= 0xFF
    broken["t10k-labels-idx1-ubyte.gz"] = bytes(body)
    server.serve(broken)
    with pytest.raises(DatasetError, match="t10k-labels-idx1-ubyte.gz.*(?i:checksum)"):
        download_mnist("test", mirrors=server.url, manifest=manifest)
    assert "t10k-labels-idx1-ubyte.gz" not in leftovers(cache)
    assert leftovers(cache) == ["t10k-images-idx3-ubyte.gz"]  # the good one, nothing temporary


def test_truncated_file_is_rejected(server, cache):
    files, _ = fake_mnist()
    manifest = manifest_for(files)
    cut = dict(files)
    cut["t10k-images-idx3-ubyte.gz"] = files["t10k-images-idx3-ubyte.gz"][:-100]
    server.serve(cut)
    with pytest.raises(DatasetError, match="t10k-images-idx3-ubyte.gz"):
        download_mnist("test", mirrors=server.url, manifest=manifest)
    assert leftovers(cache) == []


def test_connection_broken_off_is_rejected(server, cache):
    files, _ = fake_mnist()
    server.serve(files)
    server.lie.add("/mnist/t10k-images-idx3-ubyte.gz")  # announces more than it sends
    with pytest.raises(DatasetError, match="t10k-images-idx3-ubyte.gz.*broke off"):
        download_mnist("test", mirrors=server.url, manifest=manifest_for(files))
    assert leftovers(cache) == []


def test_unreachable_server_gives_a_clear_error(cache):
    url = closed_port_url()
    with pytest.raises(DatasetError, match="could not reach") as info:
        download_mnist("test", mirrors=[url], timeout=5)
    assert "127.0.0.1" in str(info.value)
    assert leftovers(cache) == []


def test_missing_file_on_server_names_the_http_status(server, cache):
    with pytest.raises(DatasetError, match="404"):
        download_mnist("test", mirrors=server.url)


def test_next_mirror_is_tried_and_env_variable_is_honoured(server, cache, monkeypatch):
    files, _ = fake_mnist()
    server.serve(files)
    closed = closed_port_url()
    monkeypatch.setenv("LRP_MNIST_MIRROR", f"{closed}, {server.url}")
    assert mirror_list() == [closed, server.url]
    paths = download_mnist("test", manifest=manifest_for(files), timeout=5)
    assert sorted(paths) == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


def test_cancel_stops_and_cleans_up(server, cache):
    files, _ = fake_mnist(n_train=400)
    server.serve(files)
    seen = []

    def cancel():
        return len(seen) >= 2

    with pytest.raises(DownloadCancelled):
        download_mnist("all", mirrors=server.url, manifest=manifest_for(files),
                       progress=lambda d, t, f: seen.append(f), cancel=cancel)
    assert leftovers(cache) == []
    assert len(server.requests) == 1  # stopped in the first file


def test_cancel_event_before_start(server, cache):
    event = threading.Event()
    event.set()
    with pytest.raises(DownloadCancelled):
        download_mnist("all", mirrors=server.url, cancel=event)
    assert server.requests == []


def test_damaged_cached_file_is_replaced(server, cache):
    files, _ = fake_mnist()
    server.serve(files)
    folder = cache / "mnist"
    folder.mkdir(parents=True)
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(b"junk")
    paths = download_mnist("test", mirrors=server.url, manifest=manifest_for(files))
    assert paths["t10k-images-idx3-ubyte.gz"].read_bytes() == files["t10k-images-idx3-ubyte.gz"]


def test_cli_download_prints_progress(server, cache, capsys, monkeypatch):
    from lrpcore.cli.main import main
    from lrpcore.io import download

    files, _ = fake_mnist()
    server.serve(files)
    manifest = manifest_for(files)
    monkeypatch.setattr(download, "load_manifest", lambda path=None: manifest)
    # stderr is no terminal here: the bar is drawn when asked, as every command draws it
    rc = main(["data", "download", "--kind", "test", "--mirror", server.url, "--progress"])
    out, err = capsys.readouterr()
    assert rc == 0
    assert "t10k-images-idx3-ubyte.gz" in out and "[" in err and "#" in err
    assert (cache / "mnist" / "t10k-labels-idx1-ubyte.gz").exists()


def test_cli_download_unreachable_exits_2(cache, capsys):
    from lrpcore.cli.main import main

    rc = main(["data", "download", "--kind", "test", "--quiet", "--mirror", closed_port_url()])
    assert rc == 2
    assert "could not reach" in capsys.readouterr().err


def test_one_cancellation_type_for_every_job():
    """Export, insight, download and the GUI's tasks stop with the same exception type."""
    from lrpcore.errors import Cancelled, LRPError
    from lrpcore.insight import Cancelled as InsightCancelled
    from lrpcore.io.download import DownloadCancelled
    from lrpgui.services import Cancelled as GuiCancelled

    assert InsightCancelled is Cancelled and GuiCancelled is Cancelled
    assert issubclass(DownloadCancelled, Cancelled) and issubclass(Cancelled, LRPError)
