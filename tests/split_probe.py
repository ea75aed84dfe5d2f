"""Whether each forward pass of a model ran with its kernels split over the cores."""

from __future__ import annotations

from lrpcore.parallel import kernels_split


def record_splits(monkeypatch, model) -> list:
    """A list that gets ``kernels_split()`` at each run of ``model``'s class."""
    seen = []
    run = type(model).run

    def recording(self, *args, **kwargs):
        seen.append(kernels_split())
        return run(self, *args, **kwargs)

    monkeypatch.setattr(type(model), "run", recording)
    return seen
