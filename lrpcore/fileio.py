"""Atomic file writes: a temporary file in the target folder, then a rename (and one
reader that turns OS errors into the project's own).

A failed write (full disk, read-only folder, interruption) leaves no partial file behind and
never touches an existing file of the same name unless the write succeeds.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import hashlib
import io
import os
import re
import secrets
import shutil
import socket
import stat
import tempfile
import time
import types

import numpy as np

from .errors import ExportError
from .text import is_digits

TEMP_PREFIX = ".tmp-lrp-"  # + "<pid>-@<host>-": the next write there removes a dead run's files
UNTAGGED_STALE_S = 86400  # a temporary name of an older version (no host tag) unchanged a day
_cleaned: set[str] = set()
_made_in: set[str] = set()  # folders where this process has made temporary files
_stage: contextvars.ContextVar = contextvars.ContextVar("lrp_stage", default=None)
# Called before a finished file takes its name (None: nothing to check). The command line sets
# it to raise KeyboardInterrupt once a Ctrl-C or SIGTERM has arrived: a signal whose exception
# was caught or swallowed where it struck then still stops the outputs from being published.
commit_check = None


def lstat_or_none(path):
    """``os.lstat(path)``, None when nothing is there; any other failure is an ExportError
    naming the path."""
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ExportError(f"{path}: cannot check: {exc.strerror or exc}") from None


def exists(path) -> bool:
    """``os.path.exists`` for an output about to be written: a name the system cannot look up
    at all (longer than the file system allows) is an ExportError naming it, not "free"
    (``os.path.exists`` said False, the write then failed as an internal error) nor a crash
    (``Path.exists`` raised the bare OSError)."""
    try:
        os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            raise ExportError(f"{path}: cannot check: {exc.strerror}") from None
        return False  # a loop of links, a folder it may not search: the write says so
    except ValueError:  # a NUL byte in the name: as os.path.exists
        return False
    return True


def _identity(path):
    """What is at ``path`` now: None, or the identity (device, inode, size, times) of a regular
    file; anything else (a symbolic link, a device such as /dev/null, a pipe, a folder) is
    refused, never replaced."""
    st = lstat_or_none(path)
    if st is None:
        return None
    if not stat.S_ISREG(st.st_mode):
        kind = ("a symbolic link" if stat.S_ISLNK(st.st_mode) else "a folder"
                if stat.S_ISDIR(st.st_mode) else "not a regular file (a device or pipe)")
        raise ExportError(f"{path}: is {kind}; refusing to replace it (write to a regular "
                          "file instead)")
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def identity(path):
    """Public form of :func:`_identity`: lets a writer that replaces its own file several
    times (``lrp train``) check that nobody else put a file there in between."""
    return _identity(path)


def host_tag() -> str:
    """This machine in temporary names: its name's letters and digits (at most 16) and a short
    hash of the whole name, so that two hosts never share a tag even when their names differ
    only in punctuation."""
    name = socket.gethostname() or "localhost"
    letters = re.sub(r"[^A-Za-z0-9]", "", name)[:16]
    return letters + hashlib.sha256(name.encode("utf-8", "replace")).hexdigest()[:6]


def temp_prefix() -> str:
    """``.tmp-lrp-<pid>-@<host>-``: whose temporary file this is. On a shared (network) folder
    a process number alone says nothing about another machine's runs, so only this host's
    dead runs are ever cleaned (:func:`clean_stale_temporaries`)."""
    return f"{TEMP_PREFIX}{os.getpid()}-@{host_tag()}-"


def _owner(name: str):
    """(pid, host tag) of a temporary name; host None for names of older versions (which had
    no host tag), pid None when the name is not one of ours."""
    pid, _, rest = name[len(TEMP_PREFIX):].partition("-")
    if not is_digits(pid):
        return None, None
    host = rest[1:].partition("-")[0] if rest.startswith("@") else None
    return int(pid), host


def clean_stale_temporaries(folder) -> None:
    """Remove temporary files (and folders: Zarr stores being made) that a killed run of this
    host (whose process is gone) left in ``folder``. Another host's temporary files are never
    touched, whatever their process number: that run may be alive on its machine. Names
    without a host tag (written by older versions, on any host) are removed once nothing has
    changed in them for UNTAGGED_STALE_S: no write of a live run pauses that long."""
    folder = os.path.abspath(folder)
    if folder in _cleaned:
        return
    _cleaned.add(folder)
    try:
        names = [n for n in os.listdir(folder) if n.startswith(TEMP_PREFIX)]
    except OSError:
        return
    me = host_tag()
    for name in names:
        pid, host = _owner(name)
        full = os.path.join(folder, name)
        if pid is None or (host is None and not _untouched_for(full, UNTAGGED_STALE_S)):
            continue
        if host is not None and (host != me or _alive(pid)):
            continue
        _remove_entry(full)


def make_temp_folder(folder, suffix) -> str:
    """A new folder of this run's (``.tmp-lrp-<pid>-@<host>-…suffix``) in ``folder``, with the
    mode a plain ``mkdir`` would give (mkdtemp's 0700 would make finished results private).
    Recorded before it exists, so that :func:`remove_own_temporaries` finds it even when a
    signal strikes before its name is returned."""
    folder = os.path.abspath(folder)
    _made_in.add(folder)
    tmp = tempfile.mkdtemp(prefix=temp_prefix(), suffix=suffix, dir=folder)
    os.chmod(tmp, 0o777 & ~process_umask())
    return tmp


def forget_written_folders() -> None:
    """Start a new command's record of where it wrote (in-process callers run several)."""
    _made_in.clear()


def remove_own_temporaries() -> None:
    """Remove the unfinished files of this process (a run stopped by Ctrl-C or SIGTERM). Each
    writer removes its own temporary file on the way out, but a signal that strikes between
    ``mkstemp`` creating the file and returning its name leaves one nobody knows of; this
    sweep of every folder written in finds it (and the folders of :func:`make_temp_folder`).
    Earlier files held aside by a commit (``…-old``) are left alone: an interrupted commit
    puts them back, or names them."""
    prefix = temp_prefix()
    for folder in sorted(_made_in):
        try:
            names = [n for n in os.listdir(folder)
                     if n.startswith(prefix) and not n.endswith("-old")]
        except OSError:
            continue
        for name in names:
            _remove_entry(os.path.join(folder, name))


def _remove_entry(full) -> None:
    """Remove a temporary left behind, as far as it can be: a folder with what it holds, a
    file or a link (never what a link points to); one the sweeps of stale and own
    temporaries share, so that both treat links and folders alike."""
    if os.path.isdir(full) and not os.path.islink(full):
        shutil.rmtree(full, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            os.unlink(full)


def _untouched_for(path, seconds) -> bool:
    """Whether nothing at ``path`` (a file, or a folder and what it holds directly) changed
    in the last ``seconds``."""
    try:
        times = [os.lstat(path).st_mtime]
        if os.path.isdir(path) and not os.path.islink(path):
            with os.scandir(path) as it:
                times += [e.stat(follow_symlinks=False).st_mtime for e in it]
    except OSError:
        return False
    return time.time() - max(times) > seconds


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def move_folder_into_place(src, path, replace) -> None:
    """Rename the finished folder ``src`` to ``path``; with ``replace`` the folder at ``path``
    goes aside first (a temporary name beside it) and comes back if the rename fails, so the
    earlier results survive any failure."""
    if not replace:
        os.rename(src, path)
        return
    folder = os.path.dirname(os.path.abspath(path))
    aside = tempfile.mkdtemp(prefix=temp_prefix(), suffix="-old", dir=folder)
    try:
        os.rename(path, os.path.join(aside, "old"))
        try:
            os.rename(src, path)
        except BaseException:
            os.rename(os.path.join(aside, "old"), path)  # the earlier folder back
            raise
    finally:
        shutil.rmtree(aside, ignore_errors=True)


def _finish(tmp, path, before, overwrite) -> None:
    """Move a finished temporary file to ``path``, replacing only what was checked at the
    start: a file that appeared (or was swapped) at ``path`` meanwhile is kept, and this fails."""
    now = _identity(path)
    if now != before:
        raise ExportError(f"{path}: was created or replaced by something else while this ran; "
                          "left it alone (nothing written)")
    _rename(tmp, path, before)


def _rename(tmp, path, before) -> None:
    """``tmp`` takes the name ``path``. Where nothing was at ``path`` when the run began, the
    name is taken only if still free (a hard link, made or refused at once): between the
    check and a plain rename, a file another run wrote there meanwhile was replaced, and two
    runs into one new R.npy could leave R.npy of one beside R.npy.json of the other."""
    if before is not None:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise ExportError(f"{path}: was created by something else while this ran; left it "
                          "alone (nothing written)") from None
    except OSError as exc:
        if exc.errno in _DISK_ERRORS:  # a rename would fail alike: reported as the rename's
            raise
        os.replace(tmp, path)  # no hard links here (FAT, some network folders): as before
        return
    os.unlink(tmp)


_DISK_ERRORS = {errno.ENOSPC, errno.EIO, errno.EROFS, getattr(errno, "EDQUOT", errno.ENOSPC)}


@contextlib.contextmanager
def staged_writes():
    """Within this block, finished files keep their temporary names; they take their real
    names together when the block ends without error (all removed otherwise), so a killed run
    never leaves files that look like results. Yields a record whose ``committed`` tells.

    Blocks nest: an inner block (one export inside ``lrp explain``) joins the outer one, whose
    end commits everything together."""
    outer = _stage.get()
    if outer is not None:
        yield outer
        return
    state = types.SimpleNamespace(pending=[], removed=[], committed=False)
    token = _stage.set(state)
    try:
        yield state
    except BaseException:
        _discard(state.pending)
        _put_back(state.removed)
        raise
    finally:
        _stage.reset(token)
    try:
        if commit_check is not None:
            commit_check()
        _commit(state.pending)
    except BaseException:
        _discard(state.pending)
        _put_back(state.removed)
        raise
    state.committed = True
    for _, aside in state.removed:
        with contextlib.suppress(OSError):
            os.unlink(aside)


def stage_removal(path, what="file") -> None:
    """Remove ``path`` together with the staged block's writes: it is moved aside now (an
    ExportError naming it when that fails, before anything is written), deleted when the block
    commits and put back when it does not. Removing it after the commit instead left nothing
    to fall back on: ``lrp convert --overwrite`` whose stale sidecar could not be removed took
    back the new model, and the one it had replaced was gone."""
    state = _stage.get()
    if os.path.isdir(path) and not os.path.islink(path):  # a folder of that name was moved
        # to a hidden temporary name and left there, out of the user's sight
        raise ExportError(f"{path}: is a folder, not a {what}: left it alone (remove or "
                          "rename it)")
    try:
        aside = _aside(path, move=True)
    except FileNotFoundError:  # gone meanwhile: removed, as asked
        return
    except OSError as exc:
        raise ExportError(f"{path}: cannot remove the old {what}: "
                          f"{exc.strerror or exc}") from None
    if state is None:
        with contextlib.suppress(OSError):
            os.unlink(aside)
    else:
        state.removed.append((path, aside))


def _put_back(removed) -> None:
    for path, aside in reversed(removed):
        with contextlib.suppress(OSError):
            os.replace(aside, path)


def stage_mark():
    """Where the current staged block stands (None outside one): :func:`discard_since` takes
    back what was staged after it (a cancelled export inside a larger run)."""
    state = _stage.get()
    return None if state is None else (state, len(state.pending))


def discard_since(mark) -> None:
    if mark is None:
        return
    state, start = mark
    _discard(state.pending[start:])
    del state.pending[start:]


def _discard(pending) -> None:
    for tmp, *_ in pending:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _commit(pending) -> None:
    """Give staged files their real names, all or none: every target is checked before the
    first rename (a refusal renames nothing); an earlier file at a target is kept under a
    temporary name (a hard link: the target never disappears) until every rename is done, so
    that an OS error on any rename puts all the earlier files back and removes the new ones.
    A run killed halfway never leaves a file beside a description of another: old companions
    of replaced files (``R.npy.json`` of ``R.npy``: another staged name plus an extension) are
    moved aside first, and companions are renamed after the files they describe."""
    names = {os.path.abspath(path) for _, path, *_ in pending}

    def companion(path) -> bool:
        return os.path.splitext(os.path.abspath(path))[0] in names

    for _, path, before, _ in pending:
        if _identity(path) != before:
            raise ExportError(f"{path}: was created or replaced by something else while this "
                              "ran; left it alone (nothing written)")
    done = []  # (path, the earlier file's temporary name or None), in the order made
    path = None
    try:
        for _, path, before, _ in pending:
            if before is not None and companion(path):
                done.append((path, _aside(path, move=True)))
        for tmp, path, before, _ in sorted(pending, key=lambda p: companion(p[1])):
            backup = None
            if before is not None and not companion(path):
                backup = _aside(path, move=False)
            try:
                _rename(tmp, path, before)
            except BaseException:
                if backup is not None:  # the earlier file is still in place
                    with contextlib.suppress(OSError):
                        os.unlink(backup)
                raise
            done.append((path, backup))
    except BaseException as exc:
        lost = _undo(done)
        if isinstance(exc, OSError) and not isinstance(exc, ExportError):
            raise ExportError(f"{path}: cannot give the finished file its name: "
                              f"{exc.strerror or exc}; {_undo_report(lost)}") from None
        raise
    for _, backup in done:
        if backup is not None:
            with contextlib.suppress(OSError):
                os.unlink(backup)


def _aside(path, move: bool) -> str:
    """A temporary name of this run holding the file at ``path``: the file moved there
    (``move``), else a hard link to it (the file stays; a folder without hard links gets it
    moved instead)."""
    folder = os.path.dirname(os.path.abspath(path))
    while True:
        aside = os.path.join(folder, f"{temp_prefix()}{secrets.token_hex(4)}-old")
        try:
            if move:
                os.rename(path, aside)
            else:
                try:
                    os.link(path, aside)
                except FileExistsError:
                    raise
                except OSError:  # no hard links here (FAT, some network folders)
                    os.rename(path, aside)
            return aside
        except FileExistsError:
            continue


def _undo(done) -> list:
    """Put back what a failed commit changed, last first; returns [(path, kept as)] of the
    earlier files that could not be put back."""
    lost = []
    for path, backup in reversed(done):
        try:
            if backup is None:
                os.unlink(path)
            else:
                os.replace(backup, path)
        except FileNotFoundError:
            pass
        except OSError:
            if backup is not None:
                lost.append((path, backup))
    return lost


def _undo_report(lost) -> str:
    if not lost:
        return "every file is as it was before the run (nothing written)"
    path, backup = lost[0]
    more = f" and {len(lost) - 1} more" if len(lost) > 1 else ""
    return (f"could not put back the earlier {path}{more}: it is kept as "
            f"{os.path.basename(backup)}")


def no_folder_error(path, folder) -> ExportError:
    """The error for writing ``path`` into ``folder``, which is no folder: "does not exist",
    or, where a file stands at that name or above it, that it is a file (``--out
    notes.txt/R.npy`` said the folder notes.txt did not exist, beside the file notes.txt)."""
    probe = os.fspath(folder)
    while not os.path.lexists(probe) and os.path.dirname(probe) != probe:
        probe = os.path.dirname(probe)
    if os.path.lexists(probe) and not os.path.isdir(probe):
        return ExportError(f"{path}: {probe} is a file, not a folder")
    return ExportError(f"{path}: folder {folder} does not exist")


@contextlib.contextmanager
def atomic_open(path, mode="wb", overwrite=True):
    """Yield a file object for a temporary file that becomes ``path`` on success."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    before = _identity(path)
    if not overwrite and before is not None:
        raise ExportError(f"{path}: file exists (allow overwriting to replace it)")
    if not os.path.isdir(folder):
        raise no_folder_error(path, folder)
    clean_stale_temporaries(folder)
    _made_in.add(folder)  # before the file exists: a signal may strike before its name is known
    try:
        fd, tmp = tempfile.mkstemp(prefix=temp_prefix(),
                                   suffix=os.path.basename(path)[-40:], dir=folder)
    except OSError as exc:
        raise ExportError(f"{path}: cannot write in {folder}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _default_mode(path))
        stage = _stage.get()
        if stage is not None:
            stage.pending.append((tmp, path, before, overwrite))
        else:
            if commit_check is not None:
                commit_check()
            _finish(tmp, path, before, overwrite)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, ExportError):
            raise ExportError(f"{path}: write failed: {exc.strerror or exc}") from None
        raise


def _default_mode(path) -> int:
    """The mode a plain ``open(path, "w")`` would give: an existing file's, else 0666 − umask.

    (mkstemp creates its file readable by the owner only, which is wrong for exports.)
    """
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        return 0o666 & ~process_umask()


def _umask_by_setting_it() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK_AT_IMPORT = _umask_by_setting_it()  # before any worker thread creates files


def process_umask() -> int:
    """The process's umask, read without setting it: ``os.umask(0)`` … ``os.umask(mask)``
    made every file and folder another thread created meanwhile (the explorer's workers,
    parallel shards) world-writable. Linux reports it in /proc; elsewhere the umask at
    import is used."""
    try:
        with open("/proc/self/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return _UMASK_AT_IMPORT


def within(path, folder) -> bool:
    """Whether ``path`` is ``folder`` or lies inside it (links resolved): heatmaps written
    into the image folder being explained become its samples the next time it is read."""
    try:
        inner, outer = os.path.realpath(path), os.path.realpath(folder)
        return os.path.commonpath([inner, outer]) == outer
    except ValueError:  # paths on different drives
        return False


def require_regular_file(path, error=ExportError) -> None:
    """Refuse to read anything but a regular file (links followed): a model or dataset that is
    a link to ``/dev/zero`` or a named pipe (a crafted archive may hold one) would be read
    forever, or block before the first byte."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise error(f"{os.fspath(path)}: cannot read: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        kind = "a folder" if stat.S_ISDIR(st.st_mode) else "a device or pipe"
        raise error(f"{os.fspath(path)}: is {kind}, not a file")


def read_bytes(path, error=ExportError, limit=None) -> bytes:
    """The file's bytes (the first ``limit`` only, if given); an unreadable file raises
    ``error`` (an LRPError subclass) naming it, never a bare OSError; only regular files are
    read (:func:`require_regular_file`)."""
    require_regular_file(path, error)
    try:
        with open(path, "rb") as fh:
            return fh.read() if limit is None else fh.read(limit)
    except OSError as exc:
        raise error(f"{os.fspath(path)}: cannot read: {exc.strerror or exc}") from None


def atomic_write_bytes(path, data: bytes, overwrite=True) -> None:
    with atomic_open(path, "wb", overwrite) as fh:
        fh.write(data)


def atomic_write_text(path, text: str, overwrite=True) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), overwrite)


@contextlib.contextmanager
def atomic_npy_memmap(path, shape, dtype, overwrite=True):
    """Yield a writable array of ``shape`` backed by a temporary ``.npy`` file that becomes
    ``path`` on success, so that results larger than memory can be written batch by batch.

    The file's disk space is reserved before anything is computed: a full disk is an
    ExportError here, never a crash (SIGBUS) on a later write into a sparse mapping.
    """
    shape = tuple(int(s) for s in shape)
    dtype = np.dtype(dtype)
    with atomic_open(path, "w+b", overwrite) as fh:
        header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False,
                  "shape": shape}
        try:
            np.lib.format.write_array_header_1_0(fh, header)
        except ValueError:  # a header too long for format 1.0
            np.lib.format.write_array_header_2_0(fh, header)
        fh.flush()
        offset = fh.tell()
        size = int(np.prod(shape)) * dtype.itemsize
        if size:
            _reserve(fh, offset, size, path)
            array = np.memmap(fh, dtype=dtype, mode="r+", offset=offset, shape=shape)
        else:
            array = np.empty(shape, dtype)
        yield array
        if size:
            array.flush()
        del array


def _reserve(fh, offset, size, path) -> None:
    try:
        os.posix_fallocate(fh.fileno(), offset, size)
    except AttributeError:  # no posix_fallocate on this platform: a sparse file
        fh.truncate(offset + size)
    except OSError as exc:
        if exc.errno in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
            fh.truncate(offset + size)  # a file system without fallocate
        else:
            amount = f"{size / 2**20:,.0f} MB" if size >= 2**20 else f"{size:,} bytes"
            raise ExportError(f"{path}: cannot reserve {amount}: "  # not "0 MB" below 1 MB
                              f"{exc.strerror or exc}") from None


def atomic_save_npy(path, array, overwrite=True) -> None:
    buf = io.BytesIO()
    np.save(buf, np.asarray(array), allow_pickle=False)
    atomic_write_bytes(path, buf.getvalue(), overwrite)
