"""An unpickler whose time and memory are bounded by the number of opcodes it runs.

Restricting globals (``find_class``) keeps a pickle from running code, but not from costing
unbounded time or memory: a 10-byte pickle can ask the C unpickler to grow its memo to 2^28
entries (4 GB), 20 MB of ``EMPTY_SET`` opcodes become 4.7 GB of sets, and a dictionary of
60,000 integers with one hash (``k·(2^61−1)``) takes minutes to build. This unpickler runs
on Python's own pure-Python machine (``pickle._Unpickler``: its memo is a dictionary), counts
opcodes, refuses the set opcodes (no model file holds a set), takes only strings as dictionary
keys (their hash is salted per process, so no file can make them collide) and applies BUILD to
instances only, never to a class or function the file was allowed to name.
"""

from __future__ import annotations

import pickle

from ..errors import ModelFormatError

_SET_OPCODES = (pickle.EMPTY_SET, pickle.ADDITEMS, pickle.FROZENSET)
_BASE = pickle._Unpickler  # noqa: SLF001 - the pure-Python machine, stable since Python 3.0


def _counted(step):
    def run(self):
        self.ops_left -= 1
        if self.ops_left < 0:
            raise pickle.UnpicklingError(f"more than {self.max_ops:,} pickle operations; "
                                         "not a model file")
        step(self)
    return run


def _keys_are_names(step, keys_of):
    def run(self):
        for key in keys_of(self.stack):
            if type(key) is not str:
                raise pickle.UnpicklingError("a dictionary key that is not a name")
        step(self)
    return run


def _build_on_instances(step):
    def run(self):
        inst = self.stack[-2] if len(self.stack) >= 2 else None
        if isinstance(inst, type) or callable(inst):
            raise pickle.UnpicklingError("BUILD applied to a class or function")
        step(self)
    return run


class _Table(dict):
    def __missing__(self, code):
        what = "a set, which no model file holds" if bytes([code]) in _SET_OPCODES else (
            f"an unknown pickle operation {bytes([code])!r}")
        raise pickle.UnpicklingError(f"the file asks for {what}")


def _dispatch() -> dict:
    table = {code: step for code, step in _BASE.dispatch.items()
             if bytes([code]) not in _SET_OPCODES}
    table[pickle.SETITEM[0]] = _keys_are_names(table[pickle.SETITEM[0]], lambda s: s[-2:-1])
    for op in (pickle.SETITEMS, pickle.DICT):
        table[op[0]] = _keys_are_names(table[op[0]], lambda s: s[0::2])
    table[pickle.BUILD[0]] = _build_on_instances(table[pickle.BUILD[0]])
    return _Table({code: _counted(step) for code, step in table.items()})


class BoundedUnpickler(_BASE):
    """A pure-Python unpickler that runs at most ``max_ops`` opcodes (see the module doc);
    subclasses restrict ``find_class`` and ``persistent_load`` as before."""

    dispatch = _dispatch()

    def __init__(self, file, max_ops: int, **kwargs):
        super().__init__(file, **kwargs)
        self.max_ops = self.ops_left = int(max_ops)


class AllowListUnpickler(BoundedUnpickler):
    """A bounded unpickler that resolves only the globals in ``self.allowed`` (``{(module,
    name): object}``, set by the subclass per load) and refuses any other naming the file
    ``self.path`` and the global, before anything runs: one wording of that refusal for
    every pickled model format. ``holds`` says what such a file is."""

    holds = "a model file"

    def find_class(self, module, name):
        target = self.allowed.get((module, name))
        if target is None:
            raise ModelFormatError(
                f"{self.path}: refused to load: the file asks for '{module}.{name}', which is "
                f"not part of {self.holds} (the file may be unsafe; nothing was run)")
        return target
