"""Reading a Zarr relevance store written by ``lrp explain --out R.zarr`` (lrpcore.distributed).

A store holds, for the N samples of one dataset: ``relevance`` (N × the fed sample shape,
chunked by samples), ``outputs`` (N × classes), ``predictions`` (N) and ``done`` (one flag per
chunk: the resume manifest). Its attributes carry the same provenance as the JSON sidecars of
``.npy`` exports (model SHA-256, rules, target, versions) plus the input it explained, so the
explorer and ``lrp spray`` can show a cluster's results without recomputing anything.
zarr is imported only here and in the writer: the single-process path never needs it.
"""

from __future__ import annotations

import os

import numpy as np

from ..errors import DatasetError

RELEVANCE, OUTPUTS, PREDICTIONS, DONE = "relevance", "outputs", "predictions", "done"
PROVENANCE = "lrp_provenance"  # attribute: the sidecar's provenance dict
RUN = "lrp_run"  # attribute: what a rerun must match to resume (see lrpcore.distributed)
FAILED = "lrp_failed"  # attribute: chunks that failed for bad input, with their samples
DIAGNOSIS = "lrp_diagnosis"  # attribute: conservation check of the last run (sidecars' too)


def import_zarr():
    """zarr, or a clear error saying which extra installs it."""
    try:
        import zarr  # noqa: PLC0415
    except ImportError:
        raise DatasetError("reading or writing a .zarr store needs zarr: pip install "
                           "'lrp-explorer[cluster]'") from None
    return zarr


def is_zarr_path(path) -> bool:
    """A Zarr store on disk (v3 ``zarr.json`` or v2 ``.zarray``/``.zgroup``) or a ``.zarr``
    name."""
    p = os.fspath(path)
    if p.rstrip("/").lower().endswith(".zarr"):
        return True
    return os.path.isdir(p) and any(os.path.exists(os.path.join(p, f))
                                    for f in ("zarr.json", ".zarray", ".zgroup"))


class RelevanceStore:
    """Precomputed relevance of a dataset, read chunk by chunk (nothing is loaded on open).

    ``relevance``/``outputs``/``predictions`` are zarr arrays (index them like numpy);
    ``provenance`` the sidecar dict; ``input`` the explained dataset (path as given);
    ``complete`` whether every chunk is done; ``failed`` the chunks that failed.
    """

    def __init__(self, path):
        zarr = import_zarr()
        self.path = os.fspath(path)
        if not os.path.isdir(self.path):
            raise DatasetError(f"{self.path}: no such relevance store (a folder written by "
                               "'lrp explain ... --out R.zarr')")
        try:
            group = zarr.open_group(self.path, mode="r")
            self.relevance = group[RELEVANCE]
            self.outputs = group[OUTPUTS]
            self.predictions = group[PREDICTIONS]
            self._done = group[DONE]
            attrs = dict(group.attrs)
        except Exception as exc:  # zarr raises many types for foreign or broken stores
            raise DatasetError(f"{self.path}: not a relevance store written by lrp explain "
                               f"({type(exc).__name__}: {exc})") from None
        if PROVENANCE not in attrs or RUN not in attrs:
            raise DatasetError(f"{self.path}: a Zarr store without lrp provenance; not written "
                               "by 'lrp explain'")
        self.provenance = dict(attrs[PROVENANCE])
        self.run = dict(attrs[RUN])
        self.failed = list(attrs.get(FAILED, []))
        self.diagnosis = attrs.get(DIAGNOSIS)  # None for stores of older versions
        self.chunk = int(self.run["chunk"])

    def __len__(self) -> int:
        return int(self.relevance.shape[0])

    @property
    def input(self) -> str:
        return str(self.run["input"])

    @property
    def done(self) -> np.ndarray:
        """Bool per chunk: True where its relevance is stored."""
        return np.asarray(self._done[:]).astype(bool)

    @property
    def complete(self) -> bool:
        return bool(self.done.all())

    def available(self) -> np.ndarray:
        """Bool per sample: True where the relevance is stored (its chunk is done)."""
        return np.repeat(self.done, self.chunk)[: len(self)]

    def heatmaps(self, indices) -> np.ndarray:
        """Relevance of samples ``indices`` (int, slice or sequence), refusing samples whose
        chunk was not computed (their stored values are only the fill value)."""
        idx = np.arange(len(self))[indices]
        missing = np.atleast_1d(idx)[~self.available()[np.atleast_1d(idx)]]
        if missing.size:
            raise DatasetError(f"{self.path}: sample {int(missing[0])} has no relevance yet "
                               "(its chunk was not computed; rerun the same lrp explain "
                               "command to finish the store)")
        if np.ndim(idx) == 0:
            return np.asarray(self.relevance[int(idx)])
        if isinstance(indices, slice):
            return np.asarray(self.relevance[indices])
        return np.asarray(self.relevance.get_orthogonal_selection((np.asarray(idx),)))

    def open_dataset(self):
        """The explained dataset (:func:`lrpcore.open_dataset` of the stored input path)."""
        from .datasets import open_dataset  # noqa: PLC0415

        return open_dataset(self.input)

    def describe(self) -> str:
        p = self.provenance
        state = "complete" if self.complete else f"{int(self.done.sum())} of " \
            f"{self.done.size} chunks done"
        return (f"{self.path}: relevance of {len(self)} samples of {self.input} by "
                f"{p.get('model')} ({p.get('rules')}, target {p.get('target')}), {state}")


def open_relevance_store(path) -> RelevanceStore:
    """Open ``R.zarr`` (written by ``lrp explain ... --out R.zarr``) as precomputed heatmaps.

    Raises :class:`lrpcore.DatasetError` naming the path when it is not such a store or zarr is
    not installed.
    """
    return RelevanceStore(path)
