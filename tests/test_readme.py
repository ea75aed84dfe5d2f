"""The README's examples work as written: its Python block runs on a fresh checkout (it used a
toolbox file that does not ship and arrays it never defined), and every command line it
shows names a command that exists."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_the_python_example_runs_as_written():
    block = re.search(r"## Python\n\n```python\n(.*?)```", README, re.S).group(1)
    names: dict = {}
    exec(compile(block, "README.md", "exec"), names)  # noqa: S102 (our own README)
    assert names["R"].shape == (8, 32, 32, 1) and names["y"].shape == (8, 10)
    assert sorted(names["maps"]) == ["alphabeta:2", "simple", "zplus"]
    assert np.isfinite(names["R"]).all()


def test_every_command_the_readme_shows_exists():
    from lrpcore.cli.main import COMMANDS

    shown = set(re.findall(r"(?m)^\s*`?lrp ([a-z]+)\b", README))
    shown |= set(re.findall(r"`lrp ([a-z]+)[ `]", README))
    assert {"explain", "render", "figure", "demo", "evaluate"} <= shown
    assert shown - set(COMMANDS) == set()


def test_python_m_lrpcore_is_the_lrp_command():
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-m", "lrpcore", "rules"], cwd=root,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "epsilon[:EPSILON]" in done.stdout
    bad = subprocess.run([sys.executable, "-m", "lrpcore", "render"], cwd=root,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.startswith("lrp render: error:")


def test_the_demo_run_in_the_checkout_leaves_git_status_clean():
    """The README runs `python3 -m lrpcore demo` from the checkout; its folders are ignored."""
    import shutil
    import subprocess

    root = Path(__file__).resolve().parents[1]
    if shutil.which("git") is None or not (root / ".git").exists():
        import pytest

        pytest.skip("not a git checkout")
    for name in ("lrp-demo/heatmap_03_bwr.png", "lrp-demo-2/relevance_03.npy"):
        done = subprocess.run(["git", "check-ignore", "-q", name], cwd=root, timeout=60)
        assert done.returncode == 0, name


def test_every_lrpcore_name_the_readme_shows_resolves_after_import_lrpcore():
    """``lrpcore.render.heatmap(R, x01)``, ``lrpcore.export.export_explanations(...)``,
    ``lrpcore.allocator.keep_freed_memory()``: the README names them after ``import lrpcore``;
    in a fresh interpreter they raised AttributeError (submodules were never imported)."""
    import json
    import subprocess
    import sys

    names = sorted(set(re.findall(r"\blrpcore(?:\.[A-Za-z_]\w*)+", README)))
    assert "lrpcore.render.heatmap" in names and len(names) > 20
    script = "\n".join([
        "import json, operator, sys", "import lrpcore", "bad = []",
        "for name in json.loads(sys.argv[1]):",
        "    try:", "        operator.attrgetter(name.split('.', 1)[1])(lrpcore)",
        "    except AttributeError as exc:", "        bad.append(f'{name}: {exc}')",
        "print('\\n'.join(bad))", "assert not hasattr(lrpcore, 'no_such_module')"])
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", script, json.dumps(names)], cwd=root,
                          capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""
