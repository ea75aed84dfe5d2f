"""Downloading full MNIST with pooch: mirrors, MD5 checks, progress and cancellation.

The file names, MD5 sums and default mirrors come from the package's manifest
(``lrpcore/data/mnist.json``; ``data/mnist.json`` in the repository is the documented copy).
Mirrors are tried in order: the ``mirrors`` argument, else ``LRP_MNIST_MIRROR`` (comma- or
space-separated), else the manifest's list. pooch streams each file to a temporary name beside
the target and keeps it only when its checksum matches, so a truncated, corrupted or cancelled
download leaves nothing behind (and a killed one only a temporary folder of this run, which
the next download removes).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from urllib.parse import urlparse

from ..errors import Cancelled, DatasetError
from ..fileio import clean_stale_temporaries, make_temp_folder
from ..limits import DOWNLOAD_DEADLINE, DOWNLOAD_MAX, DOWNLOAD_STALL
from ..text import short
from .cache import CACHE_ENV
from .cache import cache_dir as default_cache_dir
from .download_deadline import Deadline

MIRROR_ENV = "LRP_MNIST_MIRROR"
KINDS = ("train", "test")
ROLES = ("images", "labels")
_CHUNK = 1 << 16


class DownloadCancelled(Cancelled, DatasetError):
    """The user cancelled a download; partial files were removed (a :class:`Cancelled`)."""


class ServersUnreachable(DatasetError):
    """No mirror could be reached at all (offline). The message names the command line's
    remedies; ``hosts`` lets another front end (the explorer) say what to do there."""

    def __init__(self, message: str, hosts: str):
        super().__init__(message)
        self.hosts = hosts


class _Stop(Exception):
    """Raised inside pooch's download loop to abort it (not a ValueError: pooch retries those)."""


class _OverLimit(Exception):
    """A server sent more than the size cap or took longer than the deadline (not retried)."""


class _BoundedDownloader:
    """What pooch calls to fetch one URL: streams with requests, reading whatever has arrived,
    and stops at the size cap, the overall deadline (headers included: see
    :mod:`.download_deadline`) or a stall (no byte for ``stall`` seconds)."""

    def __init__(self, bar, max_bytes: int, deadline_s: float, stall_s: float, cancel=None):
        self.bar, self.max_bytes = bar, max_bytes
        self.deadline_s, self.stall_s = deadline_s, stall_s
        self.cancel = cancel

    def __call__(self, url, output_file, pooch_obj=None, check_only=False):
        import time

        start = time.monotonic()
        # the watcher cuts the connection even while the status line or headers trickle in,
        # at the deadline or as soon as the user cancels
        cancelled = None if self.cancel is None else (lambda: _is_cancelled(self.cancel))
        with Deadline(self.deadline_s, cancelled) as deadline:
            try:
                self._fetch(url, output_file, deadline.session, start)
            except _OverLimit:
                raise
            except Exception:
                if not deadline.cut:
                    raise
            if deadline.cancelled:  # the cut connection may look like the end of the file
                raise _Stop()
            if deadline.expired:
                raise self._late(url) from None

    def _late(self, url) -> _OverLimit:
        return _OverLimit(f"{url}: the download took longer than {self.deadline_s:g} s "
                          f"({DOWNLOAD_DEADLINE.env}); stopped")

    def _fetch(self, url, output_file, session, start) -> None:
        import time

        import requests

        with session.get(url, stream=True, timeout=(self.stall_s, self.stall_s)) as response:
            response.raise_for_status()
            try:
                announced = max(0, int(response.headers.get("content-length") or 0))
            except ValueError:  # a malformed header announces nothing
                announced = 0
            if announced > self.max_bytes:
                raise _OverLimit(f"{url}: the server announces {announced / 2**20:.1f} MB, more "
                                 f"than the {self.max_bytes / 2**20:g} MB download cap "
                                 f"({DOWNLOAD_MAX.env})")
            self.bar.total = announced
            done = 0
            with open(output_file, "wb") as fh:
                while True:
                    block = response.raw.read1(_CHUNK, decode_content=True)
                    if not block:
                        break
                    done += len(block)
                    if done > self.max_bytes:
                        raise _OverLimit(f"{url}: the server sent more than the "
                                         f"{self.max_bytes / 2**20:g} MB download cap "
                                         f"({DOWNLOAD_MAX.env}); stopped")
                    if time.monotonic() - start > self.deadline_s:
                        raise self._late(url)
                    fh.write(block)
                    self.bar.update(len(block))
            if announced and done < announced:
                raise requests.exceptions.ChunkedEncodingError("IncompleteRead: truncated")


def load_manifest(path=None) -> dict:
    """The MNIST manifest shipped in the package (or one read from ``path``)."""
    try:
        if path is None:
            text = (resources.files("lrpcore") / "data" / "mnist.json").read_text("utf-8")
            where = "lrpcore/data/mnist.json"
        else:
            text, where = Path(path).read_text("utf-8"), os.fspath(path)
        manifest = json.loads(text)
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path or 'lrpcore/data/mnist.json'}: cannot read the MNIST "
                           f"manifest: {exc}") from None
    for kind in KINDS:
        for role in ROLES:
            entry = manifest.get("kinds", {}).get(kind, {}).get(role, {})
            if not {"file", "md5"} <= set(entry):
                raise DatasetError(f"{where}: no file name and md5 for MNIST {kind} {role}")
    return manifest


def mirror_list(mirrors=None, manifest=None) -> list[str]:
    """Mirrors to try, in order (argument, then environment variable, then manifest)."""
    where = "--mirror"
    if mirrors is None:
        env = os.environ.get(MIRROR_ENV, "").replace(",", " ").split()
        where = MIRROR_ENV if env else "the manifest"
        mirrors = env or (manifest or load_manifest())["mirrors"]
    elif isinstance(mirrors, str):
        mirrors = [mirrors]
    mirrors = [m.strip() for m in mirrors if m and m.strip()]
    if not mirrors:
        raise DatasetError("no MNIST mirror given")
    for m in mirrors:  # before any request: 'No scheme supplied' is no answer for a user
        try:  # 'http://[::1' raised ValueError (Invalid IPv6 URL), an internal error; a port
            parts = urlparse(m)  # beyond 65535 was tried and 'broke off (Failed to parse)'
            url = parts.scheme.lower() in ("http", "https") and bool(parts.netloc) and (
                parts.port is None or parts.port >= 0)  # .port: ValueError when unreadable
        except ValueError:
            url = False
        if not url:
            raise DatasetError(f"{where}: {short(m, 80)!r} is not a mirror address: give an "
                               "http:// or https:// URL of a folder holding the MNIST files "
                               "(e.g. https://example.org/mnist/)")
    return mirrors


def kinds_of(kind: str) -> tuple[str, ...]:
    if kind == "all":
        return KINDS
    if kind not in KINDS:
        raise DatasetError(f"unknown MNIST part '{kind}' (use train, test or all)")
    return (kind,)


def mnist_path(kind: str, role: str, cache_dir=None, manifest=None) -> Path:
    """Where the downloaded ``.gz`` file of one MNIST part lives in the cache."""
    manifest = manifest or load_manifest()
    folder = Path(cache_dir) if cache_dir else default_cache_dir("mnist", create=False)
    return folder / manifest["kinds"][kind][role]["file"]


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _is_cancelled(cancel) -> bool:
    if cancel is None:
        return False
    if hasattr(cancel, "is_set"):
        return bool(cancel.is_set())
    return bool(cancel())


class _ProgressAdapter:
    """The tqdm-like object pooch drives (``total``, ``update``, ``reset``, ``close``)."""

    def __init__(self, filename: str, progress, cancel):
        self.filename, self.progress, self.cancel = filename, progress, cancel
        self.total = 0
        self.done = 0

    def update(self, n: int) -> None:
        self.done += n
        if self.total:
            self.done = min(self.done, self.total)
        if _is_cancelled(self.cancel):
            raise _Stop()
        if self.progress is not None:
            self.progress(self.done, self.total, self.filename)

    def reset(self) -> None:
        self.done = 0

    def close(self) -> None:
        pass


def _describe_failure(exc: BaseException, url: str) -> tuple[str, bool]:
    """(message, whether the server could not be reached at all)."""
    import requests

    if isinstance(exc, requests.exceptions.HTTPError) and exc.response is not None:
        return f"{url}: the server answered HTTP {exc.response.status_code}", False
    if isinstance(exc, requests.exceptions.ChunkedEncodingError) or "IncompleteRead" in str(exc):
        return f"{url}: the download broke off before the end (truncated)", False
    if isinstance(exc, (requests.exceptions.ConnectionError, requests.exceptions.Timeout)):
        reason = str(exc).split("(Caused by")[-1].strip(" )")
        return f"could not reach {url} ({reason[:160]})", True
    if isinstance(exc, requests.exceptions.RequestException):
        return f"{url}: the download broke off ({exc})", False
    if isinstance(exc, ValueError):
        return (f"{url}: MD5 checksum mismatch: the file is corrupted or truncated; "
                "it was not kept"), False
    return f"{url}: {exc}", False


def _retrieve(pooch, url, md5, name, folder: Path, downloader) -> Path:
    """pooch's download of ``url`` inside a private folder of this run (``.tmp-lrp-PID-@HOST-…``),
    whose checked file is then renamed into ``folder``: pooch's own temporary file lives in
    there too, so a run killed outright (SIGKILL) leaves only a folder that is unmistakably
    temporary, which the next download removes (:func:`~lrpcore.fileio.clean_stale_temporaries`)."""
    import shutil  # noqa: PLC0415

    work = make_temp_folder(folder, "-download")
    try:
        path = pooch.retrieve(url, known_hash=f"md5:{md5}", fname=name, path=work,
                              downloader=downloader)
        target = folder / name
        os.replace(path, target)
        return target
    finally:
        shutil.rmtree(work, ignore_errors=True)


# the cache folder's own failures while a download is written (a full disk, a quota, a
# read-only mount): said as such, where they were 'could not download …: [Errno 28] No space
# left on device (set another mirror …)'
_FOLDER_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})


def _fetch_one(entry: dict, folder: Path, mirrors, progress, cancel, timeout) -> Path:
    import pooch

    name, md5 = entry["file"], entry["md5"].lower()
    target = folder / name
    if target.exists():
        if _md5(target) == md5:
            size = target.stat().st_size
            if progress is not None:
                progress(size, size, name)
            return target
        target.unlink()  # a broken copy must not stay in the cache
    failures, unreachable = [], True
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel("WARNING")
    try:
        for mirror in mirrors:
            url = mirror.rstrip("/") + "/" + name
            bar = _ProgressAdapter(name, progress, cancel)
            downloader = _BoundedDownloader(bar, DOWNLOAD_MAX.bytes(), DOWNLOAD_DEADLINE.value(),
                                            timeout, cancel)
            try:
                return _retrieve(pooch, url, md5, name, folder, downloader)
            except _Stop:
                raise DownloadCancelled(f"download of {name} cancelled; partial files were "
                                        "removed") from None
            except _OverLimit as exc:  # this mirror misbehaves: try the next one
                failures.append(str(exc))
                unreachable = False
            except Exception as exc:  # network, HTTP, checksum: try the next mirror
                if getattr(exc, "errno", None) in _FOLDER_FULL:  # no mirror helps with that
                    raise DatasetError(f"{folder}: cannot store {name}: "
                                       f"{os.strerror(exc.errno)}; free some space there or "
                                       f"choose another cache folder ({CACHE_ENV}); nothing "
                                       "was kept") from None
                message, no_contact = _describe_failure(exc, url)
                failures.append(message)
                unreachable = unreachable and no_contact
    finally:
        logger.setLevel(level)
    if unreachable:  # offline: one readable sentence, not one socket error per mirror
        hosts = ", ".join(dict.fromkeys(urlparse(m).netloc or m for m in mirrors))
        raise ServersUnreachable(f"could not reach the MNIST servers ({hosts}): no internet "
                                 "connection? The bundled mnist-test and mnist-sample need no "
                                 f"download; another mirror can be set with --mirror or "
                                 f"{MIRROR_ENV}.", hosts)
    raise DatasetError(f"could not download {name}: " + "; ".join(failures) +
                       f" (set another mirror with --mirror or {MIRROR_ENV})")


def download_mnist(kind: str = "all", mirrors=None, cache_dir=None,
                   progress: Callable[[int, int, str], None] | None = None, cancel=None,
                   manifest: dict | None = None, timeout: float | None = None
                   ) -> dict[str, Path]:
    """Download (or find in the cache) the MNIST IDX files; returns file name → path.

    Parameters
    ----------
    kind : "train", "test" or "all"
    mirrors : base URLs to try in order (str or list); default ``LRP_MNIST_MIRROR`` or the
        manifest's mirrors.
    cache_dir : folder for the files; default ``<user cache>/mnist`` (``LRP_CACHE_DIR``), the
        folder where ``open_dataset("mnist-train" | "mnist-test")`` looks.
    progress : called as ``progress(done_bytes, total_bytes, filename)``; total is 0 when the
        server does not announce it.
    cancel : a callable returning True, or a ``threading.Event``, to stop the download; raises
        :class:`DownloadCancelled` after removing partial files.
    manifest : file names and MD5 sums (default: the packaged ``mnist.json``).
    timeout : seconds without a byte before a mirror counts as stalled (default
        ``LRP_DOWNLOAD_STALL_S``, 30). Size and total time are capped by ``LRP_DOWNLOAD_MAX_MB``
        and ``LRP_DOWNLOAD_DEADLINE_S`` (see :mod:`lrpcore.limits`).
    """
    if timeout is None:
        timeout = DOWNLOAD_STALL.value()
    manifest = manifest or load_manifest()
    kinds = kinds_of(kind)
    urls = mirror_list(mirrors, manifest)
    folder = Path(cache_dir) if cache_dir else default_cache_dir("mnist")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetError(f"{folder}: cannot create the download folder: "
                           f"{exc.strerror or exc}") from None
    clean_stale_temporaries(folder)  # what killed downloads of this machine left
    done = {}
    for k in kinds:
        for role in ROLES:
            if _is_cancelled(cancel):
                raise DownloadCancelled("MNIST download cancelled")
            entry = manifest["kinds"][k][role]
            done[entry["file"]] = _fetch_one(entry, folder, urls, progress, cancel, timeout)
    return done
