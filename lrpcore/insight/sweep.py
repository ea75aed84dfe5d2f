"""Rule-parameter sweeps ranked by faithfulness.

Which ε, γ or α should I use? Each setting of a grid (see :mod:`.params`) explains the same
batch of samples, and pixel-flipping scores it (MoRF minus LeRF area, :mod:`.faithfulness`);
the settings come back sorted best first, with the heatmaps of the first samples for a
side-by-side view and the conservation diagnosis of each (a setting that creates relevance is
marked, whatever its score). One forward pass per batch serves every setting (while they fit
KEEP_FORWARD_BYTES; a larger batch of photographs runs them again for each setting).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..explain import as_explainer
from ..targets import model_map_shape, one_class_per_sample
from .baselines import model_class_names, output_seed
from .diagnose import Accumulator, sample_activations
from .faithfulness import Faithfulness, FlipScorer
from .params import Setting, grid
from .tasks import check_cancel, report

KEEP_FORWARD_BYTES = 1 << 30  # forward passes a sweep keeps for all its settings (CPU)


@dataclass(frozen=True)
class SweepRow:
    """One scored setting."""

    setting: Setting
    faithfulness: Faithfulness
    maps: np.ndarray = field(repr=False)  # relevance of the first samples (model layout)
    diagnosis: object  # lrpcore.insight.diagnose.Diagnosis
    seconds: float
    # the relevance of every sample is finite: epsilon:1e-300 is 0 in float32 and divided by
    # zero; its NaN maps were scored as blank ones (0) and, alone or beside another such
    # setting, named best or blamed on "blank or constant images"
    finite: bool = True

    @property
    def score(self) -> float:
        return self.faithfulness.score

    @property
    def rank_key(self) -> tuple:
        """Rows sort best first by this: settings of finite relevance by score, then the
        others (their scores are those of blank maps)."""
        return (not self.finite, -self.score)

    @property
    def label(self) -> str:
        return self.setting.label


@dataclass(frozen=True)
class SweepResult:
    """Rows sorted by score (best first); ``inputs`` are the first samples in [0, 1]."""

    base: str
    rows: tuple
    n: int
    steps: int
    per_step: int
    targets: np.ndarray = field(repr=False)
    inputs: np.ndarray = field(repr=False)
    seconds: float

    @property
    def best(self) -> SweepRow | None:
        """The best setting of finite relevance (None when no setting has one)."""
        return self.rows[0] if self.rows and self.rows[0].finite else None


def run_sweep(model, x, rule, params=None, groups=("all",), layer_rules=None, target="pred",
              labels=None, raw=False, steps=100, per_step=None, patch=1,
              baseline="background", region="raw", seed=0, keep_maps=4, explain_batch=256,
              backend=None, dtype="float32", progress=None, cancel=None,
              on_row=None) -> SweepResult:
    """Score every setting of ``rule``'s parameter grid on the samples ``x``.

    ``params`` maps parameter names to values (None: the default grids of the parameters the
    rule uses); ``groups`` are layer groups (``all``, ``first``, ``middle``, ``last``).
    ``progress(done, total)`` counts settings × samples; ``on_row(row, done, total)`` is called
    after each setting (a GUI shows the ranking grow); ``cancel()`` stops between batches.
    ``model`` is a model or an :class:`~lrpcore.Explainer`; ``x`` raw samples unless ``raw``,
    as in :func:`lrpcore.explain`. The other defaults are ``lrp sweep``'s, float32 included
    (``lrpcore.explain`` defaults to float64). The result's ``rows`` come best first, each
    with its ``setting`` and ``faithfulness.score`` (AOPC(MoRF) − AOPC(LeRF));
    :func:`csv_text` writes the table ``lrp sweep --csv`` does.
    """
    t_start = time.perf_counter()
    ex = as_explainer(model, backend, dtype)
    if model_map_shape(ex.model) is not None:  # no rule makes a map's sweep possible: said
        # first (a segmentation model was told "EpsilonPlus has no parameter to sweep")
        one_class_per_sample(target, "a sweep", model=ex.model)
    settings = grid(ex.layers, rule, params, groups, layer_rules)  # bad specs fail first
    target = one_class_per_sample(target, "a sweep", lambda: ex.model.class_names,
                                  model=ex.model)
    X = ex.user_prepare(x, raw)  # a RawValuesWarning as explain gives
    n = X.shape[0]
    # the forward passes serve every setting when they fit KEEP_FORWARD_BYTES on the CPU;
    # beyond (256 photographs keep 7 GB) each setting runs them again, pass by pass
    keep = ex.backend.name != "numpy" or n * ex.sample_bytes(X.shape[1:]) <= KEEP_FORWARD_BYTES
    forwards, targets = [], np.empty(n, dtype=np.int64)
    for start, stop in ex.passes(X.shape, explain_batch):
        check_cancel(cancel)
        fwd = ex.forward(X[start:stop], raw=True)
        lab = None if labels is None else np.asarray(labels).reshape(-1)[start:stop]
        seed_ = output_seed(fwd.output, target, lab, ex.backend.xp, model_class_names(fwd))
        targets[start:stop] = ex.backend.to_numpy(seed_).argmax(axis=1)
        forwards.append((start, stop, fwd if keep else None))
    scorer = FlipScorer(ex, X, targets, steps=steps, per_step=per_step, patch=patch,
                        baseline=baseline, region=region, seed=seed)
    total = len(settings) * 3 * n  # per setting: explain n, two curves over n
    rows = []
    for k, setting in enumerate(settings):
        t0 = time.perf_counter()
        config = setting.config(ex.layers)
        R = np.empty(X.shape, dtype=ex.dtype)
        checks = Accumulator.of(ex, config)
        for start, stop, kept in forwards:
            check_cancel(cancel)
            fwd = kept if kept is not None else ex.forward(X[start:stop], raw=True)
            r, trace = fwd.relevance(config, targets[start:stop], trace=True, to_numpy=False)
            checks.add(trace, sample_activations(fwd), ex.backend.xp)
            R[start:stop] = ex.backend.to_numpy(r)
        base = 3 * n * k
        report(progress, base + n, total)
        sub = None if progress is None else (lambda d, t, b=base: progress(b + n + d, total))
        faith = scorer.score(np.nan_to_num(R), setting.label, cancel, sub)
        row = SweepRow(setting, faith, R[:keep_maps].copy(), checks.result(),
                       time.perf_counter() - t0, bool(np.isfinite(R).all()))
        rows.append(row)
        report(progress, base + 3 * n, total)
        if on_row is not None:
            on_row(row, k + 1, len(settings))
    rows.sort(key=lambda r: r.rank_key)
    from ..spec import unit_inputs  # noqa: PLC0415

    shown = unit_inputs(ex.model.input_spec, X[:keep_maps])
    return SweepResult(settings[0].base, tuple(rows), n, scorer.n_steps, scorer.per_step,
                       targets, shown, time.perf_counter() - t_start)


CSV_HEAD = ("rank", "setting", "rule", "layer_rules", "group", "epsilon", "gamma", "alpha",
            "faithfulness", "morf_aopc", "lerf_aopc", "conserves", "seconds")


def csv_text(result: SweepResult) -> str:
    """One line per setting, best first."""
    lines = [",".join(CSV_HEAD)]
    for rank, row in enumerate(result.rows, 1):
        s = row.setting
        lr = " ".join(f"{i}={spec}" for i, spec in s.layer_rules.items())
        vals = [f"{s.values[p]:g}" if p in s.values else "" for p in ("epsilon", "gamma",
                                                                       "alpha")]
        f = row.faithfulness
        lines.append(",".join([str(rank), _q(s.label), _q(s.rule), _q(lr), s.group, *vals,
                               f"{f.score:.6g}", f"{f.morf_aopc:.6g}", f"{f.lerf_aopc:.6g}",
                               "yes" if row.diagnosis.ok else "no", f"{row.seconds:.3f}"]))
    return "\n".join(lines) + "\n"


def _q(text: str) -> str:
    return '"' + str(text).replace('"', "'") + '"'
