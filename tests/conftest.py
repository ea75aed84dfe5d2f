"""Shared fixtures: paths to ../shared (read-only reference material beside the checkout)."""

from __future__ import annotations

from pathlib import Path

import pytest
from shared_data import SHARED, shared_path  # noqa: F401 (re-exported for the tests)


@pytest.fixture(scope="session")
def lenet_txt() -> Path:
    return shared_path("models", "lrp_toolbox", "LeNet-5.txt")


@pytest.fixture(scope="session")
def lenet(lenet_txt):
    import lrpcore

    return lrpcore.load_model(lenet_txt)


@pytest.fixture(scope="session")
def reference():
    import numpy as np

    with np.load(shared_path("reference", "lenet5_dev.npz")) as data:
        return {k: data[k] for k in data.files}
