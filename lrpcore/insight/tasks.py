"""Progress and cancellation for long insight computations (GUI workers, the CLI)."""

from __future__ import annotations

from ..errors import Cancelled  # noqa: F401 (re-exported: the project's one cancellation)


def check_cancel(cancel) -> None:
    if cancel is not None and cancel():
        raise Cancelled("cancelled by the user")


def report(progress, done, total) -> None:
    if progress is not None:
        progress(int(done), int(total))
