"""A relevance store (``R.zarr``) made as ``lrp explain --out R.zarr`` makes it, on an
in-process Dask cluster of one single-threaded worker: the fixture several tests share."""

from __future__ import annotations


def job_args(model, source, rule="epsilon:0.01", batch_size=32, target="pred") -> dict:
    """What ``lrp explain MODEL DATA --out R.zarr`` passes to ``explain_to_store``: numpy,
    float64, the predicted class (or ``target``), images as given."""
    return {"model": str(model), "backend": "numpy", "dtype": "float64", "rule": rule,
            "layer_rules": {}, "target": target, "raw": False, "batch_size": batch_size,
            "source": source}


def explain_to_local_store(model, source, out, rule="epsilon:0.01", batch_size=32,
                           target="pred", labels=None):
    """The run's result (its ``failed`` chunks: [] when every chunk was written)."""
    import distributed

    from lrpcore import distributed as dist

    with distributed.Client(processes=False, n_workers=1, threads_per_worker=1,
                            dashboard_address=None) as client:
        return dist.explain_to_store(job_args(model, source, rule, batch_size, target), out,
                                     client=client, labels=labels, progress=False)


def lenet_store_of_random_digits(folder):
    """``folder/R.zarr``: LeNet-5's relevance of twelve random digits (seed 0, saved as
    ``folder/x.npy``), in chunks of six; the store the spray-of-a-store tests read. Skips
    without zarr or distributed."""
    import numpy as np
    import pytest

    pytest.importorskip("zarr")
    pytest.importorskip("distributed")
    from lrpcore import distributed as dist

    x = folder / "x.npy"
    np.save(x, np.random.RandomState(0).randint(0, 255, (12, 28, 28)).astype(np.float64))
    source, _ = dist.open_source(str(x))
    store = folder / "R.zarr"
    assert explain_to_local_store("mnist-lenet5", source, store, batch_size=6).failed == []
    return store
