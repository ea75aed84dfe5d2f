"""A small evented model: typed fields that announce real changes, without any Qt.

Views subscribe per field (``model.events.sample_index.connect(cb)``) or to every change
(``model.events.changed``). Assigning an equal value emits nothing, so widget ↔ model echo
loops end after one round. ``with model.batch():`` defers events until the block ends and then
emits only the fields whose final value differs from the value before the block.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import numpy as np


class Emitter:
    """A list of callbacks called with the new value (and the field name for ``changed``)."""

    def __init__(self):
        self._callbacks: list[Callable] = []

    def connect(self, callback: Callable) -> Callable:
        self._callbacks.append(callback)
        return callback

    def disconnect(self, callback: Callable) -> None:
        with contextlib.suppress(ValueError):
            self._callbacks.remove(callback)

    def emit(self, *args) -> None:
        """Call every listener, even when one fails; then raise the first failure."""
        failure = None
        for callback in list(self._callbacks):
            try:
                callback(*args)
            except Exception as exc:  # noqa: BLE001 - re-raised below, after the others ran
                failure = failure or exc
        if failure is not None:
            raise failure


class Events:
    """One :class:`Emitter` per field, plus ``changed`` (called as ``cb(name, value)``)."""

    def __init__(self, names):
        self.changed = Emitter()
        for name in names:
            setattr(self, name, Emitter())


def same_value(old, new) -> bool:
    """Equality that is safe for numpy arrays and arbitrary objects."""
    if old is new:
        return True
    if isinstance(old, np.ndarray) or isinstance(new, np.ndarray):
        if not (isinstance(old, np.ndarray) and isinstance(new, np.ndarray)):
            return False
        return (old.shape == new.shape and old.dtype == new.dtype
                and bool(np.array_equal(old, new, equal_nan=old.dtype.kind == "f")))
    if type(old) is not type(new):
        return False
    try:
        return bool(old == new)
    except Exception:  # objects whose == is not a plain bool: treat as different
        return False


class Field:
    """A typed field: ``validate`` turns an assigned value into the stored one or raises."""

    def __init__(self, default, validate: Callable | None = None, doc: str = ""):
        self.default = default
        self.validate = validate
        self.__doc__ = doc
        self.name = ""

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        return obj._values[self.name]

    def __set__(self, obj, value):
        if self.validate is not None:
            value = self.validate(value, obj)
        obj._assign(self.name, value)


class EventedModel:
    """Base class: declare fields as class attributes of type :class:`Field`."""

    def __init__(self, **values):
        fields = self.fields()
        self._values = {name: f.default() if callable(f.default) else f.default
                        for name, f in fields.items()}
        self._batch_depth = 0
        self._batch_before: dict = {}
        self.events = Events(fields)
        for name, value in values.items():
            if name not in fields:
                raise TypeError(f"{type(self).__name__} has no field {name!r}")
            setattr(self, name, value)

    @classmethod
    def fields(cls) -> dict[str, Field]:
        out = {}
        for klass in reversed(cls.__mro__):
            out.update({k: v for k, v in vars(klass).items() if isinstance(v, Field)})
        return out

    def _assign(self, name, value):
        old = self._values[name]
        if same_value(old, value):
            return
        self._values[name] = value
        if self._batch_depth:
            self._batch_before.setdefault(name, old)
            return
        self._emit(name, value)

    def _emit(self, name, value):
        getattr(self.events, name).emit(value)
        self.events.changed.emit(name, value)

    @contextlib.contextmanager
    def batch(self):
        """Group assignments; emit once per field that really changed, after the block."""
        self._batch_depth += 1
        try:
            yield self
        finally:
            self._batch_depth -= 1
            if self._batch_depth == 0:
                before, self._batch_before = self._batch_before, {}
                for name, old in before.items():
                    if not same_value(old, self._values[name]):
                        self._emit(name, self._values[name])

    def as_dict(self) -> dict:
        return dict(self._values)
