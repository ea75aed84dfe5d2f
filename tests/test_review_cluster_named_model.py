"""`lrp explain efficientnet-lite0 photos/ --out R.zarr --workers 1`, the README's ImageNet model
by name on a Dask cluster, failed before any chunk: the client turned the name into its weights
file, a PyTorch checkpoint, and loaded that ("a PyTorch checkpoint holds weights, not an
architecture: convert it"). The name now travels to the workers, the checkpoint's SHA-256
with it."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("distributed")
pytest.importorskip("zarr")

import lrpcore  # noqa: E402
from lrpcore.cli.main import main  # noqa: E402
from lrpcore.io import imagenet  # noqa: E402


@pytest.mark.skipif(not imagenet.available(), reason="needs the [imagenet] extra")
def test_a_named_model_explains_on_a_cluster_as_in_one_process(tmp_path):
    from PIL import Image

    photo = tmp_path / "photo.png"
    rng = np.random.default_rng(5)
    Image.fromarray(rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)).save(photo)
    store, single = tmp_path / "R.zarr", tmp_path / "R.npy"
    assert main(["explain", "efficientnet-lite0", str(photo), "--out", str(store),
                 "--workers", "1"]) == 0
    assert main(["explain", "efficientnet-lite0", str(photo), "--out", str(single)]) == 0
    got = lrpcore.open_relevance_store(store)
    assert got.provenance["model"] == "efficientnet-lite0"
    R = np.load(single)
    assert got.heatmaps([0]).shape == R.shape == (1, 3, 224, 224)
    np.testing.assert_allclose(got.heatmaps([0]), R, rtol=0, atol=1e-5 * np.abs(R).max())
