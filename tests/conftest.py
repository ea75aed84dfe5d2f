"""Shared fixtures: paths to ../shared (read-only reference material beside the checkout)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from shared_data import SHARED, shared_arrays, shared_path  # noqa: F401 (re-exported)

# Passes split over the cores as on an idle machine, however busy this one is while the tests
# run (other suites beside them): which route a pass takes must not depend on the load.
# tests/test_cpu_load.py takes this away where it tests the load itself.
os.environ["LRP_IGNORE_CPU_LOAD"] = "1"


@pytest.fixture(autouse=True)
def settings_file(tmp_path_factory, monkeypatch):
    """The explorer's settings of every test in a private ini (tests/gui/conftest.py gives its
    tests their own in tmp_path): a test outside tests/gui that opened a MainWindow (the batch
    export shared with lrp demo) wrote its temporary files into the user's recent lists."""
    path = tmp_path_factory.mktemp("settings") / "lrp-explorer.ini"
    monkeypatch.setenv("LRP_EXPLORER_SETTINGS", str(path))
    return path


@pytest.fixture(scope="session")
def lenet_txt() -> Path:
    return shared_path("models", "lrp_toolbox", "LeNet-5.txt")


@pytest.fixture(scope="session")
def lenet(lenet_txt):
    import lrpcore

    return lrpcore.load_model(lenet_txt)


@pytest.fixture(scope="session")
def reference():
    return shared_arrays("reference", "lenet5_dev.npz")
