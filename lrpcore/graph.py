"""Graph models: a directed acyclic graph of named nodes, and how relevance flows through it.

A node applies one layer to one or more named tensors and writes one tensor. The forward pass
visits nodes in topological order; the backward pass visits them in reverse and, where a tensor
is read by several nodes (a residual connection), sums the relevance each returns. Each layer's
LRP role comes from the layer class (a linear map takes a rule, a merge splits, a reshape moves
relevance back, an activation passes it on), so an unknown kind is an error, never a silent
pass-through. A toolbox network is a chain and keeps its own, faster path (lrpcore.explain).

Graph models come from ONNX exports and follow zennit's numerics (:data:`ZENNIT`); toolbox
models keep the toolbox's (:data:`TOOLBOX`). See the README's "Graph models" section.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass

import numpy as np

from .conventions import LITERATURE_STABILIZER, TOOLBOX, ZENNIT, Convention  # noqa: F401
from .errors import RuleError, ShapeError
from .layers import ROLES, Flatten
from .model import Sequential, device_input, layer_table
from .text import is_digits, short, unique_elided


class LayerList(list):
    """The layers of a model in topological order, with their node names and convention (what
    rule resolution needs to address nodes by name or glob), and ``sources[k]``: for each
    input of node k the node that writes it (−1: the model's input), which the conservation
    report names at a merge."""

    def __init__(self, layers, names, convention, sources=None):
        super().__init__(layers)
        self.names = list(names)
        self.convention = convention
        self.sources = [tuple(s) for s in sources] if sources is not None else \
            [(k - 1,) for k in range(len(self))]


@dataclass(frozen=True)
class Node:
    name: str
    layer: object
    inputs: tuple
    output: str


class GraphTrace(list):
    """A trace as chains have it (relevance at each node's input, the initial relevance last)
    plus ``outputs[k]``: the relevance node k received at its output. In a chain that is the
    next entry; in a graph a tensor read by several nodes collects from all of them.
    ``branches[k]`` is, at a merge, each input's share per sample (N × inputs sums; None at
    other nodes): ``self[k]`` joins them into one array, these keep the split."""

    def __init__(self, per_node, outputs, branches=None):
        super().__init__(per_node)
        self.outputs = list(outputs)
        self.branches = list(branches) if branches is not None else [None] * len(self.outputs)

    def map(self, fn):
        """The same trace with ``fn`` applied to every array (e.g. to copy it to the host)."""
        return GraphTrace([None if r is None else fn(r) for r in self],
                          [None if r is None else fn(r) for r in self.outputs],
                          [None if r is None else fn(r) for r in self.branches])


class NodeActivations(list):
    """[x, output of node 0, ...] plus ``inputs[k]``, the (first) input of node k."""

    def __init__(self, values, inputs):
        super().__init__(values)
        self.inputs = list(inputs)


def role(layer) -> str:
    """How relevance passes a layer, as its class declares: 'merge', 'linear', 'maxpool',
    'reshape' or 'pass' (anything else is an error, never a silent pass-through)."""
    declared = getattr(layer, "role", None)
    if declared not in ROLES:
        raise RuleError(f"layer {layer.describe()} has no LRP role")
    return declared


class GraphModel(Sequential):
    """A model whose layers form a DAG of :class:`Node` s (topologically ordered)."""

    is_graph = True

    def __init__(self, nodes, input_name, output_name, input_spec=None, meta=None,
                 source=None, convention=ZENNIT):
        self.nodes = list(nodes)
        self.input_name, self.output_name = input_name, output_name
        self.convention = convention
        self._shapes_memo = {}  # input shape -> every node's output shape (see shapes)
        self._plan_memo = None  # (node list, kept set, its plan): see _run_plan
        _check_order(self.nodes, input_name, output_name)
        for node in self.nodes:
            node.layer.small_windows = True
        super().__init__([n.layer for n in self.nodes], input_spec, dict(meta or {}), source)

    # -- structure ---------------------------------------------------------------------------
    @property
    def node_names(self) -> list:
        return [n.name for n in self.nodes]

    def input_layout(self) -> str:
        """NCHW when the input goes to a channels-last conversion (a PyTorch export), else
        the engine's own NHWC (a Keras export, whose Transpose is folded away). An image
        input read only by a plain flatten takes either order: the one it was made with (a
        PyTorch MLP's N×C×H×W; NHWC here refused every sidecar of such a model, advising a
        layout that would feed colour images scrambled)."""
        readers = [n.layer for n in self.nodes if self.input_name in n.inputs]
        if any(getattr(r, "channels_first_input", False) for r in readers):
            return "NCHW"
        spec = self.input_spec
        if (readers and all(type(r) is Flatten for r in readers) and spec is not None
                and len(spec.shape) == 3 and spec.layout in ("NCHW", "NHWC")):
            return spec.layout
        return "NHWC"

    def analysis_nodes(self) -> list:
        """Nodes LRP explains: a final SoftMax is dropped."""
        if self.nodes and getattr(self.nodes[-1].layer, "output_activation", False):
            return self.nodes[:-1]
        return list(self.nodes)

    def analysis_layers(self) -> LayerList:
        nodes = self.analysis_nodes()
        producers = {n.output: k for k, n in enumerate(nodes)}
        sources = [tuple(producers.get(t, -1) for t in n.inputs) for n in nodes]
        return LayerList([n.layer for n in nodes], [n.name for n in nodes], self.convention,
                         sources)

    def drop_softmax_output_layer(self):
        nodes = self.analysis_nodes()
        return GraphModel(nodes, self.input_name, nodes[-1].output, self.input_spec,
                          self.meta, self.source, self.convention)

    def shapes(self, in_shape=None) -> list:
        """Per-sample output shape of every node (ShapeError naming the node). Remembered per
        input shape: every explanation checks its input with it (~1 ms for EfficientNet)."""
        if in_shape is None:
            if self.input_spec is None:
                raise ShapeError("the model's input shape is unknown")
            in_shape = self.input_spec.shape
        key = (tuple(in_shape), len(self.nodes))
        if key not in self._shapes_memo:
            self._shapes_memo[key] = self._node_shapes(tuple(in_shape))
        return list(self._shapes_memo[key])

    def _node_shapes(self, in_shape) -> list:
        known = {self.input_name: tuple(in_shape)}
        out = []
        for node in self.nodes:
            ins = [known[t] for t in node.inputs]
            try:
                if getattr(node.layer, "merge", False):
                    shape = node.layer.output_shape_many(ins)
                else:
                    shape = node.layer.output_shape(ins[0])
            except ShapeError as exc:
                raise ShapeError(f"node {short(node.name)!r} ({node.layer.describe()}): "
                                 f"{exc}") from None
            known[node.output] = tuple(shape)
            out.append(tuple(shape))
        return out

    # -- computation -------------------------------------------------------------------------
    def run(self, a, xp, nodes=None, keep=False):
        """Forward pass from the input array ``a``; returns the output, or with ``keep`` the
        dict of every tensor (``keep``: True, or the set of names to keep)."""
        nodes = self.nodes if nodes is None else nodes
        tensors = {self.input_name: a}
        absorbed, skipped, reads, last_use = self._run_plan(nodes, keep)
        for k, node in enumerate(nodes):
            if k in skipped:  # its output is made by the pad that reads it
                continue
            ins = [tensors[t] for t in reads[k]]
            layer = node.layer
            if k in absorbed:
                y = layer.forward(ins[0], xp, clamped_by=nodes[absorbed[k]].layer)
            elif getattr(layer, "merge", False):
                y = layer.forward_many(ins, xp)
            else:
                y = layer.forward(ins[0], xp)
            tensors[node.output] = y
            if keep is not True:  # free what no later node reads and is not kept
                for t in reads[k]:
                    if last_use.get(t) == k and t != node.output and not (keep and t in keep):
                        tensors.pop(t, None)
        if keep is False:
            return tensors[nodes[-1].output]
        return tensors if keep is True else {t: v for t, v in tensors.items() if t in keep}

    def _run_plan(self, nodes, keep):
        """(pads that absorb a clamp {k: j}, the clamps they absorb, the tensors each node
        reads, the last reader of each tensor) for a forward pass over ``nodes`` keeping
        ``keep``; remembered for the last list and set asked (an explainer asks for the same
        ones at every pass: ~50 µs of one digit's ~400)."""
        memo = self._plan_memo
        if memo is not None and memo[0] is nodes and memo[1] is keep and memo[2] == len(nodes):
            return memo[3]
        absorbed = {} if keep is True else {
            k: j for k, j in clamps_absorbed(nodes).items()
            if not (keep and nodes[j].output in keep)}
        reads = [nodes[absorbed[k]].inputs if k in absorbed else node.inputs
                 for k, node in enumerate(nodes)]
        plan = (absorbed, set(absorbed.values()), reads, _last_use(reads))
        self._plan_memo = (nodes, keep, len(nodes), plan)
        return plan

    def forward(self, x, backend=None, dtype=None, layers=None):
        be, a = device_input(x, backend, dtype)
        return self.run(a, be.xp)

    def summary(self) -> str:
        try:
            shapes = self.shapes()
        except ShapeError:
            shapes = [None] * len(self.nodes)
        described = [node.layer.describe() + (" (functional)" if getattr(
            node.layer, "functional", False) else "") for node in self.nodes]
        names, head = unique_elided([node.name for node in self.nodes], NAME_WIDTH), "node"
        modules = [getattr(node.layer, "module_path", None) for node in self.nodes]
        if any(modules):  # a dynamo=True export's node_Conv_293: its module, as keys take it
            width = max(map(len, names))
            names = [f"{name:<{width}}  {module or ''}".rstrip()
                     for name, module in zip(names, modules, strict=True)]
            head = f"{'node':<{width}}  module"
        table = layer_table(described, shapes, [node.layer.param_count() for node in self.nodes],
                            names, 44, head)
        total = f"total parameters: {self.param_count():,}"
        spec = (f"input: {self.input_spec.describe(self.sequence_layout())}"
                if self.input_spec else "input: unknown")
        conv = f"numerics: {self.convention.name} (graph model, {len(self.nodes)} nodes)"
        functional = sum(bool(getattr(n.layer, "functional", False)) for n in self.nodes)
        if functional:  # layers.mark_functional
            conv += (f"; {functional} functional call{'s' * (functional > 1)} (an activation or "
                     "average pool called in forward, not as a module: relevance passes as "
                     "its gradient, as zennit's autograd takes it)")
        return "\n".join([*table, total, spec, conv])


def _check_order(nodes, input_name, output_name):
    known = {input_name}
    names = set()
    for node in nodes:
        if node.name in names:
            raise ShapeError(f"two nodes are named {short(node.name)!r}")
        names.add(node.name)
        merge = getattr(node.layer, "merge", False)
        arity = getattr(node.layer, "arity", None) if merge else 1
        if (len(node.inputs) < 2) if arity is None else (len(node.inputs) != arity):
            # a merge of one tensor, or a layer given two, would fail inside the engine
            takes = {None: "two or more", 1: "one", 2: "two"}.get(arity, str(arity))
            raise ShapeError(f"node {short(node.name)!r} ({node.layer.describe()}) reads "
                             f"{len(node.inputs)} tensors; it takes {takes}")
        missing = [t for t in node.inputs if t not in known]
        if missing:
            raise ShapeError(f"node {short(node.name)!r} reads {short(missing[0])!r} before it is "
                             "computed")
        if node.output in known:
            raise ShapeError(f"node {short(node.name)!r} writes {short(node.output)!r} a second "
                             "time")
        known.add(node.output)
    if not nodes or nodes[-1].output != output_name:
        raise ShapeError("the last node must compute the model's output")


def clamps_absorbed(nodes) -> dict:
    """{k: j} for every node k that pads (``Layer.absorbs``) the output of a clamping node j
    (``clamp``: ReLU6's Clip, ReLU) that no other node reads. The pad then clamps while it
    copies and j's output is never made: one pass over the tensor instead of two (a
    photograph through EfficientNet-Lite0 has 16 such pairs)."""
    readers, producer = {}, {}
    for k, node in enumerate(nodes):
        producer[node.output] = k
        for t in node.inputs:
            readers.setdefault(t, []).append(k)
    found = {}
    for k, node in enumerate(nodes):
        if len(node.inputs) != 1:
            continue
        j = producer.get(node.inputs[0])
        if (j is not None and node.layer.absorbs(nodes[j].layer)
                and len(nodes[j].inputs) == 1 and readers[node.inputs[0]] == [k]):
            found[k] = j
    return found


def _last_use(reads) -> dict:
    """{tensor: index of the last node that reads it}, from each node's tensors read."""
    last = {}
    for k, names in enumerate(reads):
        for t in names:
            last[t] = k
    return last


def module_path(name: str) -> str:
    """PyTorch's module path of a TorchScript export's node name: '/layer1/layer1.0/conv1/Conv'
    → 'layer1.0.conv1'. The exporter names each scope by its parent's scope name plus the index
    for a child of a Sequential or ModuleList ('layer1.0' under 'layer1', 'block.0.0' under
    'block.0'), by the attribute name otherwise: joining the scopes gave 'layer1.layer1.0.conv1',
    which no model's ``named_modules`` holds."""
    parts = [p for p in name.split("/") if p]
    if len(parts) > 1:
        parts = parts[:-1]
    path = [part[len(previous) + 1:] if previous and part.startswith(previous + ".") else part
            for previous, part in zip(["", *parts[:-1]], parts, strict=True)]
    return ".".join(path)


def node_module_path(name: str, layer=None) -> str:
    """The PyTorch module path a node answers to: the one recorded for its layer (a
    ``dynamo=True`` export's, whose names ``node_Conv_293`` hold none:
    :func:`lrpcore.io.onnx_graph.record_module_paths`), else the one its name holds."""
    return getattr(layer, "module_path", None) or module_path(name)


def node_label(name: str, module: str | None) -> str:
    """A node as a reader is shown it: its name, and in brackets the module path recorded for
    its layer (``node_conv2d_1 [stage.0.branch1.0]``); a TorchScript name says it already."""
    return f"{name} [{module}]" if module else name


def scope_path(name: str) -> str:
    """The scopes of an exported node name joined by dots ('layer1.layer1.0.conv1'), which
    globs of earlier versions were matched against ('layer1.*' still names layer 1's nodes)."""
    parts = [p for p in name.split("/") if p]
    return ".".join(parts[:-1] if len(parts) > 1 else parts)


# a module path recorded for a node (a dynamo export's metadata, a native header's "module")
MODULE_PATH = re.compile(r"[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*")
MAX_MODULE_PATH = 200


NAME_WIDTH = 48  # node names in a summary longer than this are cut in the middle

LAYER_KEY_HELP = (
    "KEY=SPEC: KEY is a layer index (from 0, in topological order over the explained layers; "
    "'lrp info' lists them; -1 is the last), a layer name or a glob of names: a chain's "
    "layers are named by kind ('convolution0', 'rect1', 'conv*'; 'lrp info' shows them), a "
    "graph model's (ONNX) by node name ('/layer1/conv1/Conv', '*/conv2/*') or PyTorch module "
    "path or glob of them ('layer1.*' names '/layer1/conv1/Conv', '/layer1/conv2/Conv', ...)."
    " A glob names the linear and pooling layers it matches; a merge (Add, Sum, Mean) is "
    "named only by its exact name or index and takes epsilon[:EPS] or simple (default: "
    "zennit's Norm, ε = 1e-6); Concat takes no rule. Examples for a chain (LRP Toolbox): "
    "--layer-rule 0=flat --layer-rule 'conv*=zplus'; for an ONNX graph: --layer-rule "
    "'/conv1/Conv=flat' --layer-rule 'layer1.*=zplus' (index 0 of an image graph is the "
    "change of its input's layout, which takes no rule: 'lrp info' gives the first "
    "convolution's index and name)"
)


def match_layer_key(key, names, layers=()) -> list[int]:
    """Indices a per-layer rule key addresses: an index, a node name, or a glob of node names
    or of their module paths (``layer1.*`` for PyTorch's '/layer1/conv1/Conv'; a ``dynamo=True``
    export's from its metadata: ``layers[i].module_path``, see
    :func:`lrpcore.io.onnx_graph.record_module_paths`)."""
    if isinstance(key, (int, np.integer)) or is_digits(str(key).strip()):
        return [int(key)]
    hits = [i for i, name in enumerate(names) if name == key]
    layers = list(layers) or [None] * len(names)
    if not hits:
        hits = [i for i, name in enumerate(names)
                if fnmatch.fnmatchcase(name, str(key))
                or fnmatch.fnmatchcase(node_module_path(name, layers[i]), str(key))
                or fnmatch.fnmatchcase(scope_path(name), str(key))]
    if not hits:
        raise RuleError(f"no node is named or matches {key!r} ('lrp info MODEL' lists the "
                        "layer names)")
    return hits


def inside_mask(nodes, k, producers, tensors, xp, dtype, cache):
    """For node k whose input comes from a Pad (through activations) or another layer that
    sets its input among constant zeros (a transposed convolution's ``Spread``): 1 over the
    real input, 0 elsewhere; else None (see lrpcore.layers.Pad.inside). Consecutive ones are
    one border: dynamo's export without its optimiser (``optimize=False``) writes PyTorch's
    asymmetric ``padding="same"`` as a Pad node before a Conv with pads of its own, and flat
    and zB counted the outer Pad's zeros as input (0.2 × max|R| off zennit)."""
    borders, t = [], nodes[k].inputs[0]
    while t in producers:
        node = nodes[producers[t]]
        if getattr(node.layer, "pass_through", False) and len(node.inputs) == 1:
            t = node.inputs[0]
            continue
        if not callable(getattr(node.layer, "embed", None)):
            break
        borders.append(node.layer)
        t = node.inputs[0]
    if not borders:
        return None
    in_shape = tuple(tensors.shape(t)[1:])
    key = (k, in_shape)
    if key not in cache:
        mask = borders[-1].inside(in_shape, xp, dtype)
        for outer in reversed(borders[:-1]):  # each border around the one inside it
            mask = outer.embed(mask, xp)
        cache[key] = mask
    return cache[key]
