"""`lrp-explorer --model efficientnet-lite0` (no dataset) opened no data: the remembered and
default datasets hold digits, which the photograph model refuses, and the window only said
what would fit. At start, with no dataset asked for, the built-in dataset that fits the model
opens instead, with no refusal left to show."""

from __future__ import annotations

from lrpgui.session import Session, fitting_dataset


def test_a_photograph_model_alone_opens_the_photographs():
    read = Session.read_initial(model="efficientnet-lite0")
    assert read.model is not None and read.dataset is not None
    assert read.dataset.name == "natural-images"
    assert read.problems == ()


def test_remembered_digits_give_way_to_data_that_fits_too():
    read = Session.read_initial(model="efficientnet-lite0", last_dataset="mnist-test")
    assert read.dataset is not None and read.dataset.name == "natural-images"


def test_a_dataset_asked_for_is_never_replaced():
    read = Session.read_initial(model="efficientnet-lite0", dataset="mnist-test")
    assert read.dataset is None
    assert [quiet for _, quiet in read.problems] == [False]  # said, as before


def test_the_digit_model_keeps_its_digits():
    read = Session.read_initial(model="mnist-lenet5")
    assert fitting_dataset(read.model) == "mnist-test"
    assert read.dataset is not None and read.dataset.name == "mnist-test"

