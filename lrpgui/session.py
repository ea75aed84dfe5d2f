"""The explorer's session without Qt (napari's ViewerModel is the model): what is open, the
rules for opening and closing models and datasets, the requests it hands to the workers and
which results are still current. :class:`~lrpgui.main_window.MainWindow` binds widgets,
dialogs and worker threads to it; tests drive it without any window.

Every refusal is an :class:`OpenError` with a title and a one-line message; the state is
left as it was. ``cancel(key)`` (the controller's, or nothing) is called to drop work whose
answer would no longer fit, e.g. the accuracy of a dataset that is being replaced.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, replace

import numpy as np

import lrpcore
from lrpcore import bundled
from lrpcore.conventions import TOOLBOX, convention_of
from lrpcore.errors import Cancelled, DatasetError, LRPError
from lrpcore.explain import layer_names
from lrpcore.export import where_found
from lrpcore.io.datasets import read_for_model, read_model_layout
from lrpcore.io.raw_values import HEAD, check_raw_values
from lrpcore.io.sidecar import sidecar_path
from lrpcore.map_targets import region_field, region_text
from lrpcore.targets import model_map_shape, parse_target
from lrpcore.text import no_markup

from . import rendering, services, sources
from .explained import class_name, explained_class
from .requests import ExplainRequest
from .state import checked_layer_rules


class OpenError(LRPError):
    """A model or dataset that was not opened: ``title`` for a dialog, the message for text."""

    def __init__(self, title: str, message: str):
        super().__init__(message)
        self.title = title


class Declined(OpenError):
    """The user answered No to a question the opening asked (nothing changed; no error box
    needs to repeat what they just read)."""


@dataclass(frozen=True)
class ReadDataset:
    """A dataset read for a model (:meth:`Session.read_dataset`), not yet the open one."""

    name: str
    dataset: object
    model: object  # the model its fit was checked against (None: none was open)
    in_model_layout: bool
    depth: str | None  # an image folder's 16-bit images, read at 8 bits


@dataclass(frozen=True)
class ReadStart:
    """What :meth:`Session.read_initial` read for the start: the model (None: none opened),
    the dataset read for it, and the refusals met, each with ``quiet`` (those of the dataset
    from ``data_from`` on)."""

    model_path: str | None
    model: object
    dataset: ReadDataset | None
    problems: tuple
    data_from: int | None = None

    def without_data(self) -> ReadStart:
        """The model part alone: a dataset the user opened meanwhile replaces the rest."""
        cut = len(self.problems) if self.data_from is None else self.data_from
        return replace(self, dataset=None, problems=self.problems[:cut], data_from=None)


class StartupData:
    """What the window's start-up read shares with a dataset the user opens while it runs
    (read on another worker): whether its dataset is still wanted, and its model part
    (:meth:`ReadStart.without_data`, published before its dataset is read), which the user's
    dataset is read for and opened with. The user's choice wins once it opened; the model is
    kept. A user's dataset that fails to open leaves the start-up dataset as it was (it was
    dropped as soon as the user's was asked for: nothing open then)."""

    def __init__(self):
        self.superseded = threading.Event()
        self.model_ready = threading.Event()  # set once the model part is known (or failed)
        self.model_part: ReadStart | None = None
        self._asked = 0  # the user's datasets being read, whose outcome decides
        self._answer = threading.Condition()

    def asked(self) -> None:
        """A dataset of the user's is being read: the start-up dataset waits for its outcome."""
        with self._answer:
            self._asked += 1

    def answered(self, opened: bool) -> None:
        """That read ended; ``opened``: the user's dataset opened and replaces the start-up's."""
        with self._answer:
            self._asked -= 1
            if opened:
                self.superseded.set()
            self._answer.notify_all()

    def wanted(self, cancelled=lambda: False) -> bool:
        """Whether the start-up dataset is still to be read (on the start-up worker: waits
        while a dataset of the user's is being read, as its outcome decides)."""
        with self._answer:
            while self._asked and not self.superseded.is_set() and not cancelled():
                self._answer.wait(0.05)
            return not self.superseded.is_set() and not cancelled()

    def publish(self, part: ReadStart) -> None:
        self.model_part = part
        self.model_ready.set()

    def model(self, cancelled=lambda: False):
        """The start-up model, once read (None: none opened); waits for it on a worker."""
        while not self.model_ready.wait(0.05):
            if cancelled():
                raise Cancelled("superseded")
        return None if self.model_part is None else self.model_part.model


REMEMBERED = ("rule", "colormap", "outline", "dtype", "target")  # settings kept between runs
# the kind of model (its convention's name) the remembered rule and dtype were chosen for
SETTINGS_KIND = "settings_kind"
# the rule and dtype the user chose for each other kind of model (JSON text: {kind: {"rule":
# ..., "dtype": ...}}), given back when a model of that kind is opened again
OTHER_KINDS = "other_kinds"
REMEMBERED_KEYS = REMEMBERED + (SETTINGS_KIND, OTHER_KINDS)
# the sample, per-layer rules and region on display, each with the dataset or model it was
# chosen on (JSON text: {"dataset", "index"}, {"model", "rules": [[key, spec, layer name],
# ...]} and {"model", "region": [y0, y1, x0, x1] or null}), taken back once the start-up
# files are open (Session.restore_view)
SAMPLE, LAYER_RULES, REGION = "sample", "layer_rules", "region"
VIEW_KEYS = (SAMPLE, LAYER_RULES, REGION)
# samples predicted between two looks at the cancel flag: closing the window (or opening
# other data) waits for at most one such batch, well under a second on a busy CPU
PREDICT_BATCH = 500
# classes the explorer lists (target, filters, Compare, SpRAy; a few µs each in one
# string-list model, lrpgui.widgets.class_choice): a 14-KB native graph of doubling Concats
# (134 M outputs) froze the window and ran it out of memory; ImageNet-21k has 21,843
MAX_CLASSES = 100_000


def no_labels(dataset_name) -> str:
    """Why there is no true class to explain: the status bar says it when the target leaves
    "true class", the target selector's tooltip while such data is open (the target used to
    switch to the predicted class without a word)."""
    name = os.path.basename(os.path.normpath(os.fspath(dataset_name))) or dataset_name
    return f"{no_markup(name)} has no labels"  # a tooltip: no markup, escapes or newlines


def _json_dict(text) -> dict:
    """A remembered JSON object; anything else (missing, edited, cut short) is no memory."""
    try:
        value = json.loads(text) if isinstance(text, str) else None
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def _other_kinds(text) -> dict:
    """The remembered :data:`OTHER_KINDS` (JSON text) as {kind: {"rule", "dtype"}}; anything
    else (missing, edited, of another version) is no memory."""
    value = _json_dict(text)  # a settings file nested deeply stopped the start
    return {k: {"rule": v["rule"], "dtype": v["dtype"]} for k, v in value.items()
            if isinstance(k, str) and isinstance(v, dict)
            and isinstance(v.get("rule"), str) and isinstance(v.get("dtype"), str)}


class Session:
    """Owns the open model and dataset (in ``state``), requests and the result on display."""

    def __init__(self, state, cancel=None):
        self.state = state
        self._cancel = cancel or (lambda _key: None)
        self.last_result = None  # the ExplainResult on display (what exports write)
        # rule and dtype belong to a kind of model: AppState starts with the toolbox's
        self.settings_kind = TOOLBOX.name
        self._kind_start = (TOOLBOX.rule, TOOLBOX.dtype)  # what this kind's models started from
        self.other_kinds: dict = {}  # {kind: {"rule", "dtype"}} chosen for the other kinds
        self._settings_status = None  # the status that named the rule a model started from
        for name in ("rule", "dtype"):
            getattr(state.events, name).connect(self._drop_settings_status)

    # -- opening and closing ----------------------------------------------------------------
    def open_model(self, path, close_unfitting=None) -> None:
        """Open a model file. When it does not fit the open dataset (a photograph model while
        MNIST is open), ``close_unfitting(title, text)`` is asked whether to close that
        dataset and open the model anyway; without it, or when it answers False, the model
        is refused with the way out in the message and nothing changes."""
        path = os.fspath(path)
        self.commit_model(path, self.read_model(path), close_unfitting)

    @staticmethod
    def read_model(path):
        """The file work of opening model ``path``, touching no state (so that the window can
        run it off the GUI thread): the loaded model, or an OpenError."""
        path = os.fspath(path)
        try:
            model = lrpcore.load_model(path)
        except Exception as exc:  # any failure keeps the previous model
            raise OpenError("Cannot open model", message(exc, path)) from None
        if model.input_spec is None:  # opened, every explanation then failed asking for --raw
            raise OpenError("Cannot open model", no_input_shape(path))
        n = model.n_classes
        if n is not None and n > MAX_CLASSES:  # every class becomes an entry of three lists
            raise OpenError("Cannot open model", f"{path}: {n:,} outputs; the explorer lists "
                            f"at most {MAX_CLASSES:,} classes (lrp explain takes the model)")
        return model  # a map output (a segmentation model): its pixels are explained

    def commit_model(self, path, model, close_unfitting=None) -> None:
        """Make ``model`` (:meth:`read_model` of ``path``) the open one, fitted to the open
        dataset as :meth:`open_model` says."""
        path = os.fspath(path)
        dataset = self.state.dataset
        if dataset is not None:
            # an array read in the last model's own layout is read again in this one's
            dataset, _ = read_for_model(model, dataset)
            try:
                lrpcore.check_fits(model, dataset)
            except Exception as exc:
                # one sentence: "labels go up to 9 Close the dataset …" ran two together
                title = "Model does not fit the dataset"
                reason = f"{path}: {message(exc).rstrip('.')}."
                question = (f"{reason} Close the dataset {self.state.dataset_name} and open "
                            "the model? Then open data that fits it"
                            f"{data_hint(model, ': ')}.")
                if close_unfitting is None or not close_unfitting(title, question):
                    kind = OpenError if close_unfitting is None else Declined
                    raise kind(title, f"{reason} To switch to a model for other data, close "
                               "the dataset first (File → Close dataset).") from None
                self.close_dataset()
                dataset = None
        self._reset_results()
        s = self.state
        before = _class_names(s.model)
        with s.batch():
            s.model = model
            if dataset is not s.dataset:  # every view draws the samples as read anew
                s.dataset = dataset
            s.model_path = where_found(path)  # remembered for the next run, from any folder
            s.layer_rules = {}
            # the SpRAy selection groups the last model's heatmaps: not this one's (cleared
            # here, not only by the SpRAy window, which a script's state has none of)
            s.filter_subset = None
            self._start_from_defaults_of(model)
            self._keep_region(path)
            n, target = model.n_classes, parse_target(s.target)
            if isinstance(target, int) and n is not None and target >= n:
                s.target = "pred"  # the new model has no such class: said, not silent
                s.status = (f"Target class {target} → predicted class: "
                            f"{os.path.basename(path)} has {n:,} classes")
            elif isinstance(target, int) and _renamed(before, _class_names(model), target):
                # digit 3 of LeNet-5 is no "tiger shark" of EfficientNet-Lite0: the class
                # chosen for one model was explained in another as whatever it numbers 3
                s.target = "pred"
                s.status = (f"Target class {target} ({no_markup(before[target])}) → "
                            f"predicted class: {os.path.basename(path)} calls class {target} "
                            f"{no_markup(_class_names(model)[target])}")

    def _keep_region(self, path) -> None:
        """The region stays while it is a box of the new model's map; else the whole map is
        explained again, and the status bar says why."""
        s = self.state
        region = s.region
        if region is None:
            return
        try:
            s.region = region  # checked against the model now open
        except LRPError as exc:
            s.region = None
            s.status = no_markup(f"Region {region_text(region)} → the whole map: "
                                 f"{os.path.basename(path)}: {exc}")

    def _start_from_defaults_of(self, model) -> None:
        """Rule and dtype belong to a kind of model (its convention: toolbox chains or graph
        models). A model of the same kind keeps the user's choice. One of another kind gets
        back what the user last chose for that kind, else starts from its own defaults
        (:func:`lrpcore.default_settings`: toolbox models epsilon:0.01 in float64, graph
        models EpsilonPlus in float32, or the rule the model's metadata recommends); the
        choice made for the kind left is kept for its return. Plain ε on a deep photograph
        classifier drew a near-white map, float64 made the first click slow, and a toolbox
        user's alphabeta:2 was lost after one look at an ONNX model."""
        convention = convention_of(model)
        if convention.name == self.settings_kind:
            return
        s = self.state
        if (s.rule, s.dtype) != self._kind_start:  # the user's choice for the kind left
            self.other_kinds[self.settings_kind] = {"rule": s.rule, "dtype": s.dtype}
        else:
            self.other_kinds.pop(self.settings_kind, None)
        start = lrpcore.default_settings(model)
        try:
            s.rule = start["rule"]
        except (LRPError, ValueError):  # a recommendation that does not parse
            s.rule = convention.rule
        s.dtype = start["dtype"]
        self._kind_start = (s.rule, s.dtype)
        self.settings_kind = convention.name
        status = f"{s.rule} in {s.dtype}: recommended for this model"
        chosen = self.other_kinds.pop(convention.name, None)
        if chosen is not None and self._take_rule(chosen):
            status = f"{s.rule} in {s.dtype}: your last choice for models of this kind"
        s.status = status
        self._settings_status = (status, s.rule, s.dtype)

    def _drop_settings_status(self, _value=None) -> None:
        """A rule or dtype the user picks clears the message naming the one a model started
        from: "EpsilonPlus in float32: recommended …" stayed up beside another rule. (Events
        of a batch arrive after it: the message stays while rule and dtype are its own.)"""
        if self._settings_status is None:
            return
        status, rule, dtype = self._settings_status
        s = self.state
        if (s.rule, s.dtype) != (rule, dtype):
            self._settings_status = None
            if s.status == status:
                s.status = ""

    def _take_rule(self, chosen) -> bool:
        """Set the remembered ``{"rule", "dtype"}``; False (nothing changed) when either no
        longer parses (a settings file edited by hand, a rule renamed since)."""
        s = self.state
        before = (s.rule, s.dtype)
        try:
            with s.batch():
                s.rule, s.dtype = chosen["rule"], chosen["dtype"]
        except (LRPError, ValueError, TypeError, KeyError):
            s.rule, s.dtype = before
            return False
        return True

    def open_dataset(self, name) -> None:
        """Open a dataset file or built-in name (a path first, as typed: ``sources.held_name``);
        sample 0 must be readable (it is explained next) and the data must fit the open
        model."""
        self.commit_dataset(self.read_dataset(sources.held_name(name), self.state.model))

    @staticmethod
    def read_dataset(name, model) -> ReadDataset:
        """The file work of opening dataset ``name`` (as the explorer holds it: a bare built-in
        name is the built-in dataset, see ``sources.held_name``) for ``model``, touching no
        state: an image folder's listing, sample 0, the fit, the headers of the depth note
        (0.1–0.4 s for 2,000 photographs), so that the window can run it off the GUI thread."""
        name = os.fspath(name)
        try:
            dataset = sources.open_dataset(name)
            if len(dataset) == 0:
                raise DatasetError(f"{name}: the dataset has no samples")
            dataset.images(np.array([0]))
        except Exception as exc:
            raise OpenError("Cannot open dataset", message(exc, name)) from None
        in_model_layout = False
        if model is not None:
            try:
                in_model_layout = read_model_layout(model, dataset)
                lrpcore.check_fits(model, dataset)
            except Exception as exc:
                raise OpenError("Dataset does not fit the model",
                                f"{name}: {message(exc)}") from None
        return ReadDataset(name, dataset, model, in_model_layout,
                           dataset.depth_note(limit=200))

    def commit_dataset(self, read: ReadDataset) -> None:
        """Make ``read`` the open dataset (read again for the model opened meanwhile, if one
        was)."""
        if read.model is not self.state.model:
            read = self.read_dataset(read.name, self.state.model)
        name, dataset, in_model_layout = read.name, read.dataset, read.in_model_layout
        self._reset_results()
        s = self.state
        with s.batch():
            s.dataset = dataset
            s.dataset_name = sources.recorded_name(name)
            s.sample_index = 0
            if dataset.labels is None and s.target == "true":
                s.target = "pred"  # no labels: the selector offers no "true class"
                s.status = f"Target true class → predicted class: {no_labels(name)}"
            s.filter_true = None
            s.filter_pred = None
            s.misclassified_only = False
            s.filter_subset = None
            if in_model_layout:
                shape = "×".join(map(str, s.model.input_spec.shape))
                s.status = (f"{os.path.basename(name)}: samples of the model's own input "
                            f"({shape}), read back as raw images")
            if read.depth:
                s.status = f"{os.path.basename(os.fspath(name))}: {read.depth}"

    def open_initial(self, model=None, dataset=None, last_model=None,
                     last_dataset=None, view=None) -> list[tuple[OpenError, bool]]:
        """Open what was asked for; else the last session's files; else the bundled ones;
        then the last session's sample and per-layer rules (``view``) where they fit.

        Returns the refusals, each with ``quiet``: files the caller named are reported
        loudly (a dialog), remembered or default ones quietly (they fall back silently).
        The window runs :meth:`read_initial` off the GUI thread, then :meth:`commit_initial`.
        """
        return self.commit_initial(self.read_initial(model, dataset, last_model, last_dataset),
                                   view)

    @staticmethod
    def read_initial(model=None, dataset=None, last_model=None,
                     last_dataset=None, wants_data=None, on_model=None) -> ReadStart:
        """The file work of :meth:`open_initial`, touching no state: the model and dataset
        read (falling back as it says) and the refusals met on the way. ``on_model(part)``
        gets the model part as soon as it is read; ``wants_data()`` False (a dataset the
        user opened meanwhile): the model only, the dataset unread."""
        problems = []
        wanted = wants_data or (lambda: True)

        def attempt(quiet, read, *args):
            try:
                return read(*args)
            except OpenError as exc:
                problems.append((exc, quiet))
                return None

        asked_model, asked_dataset = model is not None, dataset is not None
        fallback_model = default_model()
        if model is None:
            model = last_model if remembered_model_exists(last_model) else fallback_model
        if dataset is None:  # held names already (a bare built-in name is the built-in one)
            dataset = last_dataset or bundled.default_dataset()
        else:  # typed: a path of a built-in's name is that path
            dataset = sources.held_name(dataset)
        opened = None if model is None else attempt(not asked_model, Session.read_model, model)
        if opened is None and model is not None and not asked_model \
                and fallback_model not in (None, model):
            model = fallback_model  # a remembered file went bad
            opened = attempt(True, Session.read_model, model)
        read = None
        before_data = len(problems)
        if on_model is not None:
            on_model(ReadStart(None if opened is None else os.fspath(model), opened, None,
                               tuple(problems)))
        if dataset is not None and opened is not None and wanted():
            read = attempt(not asked_dataset, Session.read_dataset, dataset, opened)
            default = bundled.default_dataset()
            if read is None and not asked_dataset and default != dataset:
                read = attempt(True, Session.read_dataset, default, opened)  # deleted since
            fitting = fitting_dataset(opened)
            if read is None and not asked_dataset and fitting not in (None, dataset, default):
                # `lrp-explorer --model efficientnet-lite0` opened no data: the remembered and
                # default ones hold digits; the built-in one that fits it opens instead
                tried = len(problems)
                read = attempt(True, Session.read_dataset, fitting, opened)
                if read is not None:  # what did not fit is no problem once data opened
                    problems[before_data:] = [p for p in problems[before_data:tried]
                                              if not p[1]]
        found = ReadStart(None if opened is None else os.fspath(model), opened, read,
                          tuple(problems), before_data)
        return found if wanted() else found.without_data()  # superseded while it was read

    def commit_initial(self, read: ReadStart, view=None) -> list[tuple[OpenError, bool]]:
        """Open what :meth:`read_initial` read, then take back the sample and per-layer
        rules of the last session where they fit (``view``: :meth:`remembered_view`'s values,
        see :meth:`restore_view`); returns the refusals."""
        if read.model is not None:
            self.commit_model(read.model_path, read.model)
        if read.dataset is not None:
            self.commit_dataset(read.dataset)
        if view:
            self.restore_view(view)
        return list(read.problems)

    def close_dataset(self) -> None:
        """Close the dataset (the model stays), e.g. to open a model for other data."""
        self._reset_results()
        self._cancel("explain")
        self.last_result = None
        s = self.state
        with s.batch():
            s.explanation = None
            s.diagnosis = None
            s.relevance = None
            s.scores = None
            s.dataset = None
            s.dataset_name = None
            s.sample_index = 0
            s.filter_true = None
            s.filter_pred = None
            s.misclassified_only = False
            s.filter_subset = None

    def _reset_results(self) -> None:
        self._cancel("predict")
        with self.state.batch():
            self.state.predictions = None
            self.state.predicted = None
            self.state.accuracy = None

    def missing(self) -> str:
        """What the empty window says ('' when a model and a dataset are open)."""
        if self.state.model is None:
            return ("No model is open. Use “Open model…” (Ctrl+O) or pick one in the browser; "
                    f"bundled models live in {bundled.MODELS_DIR}.")
        if self.state.dataset is None:
            return ("No dataset is open. Use “Open dataset…” or pick one in the browser"
                    f"{data_hint(self.state.model, ': ')}.")
        return ""

    def concerns(self) -> list[str]:
        """Warnings about the open model and dataset together (:mod:`lrpcore.io.completeness`:
        a model that ends where no classifier does, or whose outputs are not the dataset's
        classes — a toolbox .txt cut short loads as a smaller model), and the images of the
        open folder that cannot be read."""
        from lrpcore.io.completeness import class_count_hint, ending_hint  # noqa: PLC0415

        model, dataset = self.state.model, self.state.dataset
        # an image folder's photos that cannot be read, left out (the others are used)
        unread = getattr(dataset, "unreadable_note", lambda: None)()
        unread = f"{os.path.basename(os.fspath(self.state.dataset_name))}: {unread}" \
            if unread else None
        if model is None:
            return [unread] if unread else []
        hints = (unread, ending_hint(model), class_count_hint(model, dataset),
                 self.raw_values_hint())
        return [h for h in hints if h]

    def raw_values_hint(self) -> str | None:
        """Why the open array's values do not look like the model's raw input (ToTensor's
        0…1 digits for LeNet-5 were scaled again and drawn as a blank input, each explained
        as a 1; `lrp explain` warns of it), or None. Image files are 8-bit pixels: a folder
        is not read for it."""
        model, dataset = self.state.model, self.state.dataset
        if model is None or dataset is None or dataset.storage.startswith("image files"):
            return None
        try:
            head = dataset.images(np.arange(min(len(dataset), HEAD)))
        except LRPError:  # a NaN sample among them is refused when it is explained
            head = dataset.images(np.array([0]))  # read as the dataset opened
        found = check_raw_values(head, model.input_spec, self.state.dtype)
        if found is None:
            return None
        lo, hi = found.raw_range
        name = os.path.basename(os.fspath(self.state.dataset_name))
        return (f"{name}: {found.describe()}; the explorer reads them as raw pixels: "
                f"rescale them to [{lo:g}, {hi:g}]")

    def open_relevance_store(self, path):
        """The heatmaps of an ``R.zarr`` (:class:`~lrpgui.sources.PrecomputedRelevance`);
        OpenError naming the path when it is no store. The caller opens its model (when
        :meth:`needs_model`) and dataset, then calls :meth:`use_relevance_store`."""
        try:
            return sources.PrecomputedRelevance(path)
        except Exception as exc:  # not a store, zarr missing: one line naming the path
            raise OpenError("Cannot open relevance store", message(exc, path)) from None

    def needs_model(self, source) -> bool:
        """Whether the store's model is another file than the open one."""
        open_path = self.state.model_path
        return not (open_path and os.path.abspath(open_path)
                    == os.path.abspath(source.model_path))

    def use_relevance_store(self, source, service) -> None:
        """Serve the store's heatmaps from ``service`` and take over its settings."""
        service.precomputed = source
        with self.state.batch():
            for name, value in source.settings.items():
                setattr(self.state, name, value)

    # -- settings kept between runs ---------------------------------------------------------
    def remembered(self) -> dict:
        """The settings a new run starts from (:data:`REMEMBERED`), with the kind of model
        its rule and dtype belong to (:data:`SETTINGS_KIND`)."""
        return {**{name: getattr(self.state, name) for name in REMEMBERED},
                SETTINGS_KIND: self.settings_kind,
                OTHER_KINDS: json.dumps(self.other_kinds, sort_keys=True)}

    def restore(self, values: dict) -> None:
        """Take back remembered settings; a stale or edited value is ignored (e.g. a
        colormap that no longer exists, a rule spec that no longer parses)."""
        kind = values.get(SETTINGS_KIND)
        if isinstance(kind, str) and kind:
            self.settings_kind = kind
            self._kind_start = None  # not known: a choice restored is kept when leaving
        self.other_kinds = _other_kinds(values.get(OTHER_KINDS))
        for name in REMEMBERED:
            value = values.get(name)
            if value is None:
                continue
            if name == "outline" and isinstance(value, str):
                value = value.strip().lower() in ("1", "true", "yes")
            if name == "colormap" and value not in rendering.colormap_names():
                continue
            try:
                setattr(self.state, name, value)
            except (LRPError, ValueError, TypeError):
                pass

    def remembered_view(self) -> dict:
        """The sample, per-layer rules and a segmentation model's region on display
        (:data:`VIEW_KEYS`, JSON text), each with the dataset or model it was chosen on; a key
        is left out while nothing is open for it (a window closed before its start-up files
        opened keeps what the last one saved)."""
        s = self.state
        out = {}
        if s.dataset is not None:
            out[SAMPLE] = json.dumps({"dataset": s.dataset_name, "index": s.sample_index})
        if s.model is not None:
            names = layer_names(s.model.analysis_layers())
            # an index key with the layer's name then: another model under the same file
            # name is not given rules meant for other layers
            rules = [[key, spec, names[key] if isinstance(key, int) and 0 <= key < len(names)
                      else None] for key, spec in s.layer_rules.items()]
            out[LAYER_RULES] = json.dumps({"model": s.model_path, "rules": rules})
            if model_map_shape(s.model):  # a region is a box of an output map
                out[REGION] = json.dumps({"model": s.model_path, "region": None
                                          if s.region is None else list(s.region)})
        return out

    def restore_view(self, values: dict) -> None:
        """Take back :meth:`remembered_view` for the files now open: the sample when the
        same dataset is open and still has it, the per-layer rules of the same model that
        still fit it (a layer gone, renamed or refusing its rule since drops that rule).
        What is dropped is said in the status bar; values of other files are left alone."""
        s = self.state
        notes = []
        rules = _json_dict(values.get(LAYER_RULES))
        entries = rules.get("rules") if isinstance(rules.get("rules"), list) else []
        if entries and s.model is not None:
            if rules.get("model") == s.model_path:
                notes += self._restore_layer_rules(entries)
            else:
                old = os.path.basename(str(rules.get("model")))
                notes.append(f"the per-layer rules of {old} were not restored: "
                             f"{os.path.basename(s.model_path or '')} is open")
        notes += self._restore_region(_json_dict(values.get(REGION)))
        sample = _json_dict(values.get(SAMPLE))
        index = sample.get("index")
        if (s.dataset is not None and sample.get("dataset") == s.dataset_name
                and isinstance(index, int) and not isinstance(index, bool)):
            if 0 <= index < len(s.dataset):
                s.sample_index = index
            else:
                notes.append(f"sample {index:,} was not restored: "
                             f"{os.path.basename(s.dataset_name)} has {len(s.dataset):,}")
        if notes:
            s.status = no_markup("Last session: " + "; ".join(notes))

    def _restore_region(self, saved) -> list[str]:
        """Take back the region of the same model when it still fits its map; the notes of
        one that does not."""
        s = self.state
        region = saved.get("region")
        if s.model is None or not isinstance(region, list):
            return []
        if saved.get("model") != s.model_path:
            return [f"the region of {os.path.basename(str(saved.get('model')))} was not "
                    f"restored: {os.path.basename(s.model_path or '')} is open"]
        try:
            s.region = region
        except (LRPError, ValueError, TypeError) as exc:
            return [f"region {region} was not restored ({no_markup(str(exc))})"]
        return []

    def _restore_layer_rules(self, entries) -> list[str]:
        """Set the remembered ``[key, spec, layer name]`` entries that fit the open model, in
        their order (a later one wins, as a later --layer-rule does); the dropped ones as
        notes."""
        s = self.state
        layers = s.model.analysis_layers()
        names = layer_names(layers)
        kept, dropped = {}, []
        for entry in entries:
            if not (isinstance(entry, list) and len(entry) == 3):
                continue  # edited by hand: no rule of this program's
            key, spec, name = entry
            said = f"{key}={spec}"
            if isinstance(key, int) and name is not None and (
                    not 0 <= key < len(names) or names[key] != name):
                dropped.append(f"{said} (layer {key} is no longer {name})")
                continue
            trial = {**kept, key: spec}
            try:
                trial = checked_layer_rules(trial)
                lrpcore.resolve_rules(layers, s.rule, trial)
            except (LRPError, ValueError, TypeError) as exc:
                dropped.append(f"{said} ({no_markup(str(exc))})")
                continue
            kept = trial
        if kept:
            s.layer_rules = kept
        if not dropped:
            return []
        return [f"per-layer rule{'s' * (len(dropped) > 1)} dropped, the model no longer "
                f"takes {'them' if len(dropped) > 1 else 'it'}: " + "; ".join(dropped)]

    # -- the explanation on display ---------------------------------------------------------
    def explain_request(self) -> ExplainRequest | None:
        """The request for the sample on display (None when nothing is open); from now on
        ``relevance`` and ``scores`` are None until its answer arrives (the views keep the
        last picture meanwhile). Reading the sample may raise (a broken file)."""
        s = self.state
        if s.model is None or s.dataset is None:
            return None
        req = ExplainRequest.from_state(s)
        with s.batch():
            s.relevance = None
            s.scores = None
        return req

    def accept_explanation(self, result) -> bool:
        """Show ``result`` if it answers the current selection; a stale one is dropped."""
        s = self.state
        if result.request.model is not s.model or result.index != s.sample_index:
            return False  # the selection moved on; a newer request is on its way
        self.last_result = result
        with s.batch():  # the same result again when its diagnosis was added: no redraw
            s.relevance = result.relevance
            s.scores = result.scores
            s.explanation = result
            s.diagnosis = result.diagnosis
        return True

    def explanation_failed(self) -> None:
        """Put the previous results back when they belong to the open model and dataset;
        a picture of another model or dataset is no result here."""
        s = self.state
        shown = s.explanation
        if (shown is not None and shown.request.model is s.model
                and shown.request.dataset_key == id(s.dataset)):
            with s.batch():
                s.relevance = shown.relevance
                s.scores = shown.scores
        elif shown is not None:
            self.last_result = None
            with s.batch():
                s.explanation = None
                s.diagnosis = None

    # -- jobs for the workers and what exports record ---------------------------------------
    def predict_job(self):
        """``fn(token)`` predicting every sample of the open dataset (None: nothing open)."""
        model, dataset = self.state.model, self.state.dataset
        if model is None or dataset is None:
            return None
        return lambda token: services.predict_dataset(model, dataset, token,
                                                      batch=PREDICT_BATCH)

    def rule_description(self) -> str:
        s = self.state
        try:
            return lrpcore.resolve_rules(s.model.analysis_layers(), s.rule,
                                         s.layer_rules).description
        except LRPError:
            return s.rule

    def export_info(self, **extra) -> dict:
        """The sidecar fields of an export made with the current settings."""
        s = self.state
        return services.sidecar(s.model_path, self.rule_description(), s.target, s.backend,
                                s.dtype, dataset=s.dataset_name, **region_field(s.region),
                                **extra)

    def result_info(self, result, **extra) -> dict:
        """The sidecar of an export of ``result``: the settings that made it, which differ
        from the state's while a newer explanation is computed or after one failed."""
        req = result.request
        named = {"predicted_class": int(result.prediction),
                 "predicted_name": class_name(req.model, result.prediction)}
        k = explained_class(result)
        if k is not None:
            named.update(explained_class=k, explained_name=class_name(req.model, k))
        data = self.state.dataset  # the photograph's file, while its dataset is open
        listing = getattr(data, "sample_files", None)
        if listing is not None and req.index is not None and req.dataset_key == id(data):
            files = listing([req.index])
            if files:
                named["sample_file"] = files[0]
        return services.sidecar(req.model_path, result.rule_description, req.target,
                                result.backend, req.dtype, dataset=req.dataset_name,
                                sample=result.index, **region_field(req.region), **named,
                                **extra)

    def batch_export_job(self, folder, indices, formats, chunk=256) -> services.BatchExport:
        """The batch export of samples ``indices`` with the current settings and colormap
        (LRPError when, e.g., the model file is gone and its sidecar cannot be written)."""
        s = self.state
        return services.BatchExport(
            request=ExplainRequest.from_state(s, raw=np.zeros(0)), dataset=s.dataset,
            indices=np.asarray(indices, dtype=np.int64), out_dir=os.fspath(folder),
            formats=tuple(formats), cmap=s.colormap, outline=s.outline,
            info=self.export_info(colormap=s.colormap), chunk=int(chunk))

    # -- predictions and accuracy -----------------------------------------------------------
    def add_predicted(self, batch, total) -> None:
        """Write one batch of predictions (:class:`lrpgui.services.Predicted`) into the
        dataset's array in place, a fresh one of −1 (unknown) at a job's first batch, and
        announce the batch (``state.predicted``): each batch costs its own size, where the
        whole array was copied and compared at every batch."""
        s = self.state
        preds = s.predictions
        if batch.first or preds is None or preds.size != total:
            s.predictions = np.full(total, -1, dtype=np.int64)
            preds = s.predictions  # an equal array held already stays: write into that one
        preds[batch.indices] = batch.classes
        s.predicted = batch

    def accept_predictions(self, predictions) -> int:
        """Store the dataset's predictions and accuracy; returns how many samples could
        not be read (predicted as -1)."""
        with self.state.batch():
            self.state.predictions = predictions  # equal to the batches written: no event
            self.state.predicted = None
            self.state.accuracy = services.accuracy(predictions, self.state.labels)
        return int(np.count_nonzero(np.asarray(predictions) < 0))


# what to open for a model, by the raw samples it takes: (test on raw_shape, hint, the built-in
# dataset it names); the first that matches is named when a model opens without a dataset, and
# its dataset opened at start when none was asked for and the remembered one does not fit
DATA_HINTS = (
    (lambda shape: int(np.prod(shape)) == 784,
     "mnist-test (or mnist-sample, mnist-train) for 28×28 digits", "mnist-test"),
    (lambda shape: len(shape) == 3 and shape[-1] == 3,
     "natural-images, or File → Open image folder… for your own photographs", "natural-images"),
)


def _matching_hint(model):
    spec = getattr(model, "input_spec", None)
    shape = tuple(getattr(spec, "raw_shape", None) or ())
    return next((h for h in DATA_HINTS if shape and h[0](shape)), None)


def data_hint(model, lead="") -> str:
    """``lead`` + which data fits ``model`` ('' when no hint knows its input)."""
    hint = _matching_hint(model)
    return "" if hint is None else f"{lead}{hint[1]}"


def fitting_dataset(model) -> str | None:
    """The built-in dataset that fits ``model`` (None when no hint knows its input)."""
    hint = _matching_hint(model)
    return None if hint is None else hint[2]


def _class_names(model) -> list[str] | None:
    """The class names of ``model`` (None without a model or names)."""
    names = None if model is None else getattr(model, "class_names", None)
    return None if names is None else [str(n) for n in names]


def _renamed(before, after, k) -> bool:
    """Whether class ``k`` means another thing after a model change: both models name it,
    differently (MNIST models all call class 3 "3", so a digit target stays)."""
    return (before is not None and after is not None and k < len(before) and k < len(after)
            and before[k] != after[k])


def remembered_model_exists(name) -> bool:
    """Whether the last session's model is still there to open: a file, or a model opened
    by name (``efficientnet-lite0``, a bundled ``mnist-lenet5``). When only files counted, a
    session that ended on EfficientNet-Lite0 and natural-images started again on LeNet-5
    and mnist-test."""
    from lrpcore.io.models import model_names  # noqa: PLC0415

    if not isinstance(name, str) or not name:
        return False
    return os.path.exists(name) or name in model_names()


def default_model() -> str | None:
    """The bundled LeNet-5, else the first bundled model, else None (an empty window)."""
    try:
        return str(bundled.default_model_path())
    except LRPError:
        models = bundled.bundled_models()
        return str(models[0]) if models else None


def no_input_shape(path) -> str:
    """Why the explorer cannot take a model file that records no input shape (a native graph
    saved with ``"input": null``), and the sidecar that gives it one."""
    side = os.path.basename(sidecar_path(path))
    return (f"{path}: the model records no input shape, and the explorer feeds it samples of a "
            "known shape and layout (a segmentation model's map size follows from it): give "
            f"one in its sidecar {side}, e.g. {{\"input\": {{\"shape\": [3, 224, 224]}}}} in "
            "the model's own axis order (lrp explain --raw takes the model as it is)")


def message(exc, path=None) -> str:
    """The loader's message for user errors; a short report for internal faults."""
    if isinstance(exc, LRPError):
        return str(exc)
    where = f"{path}: " if path else ""
    name = type(exc).__name__
    if "OutOfMemory" in name:
        return f"{where}the GPU ran out of memory ({exc}); try float32 or the CPU"
    return f"{where}{name}: {exc}"
