"""A hard deadline and prompt cancellation for one HTTP download, from connect to last byte.

Read timeouts bound only the wait for each byte: a server that trickles its status line,
headers or TLS handshake one byte every few seconds would hold a plain ``requests.get`` forever.
Here every socket the request opens is duplicated as soon as it is connected; when the deadline
passes (or the user cancels), a watcher thread shuts the duplicates down, which wakes whatever
read is blocked on the socket (the duplicate keeps the socket itself alive, so no unrelated
descriptor is ever touched).
"""

from __future__ import annotations

import contextlib
import errno
import os
import selectors
import socket
import threading
import time


class Deadline:
    """``with Deadline(seconds, cancelled) as d: d.session.get(...)``; ``d.expired`` tells
    whether the deadline cut the connection, ``d.cancelled`` whether ``cancelled()`` turned
    true (a GUI's Cancel), which cuts it just as promptly, whatever stage the answer is in: a
    server trickling its headers never reaches the code that checks between blocks. (The
    request then fails with some connection error.)"""

    POLL_S = 0.1  # how soon a cancellation cuts the connection

    def __init__(self, seconds: float, cancelled=None):
        self.seconds = seconds
        self.expired = False
        self.cancelled = False
        self._is_cancelled = cancelled
        self._lock = threading.Lock()
        self._watched: list[socket.socket] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lrp-download-deadline",
                                        daemon=True)
        self.session = _session(self._watch, lambda: self.cut)

    @property
    def cut(self) -> bool:
        return self.expired or self.cancelled

    def __enter__(self) -> Deadline:
        self._end = time.monotonic() + self.seconds
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join()
        self.session.close()
        with self._lock:
            for sock in self._watched:
                with contextlib.suppress(OSError):
                    sock.close()
            self._watched.clear()

    def _watch(self, sock: socket.socket) -> None:
        with self._lock:
            dup = sock.dup()
            self._watched.append(dup)
            if self.cut:
                _cut(dup)

    def _run(self) -> None:
        """Wait for the end of the download, the deadline or a cancellation, whichever first."""
        while True:
            left = self._end - time.monotonic()
            if left <= 0:
                self._cut_all("expired")
                return
            wait = left if self._is_cancelled is None else min(left, self.POLL_S)
            if self._done.wait(wait):
                return
            if self._is_cancelled is not None and self._is_cancelled():
                self._cut_all("cancelled")
                return

    def _cut_all(self, why: str) -> None:
        with self._lock:
            setattr(self, why, True)
            for sock in self._watched:
                _cut(sock)


def _cut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def _session(watch, stopped):
    """A requests session whose connections (plain, TLS, through proxies) report each new
    socket to ``watch`` before it connects, and stop connecting once ``stopped()``: pool
    classes derived from the ones urllib3 would use."""
    import requests  # noqa: PLC0415
    from requests.adapters import HTTPAdapter  # noqa: PLC0415

    class WatchingAdapter(HTTPAdapter):
        def init_poolmanager(self, *args, **kwargs):
            super().init_poolmanager(*args, **kwargs)
            _watch_pools(self.poolmanager, watch, stopped)

        def proxy_manager_for(self, proxy, **kwargs):
            manager = super().proxy_manager_for(proxy, **kwargs)
            _watch_pools(manager, watch, stopped)
            return manager

    session = requests.Session()
    adapter = WatchingAdapter(max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _watch_pools(manager, watch, stopped) -> None:
    if getattr(manager, "_lrp_watched", False):
        return
    pools = {}
    for scheme, pool_cls in manager.pool_classes_by_scheme.items():
        base = pool_cls.ConnectionCls
        plain = _plain_connect(base)

        class Connection(base):  # noqa: D101 (one per pool class)
            def _new_conn(self, _base=base, _plain=plain):
                if _plain:  # urllib3's own connect: replaced by the polled one
                    return _open(self, watch, stopped)
                sock = _base._new_conn(self)  # e.g. through a SOCKS proxy: its own connect
                watch(sock)
                return sock

        pools[scheme] = type(pool_cls.__name__, (pool_cls,), {"ConnectionCls": Connection})
    manager.pool_classes_by_scheme = pools
    manager._lrp_watched = True


def _plain_connect(cls) -> bool:
    """Whether ``cls`` connects with urllib3's own ``HTTPConnection._new_conn`` (plain and TLS
    connections), which :func:`_open` reproduces; other kinds (SOCKS) keep theirs."""
    from urllib3.connection import HTTPConnection  # noqa: PLC0415

    return getattr(cls, "_new_conn", None) is HTTPConnection._new_conn


def _open(conn, watch, stopped) -> socket.socket:
    """urllib3's ``HTTPConnection._new_conn`` (same errors), except that the socket is watched
    from before its connect and the connect is polled: a host that drops packets would hold a
    plain connect for the whole connect timeout, past a cancellation or the deadline."""
    from urllib3.exceptions import (  # noqa: PLC0415
        ConnectTimeoutError,
        NameResolutionError,
        NewConnectionError,
    )

    try:
        return _connect((conn._dns_host, conn.port), conn.timeout, conn.source_address,
                        conn.socket_options, watch, stopped)
    except socket.gaierror as exc:
        raise NameResolutionError(conn.host, conn, exc) from exc
    except TimeoutError as exc:
        raise ConnectTimeoutError(conn, f"Connection to {conn.host} timed out. (connect "
                                  f"timeout={conn.timeout})") from exc
    except OSError as exc:
        raise NewConnectionError(conn, f"Failed to establish a new connection: {exc}") from exc


def _connect(address, timeout, source_address, options, watch, stopped) -> socket.socket:
    from urllib3.util.connection import allowed_gai_family  # noqa: PLC0415

    host, port = address
    timeout = timeout if isinstance(timeout, int | float) else None
    error = None
    for family, kind, proto, _, where in socket.getaddrinfo(host.strip("[]"), port,
                                                            allowed_gai_family(),
                                                            socket.SOCK_STREAM):
        sock = None
        try:
            sock = socket.socket(family, kind, proto)
            for option in options or ():
                sock.setsockopt(*option)
            if source_address:
                sock.bind(source_address)
            watch(sock)
            _polled_connect(sock, where, timeout, stopped)
            sock.settimeout(timeout)
            return sock
        except OSError as exc:
            error = exc
            if sock is not None:
                sock.close()
    raise error if error is not None else OSError("getaddrinfo returned no address")


_IN_PROGRESS = {errno.EINPROGRESS, errno.EALREADY, errno.EWOULDBLOCK, errno.EAGAIN,
                getattr(errno, "WSAEWOULDBLOCK", errno.EWOULDBLOCK)}


def _polled_connect(sock, where, timeout, stopped) -> None:
    """Connect ``sock`` without blocking, looking at ``stopped()`` every POLL_S seconds."""
    sock.setblocking(False)
    code = sock.connect_ex(where)
    end = None if timeout is None else time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(sock, selectors.EVENT_WRITE)
        while code in _IN_PROGRESS:
            if stopped():
                raise ConnectionAbortedError(errno.ECONNABORTED, "the download was stopped")
            left = Deadline.POLL_S if end is None else min(Deadline.POLL_S,
                                                           end - time.monotonic())
            if left <= 0:
                raise TimeoutError("timed out")
            if selector.select(left):
                code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    if code:
        raise OSError(code, os.strerror(code))
