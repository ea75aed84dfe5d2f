"""Sanity checks for explanations: cascading model-parameter randomisation.

Adebayo et al. (2018), "Sanity checks for saliency maps", NeurIPS: an explanation of a
model's decision must depend on the model. Re-initialise the weighted layers with random
weights, from the output towards the input, one more at each step, and compare the heatmaps
with the original ones: Spearman rank correlation and SSIM (scikit-image) per sample. A method
whose heatmaps stay similar while the model is destroyed explains the input, not the model,
and fails the check (Sixt et al., 2020, "When explanations lie", show why z⁺/αβ can).

The randomised models are copies: the loaded model and its cached device weights are never
touched. Random weights are drawn from a normal distribution with the mean and standard
deviation of the layer's own weights (and biases), seeded, so a run can be repeated.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import RuleError, ShapeError
from ..explain import Explainer, resolve_rules
from ..model import Sequential
from ..targets import one_class_per_sample
from .baselines import attribute, baseline_name, model_class_names, output_seed
from .tasks import check_cancel, report, spread_indices

# The check fails when, with at least half of the weighted layers randomised (from the top),
# the heatmaps still correlate with the original ones this much (the median over samples of
# |Spearman's ρ| or of |SSIM|: a map that only changed its sign is the same map, whichever
# samples' maps flipped — as a median of signed ρ, half flipped and half not made ≈ 0).
SIMILAR = 0.5


def weighted_layers(model) -> list[int]:
    """Indices (in ``model.layers``) of the layers with weights, input first."""
    return [i for i, layer in enumerate(model.layers) if getattr(layer, "weighted", False)]


def randomised_copy(model, layers, seed=0) -> Sequential:
    """A copy of ``model`` whose ``layers`` (indices) have fresh random weights and biases.

    The other layers are shared with ``model`` (they are not modified); the randomised ones
    are new objects with an empty device cache.
    """
    rng = np.random.default_rng(seed)
    new = list(model.layers)
    for i in sorted(layers):
        old = model.layers[i]
        if not getattr(old, "weighted", False):
            raise ShapeError(f"layer {i} ({old.describe()}) has no weights to randomise")
        layer = copy.copy(old)
        layer._device_cache = {}
        layer.W = _like(old.W, rng)
        if getattr(old, "B", None) is not None:
            layer.B = _like(old.B, rng)
        new[i] = layer
    if getattr(model, "is_graph", False):  # the same graph, nodes holding the new layers
        from ..graph import GraphModel  # noqa: PLC0415

        nodes = [dataclasses.replace(node, layer=layer)
                 for node, layer in zip(model.nodes, new, strict=True)]
        return GraphModel(nodes, model.input_name, model.output_name, model.input_spec,
                          dict(model.meta), model.source, model.convention)
    return Sequential(new, model.input_spec, dict(model.meta), model.source)


def _like(a, rng) -> np.ndarray:
    a = np.asarray(a)
    sd = float(a.std()) or 1e-2
    return rng.normal(float(a.mean()), sd, a.shape).astype(a.dtype)


def spearman_rows(a, b) -> np.ndarray:
    """Spearman rank correlation of every row pair (ties get their mean rank; constant rows
    correlate 0)."""
    from scipy.stats import rankdata  # noqa: PLC0415

    ra = rankdata(a, axis=1)
    rb = rankdata(b, axis=1)
    ra -= ra.mean(axis=1, keepdims=True)
    rb -= rb.mean(axis=1, keepdims=True)
    den = np.sqrt((ra * ra).sum(axis=1) * (rb * rb).sum(axis=1))
    with np.errstate(all="ignore"):
        return np.where(den > 0, (ra * rb).sum(axis=1) / np.where(den > 0, den, 1), 0.0)


def ssim_rows(a, b) -> np.ndarray:
    """SSIM (scikit-image) of every pair of 2-D maps, each scaled by its largest |value|."""
    from skimage.metrics import structural_similarity  # noqa: PLC0415

    out = np.empty(a.shape[0])
    for i in range(a.shape[0]):
        x, y = _unit(a[i]), _unit(b[i])
        win = min(7, *x.shape)
        win -= (win + 1) % 2  # odd
        out[i] = structural_similarity(x, y, data_range=2.0, win_size=max(win, 3)) \
            if min(x.shape) >= 3 else _pearson(x.ravel(), y.ravel())
    return out


def _pearson(x, y) -> float:
    """Correlation of two maps too small for SSIM's window (the XOR net's 2 inputs); a
    constant one correlates 0, as in :func:`spearman_rows` (np.corrcoef gave NaN, printed
    as "|SSIM| nan", with numpy's RuntimeWarning on stderr)."""
    x, y = x - x.mean(), y - y.mean()
    den = float(np.sqrt((x * x).sum() * (y * y).sum()))
    return float((x * y).sum() / den) if den > 0 else 0.0


def _unit(m) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    v = np.abs(m).max()
    return m / v if v > 0 else m


def as_maps(R, spec) -> np.ndarray:
    """Relevance (N, *model input) as 2-D maps (N, H, W): channels summed, padding cropped."""
    R = np.asarray(R, dtype=np.float64)
    if spec is not None:
        try:
            R = spec.unpad(R)
        except Exception:  # a layout unpad does not know: use the model layout
            if R.ndim == 4 and getattr(spec, "layout", "NHWC") == "NCHW":
                return R.sum(axis=1)
    if R.ndim == 4:
        return R.sum(axis=3)
    if R.ndim == 3:
        return R
    flat = R.reshape(R.shape[0], -1)
    raw = tuple(getattr(spec, "raw_shape", ()) or ())
    if len(raw) >= 2 and int(np.prod(raw[:2])) == flat.shape[1]:
        return flat.reshape(flat.shape[0], raw[0], raw[1])
    side = int(round(flat.shape[1] ** 0.5))
    if side * side == flat.shape[1]:
        return flat.reshape(-1, side, side)
    return flat.reshape(flat.shape[0], 1, -1)


@dataclass(frozen=True)
class SanityStep:
    """The heatmaps after randomising ``randomised`` (layer indices, top first)."""

    randomised: tuple
    descriptions: tuple
    spearman: np.ndarray = field(repr=False)  # per sample, against step 0
    ssim: np.ndarray = field(repr=False)
    maps: np.ndarray = field(repr=False)  # (keep, H, W) of samples spread over the batch

    @property
    def label(self) -> str:
        if not self.randomised:
            return "original"
        return f"top {len(self.randomised)} random (to layer {self.randomised[-1]})"

    @property
    def spearman_median(self) -> float:
        return float(np.median(self.spearman))

    @property
    def ssim_median(self) -> float:
        return float(np.median(self.ssim))

    @property
    def spearman_abs_median(self) -> float:
        """The median over samples of |ρ|: how alike each map stays, whatever its sign."""
        return float(np.median(np.abs(self.spearman)))

    @property
    def ssim_abs_median(self) -> float:
        return float(np.median(np.abs(self.ssim)))

    def similar(self, threshold=None) -> bool:
        """Whether the heatmaps still look like the original ones: the median over samples
        of |ρ| or of |SSIM| at or above the threshold (a map that only flipped its sign is
        the same map, also where only some samples' maps flipped)."""
        t = SIMILAR if threshold is None else threshold
        return self.spearman_abs_median >= t or self.ssim_abs_median >= t


@dataclass(frozen=True)
class SanityResult:
    rule: str
    n: int
    steps: tuple  # SanityStep, step 0 = the original model
    inputs: np.ndarray = field(repr=False)  # (keep, H, W[, C]) in [0, 1], the samples drawn
    seconds: float
    threshold: float = SIMILAR

    @property
    def weighted(self) -> int:
        return len(self.steps) - 1

    @property
    def judged_from(self) -> int:
        """The first step counted: half of the weighted layers randomised (at least one)."""
        return max(1, -(-self.weighted // 2))

    @property
    def failing_steps(self) -> list[int]:
        """Steps (from ``judged_from`` on) whose heatmaps stay similar to the original."""
        return [k for k in range(self.judged_from, len(self.steps))
                if self.steps[k].similar(self.threshold)]

    @property
    def passed(self) -> bool:
        return not self.failing_steps

    def verdict(self) -> str:
        if self.passed:
            return (f"PASS: {self.rule} changes as the model is randomised (median Spearman "
                    f"|ρ| {rounded(self.steps[-1].spearman_abs_median)}, |SSIM| "
                    f"{rounded(self.steps[-1].ssim_abs_median)} with every layer random)")
        k = self.failing_steps[0]
        s = self.steps[k]
        return (f"FAIL: {self.rule} stays similar to the original with {s.label} (median "
                f"Spearman |ρ| {rounded(s.spearman_abs_median)}, |SSIM| "
                f"{rounded(s.ssim_abs_median)}; ≥ {self.threshold:g}): it explains the input "
                "more than the model")


def cascading_randomisation(model, x, rule, target="pred", labels=None, raw=False, seed=0,
                            keep_maps=4, backend=None, dtype="float32", batch_size=256,
                            progress=None, cancel=None, on_step=None,
                            layer_rules=None) -> SanityResult:
    """Heatmaps of ``rule`` (a rule spec, preset, ``sensitivity`` or ``gradxinput``; with
    ``layer_rules`` as ``lrp explain --layer-rule`` takes them) on the samples ``x`` as the
    weighted layers are randomised from the output down, one per step.

    The explained class of each sample is the original model's (target ``pred`` means the
    prediction before randomising), so every step explains the same output unit.
    ``on_step(step, done, total)`` is called after each step. ``x`` holds raw samples unless
    ``raw``, as in :func:`lrpcore.explain`; the defaults are ``lrp sanity``'s, float32
    included. The result's ``passed`` and ``verdict()`` say what the command's exit status and
    summary line say; ``steps`` hold each step's Spearman ρ and SSIM per sample.
    """
    from .pixelflip import check_seed  # noqa: PLC0415

    check_seed(seed)
    t0 = time.perf_counter()
    base = Explainer(model, backend, dtype)
    label = str(rule)
    if baseline_name(rule) is None:
        config = resolve_rules(base.layers, rule, layer_rules)  # a bad spec fails first
        label = config.description if layer_rules else label
    elif not isinstance(rule, str):
        raise RuleError(f"unknown method {rule!r}")
    elif layer_rules:
        raise RuleError(f"{rule} is no LRP rule: it takes no per-layer rules")
    target = one_class_per_sample(target, "the sanity check", lambda: base.model.class_names,
                                  model=base.model)
    X = base.user_prepare(x, raw)  # a RawValuesWarning as explain gives
    n = X.shape[0]
    order = [i for i in reversed(weighted_layers(model))
             if i < len(base.layers)]  # a final SoftMax has no weights anyway
    if not order:
        raise ShapeError("the model has no weighted layers to randomise")
    targets = np.empty(n, dtype=np.int64)
    # passes of at most batch_size samples, fewer where their activations would not fit
    # Explainer.passes (64 photographs took 1.7 GB in one forward pass)
    passes = base.passes(X.shape, batch_size)
    for a, b in passes:
        fwd = base.forward(X[a:b], raw=True)
        lab = None if labels is None else np.asarray(labels).reshape(-1)[a:b]
        targets[a:b] = base.backend.to_numpy(
            output_seed(fwd.output, target, lab, base.backend.xp,
                        model_class_names(fwd))).argmax(axis=1)
    spec = model.input_spec
    shown = spread_indices(n, keep_maps)  # the samples drawn: spread over the batch
    total = (len(order) + 1) * n
    steps, original = [], None
    for k in range(len(order) + 1):
        check_cancel(cancel)
        chosen = tuple(order[:k])
        m = model if k == 0 else randomised_copy(model, chosen, seed=seed + k)
        ex = base if k == 0 else Explainer(m, base.backend, base.dtype)
        R = np.empty(X.shape, dtype=np.float64)
        for a, b in passes:
            check_cancel(cancel)
            fwd = ex.forward(X[a:b], raw=True)
            with np.errstate(all="ignore"):
                R[a:b] = attribute(fwd, rule, targets[a:b], layer_rules=layer_rules)
            report(progress, k * n + b, total)
        maps = np.nan_to_num(as_maps(R, spec))
        if original is None:
            if not np.any(maps):  # blank stays blank: SSIM 1 read as "explains the input"
                raise RuleError(f"{rule}: the original model's heatmaps are blank (relevance "
                                f"0 everywhere) for all {n} samples: nothing to compare as "
                                "it is randomised (a model of zero weights?)")
            original = maps
        flat_o = original.reshape(n, -1)
        flat = maps.reshape(n, -1)
        step = SanityStep(chosen, tuple(model.layers[i].describe() for i in chosen),
                          spearman_rows(flat_o, flat), ssim_rows(original, maps),
                          maps[shown].copy())
        steps.append(step)
        if on_step is not None:
            on_step(step, k + 1, len(order) + 1)
    x01 = _unit_inputs(spec, X[shown])
    return SanityResult(label, n, tuple(steps), x01, time.perf_counter() - t0)


def _unit_inputs(spec, X):
    """The samples in [0, 1] as the raw images (padding cropped, channels kept: a photograph
    stays in colour), else as 2-D maps."""
    from ..spec import unit_inputs  # noqa: PLC0415

    x01 = unit_inputs(spec, X)
    if spec is not None and spec.layout != "flat":
        with contextlib.suppress(Exception):  # a layout unpad does not know: as maps
            return spec.unpad(x01)
    return as_maps(x01, spec)


def csv_text(result: SanityResult) -> str:
    lines = ["step,randomised_layers,n_random,spearman_median,spearman_mean,ssim_median,"
             "ssim_mean,similar,spearman_abs_median,ssim_abs_median"]
    for k, s in enumerate(result.steps):
        similar = "yes" if s.similar(result.threshold) else "no"
        layers = " ".join(str(i) for i in s.randomised)
        lines.append(f"{k},\"{layers}\",{len(s.randomised)},{s.spearman_median:.6g},"
                     f"{float(np.mean(s.spearman)):.6g},{s.ssim_median:.6g},"
                     f"{float(np.mean(s.ssim)):.6g},{similar},{s.spearman_abs_median:.6g},"
                     f"{s.ssim_abs_median:.6g}")
    return "\n".join(lines) + "\n"


# steps drawn side by side at most: a graph model has dozens of weighted layers, and
# EfficientNet-Lite0's 50 steps made one row of 52 photographs, a PNG 11,754 pixels wide
MAX_STEP_COLUMNS = 12
BAND_GAP = 12  # pixels of background between two bands of steps


def figure(result: SanityResult, cmap="bwr", scaling=None) -> np.ndarray:
    """Heatmaps of the drawn samples (rows) at every step (columns), RGB uint8; each row
    starts with its sample drawn as every PNG draws it (:func:`~lrpcore.render.digit`: dark
    ink on white, a photograph in colour; it was white on black here). ``scaling`` None: 3
    for digits, 1 for photographs (:func:`~lrpcore.render.default_scaling`). More than
    MAX_STEP_COLUMNS steps wrap into bands of about equal width, one under the other, each
    beginning with the samples again (every heatmap is drawn, at its own size)."""
    from ..render.compose import digit, heatmap, to_uint8  # noqa: PLC0415
    from ..render.grid import grid  # noqa: PLC0415
    from ..render.outline import default_scaling  # noqa: PLC0415

    if scaling is None:
        scaling = default_scaling(result.inputs[0])
    inputs = [to_uint8(digit(x, scaling)) for x in result.inputs]
    bands = []
    for steps in step_bands(len(result.steps)):
        rows = [[inputs[i]] + [to_uint8(heatmap(_unit(result.steps[k].maps[i]), None, cmap,
                                                scaling)) for k in steps]
                for i in range(len(inputs))]
        titles = ["input"] + [step_title(k, result.steps[k]) for k in steps]
        bands.append(grid(rows, col_titles=titles))
    return _stacked(bands)


def step_bands(n_steps: int, most: int = MAX_STEP_COLUMNS) -> list[range]:
    """The steps of each band of the figure: all in one when they fit ``most`` columns, else
    as few bands as fit, of sizes differing by at most one (no band of two beside full ones)."""
    count = -(-n_steps // most)
    cuts = [round(b * n_steps / count) for b in range(count + 1)]
    return [range(a, b) for a, b in zip(cuts, cuts[1:], strict=False)]


def _stacked(bands: list[np.ndarray]) -> np.ndarray:
    """Images one under the other, left-aligned on a white background, BAND_GAP apart."""
    if len(bands) == 1:
        return bands[0]
    width = max(b.shape[1] for b in bands)
    height = sum(b.shape[0] for b in bands) + BAND_GAP * (len(bands) - 1)
    out = np.full((height, width, 3), 255, dtype=np.uint8)
    y = 0
    for b in bands:
        out[y:y + b.shape[0], :b.shape[1]] = b
        y += b.shape[0] + BAND_GAP
    return out


def step_title(k: int, step: SanityStep) -> str:
    """A step's column title in the figure: what is random, then how alike the maps stay
    ('-2 rho 0.01' was read as a minus sign and an unexplained abbreviation)."""
    if k == 0:
        return "original\n(trained)"
    layers = "layer" if k == 1 else "layers"
    return f"top {k} {layers} random\nSpearman |ρ| {rounded(step.spearman_abs_median)}"


def rounded(value: float, digits: int = 2, width: int = 0) -> str:
    """``value`` to ``digits`` decimals without the sign of a zero: a median ρ of −0.001
    was titled "Spearman -0.00" above the randomised maps, read as a (tiny) anticorrelation
    of maps that have nothing in common."""
    text = f"{value:{width}.{digits}f}"
    if text.strip().startswith("-") and float(text) == 0:
        text = f"{0.0:{width}.{digits}f}"
    return text
