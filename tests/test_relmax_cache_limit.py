"""The RelMax reference cache is bounded: at most ``LRP_RELMAX_CACHE_MAX_MB``, the entries used
longest ago removed first; a result larger than the whole cap is returned but not kept; a bad
setting is refused with the variable's name. (The computation is replaced by references of a
chosen size, written here, so that the test is about the cache alone.)"""

from __future__ import annotations

import numpy as np
import pytest

import lrpcore
from lrpcore import relmax
from lrpcore.errors import LRPError
from lrpcore.explain import Explainer
from lrpcore.limits import RELMAX_CACHE_MAX

MB = 2**20


@pytest.fixture(scope="module")
def lenet():
    return Explainer(lrpcore.load_model("mnist-lenet5"), "numpy")


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LRP_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("LRP_RELMAX_CACHE_MAX_MB", "1")
    computed = []

    def fake(explainer, images, k, rule=None, target="pred", labels=None, n=8, **kw):
        computed.append(k)
        side = int(images)  # the "dataset" says how large the result is: side² float32 maps
        return relmax.References(k, np.zeros((1, 1), np.int64), np.zeros((1, 1)),
                                 np.zeros((1, 1, 4), np.int32),
                                 np.ones((1, 1, side, side), np.float32), np.zeros((1, 1)))

    monkeypatch.setattr(relmax, "compute_references", fake)
    return tmp_path / "relmax", computed


def entries(folder):
    return sorted(p.name for p in folder.glob("*.npz"))


def size(folder):
    return sum(p.stat().st_size for p in folder.glob("*.npz"))


def key(lenet, layer):
    return relmax.cache_key(lenet.model, relmax._config(lenet, "flat"), "pred", layer, "d", 8)


def test_the_cache_keeps_to_its_cap_evicting_the_least_recently_used(lenet, cache):
    folder, computed = cache
    side = 290  # 0.32 MB an entry: three fit into 1 MB, four do not
    for layer in (0, 3, 6):
        relmax.references(lenet, side, layer, "flat", dataset_id="d")
    assert len(entries(folder)) == 3
    relmax.references(lenet, side, 0, "flat", dataset_id="d")  # a hit: layer 0 is fresh again
    assert computed == [0, 3, 6]
    relmax.references(lenet, side, 9, "flat", dataset_id="d")  # a fourth entry
    assert entries(folder) == sorted(f"{key(lenet, k)}.npz" for k in (0, 6, 9))  # 3 went
    assert size(folder) <= 1 * MB


def test_a_result_larger_than_the_cap_is_not_kept(lenet, cache):
    folder, computed = cache
    relmax.references(lenet, 300, 0, "flat", dataset_id="d")
    refs = relmax.references(lenet, 600, 3, "flat", dataset_id="d")  # 1.4 MB alone
    assert refs.heatmaps.shape == (1, 1, 600, 600)
    assert entries(folder) == [f"{key(lenet, 0)}.npz"]


def test_the_default_and_a_bad_setting(lenet, cache, monkeypatch):
    monkeypatch.delenv("LRP_RELMAX_CACHE_MAX_MB")
    assert RELMAX_CACHE_MAX.bytes() == 256 * MB
    monkeypatch.setenv("LRP_RELMAX_CACHE_MAX_MB", "-3")
    with pytest.raises(LRPError, match="LRP_RELMAX_CACHE_MAX_MB='-3'"):
        relmax.references(lenet, 300, 0, "flat", dataset_id="d")
    assert cache[1] == []  # refused before any work
