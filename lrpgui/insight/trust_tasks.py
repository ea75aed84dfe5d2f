"""The work of the Sweep and Sanity tools, run on the ``trust`` worker (no Qt here).

Both take a frozen :class:`TrustJob` (the open model, the dataset and the explanation
settings, copied on the GUI thread) and the controller's token; the samples are read on the
worker. Progress payloads carry each finished sweep setting or randomisation step, so the
windows fill while the work goes on; ``token.cancelled`` stops it between batches.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lrpcore.errors import ShapeError
from lrpcore.insight.sanity import cascading_randomisation
from lrpcore.insight.sweep import run_sweep
from lrpcore.insight.tasks import spread_indices

from ..requests import ExplainRequest

WORKER = "trust"


@dataclass(frozen=True, eq=False)
class TrustJob:
    """``n`` samples spread over the open dataset, judged with the settings of ``request``
    (the explorer's one :class:`~lrpgui.requests.ExplainRequest`, without a sample)."""

    request: ExplainRequest
    dataset: object = field(repr=False)
    n: int

    def samples(self):
        """(raw samples, labels or None) of the request, read on the worker."""
        idx = spread_indices(len(self.dataset), self.n)
        if idx.size < 1:
            raise ShapeError("the dataset has no samples")
        x = np.asarray(self.dataset.images(idx))
        labels = getattr(self.dataset, "labels", None)
        return x, None if labels is None else np.asarray(labels)[idx]

    def first_sample(self):
        """The first sample judged, as read (the sweep draws its maps, outlined); None when
        it cannot be read (the task then says why)."""
        try:
            return np.asarray(self.dataset.images(spread_indices(len(self.dataset),
                                                                 self.n)[:1]))[0]
        except Exception:  # noqa: BLE001 (reported by the task, which reads it too)
            return None

    @property
    def target_value(self):
        """A sweep and a sanity check follow one class per sample ("output" → "pred")."""
        return self.request.one_class_target


def request_from_state(state, n) -> TrustJob | None:
    if state.model is None or state.dataset is None:
        return None
    return TrustJob(ExplainRequest.from_state(state, raw=np.zeros(0)), state.dataset,
                        int(n))


@dataclass(frozen=True)
class SweepSettings:
    rule: str
    params: dict | None = None  # {name: values}; None: the rule's default grids
    groups: tuple = ("all",)
    steps: int = 100
    keep_maps: int = 1


def sweep_task(req: TrustJob, settings: SweepSettings, token=None):
    """A ranked sweep; after each setting the token's progress carries the row."""
    x, labels = req.samples()
    base = req.request
    layer_rules = dict(base.layer_rules) if settings.rule == base.rule else None
    return run_sweep(
        base.model, x, settings.rule, params=settings.params, groups=settings.groups,
        layer_rules=layer_rules, target=req.target_value, labels=labels, steps=settings.steps,
        keep_maps=settings.keep_maps, backend=base.backend, dtype="float32",
        cancel=None if token is None else token.cancelled,
        on_row=None if token is None else (lambda row, d, t: token.progress(d, t, row)))


def sanity_task(req: TrustJob, rule: str, seed=0, token=None):
    """A cascading randomisation; after each step the token's progress carries the step."""
    x, labels = req.samples()
    return cascading_randomisation(
        req.request.model, x, rule, target=req.target_value, labels=labels, seed=seed,
        backend=req.request.backend, dtype="float32",
        cancel=None if token is None else token.cancelled,
        on_step=None if token is None else (lambda step, d, t: token.progress(d, t, step)))
