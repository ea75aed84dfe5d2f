"""Rendering: every colormap against the LRP Toolbox's own output (render_dev.npz), the
toolbox's PNG layout byte for byte, robustness (no NaN, caller's arrays untouched, bad input)."""

from __future__ import annotations

import numpy as np
import pytest
from shared_data import SHARED, shared_arrays  # noqa: E402

from lrpcore.errors import ExportError, ShapeError
from lrpcore.render import (
    TOOLBOX_COLORMAPS,
    ColormapError,
    colormap_names,
    compose,
    digit,
    enlarge,
    get_colormap,
    grid,
    heatmap,
    luts,
    outline_mask,
    palette,
    save_png,
    text_mask,
)
from lrpcore.render.font import (
    draw_text,
    line_height,
    text_size,
)

TOL = 1.0 / 255.0


@pytest.fixture(scope="module")
def ref():
    return shared_arrays("reference", "render_dev.npz")


def _cases(ref):
    return list(zip(ref["cmaps"].tolist(), ref["cmap_keys"].tolist(), strict=True))


def test_reference_lists_every_toolbox_map(ref):
    names = ref["cmaps"].tolist()
    assert set(TOOLBOX_COLORMAPS) <= set(names)
    assert set(names) <= set(colormap_names())


@pytest.mark.parametrize("i", range(4))
def test_heatmaps_without_outline_match_toolbox(ref, i):
    for name, key in _cases(ref):
        R = ref["R"][i].copy()
        out = heatmap(R, cmap=name, scaling=3)
        want = ref[f"hm_noX_{key}"][i]
        assert out.shape == want.shape == (96, 96, 3)
        assert np.abs(out - want).max() <= TOL, name
        np.testing.assert_array_equal(R, ref["R"][i])  # never modifies the caller's map


@pytest.mark.parametrize("i", range(4))
def test_heatmaps_with_outline_match_toolbox(ref, i):
    edges = ref["edges"][i]
    for name, key in _cases(ref):
        out = heatmap(ref["R"][i], ref["xs"][i], cmap=name, scaling=3, sigma=2)
        want = ref[f"hm_{key}"][i]
        # colours where the toolbox drew no outline
        assert np.abs(out[~edges] - want[~edges]).max() <= TOL, name
        # our outline pixels are black
        ours = outline_mask(enlarge(ref["xs"][i], 3), 2)
        assert np.all(out[ours] == 0)


def test_outline_mask_matches_toolbox_edges(ref):
    for i in range(4):
        ours = outline_mask(enlarge(ref["xs"][i], 3), 2)
        theirs = ref["edges"][i]
        assert theirs.sum() > 50
        # a different scikit-image may move a few edge pixels; allow 2 % of the outline
        assert (ours != theirs).sum() <= 0.02 * theirs.sum()


def test_digit_matches_toolbox(ref):
    for i in range(4):
        assert np.abs(digit(ref["xs"][i], scaling=3) - ref["digit"][i]).max() <= TOL


@pytest.mark.parametrize("name", ["jet", "seismic", "binary"])
def test_lookup_tables_match_matplotlib_tables(ref, name):
    np.testing.assert_allclose(luts.table(name), ref[f"lut_{name}"], atol=1e-12)


@pytest.mark.parametrize("name", ["bwr", "coolwarm", "jet", "seismic"])
def test_tables_match_installed_matplotlib(name):
    mpl = pytest.importorskip("matplotlib")
    theirs = mpl.colormaps[name](np.linspace(0, 1, 256))[:, :3]
    assert np.abs(luts.table(name) - theirs).max() <= 1.0 / 255.0


def test_compose_equals_toolbox_save_image(ref):
    image = compose([ref["digit"][0], ref["hm_jet"][0]])
    assert image.dtype == np.uint8
    np.testing.assert_array_equal(image, ref["save_image_uint8"])
    ours = compose([digit(ref["xs"][0]), heatmap(ref["R"][0], ref["xs"][0], cmap="jet")])
    np.testing.assert_array_equal(ours, ref["save_image_uint8"])


def test_saved_png_has_reference_pixels(ref, tmp_path):
    skio = pytest.importorskip("skimage.io")
    path = tmp_path / "sample0.png"
    save_png(path, compose([digit(ref["xs"][0]), heatmap(ref["R"][0], ref["xs"][0],
                                                           cmap="jet")]))
    png = SHARED / "reference" / "render_dev_sample0_digit_jet.png"
    np.testing.assert_array_equal(skio.imread(path)[..., :3], skio.imread(png)[..., :3])


def test_compose_clips_instead_of_wrapping():
    a = np.full((2, 2, 3), 1.5)
    b = np.full((2, 2, 3), -0.5)
    out = compose([a, b], gap=1)
    assert out.shape == (2, 5, 3)
    assert np.all(out[:, :2] == 255) and np.all(out[:, 2] == 0) and np.all(out[:, 3:] == 0)
    assert compose([np.full((2, 2, 3), 0.999)])[0, 0, 0] == 254  # truncates like the toolbox


def test_compose_rejects_mismatched_heights_and_nan():
    with pytest.raises(ShapeError, match="height"):
        compose([np.zeros((3, 3, 3)), np.zeros((4, 3, 3))])
    with pytest.raises(ShapeError, match="NaN"):
        compose([np.full((3, 3, 3), np.nan)])


@pytest.mark.parametrize("name", colormap_names())
def test_zero_and_constant_maps_give_no_nan(name):
    for R in (np.zeros((8, 8)), np.full((8, 8), 3.0), np.full((8, 8), -2.0)):
        out = heatmap(R, cmap=name, scaling=2)
        assert out.shape == (16, 16, 3)
        assert np.all(np.isfinite(out)) and out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("name", colormap_names())
def test_palette_agrees_with_heatmap(name):
    cmap = get_colormap(name)
    rng = np.random.default_rng(0)
    R = rng.normal(size=(16, 16))
    if not cmap.is_lookup:
        with pytest.raises(ColormapError):
            palette(name)
        return
    lut = palette(name)
    assert lut.shape == (256, 3) and lut.dtype == np.uint8
    lo, hi = cmap.levels(R)
    idx = np.clip(((R - lo) / (hi - lo) * 256).astype(int), 0, 255)
    via_palette = lut[idx].astype(int)
    direct = (np.clip(heatmap(R, cmap=name, scaling=1), 0, 1) * 255).astype(int)
    # a lookup table quantises to 256 levels: at most one level's difference in colour
    step = np.abs(np.diff(lut.astype(int), axis=0)).max()
    assert np.abs(via_palette - direct).max() <= max(step, 1)


def test_gray_red2_is_not_a_lookup_and_depends_on_scale():
    R = np.zeros((10, 10))
    R[0, 0] = 10.0
    R[1:3] = 1.0
    # var(R) = 1.11: nothing exceeds 10·var. Scaled by 0.01 the cut (10·var = 0.0111) drops
    # every positive value, so the same map turns uniformly light gray.
    plain = heatmap(R, cmap="gray-red2", scaling=1)
    tiny = heatmap(R * 0.01, cmap="gray-red2", scaling=1)
    np.testing.assert_allclose(plain[0, 0], [0.4, 0.0, 0.0])
    np.testing.assert_allclose(tiny, 0.9)
    assert plain.max() <= 0.9


def test_input_layouts_are_equivalent():
    rng = np.random.default_rng(1)
    R = rng.normal(size=(6, 6))
    a = heatmap(R, cmap="black-firered")
    np.testing.assert_array_equal(heatmap(R.reshape(-1), cmap="black-firered"), a)
    stacked = np.stack([R / 2, R / 2], axis=-1)
    np.testing.assert_allclose(heatmap(stacked, cmap="black-firered"), a, atol=1e-12)


def test_bad_relevance_raises_shape_error():
    with pytest.raises(ShapeError, match="NaN"):
        heatmap(np.array([[1.0, np.nan], [0.0, 1.0]]))
    with pytest.raises(ShapeError, match="square"):
        heatmap(np.ones(10))
    with pytest.raises(ShapeError, match="does not match"):
        heatmap(np.ones((4, 4)), x=np.ones((5, 5)))
    with pytest.raises(ShapeError):
        heatmap(np.ones((2, 2, 2, 2)))
    with pytest.raises(ShapeError, match="scaling"):
        heatmap(np.ones((4, 4)), scaling=0)


def test_unknown_colormap_names_known_ones():
    with pytest.raises(ColormapError, match="gray-red"):
        heatmap(np.ones((4, 4)), cmap="no-such-map-xyz")


def test_matplotlib_map_by_name_when_installed():
    pytest.importorskip("matplotlib")
    out = heatmap(np.linspace(-1, 1, 16).reshape(4, 4), cmap="viridis", scaling=1)
    assert out.shape == (4, 4, 3) and np.all(np.isfinite(out))


def test_digit_of_rgb_input_keeps_colours():
    x = np.zeros((2, 2, 3))
    x[..., 0] = 1.0
    out = digit(x, scaling=2)
    assert out.shape == (4, 4, 3)
    assert np.all(out[..., 0] == 1.0) and np.all(out[..., 1:] == 0.0)


def test_save_png_refuses_overwrite_and_leaves_no_partial(tmp_path, monkeypatch):
    path = tmp_path / "a.png"
    save_png(path, np.zeros((4, 4, 3)))
    first = path.read_bytes()
    with pytest.raises(ExportError, match="exists"):
        save_png(path, np.ones((4, 4, 3)))
    assert path.read_bytes() == first
    save_png(path, np.ones((4, 4, 3)), overwrite=True)
    assert path.read_bytes() != first

    def fail(*_a, **_k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.replace", fail)
    monkeypatch.setattr("os.link", fail)  # a new file takes its name by a hard link
    with pytest.raises(ExportError, match="b.png"):
        save_png(tmp_path / "b.png", np.zeros((4, 4, 3)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]


def test_save_png_under_a_regular_file_raises_export_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ExportError, match="file"):
        save_png(blocker / "out.png", np.zeros((4, 4, 3)))


def test_text_and_grid_layout():
    m = text_mask("AB")
    h, w = text_size("AB")
    assert m.shape == (h, w) == (line_height(), w) and m.any() and w > h / 2
    assert not np.array_equal(text_mask("A"), text_mask("B"))
    assert not np.array_equal(text_mask("a"), text_mask("A"))  # a real font: lower case
    assert text_size("AB", 2)[0] >= 2 * h - 2  # scalable
    img = np.full((h, w, 3), 255, dtype=np.uint8)
    draw_text(img, "AB", 0, 0)
    grays = np.unique(img)
    assert grays.min() < 64 and ((grays > 0) & (grays < 255)).any()  # anti-aliased ink
    cells = [[np.zeros((10, 10, 3)), np.ones((10, 10, 3))]] * 2
    out = grid(cells, col_titles=["one", "two"], row_titles=["#0", "#1"], gap=2)
    assert out.dtype == np.uint8 and out.ndim == 3
    assert (out[:7 + 6] == 0).any()  # ink of the titles
    with pytest.raises(ShapeError):
        grid([[np.zeros((4, 4, 3))], []])


def test_benchmark_28x28_heatmap_with_outline(benchmark):
    rng = np.random.default_rng(0)
    R = rng.normal(size=(28, 28))
    x = rng.random((28, 28))
    out = benchmark(heatmap, R, x, cmap="black-firered", scaling=3, sigma=2)
    assert out.shape == (84, 84, 3)
