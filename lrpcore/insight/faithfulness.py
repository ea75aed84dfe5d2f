"""Faithfulness of relevance maps by pixel-flipping, fast enough to rank many settings.

A map is faithful when removing what it calls relevant destroys the explained output quickly
(MoRF: most relevant first) and removing what it calls irrelevant does not (LeRF: least
relevant first) (Samek et al., 2017; Bach et al., 2015). The score of a map is the area between
the two perturbation curves,

    faithfulness = AOPC(MoRF) − AOPC(LeRF) = mean_k (f(x_k^LeRF) − f(x_k^MoRF)),

higher is better; the curves are :class:`~lrpcore.insight.pixelflip.FlipResult` objects and
agree with :func:`~lrpcore.insight.pixelflip.flip_curves` for the same settings.

Speed: a sweep scores one batch of samples under many settings, two curves each, ~100 steps per
curve. On the CPU most of a small CNN's time goes into its first convolution, which is linear:
the perturbed input after step k is ``x + D_k`` with ``D_k`` the flipped pixels' change, so its
first-layer output is ``z(x) + Σ_{j≤k} L(δ_j)``. Each flipped pixel is added once, by the taps it
touches, and a cumulative sum over the steps gives every step's first-layer output: the cost of
one convolution per curve instead of one per step. A first dense layer does the same with a
sparse product. A step that flips only pixels already at the baseline value changes nothing
and takes the previous step's output. The remaining layers run on the other (sample, step)
rows in large batches, in parallel threads. Other first layers (and GPUs) take the plain route of
:mod:`.pixelflip`: every perturbed input built and run whole.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import ShapeError
from ..explain import Explainer
from ..parallel import run_sharded
from .pixelflip import (
    FlipResult,
    _positive_int,
    _replacements,
    baseline_value,
    forward_rows,
    rows_per_pass,
    unit_grid,
    unit_ranks,
    unit_relevance,
)
from .tasks import check_cancel, report

ROWS_PER_PASS = 512  # (sample, step) rows per forward pass of the layers after the first


@dataclass(frozen=True)
class Faithfulness:
    """MoRF and LeRF curves of one relevance method and its score (higher is better)."""

    label: str
    morf: FlipResult
    lerf: FlipResult

    @property
    def per_sample(self) -> np.ndarray:
        return self.morf.aopc_per_sample - self.lerf.aopc_per_sample

    @property
    def score(self) -> float:
        return float(self.per_sample.mean())

    @property
    def morf_aopc(self) -> float:
        return self.morf.aopc

    @property
    def lerf_aopc(self) -> float:
        return self.lerf.aopc


class FlipScorer:
    """Pixel-flipping of one batch of samples, ready to score any number of relevance maps.

    ``x`` is in the model's input layout (``Explainer.prepare``); ``targets`` the explained
    class per sample. ``per_step`` of None flips ``ceil(units / steps)`` units per step, so that
    the curves end with every unit flipped (then MoRF and LeRF meet and their area between is
    the whole story). ``region="raw"`` keeps a padded border out of the flipped units.
    """

    def __init__(self, explainer: Explainer, x, targets, steps=100, per_step=None, patch=1,
                 baseline="background", region="raw", seed=0, rows_per_pass=ROWS_PER_PASS,
                 incremental=None):
        self.ex = explainer
        x = np.asarray(x)
        if x.ndim < 2 or x.shape[0] == 0:
            raise ShapeError(f"expected a batch of inputs, got shape {x.shape}")
        explainer.model.check_input(x)
        self.model_shape = x.shape[1:]
        spec = explainer.model.input_spec
        # flipping works on images (N×H×W×C); a channels-first model is fed transposed rows
        self._nchw = x.ndim == 4 and getattr(spec, "layout", "NHWC") == "NCHW"
        if self._nchw:
            x = x.transpose(0, 2, 3, 1)
        self.x = np.ascontiguousarray(x, dtype=explainer.dtype)
        self.n = x.shape[0]
        self.targets = np.broadcast_to(np.asarray(targets, dtype=np.int64).reshape(-1),
                                       (self.n,)).copy()
        self.grid = unit_grid(spec, self.model_shape, patch, region)
        self.steps = _positive_int(steps, "number of steps")
        per_step = math.ceil(self.grid.n_units / self.steps) if per_step is None else per_step
        self.per_step = _positive_int(per_step, "units per step")
        if self.per_step >= self.grid.n_units:  # MoRF = LeRF: every map would score 0
            units = "pixels" if self.grid.patch == 1 else f"{self.grid.patch}×" \
                f"{self.grid.patch} patches"
            raise ShapeError(
                f"flipping {self.per_step} {units} per step flips all {self.grid.n_units} "
                f"{units} of a sample in one step, so every setting would score 0 and none "
                f"could be best; flip fewer per step (--per-step below {self.grid.n_units}, "
                "--steps of 2 or more)")
        self.n_steps = min(self.steps, math.ceil(self.grid.n_units / self.per_step))
        self.flipped = np.minimum(np.arange(self.n_steps + 1) * self.per_step,
                                  self.grid.n_units)
        self.seed = seed
        baseline_value(spec, baseline)  # a bad name fails here
        H, W, C = self.grid.image
        repl = _replacements(spec, baseline, self.grid, np.arange(self.n), seed)
        x_pix = self.x.reshape(self.n, H * W, C)
        self.delta = (repl - x_pix).astype(explainer.dtype)  # what flipping a pixel adds
        self._moves = np.any(self.delta != 0, axis=2)  # (N, H·W) flipping it changes x
        self.rows_per_pass = _positive_int(rows_per_pass, "rows per pass")
        first = explainer.layers[0] if explainer.layers else None
        route = _ROUTES.get(getattr(first, "kind", None))
        self._graph = getattr(explainer.model, "is_graph", False)
        if incremental is False or explainer.backend.name != "numpy" or self._graph \
                or self._nchw:
            route = None  # the plain route: every perturbed input run whole
        self._route = route(first, x.shape[1:], self.grid.image) if route else None
        if self._route is not None:
            self._z0 = self._forward(self.x, 0, 1)  # the first layer's output, unperturbed
        self.samples_per_chunk = max(1, self.rows_per_pass // (self.n_steps + 1))

    # -- the curves -----------------------------------------------------------------------------
    def step_of_pixel(self, unit_rel, order) -> np.ndarray:
        """(N, H·W) the step at which each pixel is flipped (n_steps + 1: never)."""
        ranks = unit_ranks(unit_rel, order, self.seed, np.arange(self.n))
        upix = self.grid.unit_of_pixel
        step = ranks[:, np.maximum(upix, 0)] // self.per_step + 1
        return np.where((upix[None, :] >= 0) & (step <= self.n_steps), step, self.n_steps + 1)

    def curves(self, relevance, order="relevance", label=None, cancel=None,
               progress=None) -> FlipResult:
        """Perturbation curves (N, steps + 1) for one ordering of ``relevance``'s units."""
        if relevance is None:
            unit_rel = np.zeros((self.n, self.grid.n_units))
        else:
            # in the model's layout: the grid reads channels-first maps as such (transposing
            # them here first scrambled the channels of colour photographs)
            relevance = np.asarray(relevance)
            unit_rel = unit_relevance(relevance, self.grid)
            if unit_rel.shape[0] != self.n:
                raise ShapeError(f"relevance for {unit_rel.shape[0]} samples given for "
                                 f"{self.n} inputs")
        steps = self.step_of_pixel(unit_rel, order)
        chunks = [(a, min(self.n, a + self.samples_per_chunk))
                  for a in range(0, self.n, self.samples_per_chunk)]
        out = np.empty((self.n, self.n_steps + 1))
        # the incremental route runs chunks in parallel; the plain one runs each chunk's
        # forward passes in parallel shards instead (forward_rows), one chunk at a time
        threads = max(1, self.ex.threads) if self._route is not None else 1
        for g in range(0, len(chunks), threads):
            check_cancel(cancel)
            group = chunks[g:g + threads]
            parts = run_sharded(lambda ab: self._chunk(ab[0], ab[1], steps[ab[0]:ab[1]]), group)
            for (a, b), part in zip(group, parts, strict=True):
                out[a:b] = part
            report(progress, group[-1][1], self.n)
        return FlipResult(order if label is None else label, out, self.flipped.copy(),
                          self.grid.patch)

    def score(self, relevance, label="", cancel=None, progress=None) -> Faithfulness:
        """MoRF and LeRF curves of ``relevance`` and their area between."""
        def half(offset):
            if progress is None:
                return None
            return lambda d, t: progress(offset + d, 2 * t)

        morf = self.curves(relevance, "relevance", label, cancel, half(0))
        lerf = self.curves(relevance, "least", label, cancel, half(self.n))
        return Faithfulness(label, morf, lerf)

    # -- one chunk of samples -------------------------------------------------------------------
    def _chunk(self, a, b, steps) -> np.ndarray:
        n, s1 = b - a, self.n_steps + 1
        # A step that flips only pixels already at the baseline (black digit background with
        # the background baseline) leaves the input as it was: its output is the previous
        # step's, and its row is not run (exact; a third or more of MNIST's rows).
        moved = np.bincount((np.arange(n)[:, None] * (s1 + 1) + steps).reshape(-1),
                            weights=self._moves[a:b].reshape(-1), minlength=n * (s1 + 1))
        run = moved.reshape(n, s1 + 1)[:, :s1] > 0
        run[:, 0] = True
        rows = np.flatnonzero(run.reshape(-1))  # (sample, step) rows to compute
        if self._route is not None:
            z = self._route.increments(self.delta[a:b], steps, s1 + 1,
                                       self._moves[a:b])  # (n, s1+1, *out)
            z[:, 0] = self._z0[a:b]  # step 0 flips nothing: its increment bin is empty
            for k in range(1, s1):  # a running sum, step by step (np.cumsum over a middle
                np.add(z[:, k - 1], z[:, k], out=z[:, k])  # axis is several times slower)
            z = z[:, :s1].reshape((n * s1,) + z.shape[2:])
            y = self._forward(z[rows], 1, None)
        else:
            y = self._plain(a, b, steps, rows)
        y = y.reshape(rows.size, -1)
        k = y.shape[1]
        bad = self.targets[(self.targets < 0) | (self.targets >= k)]
        if bad.size:
            raise ShapeError(f"target class {int(bad[0])} is out of range: the model has "
                             f"{k} outputs (0..{k - 1})")
        out = np.empty(n * s1)
        out[rows] = y[np.arange(rows.size), self.targets[a + rows // s1]]
        # every step takes the output of the last step that was run (itself or before)
        last = np.where(run, np.arange(s1)[None, :], 0)
        np.maximum.accumulate(last, axis=1, out=last)
        return out.reshape(n, s1)[np.arange(n)[:, None], last]

    def _plain(self, a, b, steps, rows):
        """Outputs of the given (sample, step) rows of samples a..b, each perturbed input built
        and run whole, in passes of a bounded number of rows (a few photographs)."""
        s1 = self.n_steps + 1
        H, W, C = self.grid.image
        x_pix = self.x[a:b].reshape(b - a, H * W, C)
        per_pass = rows_per_pass(self.ex, self.model_shape, self.rows_per_pass)
        parts = []
        for start in range(0, rows.size, per_pass):
            ns, ks = np.divmod(rows[start:start + per_pass], s1)
            flipped = steps[ns] <= ks[:, None]  # (rows, H·W)
            batch = (x_pix[ns] + flipped[..., None] * self.delta[a + ns]).reshape(
                (-1,) + self.x.shape[1:])
            if self._nchw:
                batch = batch.transpose(0, 3, 1, 2)
            parts.append(forward_rows(self.ex, batch))
        return np.concatenate(parts)

    def _forward(self, a, start, stop):
        """Layers start..stop of a chain on ``a`` (the incremental route)."""
        ex = self.ex
        xp = ex.backend.xp
        a = xp.asarray(a, dtype=ex.dtype)
        with np.errstate(all="ignore"):
            for layer in ex.layers[start:stop]:
                a = layer.forward(a, xp)
        return ex.backend.to_numpy(a)


# -- first layers whose perturbed outputs are built incrementally -------------------------------
class _ConvIncrements:
    """A first convolution: each tap adds every flipped pixel it reads to the step that flips it
    (no two outputs of one tap read the same pixel, so each tap is one indexed addition)."""

    def __init__(self, layer, in_shape, image):
        self.W = np.asarray(layer.W)
        h, w, d, k = self.W.shape
        H, Wd, C = (int(s) for s in in_shape)
        if (H, Wd, C) != tuple(image) or d != C:
            raise ShapeError("the convolution does not read the flipped image")
        s0, s1 = layer.stride
        self.Ho, self.Wo = (H - h) // s0 + 1, (Wd - w) // s1 + 1
        rows = np.arange(self.Ho) * s0
        cols = np.arange(self.Wo) * s1
        # pixel (row·W + col) read by tap (a, b) at every output position
        self.taps = [((r[:, None] + a) * Wd + (cols[None, :] + b)).reshape(-1)
                     for a in range(h) for b in range(w) for r in (rows,)]
        self.tap_w = [(a, b) for a in range(h) for b in range(w)]

    def increments(self, delta, steps, n_bins, moves):
        n, O, K = delta.shape[0], self.Ho * self.Wo, self.W.shape[3]
        dtype = delta.dtype
        inc = np.zeros((n * n_bins * O, K), dtype=dtype)
        base = (np.arange(n) * n_bins)[:, None]
        pos = np.arange(O)[None, :]
        for pix, (a, b) in zip(self.taps, self.tap_w, strict=True):
            live = moves[:, pix]  # pixels already at the baseline add nothing: skipped
            idx = ((base + steps[:, pix]) * O + pos)[live]
            wk = self.W[a, b].astype(dtype)  # (C, K)
            inc[idx] += delta[:, pix, :][live] @ wk
        return inc.reshape(n, n_bins, self.Ho, self.Wo, K)


class _LinearIncrements:
    """A first dense layer: the flipped pixels of each step times their weight rows, as one
    sparse product."""

    def __init__(self, layer, in_shape, image):
        H, W, C = image
        if int(np.prod(in_shape)) != H * W * C:
            raise ShapeError("the dense layer does not read the flipped image")
        self.W = np.asarray(layer.W)

    def increments(self, delta, steps, n_bins, moves):
        from scipy.sparse import csr_matrix  # noqa: PLC0415 (only this route needs it)

        n, P, C = delta.shape
        rows = (np.arange(n)[:, None] * n_bins + steps)[:, :, None].repeat(C, axis=2)
        cols = (np.arange(P)[:, None] * C + np.arange(C)[None, :])[None].repeat(n, axis=0)
        live = moves[:, :, None].repeat(C, axis=2)  # zeros need no entries
        a = csr_matrix((delta[live], (rows[live], cols[live])), shape=(n * n_bins, P * C))
        inc = np.asarray(a @ self.W.astype(delta.dtype), dtype=delta.dtype)
        return inc.reshape(n, n_bins, -1)


_ROUTES = {"Convolution": _ConvIncrements, "Linear": _LinearIncrements}
