"""Explaining graph models: the chain engine's API (lrpcore.explain) over a DAG of nodes.

``Explainer(graph_model)`` returns a :class:`GraphExplainer`; its forward pass keeps every
tensor a later backward step needs, and :meth:`GraphForward.propagate` visits the nodes in
reverse topological order, summing the relevance of tensors read by several nodes.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .errors import RuleError, ShapeError
from .explain import Context, Explainer, Forward, RuleConfig
from .graph import GraphTrace, NodeActivations, inside_mask, match_layer_key, role


class GraphForward(Forward):
    """A forward pass of a graph model: every tensor by name."""

    def __init__(self, explainer, tensors):
        self.explainer = explainer
        self.tensors = tensors
        nodes = explainer.nodes
        self._joined = NodeActivations(
            [tensors[explainer.model.input_name]] + [tensors[n.output] for n in nodes],
            [tensors[n.inputs[0]] for n in nodes])
        self.shards = [self._joined]  # one shard: graphs are not split over CPU threads
        self._output = tensors[nodes[-1].output]

    @property
    def activations(self) -> list:
        """[x, output of node 0, ..., output of the last node]."""
        return self._joined

    @property
    def output(self):
        return self._output

    def propagate(self, R, config: RuleConfig, trace=False, to_numpy=True, condition=None):
        ex = self.explainer
        xp = self.backend.xp
        nodes, tensors = ex.nodes, self.tensors
        ctx = Context(xp, ex.dtype, ex.input_range)
        conditions = ex.condition_masks(condition, xp)
        relevance = {nodes[-1].output: xp.asarray(R, dtype=ex.dtype)}
        per_node = [None] * (len(nodes) + 1)
        per_node[-1] = relevance[nodes[-1].output]
        received = [None] * len(nodes)
        with np.errstate(all="ignore"):  # a division by zero is reported by check_finite
            for k in range(len(nodes) - 1, -1, -1):
                node = nodes[k]
                Rk = relevance.pop(node.output, None)
                ins = [tensors[t] for t in node.inputs]
                if Rk is None:  # nothing flows back through this node
                    if trace:
                        per_node[k] = xp.zeros_like(ins[0])
                        received[k] = xp.zeros_like(tensors[node.output])
                    continue
                if k in conditions:
                    Rk = Rk * _fit_mask(conditions[k], Rk.shape, k, node,
                                        ex.model.input_spec)
                if trace:
                    received[k] = Rk
                try:
                    parts = self._node_relevance(k, node, config.rules[k], ins,
                                                 tensors[node.output], Rk, ctx)
                except RuleError as exc:
                    raise RuleError(f"node {k} {node.name!r} ({node.layer.describe()}): "
                                    f"{exc}") from None
                for t, r in zip(node.inputs, parts, strict=True):
                    if t in relevance:
                        relevance[t] = relevance[t] + r
                    else:
                        relevance[t] = r
                if trace:
                    per_node[k] = parts[0] if len(parts) == 1 else _joined(parts, xp)
        R_in = relevance.get(ex.model.input_name)
        if R_in is None:
            R_in = xp.zeros_like(tensors[ex.model.input_name])
        if to_numpy:
            per_node = [None if r is None else self.backend.to_numpy(r) for r in per_node]
            received = [None if r is None else self.backend.to_numpy(r) for r in received]
            R_in = self.backend.to_numpy(R_in)
            self.check_finite(R_in, config)
        return (R_in, GraphTrace(per_node, received)) if trace else R_in

    def _node_relevance(self, k, node, rule, ins, y, R, ctx):
        ex = self.explainer
        layer = node.layer
        how = role(layer)  # as the layer class declares it
        if how == "merge":
            stabilizer = getattr(rule, "stabilizer", None)  # an ε-rule (resolve_rules checks)
            eps = None if stabilizer is None else stabilizer(layer)
            if eps is None:
                eps = ex.convention.norm.epsilon if ex.convention.norm is not None else 1e-6
            return layer.split(ins, y, R, eps, ctx.xp)
        x = ins[0]
        if how in ("linear", "maxpool"):
            if rule is None:
                raise RuleError("no rule was chosen for this layer")
            inside = inside_mask(ex.nodes, k, ex.producers, self.tensors, ctx.xp, ex.dtype,
                                 ex._inside)
            if inside is not None:
                ctx = replace(ctx, inside=inside)
            if how == "linear":
                return [rule.linear(layer, x, y, R, ctx)]
            return [rule.maxpool(layer, x, y, R, ctx)]
        if how == "reshape":
            return [layer.relevance_back(R, x, ctx.xp)]
        return [R]


def _joined(parts, xp):
    """Relevance at a merge's inputs as one array for traces: summed where the shapes agree
    (Add), concatenated along channels otherwise (Concat)."""
    if all(p.shape == parts[0].shape for p in parts):
        out = parts[0].copy()
        for p in parts[1:]:
            out += p
        return out
    return xp.concatenate(parts, axis=-1)


class GraphExplainer(Explainer):
    """Explains a graph model on one backend and dtype (see lrpcore.explain.Explainer)."""

    def __init__(self, model, backend=None, dtype=None, threads=None):
        super().__init__(model, backend, dtype, threads=1)
        self.nodes = model.analysis_nodes()
        self.convention = model.convention
        self.producers = {n.output: k for k, n in enumerate(self.nodes)}
        for node in self.nodes:
            role(node.layer)  # an unknown layer kind fails here, not mid-explanation
        bounds = None if model.input_spec is None else model.input_spec.channel_range()
        if bounds is not None:  # zB's bounds per channel (the engine's channels come last)
            self.input_range = tuple(np.asarray(v, dtype=self.dtype) for v in bounds)

    def run_layers(self, a):
        """The explained nodes applied to a device array (no checks, nothing kept)."""
        return self.model.run(a, self.backend.xp, nodes=self.nodes)

    def condition_masks(self, condition, xp):
        """{node index: mask on the device} from keys as per-layer rules take them: indices,
        node names, globs of names or module paths (every node a glob matches gets the mask,
        pads and reshapes left out; a key matching none is a RuleError)."""
        out = {}
        names = [n.name for n in self.nodes]
        for key, mask in (condition or {}).items():
            if isinstance(key, str) and not key.strip().isdigit():
                hits = match_layer_key(key, names)
                if len(hits) > 1:  # a glob: not the pads and reshapes the importer adds
                    hits = [k for k in hits if role(self.nodes[k].layer) != "reshape"] or hits
            elif isinstance(key, (int, np.integer, str)) and not isinstance(key, bool):
                hits = [int(key)]
            else:
                raise RuleError(f"condition key {key!r} is neither a node index nor a name")
                if not 0 <= hits[0] < len(self.nodes):
                    raise RuleError(f"node {hits[0]} does not exist (0..{len(self.nodes) - 1})")
            device_mask = xp.asarray(mask, dtype=self.dtype)
            if not bool(xp.isfinite(device_mask).all()):
                raise ShapeError(f"condition on node {hits[0]} {names[hits[0]]!r}: the mask "
                                 "holds NaN or infinite values")
            for k in hits:
                out[k] = device_mask
        return out

    def sample_bytes(self, sample_shape) -> int:
        try:
            shapes = self.model.shapes(tuple(sample_shape))
        except ShapeError:
            return 0
        total = int(np.prod(sample_shape)) + sum(int(np.prod(s)) for s in shapes)
        return total * self.dtype.itemsize

    def forward(self, x, raw=False) -> GraphForward:
        a = self.device_input(x, raw)
        with np.errstate(all="ignore"):
            tensors = self.model.run(a, self.backend.xp, nodes=self.nodes, keep=True)
        return GraphForward(self, tensors)


def _fit_mask(mask, shape, k, node, spec):
    """A condition mask that fits the node's output (batch shape ``shape``, with or without the
    batch axis): as the engine stores it (H×W×C), or, for a channels-first model, C×H×W as its
    users see it; anything else is a one-line ShapeError (was numpy's broadcast error)."""
    def fits(m):
        try:
            return np.broadcast_shapes(m.shape, shape) == tuple(shape)
        except ValueError:
            return False

    if fits(mask):
        return mask
    nchw = spec is not None and spec.layout == "NCHW" and len(shape) == 4
    if nchw and mask.ndim in (3, 4):
        moved = mask.transpose((1, 2, 0) if mask.ndim == 3 else (0, 2, 3, 1))
        if fits(moved):
            return moved
    want = "×".join(map(str, shape[1:]))
    if nchw:
        want += f" (or {shape[3]}×{shape[1]}×{shape[2]}, channels first)"
    raise ShapeError(f"condition on node {k} {node.name!r}: a mask of shape "
                     f"{'×'.join(map(str, mask.shape))} does not fit its output {want}")
