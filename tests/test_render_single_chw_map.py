"""A single C×H×W relevance map whose sidecar names its sample (the explorer's Export .npy of
a PyTorch-layout model, e.g. EfficientNet-Lite0) is one map (acceptance review: `lrp figure`
drew a photograph's three channels as three samples beside samples 0, 1 and 2 of the dataset,
and `lrp render` drew its first channel only)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lrpcore.cli.main import main


@pytest.fixture
def maps(tmp_path):
    R = np.random.default_rng(0).normal(size=(3, 16, 16)).astype(np.float32)
    single = tmp_path / "relevance_5.npy"
    np.save(single, R)
    single.with_name(single.name + ".json").write_text(json.dumps(
        {"file": single.name, "format": "npy", "shape": [3, 16, 16], "sample": 5}))
    batch = tmp_path / "batch.npy"  # the same map as `lrp explain` writes it: N×C×H×W
    np.save(batch, R[None])
    return single, batch


def test_figure_draws_one_sample(maps, tmp_path, capsys):
    single, _ = maps
    out = tmp_path / "fig.png"
    assert main(["figure", str(single), "--colormap", "bwr", "--out", str(out)]) == 0
    assert "(1 sample × 1 colormap)" in capsys.readouterr().out
    assert json.loads((tmp_path / "fig.png.json").read_text())["samples"] == [5]


def test_render_draws_all_channels(maps, tmp_path):
    single, batch = maps
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    assert main(["render", str(single), "--no-outline", "--out", str(a)]) == 0
    assert main(["render", str(batch), "--no-outline", "--out", str(b)]) == 0
    assert a.read_bytes() == b.read_bytes()


@pytest.mark.parametrize("command", ["render", "figure"])
def test_an_overlay_export_is_no_relevance(tmp_path, capsys, command):
    """The explorer's overlay .npy (a heatmap blended over the photograph, RGB in [0, 1]) was
    drawn as if it were relevance, exit 0."""
    from lrpcore.export import export_overlay

    rng = np.random.default_rng(1)
    paths = export_overlay(tmp_path / "overlay_0.png", rng.normal(size=(16, 16, 3)),
                           rng.uniform(size=(16, 16, 3)), overwrite=True)
    npy = next(p for p in paths if str(p).endswith(".npy"))
    out = tmp_path / "out.png"
    assert main([command, str(npy), "--out", str(out)]) == 2
    assert "an overlay image" in capsys.readouterr().err and not out.exists()
