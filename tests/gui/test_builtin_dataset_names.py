"""A built-in dataset chosen in the browser's list opens the built-in one, even where the
working folder has a folder of that name: "mnist-test" opened a local ``mnist-test`` folder
(three images here) instead of the bundled 10,000 digits. A path typed by the user stays a
path, as for ``lrp``: ``open_dataset("mnist-test")`` and ``--dataset mnist-test`` there open
the folder, by its absolute path."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtWidgets import QWidget


@pytest.fixture
def local_mnist_test(tmp_path, monkeypatch):
    """A working folder holding an image folder named like the built-in ``mnist-test``."""
    from PIL import Image

    folder = tmp_path / "work" / "mnist-test"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(2)
    for k in range(3):
        Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8)).save(folder / f"{k}.png")
    monkeypatch.chdir(folder.parent)
    return folder


def choose(qtbot, window, label):
    """Click the browser's dataset entry ``label`` and wait until its dataset is open."""
    lst = window.findChild(QWidget, "datasetBrowser")
    item = next(lst.item(r) for r in range(lst.count()) if lst.item(r).text() == label)
    before = window.state.dataset
    lst.itemClicked.emit(item)
    qtbot.waitUntil(lambda: window.state.dataset is not before, timeout=20000)


def test_the_listed_built_in_name_opens_the_built_in_dataset(make_window, qtbot,
                                                             local_mnist_test):
    window = make_window()
    choose(qtbot, window, "mnist-test")
    assert len(window.state.dataset) == 10000  # the bundled digits, not the 3 local images
    assert window.state.dataset_name == "mnist-test"
    qtbot.waitUntil(lambda: window.state.explanation is not None, timeout=20000)
    # a path typed (a script, --dataset) is the folder
    assert window.open_dataset("mnist-test") is True
    assert len(window.state.dataset) == 3
    assert window.state.dataset_name == str(local_mnist_test)
    # the folder's entry (recent, by its path) opens the folder, the built-in's the built-in
    choose(qtbot, window, "mnist-test")
    assert len(window.state.dataset) == 10000
    window.close()


def test_a_remembered_built_in_name_opens_the_built_in_dataset(local_mnist_test, toy_files):
    """The last session's "mnist-test" (remembered as the bare name it was opened by) is the
    built-in dataset at the next start; the same text typed as --dataset is the folder."""
    from lrpgui.session import Session

    model = str(toy_files[0])
    read = Session.read_initial(model, None, None, "mnist-test")
    assert not read.problems and len(read.dataset.dataset) == 10000
    typed = Session.read_initial(model, "mnist-test", None, None)
    assert not typed.problems and len(typed.dataset.dataset) == 3
    assert typed.dataset.name == str(local_mnist_test)
