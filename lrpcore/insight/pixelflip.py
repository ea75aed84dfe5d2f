"""Pixel-flipping / region perturbation (Samek et al., 2017, "Evaluating the visualization of
what a deep neural network has learned", IEEE TNNLS 28(11)).

Flipping *units* (single pixels or k×k patches of a non-overlapping grid, all channels at
once) in order of decreasing relevance (a patch's relevance is the sum over its pixels and
channels) and replacing them by a baseline value should make the explained class's output
drop quickly when the explanation is good. After step k, ``k·per_step`` units are flipped; the
area over the perturbation curve is

    AOPC = 1/(L+1) · Σ_{k=0..L} (f(x) − f(x_k))      (Samek et al., eq. 12; f(x_0) = f(x))

averaged over samples. Random ordering is the reference every method must beat.

Speed: the perturbed inputs of many (sample, step) pairs are built at once from a per-pixel
rank map (a pixel is flipped at step k when its unit's rank < k·per_step) and pushed through
the model in large batches; nothing is recomputed per pixel. Noise and random orders are
drawn from a generator seeded by (seed, sample number), so results do not depend on batching.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import NonFiniteSample, RuleError, ShapeError
from ..explain import as_explainer
from ..parallel import run_sharded, shard_bounds, shard_count
from ..targets import one_class_per_sample
from .baselines import attribute, baseline_name, model_class_names, output_seed
from .tasks import check_cancel, report

BASELINE_VALUES = ("zero", "background", "noise")
ORDERS = ("relevance", "least", "random")
REGIONS = ("input", "raw")
# What ``lrp evaluate`` and the GUI's pixel-flipping panel start with (one source, so that
# both draw the same curves): 50 steps of 16 pixels flip most of a 32×32 input, erased to the
# background (a 0 pixel) inside the raw image (padding excluded), with random order as the
# reference a good explanation must beat.
# "patch" is for digits; larger images start with default_patch(spec).
DEFAULTS = {"steps": 50, "per_step": 16, "patch": 1, "baseline": "background",
            "region": "raw", "random": True}


def axis_label(unit) -> str:
    """What a curve's x axis counts for flip units of side ``unit`` (:attr:`FlipResult.unit`):
    "pixels flipped", "8×8 patches flipped"; every plot of the curves says it alike."""
    side = int(unit)
    return "pixels flipped" if side == 1 else f"{side}×{side} patches flipped"


@dataclass(frozen=True)
class FlipResult:
    """Perturbation curves of one method.

    ``outputs[n, k]`` is the explained output of sample n after step k (k = 0: unperturbed);
    ``flipped[k]`` the number of units flipped after step k; ``unit`` the patch side.
    """

    label: str
    outputs: np.ndarray
    flipped: np.ndarray
    unit: int

    @property
    def mean_curve(self) -> np.ndarray:
        return self.outputs.mean(axis=0)

    @property
    def aopc_per_sample(self) -> np.ndarray:
        return (self.outputs[:, :1] - self.outputs).mean(axis=1)

    @property
    def aopc(self) -> float:
        return float(self.aopc_per_sample.mean())

    def running_aopc(self) -> np.ndarray:
        """AOPC over steps 0..k for every k (its last entry is :attr:`aopc`)."""
        drop = (self.outputs[:, :1] - self.outputs).mean(axis=0)
        return np.cumsum(drop) / np.arange(1, drop.size + 1)


@dataclass(frozen=True)
class UnitGrid:
    """How the model input is cut into flip units.

    ``image`` is the input per sample seen as (H, W, C); ``unit_of_pixel`` (H·W,) gives every
    pixel's unit, or −1 for pixels never flipped (padding when ``region="raw"``).
    """

    image: tuple
    unit_of_pixel: np.ndarray
    n_units: int
    patch: int = 1
    channels_first: bool = False  # the model takes C×H×W (graph models from PyTorch)

    def as_image(self, a) -> np.ndarray:
        """Model-layout samples (N × input) as N × H·W × C."""
        a = np.asarray(a)
        n = a.shape[0]
        if self.channels_first:
            H, W, C = self.image
            a = a.reshape(n, C, H, W).transpose(0, 2, 3, 1)
        return a.reshape(n, self.image[0] * self.image[1], self.image[2])

    def as_model(self, a, in_shape) -> np.ndarray:
        """N × H·W × C back to the model's layout."""
        n = a.shape[0]
        H, W, C = self.image
        if self.channels_first:
            a = a.reshape(n, H, W, C).transpose(0, 3, 1, 2)
        return np.ascontiguousarray(a).reshape((n,) + tuple(in_shape))


def image_shape(spec, in_shape) -> tuple:
    """The per-sample model input seen as an image (H, W, C)."""
    in_shape = tuple(int(s) for s in in_shape)
    if len(in_shape) == 3 and _channels_first(spec, in_shape):
        C, H, W = in_shape
        return (H, W, C)
    if len(in_shape) == 3:
        return in_shape
    size = int(np.prod(in_shape))
    raw = tuple(spec.raw_shape) if spec is not None else ()
    if len(raw) == 3 and int(np.prod(raw)) == size:
        return raw
    if len(raw) == 2 and int(np.prod(raw)) == size:
        return raw + (1,)
    return (1, size, 1)


def default_patch(spec, in_shape=None) -> int:
    """The patch side ``lrp evaluate`` and the GUI panel start with: single pixels up to
    55 pixels a side (digits), ``side // 28`` above (8 at 224×224), so that DEFAULTS' 50
    steps of 16 units cover a photograph as they cover a digit (single pixels flipped 1.6 %
    of a 224×224 photograph and drew curves that said nothing)."""
    if in_shape is None:
        in_shape = getattr(spec, "shape", None)
    if not in_shape:
        return 1
    H, W, _C = image_shape(spec, in_shape)
    return max(1, min(H, W) // 28)


def default_per_step(spec, patch, in_shape=None) -> int:
    """Units per step the explorer's panel starts with: DEFAULTS' 16, fewer where the input
    has no more units than that (the XOR net's 2 inputs), which :func:`check_orderable`
    refuses; opening such a model ran the panel into that refusal."""
    if in_shape is None:
        in_shape = getattr(spec, "shape", None)
    if not in_shape:
        return DEFAULTS["per_step"]
    units = unit_grid(spec, in_shape, patch).n_units
    return max(1, min(DEFAULTS["per_step"], units - 1))


def _channels_first(spec, in_shape) -> bool:
    return spec is not None and spec.layout == "NCHW" and len(tuple(in_shape)) == 3


def unit_grid(spec, in_shape, patch=1, region="input") -> UnitGrid:
    """Cut the input into a non-overlapping grid of ``patch``×``patch`` units (smaller at the
    right/bottom edges); ``region="raw"`` keeps padding pixels out of every unit."""
    patch = _positive_int(patch, "patch size")
    if region not in REGIONS:
        raise ShapeError(f"region must be one of {', '.join(REGIONS)}, got {region!r}")
    H, W, C = image_shape(spec, in_shape)
    r0 = c0 = 0
    r1, c1 = H, W
    pad = int(getattr(spec, "pad", 0) or 0) if spec is not None else 0
    if region == "raw" and pad and len(tuple(in_shape)) == 3:
        r0, c0, r1, c1 = pad, pad, H - pad, W - pad
    rows, cols = np.meshgrid(np.arange(H), np.arange(W), indexing="ij")
    inside = (rows >= r0) & (rows < r1) & (cols >= c0) & (cols < c1)
    per_row = -(-(c1 - c0) // patch)
    uid = ((rows - r0) // patch) * per_row + (cols - c0) // patch
    uid = np.where(inside, uid, -1).reshape(-1)
    n_units = int(uid.max()) + 1 if inside.any() else 0
    if n_units == 0:
        raise ShapeError("the input has no pixels to flip")
    if n_units == 1 and patch > 1:  # 'lrp evaluate --patch 100' on a digit: one curve each,
        raise ShapeError(                 # every ordering the same, and an AOPC of nothing
            f"patch size {patch}: the {r1 - r0}×{c1 - c0} image is a single patch, which "
            "every ordering flips at once: choose a patch smaller than the image")
    return UnitGrid((H, W, C), uid.astype(np.int64), n_units, patch,
                    _channels_first(spec, in_shape))


def check_orderable(grid: UnitGrid, per_step: int) -> None:
    """Refuse steps that flip every unit at once (``--per-step 16`` on the XOR net's 2
    inputs): each ordering then draws the same curve, and a rule tied with random order."""
    n = grid.n_units
    if n <= per_step:
        what = f"{n} pixel{'s' * (n != 1)}" if grid.patch == 1 else \
            f"{n} {grid.patch}×{grid.patch} patch{'es' * (n != 1)}"
        fewer = f": flip at most {n - 1} per step" if n > 1 else ": nothing to order"
        raise ShapeError(f"flipping {per_step} per step flips all {what} of the input in "
                         f"the first step, whatever the ordering{fewer}")


def _positive_int(value, what) -> int:
    try:
        v = int(value)
    except (TypeError, ValueError):
        raise ShapeError(f"{what} must be a whole number, got {value!r}") from None
    if v < 1 or v != value:
        raise ShapeError(f"{what} must be a whole number ≥ 1, got {value!r}")
    return v


def unit_relevance(relevance, grid: UnitGrid) -> np.ndarray:
    """Relevance per unit (N, U): the sum over each unit's pixels and channels."""
    r = np.asarray(relevance, dtype=np.float64)
    n = r.shape[0]
    H, W, C = grid.image
    if r.size == n * H * W * C:
        pix = grid.as_image(r).sum(axis=2)
    elif r.size == n * H * W:
        pix = r.reshape(n, H * W)
    else:
        raise ShapeError(f"relevance of shape {r.shape} does not fit inputs of {H}×{W}×{C}")
    if not np.all(np.isfinite(pix)):
        raise ShapeError("relevance contains NaN or infinite values")
    keep = grid.unit_of_pixel >= 0
    out = np.zeros((n, grid.n_units))
    np.add.at(out.T, grid.unit_of_pixel[keep], pix[:, keep].T)
    return out


def check_seed(seed) -> int:
    """A seed numpy's generators take: a whole number ≥ 0 (a negative one was an internal
    ValueError deep inside a run)."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise RuleError(f"--seed must be a whole number ≥ 0, got {seed}")
    return int(seed)


def _sample_rng(seed, sample, stream):
    return np.random.default_rng([check_seed(seed), int(sample), stream])


def unit_ranks(unit_rel, order="relevance", seed=0, sample_ids=None) -> np.ndarray:
    """Rank of every unit (0 = flipped first) per sample; ties keep the grid order."""
    if order not in ORDERS:
        raise ShapeError(f"order must be one of {', '.join(ORDERS)}, got {order!r}")
    n, u = unit_rel.shape
    if order == "relevance":
        perm = np.argsort(-unit_rel, axis=1, kind="stable")
    elif order == "least":
        perm = np.argsort(unit_rel, axis=1, kind="stable")
    else:
        ids = range(n) if sample_ids is None else sample_ids
        perm = np.stack([_sample_rng(seed, s, 1).permutation(u) for s in ids]) if n else \
            np.zeros((0, u), dtype=np.int64)
    ranks = np.empty_like(perm)
    np.put_along_axis(ranks, perm, np.arange(u)[None, :].repeat(n, axis=0), axis=1)
    return ranks


def baseline_value(spec, kind="zero"):
    """The replacement value of a flipped pixel in model-input units (noise: its range).

    ``background`` is what the model sees for a raw 0 (black) pixel: with a per-channel
    mean/std (ImageNet models) one value per channel, ``(0/divide + offset − mean) / std``;
    0 there is the mean colour, a mid grey, not black."""
    if kind == "zero":
        return 0.0
    if kind == "background":
        if spec is None:
            return 0.0
        black = 0.0 / float(spec.divide) + float(spec.offset)
        if spec.mean is None:
            return black
        return (black - np.asarray(spec.mean, dtype=float)) / np.asarray(spec.std, dtype=float)
    if kind == "noise":
        lo, hi = (-1.0, 1.0) if spec is None else (float(v) for v in spec.value_range)
        return (lo, hi)
    raise ShapeError(f"baseline must be one of {', '.join(BASELINE_VALUES)}, got {kind!r}")


def _replacements(spec, kind, grid, sample_ids, seed):
    H, W, C = grid.image
    value = baseline_value(spec, kind)
    if kind != "noise":  # one value (or one per channel) for every pixel: no per-sample copy
        if np.ndim(value) == 0:
            return float(value)
        value = np.asarray(value, dtype=float).reshape(-1)
        if value.size != C:  # a sequence's channels, which its grid does not keep apart:
            # a black raw sample as the model sees it, value by value (an internal error)
            black = spec.preprocess(np.zeros((1,) + tuple(spec.raw_shape)), np.float64)
            return grid.as_image(black)[0]
        return np.broadcast_to(value, (C,))
    lo, hi = value
    return np.stack([_sample_rng(seed, s, 2).uniform(lo, hi, (H * W, C)) for s in sample_ids])



def flip_curves(model, x, relevance, targets, steps=100, patch=1, per_step=1, baseline="zero",
                region="input", order="relevance", seed=0, batch_size=1024, label=None,
                sample_ids=None, backend=None, dtype=None, progress=None,
                cancel=None) -> FlipResult:
    """Perturbation curves for inputs ``x`` (model layout, N × input shape).

    ``model`` is a Sequential or an :class:`Explainer` (its backend and dtype are used);
    ``relevance`` orders the units (ignored for ``order="random"``; may be None then);
    ``targets`` the explained class per sample (int or N ints). The explained output is the
    analysis output (trailing SoftMax dropped), as LRP explains it.
    """
    ex = as_explainer(model, backend, dtype)
    spec = ex.model.input_spec
    x = np.asarray(x)
    if x.ndim < 2 or x.shape[0] == 0:
        raise ShapeError(f"expected a batch of inputs, got shape {x.shape}")
    ex.model.check_input(x)
    if not np.issubdtype(x.dtype, np.number) or x.dtype.kind == "c":
        raise ShapeError(f"inputs must be real numbers, got dtype {x.dtype}")
    NonFiniteSample.check(x)  # the one wording of that refusal
    n = x.shape[0]
    steps = _positive_int(steps, "number of steps")
    per_step = _positive_int(per_step, "units per step")
    batch_size = _positive_int(batch_size, "batch size")
    if patch is None:
        patch = default_patch(spec, x.shape[1:])
    grid = unit_grid(spec, x.shape[1:], patch, region)
    check_orderable(grid, per_step)  # the explorer's panel calls this function directly
    ids = np.arange(n) if sample_ids is None else np.asarray(sample_ids).reshape(-1)
    if ids.size != n:
        raise ShapeError(f"{ids.size} sample numbers given for {n} samples")
    tgt = np.broadcast_to(np.asarray(targets).reshape(-1), (n,)) if np.size(targets) in (1, n) \
        else None
    if tgt is None:
        raise ShapeError(f"{np.size(targets)} targets given for {n} samples")
    if not np.issubdtype(tgt.dtype, np.integer):
        raise ShapeError(f"targets must be class indices (integers), got dtype {tgt.dtype}")
    if relevance is None:
        if order != "random":
            raise ShapeError("ordering by relevance needs a relevance map")
        unit_rel = np.zeros((n, grid.n_units))
    else:
        unit_rel = unit_relevance(relevance, grid)
        if unit_rel.shape[0] != n:
            raise ShapeError(f"relevance for {unit_rel.shape[0]} samples given for {n} inputs")
    return _curves(ex, x, unit_rel, tgt.astype(np.int64), grid, steps, per_step, baseline,
                   order, seed, batch_size, order if label is None else label, ids, progress,
                   cancel)


def _curves(ex, x, unit_rel, targets, grid, steps, per_step, baseline, order, seed, batch_size,
            label, ids, progress, cancel) -> FlipResult:
    """The curves once the units and their relevance are known."""
    ranks = unit_ranks(unit_rel, order, seed, ids)
    never = grid.n_units + 1
    rank_pix = np.where(grid.unit_of_pixel[None, :] >= 0,
                        ranks[:, np.maximum(grid.unit_of_pixel, 0)], never)
    n_steps = min(steps, math.ceil(grid.n_units / per_step))
    flipped = np.minimum(np.arange(n_steps + 1) * per_step, grid.n_units)
    H, W, C = grid.image
    x_pix = grid.as_image(x)
    repl = _replacements(ex.model.input_spec, baseline, grid, ids, seed)
    outputs = _run_perturbed(ex, x.shape[1:], x_pix, repl, rank_pix, flipped, targets,
                             batch_size, progress, cancel, grid)
    return FlipResult(label, outputs, flipped, grid.patch)


def _run_perturbed(ex, in_shape, x_pix, repl, rank_pix, flipped, targets, batch_size,
                   progress, cancel, grid):
    """Outputs (N, S+1) for all (sample, step) pairs, at most ``batch_size`` rows per forward
    pass and no more than :func:`rows_per_pass` allows (a batch of 256 perturbed photographs
    held ~1.5 GB at once and ran 10× slower than passes of a few)."""
    n = x_pix.shape[0]
    s1 = flipped.size
    total = n * s1
    per_pass = rows_per_pass(ex, in_shape, batch_size)
    out = np.empty(total)
    k_out = None
    for start in range(0, total, per_pass):
        check_cancel(cancel)
        rows = np.arange(start, min(total, start + per_pass))
        ns, ks = rows // s1, rows % s1
        mask = rank_pix[ns] < flipped[ks][:, None]
        fill = repl if np.ndim(repl) < 3 else repl[ns]
        batch = np.where(mask[:, :, None], fill, x_pix[ns])
        y = forward_rows(ex, grid.as_model(batch, in_shape)).reshape(rows.size, -1)
        if k_out is None:
            k_out = y.shape[1]
            bad = targets[(targets < 0) | (targets >= k_out)]
            if bad.size:
                raise ShapeError(f"target class {int(bad[0])} is out of range: the model has "
                                 f"{k_out} outputs (0..{k_out - 1})")
        out[start:start + rows.size] = y[np.arange(rows.size), targets[ns]]
        report(progress, start + rows.size, total)
    return out.reshape(n, s1)


def rows_per_pass(ex, in_shape, limit) -> int:
    """Perturbed inputs one forward pass takes: ``limit``, fewer when their activations would
    exceed the explainer's pass size (``Explainer.passes``: a few rows for photographs)."""
    limit = max(1, int(limit))
    start, stop = ex.passes((limit,) + tuple(int(s) for s in in_shape), limit)[0]
    return max(1, stop - start)


def forward_rows(ex, batch) -> np.ndarray:
    """The explained output of every row of ``batch`` (host array, model layout), on the CPU
    in parallel shards of bounded size as ``Explainer.forward`` cuts them; nothing is kept."""
    batch = np.asarray(batch)
    n = batch.shape[0]
    if ex.backend.name != "numpy" or ex.threads <= 1 or n < 2:
        bounds = [(0, n)]
    elif hasattr(ex, "shard_bounds"):  # a graph: shards by the size of its tensors
        bounds = ex.shard_bounds(n, batch.shape[1:])
    else:
        bounds = shard_bounds(n, shard_count(n, ex.threads, ex.sample_bytes(batch.shape[1:])))

    def run(ab):
        a = ex.backend.xp.asarray(batch[ab[0]:ab[1]], dtype=ex.dtype)
        with np.errstate(all="ignore"):
            return ex.backend.to_numpy(ex.run_layers(a)).reshape(ab[1] - ab[0], -1)

    parts = run_sharded(run, bounds)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def method_label(layers, method) -> str:
    from ..explain import resolve_rules  # noqa: PLC0415 (keeps the import list short)

    name = baseline_name(method)
    if name is not None:
        return name
    return getattr(method, "description", None) or resolve_rules(layers, method).description


def resolve_methods(layers, methods, layer_rules=None) -> list:
    """``methods`` with each LRP rule or preset resolved against ``layers`` together with
    ``layer_rules`` (``lrp explain --layer-rule``'s keys: one set for every rule; baselines
    take none), so that a bad spec or key fails before any work."""
    from ..explain import resolve_rules  # noqa: PLC0415

    if layer_rules and all(baseline_name(m) is not None for m in methods):
        verb = "takes" if len(methods) == 1 else "take"
        raise RuleError(f"--layer-rule needs an LRP rule: {', '.join(map(str, methods))} "
                        f"{verb} no per-layer rules")
    return [m if baseline_name(m) is not None else resolve_rules(layers, m, layer_rules)
            for m in methods]


def evaluate_methods(model, x, methods, target="pred", labels=None, raw=False,
                     random=DEFAULTS["random"], steps=DEFAULTS["steps"], patch=None,
                     per_step=DEFAULTS["per_step"], baseline=DEFAULTS["baseline"],
                     region=DEFAULTS["region"], seed=0, batch_size=1024, explain_batch=256,
                     backend=None, dtype=None, progress=None, cancel=None,
                     layer_rules=None) -> list[FlipResult]:
    """Pixel-flipping curves of several methods (LRP rules, presets, ``sensitivity``,
    ``gradxinput``; ``layer_rules`` as ``lrp explain --layer-rule`` takes them, applied to
    every LRP rule) on the same samples, plus random ordering when ``random``. The defaults
    are ``lrp evaluate``'s and the GUI panel's (:data:`DEFAULTS`; ``patch`` None: fitted to
    the image size, see :func:`default_patch`).

    ``x`` holds raw samples (preprocessed with the model's input spec) unless ``raw``.
    ``progress(done, total)`` counts explained samples and perturbed forward rows.
    """
    methods = [methods] if isinstance(methods, str) else list(methods)
    if not methods and not random:
        raise RuleError("nothing to evaluate: give at least one rule or ask for random order")
    ex = as_explainer(model, backend, dtype)
    methods = resolve_methods(ex.layers, methods, layer_rules)  # bad specs fail before work
    labels_ = [method_label(ex.layers, m) for m in methods]
    target = one_class_per_sample(target, "pixel-flipping", lambda: ex.model.class_names,
                                  model=ex.model)
    steps = _positive_int(steps, "number of steps")
    per_step = _positive_int(per_step, "units per step")
    batch_size = _positive_int(batch_size, "batch size")
    explain_batch = _positive_int(explain_batch, "explanation batch size")
    baseline_value(ex.model.input_spec, baseline)
    X = ex.user_prepare(x, raw)  # a RawValuesWarning as explain gives
    n = X.shape[0]
    if patch is None:
        patch = default_patch(ex.model.input_spec, X.shape[1:])
    grid = unit_grid(ex.model.input_spec, X.shape[1:], patch, region)
    check_orderable(grid, per_step)
    s1 = min(steps, math.ceil(grid.n_units / per_step)) + 1
    curves = len(methods) + bool(random)
    total = n * len(methods) + curves * n * s1
    done = 0
    rel = [np.zeros((n, grid.n_units)) for _ in methods]
    targets = np.empty(n, dtype=np.int64)
    for start, stop in ex.passes(X.shape, explain_batch):  # photographs: a few per pass
        check_cancel(cancel)
        fwd = ex.forward(X[start:stop], raw=True)
        lab = None if labels is None else _slice(labels, start, stop, n)
        tgt = _slice(target, start, stop, n) if _per_sample(target) else target
        seed_ = output_seed(fwd.output, tgt, lab, ex.backend.xp, model_class_names(fwd))
        classes = ex.backend.to_numpy(seed_).argmax(axis=1)
        targets[start:stop] = classes
        for i, method in enumerate(methods):
            rel[i][start:stop] = unit_relevance(attribute(fwd, method, classes), grid)
            done += stop - start
            report(progress, done, total)

    def sub(base):
        return None if progress is None else (lambda d, t: progress(base + d, total))

    results = []
    ids = np.arange(n)
    runs = [(r, lab, "relevance") for r, lab in zip(rel, labels_, strict=True)]
    if random:
        runs.append((np.zeros((n, grid.n_units)), "random", "random"))
    for unit_rel, label, order in runs:
        results.append(_curves(ex, X, unit_rel, targets, grid, steps, per_step, baseline, order,
                               seed, batch_size, label, ids, sub(done), cancel))
        done += n * s1
    return results


def _per_sample(target) -> bool:
    return not isinstance(target, (str, int, np.integer)) and np.ndim(target) == 1


def _slice(arr, start, stop, n):
    a = np.asarray(arr).reshape(-1)
    if a.size != n:
        raise ShapeError(f"{a.size} labels or targets given for {n} samples")
    return a[start:stop]
