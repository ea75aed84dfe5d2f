"""The one request type of the explorer: everything an explanation depends on, frozen on
the GUI thread and handed to a worker (the explain service, the insight tools, the batch
export). Results carry the request that made them, so stale ones can be recognised.

No Qt here: the request is built from :class:`~lrpgui.state.AppState` alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from lrpcore.targets import parse_target


@dataclass(frozen=True, eq=False)
class ExplainRequest:
    """One sample (``raw``; its dataset ``index`` and ``label`` when it has them) and the
    explanation settings. ``dataset_key`` identifies the dataset object it came from;
    ``model_path`` and ``dataset_name`` go into the sidecars of exports."""

    model: object
    raw: np.ndarray | None = field(default=None, repr=False)  # one raw sample, no batch axis
    index: int | None = None  # dataset index (None: e.g. a drawing)
    label: int | None = None
    rule: str = "epsilon:0.01"
    layer_rules: tuple = ()
    target: str = "pred"
    region: tuple | None = None  # a segmentation model's box of its map (lrpcore.map_targets)
    backend: str = "numpy"
    dtype: str = "float64"
    dataset_key: object = None
    model_path: str | None = None
    dataset_name: str | None = None

    @property
    def labels(self):
        """The label as a batch of one (what lrpcore's ``labels=`` takes), or None."""
        return None if self.label is None else np.array([self.label])

    @property
    def target_value(self):
        """The target as lrpcore takes it: a class index or one of pred/true/output."""
        return parse_target(self.target)

    @property
    def one_class_target(self):
        """The target of tools that follow one class per sample (sweeps, sanity checks,
        pixel-flipping): "output", the relevance of all outputs, becomes "pred"."""
        target = self.target_value
        return "pred" if target == "output" else target

    def with_sample(self, raw, index=None, label=None) -> ExplainRequest:
        """The same settings for another sample (e.g. a drawing: no index, no label)."""
        return replace(self, raw=np.asarray(raw), index=index, label=label)

    @classmethod
    def from_state(cls, state, raw=None, index=None) -> ExplainRequest | None:
        """The request for the selected sample (or ``index``, or the given ``raw``);
        None when nothing is open. Reading the sample may raise (a broken file)."""
        if state.model is None:
            return None
        label = None
        if raw is None:
            if state.dataset is None:
                return None
            index = state.sample_index if index is None else int(index)
            raw = np.asarray(state.dataset.images(np.array([index]))[0]).copy()
            label = state.label_of(index)
        return cls(model=state.model, raw=np.asarray(raw), index=index, label=label,
                   rule=state.rule, layer_rules=tuple(state.layer_rules.items()),
                   target=state.target, region=state.region, backend=state.backend,
                   dtype=state.dtype,
                   dataset_key=None if state.dataset is None else id(state.dataset),
                   model_path=state.model_path, dataset_name=state.dataset_name)
