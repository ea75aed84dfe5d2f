"""Downloads are bounded: a mirror that never stops is cut at the size cap, one that trickles
is cut at the overall deadline, and nothing stays in the cache (local servers on 127.0.0.1)."""

from __future__ import annotations

import http.server
import socket
import threading

import pytest
from test_download import fake_mnist, leftovers, manifest_for

from lrpcore.errors import DatasetError, LRPError
from lrpcore.io.download import download_mnist


class EndlessServer:
    """Answers every GET with data until the client hangs up; ``trickle`` sends one byte at a
    time, waiting on an event between bytes (set at shutdown)."""

    def __init__(self, trickle=False, announce=None):
        self.stop = threading.Event()
        self.sent = 0
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                if announce is not None:
                    self.send_header("Content-Length", str(announce))
                self.end_headers()
                block = b"x" if trickle else b"\0" * 65536
                try:
                    while not owner.stop.is_set():
                        self.wfile.write(block)
                        self.wfile.flush()
                        owner.sent += len(block)
                        if trickle:
                            owner.stop.wait(0.02)
                except OSError:
                    pass  # the client hung up: what the test wants

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/mnist/"

    def close(self):
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LRP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("LRP_MNIST_MIRROR", raising=False)
    return tmp_path / "cache"


def _download(url):
    files, _ = fake_mnist()
    return download_mnist("test", mirrors=url, manifest=manifest_for(files))


def test_never_ending_server_is_cut_at_the_size_cap(cache, monkeypatch):
    monkeypatch.setenv("LRP_DOWNLOAD_MAX_MB", "1")
    srv = EndlessServer()
    try:
        with pytest.raises(DatasetError, match="1 MB download cap.*LRP_DOWNLOAD_MAX_MB"):
            _download(srv.url)
    finally:
        srv.close()
    assert leftovers(cache) == []
    assert srv.sent < 64 * 2**20  # stopped near the cap, not after gigabytes


def test_announced_size_over_the_cap_is_refused_before_reading(cache, monkeypatch):
    monkeypatch.setenv("LRP_DOWNLOAD_MAX_MB", "1")
    srv = EndlessServer(announce=14 * 2**30)
    try:
        with pytest.raises(DatasetError, match="announces 14336.0 MB"):
            _download(srv.url)
    finally:
        srv.close()
    assert leftovers(cache) == []


def test_trickling_server_is_cut_at_the_deadline(cache, monkeypatch):
    monkeypatch.setenv("LRP_DOWNLOAD_DEADLINE_S", "0.5")
    srv = EndlessServer(trickle=True)
    try:
        with pytest.raises(DatasetError, match="longer than 0.5 s.*LRP_DOWNLOAD_DEADLINE_S"):
            _download(srv.url)
    finally:
        srv.close()
    assert leftovers(cache) == []


def test_a_bad_cap_setting_is_named(cache, monkeypatch):
    monkeypatch.setenv("LRP_DOWNLOAD_MAX_MB", "lots")
    with pytest.raises(LRPError, match="LRP_DOWNLOAD_MAX_MB='lots'"):
        _download("http://127.0.0.1:9/mnist/")


def test_cli_refusal_is_one_line_exit_2(cache, monkeypatch, capsys):
    from lrpcore.cli.main import main

    monkeypatch.setenv("LRP_DOWNLOAD_MAX_MB", "1")
    srv = EndlessServer()
    try:
        rc = main(["data", "download", "--kind", "test", "--quiet", "--mirror", srv.url])
    finally:
        srv.close()
    err = capsys.readouterr().err
    assert rc == 2 and "download cap" in err and len(err.strip().splitlines()) == 1


class TricklingHeaders:
    """A raw TCP server whose answer never gets past its headers: after the status line it
    sends one header byte per ``gap`` seconds (pacing on an event), well inside the stall
    timeout. After ``limit`` bytes it gives up and ends the headers with an empty body (so a
    client without an overall deadline fails this test, with a checksum error, instead of
    hanging it). ``hung_up`` is set when the
    client closes the connection."""

    def __init__(self, gap=0.05, limit=200):
        self.stop, self.hung_up = threading.Event(), threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/mnist/"
        self.gap, self.limit = gap, limit
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        with conn:
            conn.recv(65536)
            try:
                conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                for _ in range(self.limit):
                    if self.stop.wait(self.gap):
                        return
                    conn.sendall(b"a")
                conn.sendall(b"\r\nContent-Length: 0\r\n\r\n")
                conn.recv(1)  # until the client hangs up
            except OSError:
                pass
            self.hung_up.set()

    def close(self):
        self.stop.set()
        self.listener.close()
        self.thread.join(5)


def test_server_trickling_its_headers_is_cut_at_the_deadline(cache, monkeypatch):
    monkeypatch.setenv("LRP_DOWNLOAD_DEADLINE_S", "0.5")
    monkeypatch.setenv("LRP_DOWNLOAD_STALL_S", "20")  # each byte comes well within it
    srv = TricklingHeaders()
    try:
        with pytest.raises(DatasetError, match="longer than 0.5 s.*LRP_DOWNLOAD_DEADLINE_S"):
            _download(srv.url)
        assert srv.hung_up.wait(10)  # the client closed the connection, not the server
    finally:
        srv.close()
    assert leftovers(cache) == []
