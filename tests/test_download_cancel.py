"""Stopping a download is prompt at every stage, and a killed one is cleaned by the next run
(local servers on 127.0.0.1; the deadline and stall timeouts are set far beyond the test, so
only the cancellation can end the download in time).

- GUI cancel (a token): the server trickles header bytes, so the client never reaches the
  loop that checks the token between blocks; the connection must still be cut at once.
- Ctrl-C and SIGTERM of ``lrp data download`` during trickled headers: exit 130 / 143, no file.
- SIGKILL during the body: only a temporary folder of the dead run (unmistakable by name) is
  left, never pooch's anonymous ``tmpXXXX`` file, and the next download removes it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from test_download import Server, fake_mnist, leftovers, manifest_for

from lrpcore.fileio import TEMP_PREFIX
from lrpcore.io.download import DownloadCancelled, download_mnist

REPO = Path(__file__).resolve().parents[1]


class Trickle:
    """A raw TCP server answering every connection slowly, one byte per ``gap`` seconds
    (pacing on an event), for as long as the test runs: in the headers (``body=False``) or,
    after complete headers announcing ``size`` bytes, in the body. ``sent`` is set once a
    few bytes went out; ``hung_up`` when the client closed the connection."""

    def __init__(self, body=False, size=10**6, gap=0.02):
        self.stop, self.sent, self.hung_up = (threading.Event() for _ in range(3))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/mnist/"
        self.body, self.size, self.gap = body, size, gap
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn):
        with conn:
            try:
                conn.recv(65536)
                head = b"HTTP/1.1 200 OK\r\n"
                if self.body:
                    head += f"Content-Length: {self.size}\r\n\r\n".encode() + b"x" * 70000
                else:
                    head += b"X-Slow: "
                conn.sendall(head)
                for k in range(10**7):
                    if self.stop.wait(self.gap):
                        return
                    conn.sendall(b"a")
                    if k == 5:
                        self.sent.set()
            except OSError:
                self.hung_up.set()

    def close(self):
        self.stop.set()
        try:  # wakes the accept() the serving thread is blocked in (close alone does not)
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        self.thread.join(30)
        assert not self.thread.is_alive(), "the trickling server did not stop"


@pytest.fixture
def slow_limits(tmp_path, monkeypatch):
    monkeypatch.setenv("LRP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("LRP_DOWNLOAD_DEADLINE_S", "600")
    monkeypatch.setenv("LRP_DOWNLOAD_STALL_S", "120")
    monkeypatch.delenv("LRP_MNIST_MIRROR", raising=False)
    return tmp_path / "cache"


def test_gui_cancel_cuts_a_server_trickling_its_headers(slow_limits):
    srv = Trickle()
    files, _ = fake_mnist()
    outcome = []

    def job():
        try:
            download_mnist("test", mirrors=srv.url, manifest=manifest_for(files),
                           cancel=srv.sent.is_set)  # the user cancels once bytes trickle in
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            outcome.append(exc)

    thread = threading.Thread(target=job, daemon=True)
    try:
        thread.start()
        assert srv.sent.wait(30)
        thread.join(15)  # far below the 600 s deadline and the 120 s stall timeout
        assert not thread.is_alive(), "the cancelled download went on"
        assert srv.hung_up.wait(10)
    finally:
        srv.close()
        thread.join(10)
    assert len(outcome) == 1 and isinstance(outcome[0], DownloadCancelled), outcome
    assert leftovers(slow_limits) == []


def _cli(url, cache):
    cmd = [sys.executable, "-m", "lrpcore.cli.main", "data", "download", "--kind", "test",
           "--quiet", "--mirror", url, "--cache-dir", str(cache)]
    return subprocess.Popen(cmd, cwd=REPO, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_and_sigterm_stop_a_download_in_trickled_headers(slow_limits, sig):
    srv = Trickle()
    proc = _cli(srv.url, slow_limits)
    try:
        assert srv.sent.wait(60)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
        srv.close()
    assert proc.returncode == 128 + sig, err
    assert leftovers(slow_limits) == []


def test_a_killed_download_leaves_only_its_temporary_folder_which_the_next_run_removes(
        slow_limits):
    srv = Trickle(body=True)
    proc = _cli(srv.url, slow_limits)
    try:
        assert srv.sent.wait(60)  # 70 KB of the body were sent; the client may lag behind:
        assert _wait_until(lambda: _partial_bytes(slow_limits) > 0, 60), \
            "no partial file appeared"  # until its first bytes are on disk
        proc.kill()
        proc.wait(30)
    finally:
        srv.close()
    left = sorted(slow_limits.iterdir())
    assert left, "nothing was written before the kill"
    assert all(p.name.startswith(f"{TEMP_PREFIX}{proc.pid}-@") for p in left), left
    files, _ = fake_mnist()
    good = Server()
    try:
        good.serve(files)
        download_mnist("test", mirrors=good.url, manifest=manifest_for(files),
                       cache_dir=slow_limits)
    finally:
        good.close()
    assert leftovers(slow_limits) == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    assert sorted(p.name for p in slow_limits.iterdir()) == leftovers(slow_limits)


def _partial_bytes(cache) -> int:
    """Bytes of the partial files in the temporary folders of ``cache`` (0 while none)."""
    total = 0
    for p in cache.rglob("*") if cache.exists() else ():
        try:
            total += p.stat().st_size if p.is_file() else 0
        except OSError:  # removed meanwhile
            pass
    return total


def _wait_until(condition, timeout) -> bool:
    """Whether ``condition()`` became true within ``timeout`` seconds, checked every 10 ms
    (a file on disk sends no event; this waits for it, not for a fixed time)."""
    tick = threading.Event()
    for _ in range(int(timeout * 100)):
        if condition():
            return True
        tick.wait(0.01)
    return condition()


class NeverAccepts:
    """A listening socket whose backlog is full: the kernel drops further SYNs, so a client's
    connect hangs (what a host that drops packets does)."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=0)
        self.address = self.listener.getsockname()
        self.filler = []
        for _ in range(4):  # fill the accept queue (how many fit depends on the kernel)
            c = socket.socket()
            c.setblocking(False)
            c.connect_ex(self.address)
            self.filler.append(c)
        self.url = f"http://127.0.0.1:{self.address[1]}/mnist/"

    def close(self):
        for c in self.filler:
            c.close()
        self.listener.close()


def test_gui_cancel_cuts_a_connect_that_hangs(slow_limits):
    srv = NeverAccepts()
    files, _ = fake_mnist()
    asked, outcome = [], []

    def cancel():  # not yet when download_mnist looks before the file; at once afterwards
        asked.append(1)
        return len(asked) > 1

    def job():
        try:
            download_mnist("test", mirrors=srv.url, manifest=manifest_for(files), cancel=cancel)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            outcome.append(exc)

    thread = threading.Thread(target=job, daemon=True)
    try:
        thread.start()
        thread.join(15)  # far below the 120 s connect (stall) timeout
        assert not thread.is_alive(), "the cancelled download went on connecting"
    finally:
        srv.close()
        thread.join(130)
    assert len(outcome) == 1 and isinstance(outcome[0], DownloadCancelled), outcome
    assert leftovers(slow_limits) == []


def test_a_proxy_connection_keeps_its_own_connect():
    """Only urllib3's own connect is replaced by the polled one: a connection class with its
    own (a SOCKS proxy's) keeps it, and its socket is still watched."""
    import types

    from urllib3.connection import HTTPConnection

    from lrpcore.io import download_deadline

    made, watched = [], []

    class Socks(HTTPConnection):
        def _new_conn(self):
            made.append(self.host)
            return "socket through the proxy"

    pool = type("Pool", (), {"ConnectionCls": Socks})
    manager = types.SimpleNamespace(pool_classes_by_scheme={"http": pool})
    download_deadline._watch_pools(manager, watched.append, lambda: False)
    conn = manager.pool_classes_by_scheme["http"].ConnectionCls("example.org")
    assert conn._new_conn() == "socket through the proxy"
    assert made == ["example.org"] and watched == ["socket through the proxy"]
