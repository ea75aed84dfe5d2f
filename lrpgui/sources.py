"""How the explorer opens datasets: through :func:`lrpcore.open_dataset`, labels included.

Everything else about where models and datasets come from (bundled models, default model and
dataset, downloads) lives in :mod:`lrpcore.bundled` and :mod:`lrpcore.io.download`; the
window calls those directly. Nothing here depends on ``/work/shared``. A relevance store
(:class:`PrecomputedRelevance`) is a source of heatmaps computed elsewhere.
"""

from __future__ import annotations

import os

import numpy as np

import lrpcore
from lrpcore.export import where_found
from lrpcore.io.datasets import DATASET_NAMES, builtin_dataset
from lrpcore.text import is_digits


def held_name(typed) -> str:
    """A dataset the user typed (``--dataset``, a script), as the explorer holds it: a file or
    folder that exists by its absolute path (a path wins over a built-in name of the same
    spelling, as for ``lrp``), anything else as typed. Held so, a bare built-in name in the
    explorer (its list, a recent entry, the last session's) always means the built-in one."""
    return where_found(typed)


def recorded_name(spec) -> str:
    """The name the explorer records for the dataset :func:`open_dataset` opened from a held
    ``spec``: a built-in name as it is, a file or folder absolute."""
    return where_found(spec, builtin_first=True)


def open_dataset(spec) -> lrpcore.Dataset:
    """Open a dataset file, folder or built-in name as the explorer holds it
    (:func:`held_name`): a built-in name opens the built-in dataset, even where the working
    folder has a folder of that name (``mnist-test`` chosen in the browser opened a local
    ``mnist-test`` folder); :func:`lrpcore.open_dataset` finds the labels stored beside an
    image file under the toolbox's naming.

    Raises :class:`lrpcore.DatasetError` (naming the file) when it cannot be read.
    """
    spec = os.fspath(spec)
    if spec in DATASET_NAMES:
        return builtin_dataset(spec)
    return lrpcore.open_dataset(spec)


def _layer_key(key):
    """A per-layer rule key: an index (also as digits) or a node name or glob."""
    return int(key) if isinstance(key, int) or is_digits(str(key).strip()) else str(key)


class PrecomputedRelevance:
    """The heatmaps of an ``R.zarr`` store (``lrp explain ... --out R.zarr``, e.g. from a
    cluster), served for its dataset instead of computed while the explorer shows the store's
    model, dataset and settings; any other setting is computed as usual."""

    def __init__(self, path):
        self.path = os.fspath(path)
        self.store = lrpcore.open_relevance_store(self.path)  # DatasetError naming the path
        run = self.store.run
        try:
            self.settings = {"rule": _rule_spec(run["rule"]),
                             "layer_rules": {_layer_key(i): _rule_spec(s, preset=False)
                                             for i, s in run["layer_rules"]},
                             "target": str(run["target"]), "dtype": str(run["dtype"])}
            from .state import AppState  # noqa: PLC0415

            probe = AppState()  # a target or dtype the explorer cannot take fails here, as
            for name, value in self.settings.items():  # the store opens, not half-way
                setattr(probe, name, value)  # through its use
        except lrpcore.LRPError as exc:  # a store edited by hand: named, and what is wrong
            raise lrpcore.DatasetError(f"{self.path}: {exc}") from None
        except KeyError as exc:  # its run names no target ("R.zarr: KeyError: 'target'")
            raise lrpcore.DatasetError(f"{self.path}: a damaged relevance store (its run "
                                       f"records no {exc})") from None
        self._sha: dict = {}  # model path -> SHA-256 (a model file is hashed once)
        self._available = self.store.available()

    @property
    def model_path(self) -> str:
        return str(self.store.provenance["model"])

    @property
    def dataset_path(self) -> str:
        return self.store.input

    def serves(self, req) -> bool:
        """Whether the store holds ``req``'s heatmap: same dataset, model file, rules,
        target and dtype, and the sample's chunk was computed."""
        s = self.settings
        if req.index is None or not req.dataset_name or not req.model_path:
            return False
        if getattr(req, "region", None) is not None:  # a store holds whole maps' heatmaps
            return False
        if os.path.abspath(req.dataset_name) != self.dataset_path:
            return False
        if (_rule_spec(req.rule), str(req.target), str(req.dtype)) != \
                (s["rule"], s["target"], s["dtype"]):
            return False
        if {_layer_key(i): _rule_spec(r, preset=False)
                for i, r in req.layer_rules} != s["layer_rules"]:
            return False
        if not 0 <= req.index < len(self._available) or not self._available[req.index]:
            return False
        return self._model_sha(req.model_path) == self.store.run["model_sha256"]

    def relevance(self, index) -> np.ndarray:
        """The stored relevance of one sample (model input layout, no batch axis)."""
        return self.store.heatmaps(int(index))

    @property
    def diagnosis(self):
        """The conservation check of the run that wrote the store (over its samples), so a
        stored heatmap warns as a computed one does; None for stores without one."""
        from lrpcore.insight.diagnose import Diagnosis

        d = self.store.diagnosis
        try:
            return None if d is None else Diagnosis.from_dict(d)
        except (KeyError, TypeError, ValueError):  # a store edited by hand: no warning to show
            return None

    def _model_sha(self, path) -> str:
        if path not in self._sha:
            from lrpcore.export import sha256_file
            from lrpcore.io.models import model_file

            self._sha[path] = sha256_file(model_file(path))
        return self._sha[path]


def _rule_spec(spec, preset=True) -> str:
    """A rule as the explorer stores it (``None``: the command line's default, simple); a
    preset by its name, as the explorer's state keeps it: a store of EpsilonPlus (what 'lrp
    explain' uses for a graph model by default) could not be opened ("unknown rule")."""
    from lrpcore.presets import preset_or_none
    from lrpcore.rules import parse_rule

    found = preset_or_none(spec) if preset and spec else None
    return found.name if found is not None else parse_rule(spec or "simple").spec()
