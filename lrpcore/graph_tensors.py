"""The tensors of a graph model's forward pass, kept for explaining it: most kept, some remade.

An explanation needs every layer's input and output again on the way back. Storing them all
costs ~69 MB per 224×224 photograph in EfficientNet-Lite0, and most of that is the output of
element-wise activations and padding (ReLU6 and Pad: 42 MB) whose input is stored anyway.
Those outputs (layers with ``rematerialize = True``) are recomputed when the backward pass asks
for them, which costs about as much as reading them back from memory would, and a batch of 16
photographs keeps ~0.4 GB instead of 1.1 GB.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class TensorStore(Mapping):
    """One shard's tensors by name: stored ones as they are, the outputs of rematerialised
    nodes computed from their input on each access (never stored)."""

    def __init__(self, stored, producers, shapes, xp):
        self._stored = stored
        self._producers = producers  # tensor name -> node computing it (dropped ones only)
        self._shapes = shapes        # tensor name -> per-sample shape
        self._xp = xp
        self.batch = next(iter(stored.values())).shape[0]

    def __getitem__(self, name):
        found = self._stored.get(name)
        if found is not None:
            return found
        node = self._producers.get(name)
        if node is None:
            raise KeyError(name)
        before = self._producers.get(node.inputs[0])
        if before is not None and node.layer.absorbs(before.layer):
            # a pad of a dropped ReLU6's output: both in one pass (lrpcore.graph.clamps_absorbed)
            return node.layer.forward(self[before.inputs[0]], self._xp, clamped_by=before.layer)
        return node.layer.forward(self[node.inputs[0]], self._xp)

    def __iter__(self):
        return iter(self._shapes)

    def __len__(self):
        return len(self._shapes)

    def __contains__(self, name):
        return name in self._shapes

    def shape(self, name) -> tuple:
        """The batch shape of a tensor, without computing it."""
        return (self.batch,) + tuple(self._shapes[name])

    def is_stored(self, name) -> bool:
        return name in self._stored

    def subset(self, index) -> TensorStore:
        """The store of samples ``index`` (a slice or an index array)."""
        return TensorStore({k: v[index] for k, v in self._stored.items()}, self._producers,
                           self._shapes, self._xp)

    @staticmethod
    def joined(stores) -> TensorStore:
        """One store for the shards ``stores`` of a batch, in order."""
        first = stores[0]
        xp = first._xp
        return TensorStore({k: xp.concatenate([s._stored[k] for s in stores])
                            for k in first._stored}, first._producers, first._shapes, xp)


MAX_REMAKE_DEPTH = 4  # ReLU6 → Pad in EfficientNet: 2; a crafted chain of 10⁵ ReLUs: stored


def keep_and_drop(model, nodes) -> tuple[set, dict]:
    """(names of the tensors a forward pass stores, {dropped tensor: node that remakes it}).
    A node's output is dropped when its layer is cheap to rerun on one input, and at most
    :data:`MAX_REMAKE_DEPTH` dropped tensors in a row: each access recomputes the chain back
    to a stored tensor (recursively), so a long chain cost quadratic time and overflowed the
    stack.
    """
    dropped, depth = {}, {}  # depth: how many dropped tensors one access recomputes
    for node in nodes:
        if getattr(node.layer, "rematerialize", False) and len(node.inputs) == 1:
            d = depth.get(node.inputs[0], 0) + 1
            if d <= MAX_REMAKE_DEPTH:
                dropped[node.output], depth[node.output] = node, d
    kept = {model.input_name} | {n.output for n in nodes}
    kept -= set(dropped)
    kept.add(nodes[-1].output)  # the output is read for every initial relevance
    dropped.pop(nodes[-1].output, None)
    return kept, dropped


# A pass whose remade tensors take at most this many bytes keeps them instead: remaking costs
# a call per access, the most of a small pass (one digit through the ResNet 5–6 % faster, a
# batch of 16 digits 3 %); a photograph's 27 MB (float32) gained nothing: the memory kept
# costs what remaking saves.
KEEP_REMADE_BYTES = 16 * 2**20


def made_anyway(nodes, dropped) -> set:
    """The dropped tensors a forward pass makes anyway (all but the clamps a pad applies in
    its own pass, ``lrpcore.graph.clamps_absorbed``): a small pass keeps them at no cost but
    memory (KEEP_REMADE_BYTES)."""
    from .graph import clamps_absorbed  # noqa: PLC0415 (graph imports this module's users)

    absorbed = {nodes[j].output for j in clamps_absorbed(nodes).values()}
    return set(dropped) - absorbed


class Fetched(Sequence):
    """Tensors by a list of names, each fetched (computed or joined) on access."""

    def __init__(self, names, fetch):
        self._names, self._fetch = list(names), fetch

    def __len__(self):
        return len(self._names)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self._fetch(n) for n in self._names[i]]
        return self._fetch(self._names[i])


class LazyActivations(Fetched):
    """[x, output of node 0, ...] of a forward pass plus ``inputs[k]``, the (first) input of
    node k: the list form the chain engine's tools read, fetched on access."""

    def __init__(self, names, input_names, fetch):
        super().__init__(names, fetch)
        self.inputs = Fetched(input_names, fetch)


class ShardedTrace(Sequence):
    """The trace of a batch that ran as shards: each shard's GraphTrace (``shards``), an
    entry joined over the batch only when it is read. The diagnosis reads the shards one by
    one; joining every node's relevance of a batch of photographs cost more than the pass."""

    def __init__(self, shards, xp):
        self.shards = list(shards)
        self._xp = xp
        self.outputs = Fetched(range(len(self.shards[0].outputs)), self._output)
        self.branches = Fetched(range(len(self.shards[0].outputs)), self._branch)

    def __len__(self):
        return len(self.shards[0])

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[k] for k in range(len(self))[i]]
        return _joined([s[i] for s in self.shards], self._xp)

    def _output(self, k):
        return _joined([s.outputs[k] for s in self.shards], self._xp)

    def _branch(self, k):
        return _joined([s.branches[k] for s in self.shards], self._xp)

    def map(self, fn):
        """The joined trace with ``fn`` applied to every array (a GraphTrace)."""
        from .graph import GraphTrace  # noqa: PLC0415 (graph imports this module's users)

        return GraphTrace([None if r is None else fn(r) for r in self],
                          [None if r is None else fn(r) for r in self.outputs],
                          [None if r is None else fn(r) for r in self.branches])


def _joined(arrays, xp):
    return None if arrays[0] is None else xp.concatenate(arrays)


class Shape:
    """A stand-in for a tensor where only its shape is read (layers that reshape relevance)."""

    def __init__(self, shape):
        self.shape = tuple(shape)
