"""A Zarr input's own chunking cannot make the distributed run unbounded: a chunk that
decompresses to gigabytes, samples split into thousands of chunks, or a declared sample count
that makes millions of tasks are refused from the metadata, before a cluster starts (exit 2,
one line naming the input and the problem, nothing written). The arrays are metadata only,
written here (no chunk is stored: a tiny file may declare any of this). A worker's cache of
loaded models is bounded too."""

from __future__ import annotations

from pathlib import Path

import pytest

zarr = pytest.importorskip("zarr")
pytest.importorskip("distributed")

from lrpcore import distributed as dist  # noqa: E402
from lrpcore.cli.main import main  # noqa: E402
from lrpcore.errors import DatasetError, RuleError  # noqa: E402

MODEL = Path(__file__).resolve().parents[1] / "models" / "mnist-dense-rect.npz"


def array(path, shape, chunks, dtype="uint8"):
    zarr.create_array(store=str(path), shape=shape, chunks=chunks, dtype=dtype)
    return path


def refused(tmp_path, capsys, x, *words, extra=()):
    before = sorted(p.name for p in tmp_path.iterdir())
    code = main(["explain", str(MODEL), str(x), "--out", str(tmp_path / "R.zarr"), *extra])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for w in (str(x), *words):
        assert w in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no store, no temporary


def test_the_stated_bounds():
    assert (dist.MAX_CHUNK_BYTES, dist.MAX_CHUNKS_PER_SAMPLE, dist.MAX_TASKS) == (
        2**30, 4096, 1_000_000)


def test_gigantic_chunks_are_refused(tmp_path, capsys):
    x = array(tmp_path / "x.zarr", (4, 784), (10_000_000, 784), "float64")
    refused(tmp_path, capsys, x, "chunks of 10000000×784", "59,814 MB each",
            "more than the 1,024 MB", "rechunk")


def test_samples_split_into_thousands_of_chunks_are_refused(tmp_path, capsys):
    x = array(tmp_path / "x.zarr", (2, 100, 100), (1, 1, 1))
    refused(tmp_path, capsys, x, "10,000 pieces", "more than 4,096")


def test_a_sample_count_making_too_many_tasks_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(dist, "MAX_TASKS", 10)
    x = array(tmp_path / "x.zarr", (100, 784), (10, 784))
    refused(tmp_path, capsys, x, "100 samples in passes of at most 4 make 25 tasks",
            "--batch-size", extra=("--batch-size", "4"))


@pytest.mark.parametrize("shape, words", [((), "a single value, not a batch"),
                                          ((5,), "expected a batch of samples")])
def test_arrays_without_samples_are_refused_naming_the_input(tmp_path, capsys, shape, words):
    x = array(tmp_path / "x.zarr", shape, shape, "float64")
    refused(tmp_path, capsys, x, words)


def test_one_sample_a_chunk_and_whole_sample_chunks_are_accepted(tmp_path):
    for k, chunks in enumerate([(1, 784), (5000, 784)]):
        source, _ = dist.open_source(array(tmp_path / f"x{k}.zarr", (10_000, 784), chunks))
        assert source.shape == (10_000, 784)
    with pytest.raises(DatasetError, match="not numbers"):
        dist.open_source(array(tmp_path / "s.zarr", (4, 3), (4, 3), "complex64"))


def test_passes_that_would_make_store_chunks_beyond_the_bound_are_refused(tmp_path,
                                                                          monkeypatch):
    monkeypatch.setattr(dist, "MAX_CHUNK_BYTES", 10_000)  # 784 float64 values: 6,272 bytes
    source, _ = dist.open_source(array(tmp_path / "x.zarr", (8, 784), (8, 784)))
    args = {"model": str(MODEL), "backend": "numpy", "dtype": "float64", "rule": None,
            "layer_rules": {}, "target": "pred", "raw": False, "batch_size": 2,
            "source": source}
    with pytest.raises(RuleError, match="--batch-size 2: passes of 2 samples make store "
                                        "chunks of .* MB, more than"):
        dist.explain_to_store(args, tmp_path / "R.zarr", client=None)
    assert not (tmp_path / "R.zarr").exists()


def test_a_worker_keeps_a_bounded_number_of_explainers(tmp_path, monkeypatch):
    """A long-lived cluster serves many runs: each worker keeps at most MAX_WORKER_MODELS
    explainers (least recently used dropped), not one per rule ever asked for."""
    from lrpcore.export import sha256_file

    monkeypatch.setattr(dist, "_CACHE", type(dist._CACHE)())
    source, _ = dist.open_source(array(tmp_path / "x.zarr", (2, 784), (2, 784)))
    rules = [f"epsilon:{k}" for k in (0.01, 0.1, 1, 2, 3, 4)]
    for rule in rules + [rules[-1]]:
        dist._explainer(dist.Job(str(MODEL), sha256_file(MODEL), "numpy", "float64", rule, (),
                                 "pred", False, source, str(tmp_path / "R.zarr"), 2))
    assert dist.MAX_WORKER_MODELS == 4
    assert [k[3] for k in dist._CACHE] == rules[2:]
