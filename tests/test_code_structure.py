"""The shape of the code the issue asked for, checked on the source: no import cycle between
modules, one request type, one cancellation exception, one target parser in the explorer."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import lrpcore
import lrpcore.errors

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("lrpcore", "lrpgui")


def _modules() -> dict[str, Path]:
    mods = {}
    for pkg in PACKAGES:
        for f in sorted((ROOT / pkg).rglob("*.py")):
            name = ".".join(f.relative_to(ROOT).with_suffix("").parts)
            mods[name.removesuffix(".__init__")] = f
    return mods


def _top_level_imports(name, path, mods) -> set[str]:
    """The package modules ``name`` imports when it is imported (not inside functions);
    a parent package is left out (a child always sees its package half-initialised)."""
    tree = ast.parse(path.read_text())
    is_pkg = path.name == "__init__.py"
    found = set()
    nodes = [n for top in tree.body for n in ([top] + (top.body if isinstance(top, ast.If)
                                                        else []))]
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in mods}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")[:None if is_pkg else -1]
                base = base[:len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found |= {m for m in [module] + [f"{module}.{a.name}" for a in node.names]
                      if m in mods}
    return {m for m in found if not name.startswith(m + ".")}


def _cycles(graph) -> list[list[str]]:
    state, cycles = {}, []

    def visit(u, stack):
        state[u] = "open"
        stack.append(u)
        for v in sorted(graph[u]):
            if state.get(v) == "open":
                cycles.append(stack[stack.index(v):] + [v])
            elif v not in state:
                visit(v, stack)
        stack.pop()
        state[u] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m, [])
    return cycles


def test_no_import_cycle_between_modules():
    mods = _modules()
    graph = {name: _top_level_imports(name, path, mods) for name, path in mods.items()}
    assert "lrpgui.widgets.batch_dialog" in graph["lrpgui.dialogs"]  # the scan sees imports
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]


def _classes(pkg_names=PACKAGES):
    for name, path in _modules().items():
        if name.split(".")[0] not in pkg_names:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                yield name, node.name


def test_one_request_type_in_the_explorer():
    requests = sorted(f"{m}.{c}" for m, c in _classes(("lrpgui",)) if c.endswith("Request"))
    assert requests == ["lrpgui.requests.ExplainRequest"]


def test_every_cancellation_is_the_one_cancelled_exception():
    import importlib

    names = [(m, c) for m, c in _classes() if "cancel" in c.lower()]
    assert ("lrpcore.errors", "Cancelled") in names
    for module, cls in names:
        obj = getattr(importlib.import_module(module), cls)
        if inspect.isclass(obj) and issubclass(obj, BaseException):
            assert issubclass(obj, lrpcore.errors.Cancelled), f"{module}.{cls}"


def test_the_explorer_parses_targets_only_through_lrpcore_targets():
    """No ``target.isdigit()`` or ``int(target)`` of its own in lrpgui (four copies before)."""
    offenders = []
    for name, path in _modules().items():
        if not name.startswith("lrpgui"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in ("isdigit", "isdecimal",
                                                                 "isnumeric"):
                subject = ast.unparse(func.value)
            elif isinstance(func, ast.Name) and func.id == "int" and node.args:
                subject = ast.unparse(node.args[0])
            else:
                continue
            if "target" in subject.lower():
                offenders.append(f"{name}:{node.lineno}: {ast.unparse(node)}")
    assert offenders == []


def test_tests_wait_on_events_never_on_fixed_sleeps():
    """Fixed sleeps make tests slow on fast machines and flaky on busy ones; tests wait on
    signals, events or qtbot.waitUntil instead (about ten sleeps before)."""
    sleeps = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and ast.unparse(node.func).split(".")[-1] in (
                    "sleep", "qWait", "wait_for_timeout"):
                sleeps.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert sleeps == []
