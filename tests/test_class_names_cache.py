"""``model.class_names`` of a model without names: the numbered names ("0", "1", ...) are built
once per output count (100,000 of them took ~7 ms on every access); new names in the metadata
or an output of another size take effect at once, and a caller changing its copy changes
nothing."""

from __future__ import annotations

import numpy as np

from lrpcore.layers import Linear
from lrpcore.model import Sequential


def test_numbered_class_names_are_built_once_and_follow_changes():
    model = Sequential([Linear(np.zeros((2, 20000)), np.zeros(20000))])
    a, b = model.class_names, model.class_names
    assert a == b == [str(i) for i in range(20000)]
    assert a is not b and a[12345] is b[12345]  # the same strings: not built again
    a[0] = "changed by a caller"
    assert model.class_names[0] == "0"
    model.meta["class_names"] = [f"c{i}" for i in range(20000)]
    assert model.class_names[7] == "c7"
    model.meta["class_names"][7] = "renamed in place"
    assert model.class_names[7] == "renamed in place"
    del model.meta["class_names"]
    model.layers.append(Linear(np.zeros((20000, 3)), np.zeros(3)))
    assert model.class_names == ["0", "1", "2"]
