"""``lrp info`` cuts node names longer than NAME_WIDTH in the middle and keeps them apart
(a model file's node names were printed in full, any length)."""

from __future__ import annotations

import dataclasses

import lrpcore
from lrpcore.cli.main import main
from lrpcore.graph import NAME_WIDTH, GraphModel
from lrpcore.text import elide_middle, unique_elided


def _renamed(model, rename):
    nodes = [dataclasses.replace(n, name=rename(k, n.name)) for k, n in enumerate(model.nodes)]
    return GraphModel(nodes, model.input_name, model.nodes[-1].output, model.input_spec,
                      dict(model.meta))


def test_lrp_info_shortens_long_node_names_and_keeps_them_unique(tmp_path, capsys):
    from lrpcore.zoo import mnist_resnet

    base = mnist_resnet()
    deep = "/encoder" * 40  # 320 characters before each name, the same for every node
    model = _renamed(base, lambda k, name: (deep + "/" + name) if k % 2 else name)
    path = tmp_path / "long.npz"
    lrpcore.save_model(model, path)
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    rows = [ln for ln in out.splitlines() if ln[:3].strip().isdigit()]
    assert len(rows) == len(model.nodes)
    shown = [ln.split("  ")[-1] for ln in rows]
    assert len(set(shown)) == len(shown)
    assert all(len(s) <= NAME_WIDTH for s in shown)
    assert max(len(ln) for ln in rows) < 140
    for node, text in zip(model.nodes, shown, strict=True):
        if len(node.name) <= NAME_WIDTH:
            assert text == node.name  # short names (EfficientNet's ≤ 46) as they are
        else:
            assert "…" in text and text.startswith("/encoder")
            assert text.endswith(node.name.rsplit("/", 1)[-1]), text


def test_names_that_differ_only_in_the_middle_stay_apart():
    a = "/m" + "/x" * 50 + "/a" + "/x" * 50 + "/Conv"
    b = "/m" + "/x" * 50 + "/b" + "/x" * 50 + "/Conv"
    forms = unique_elided([a, b, "/m/Conv", "/m/Conv2"], 30)
    assert len(set(forms)) == 4 and all(len(f) <= 30 for f in forms)
    assert forms[2:] == ["/m/Conv", "/m/Conv2"]
    assert elide_middle("a\x1b[31m" + "z" * 100, 20).startswith("a") and "\x1b" not in \
        elide_middle("a\x1b[31m" + "z" * 100, 20)
