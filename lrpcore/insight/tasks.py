"""Progress and cancellation for long insight computations (GUI workers, the CLI)."""

from __future__ import annotations

from ..errors import LRPError


class Cancelled(LRPError):
    """The caller's ``cancel()`` returned True; the computation stopped and returned nothing."""


def check_cancel(cancel) -> None:
    if cancel is not None and cancel():
        raise Cancelled("cancelled by the user")


def report(progress, done, total) -> None:
    if progress is not None:
        progress(int(done), int(total))
