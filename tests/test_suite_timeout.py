"""The suite's per-test timeout (pytest-timeout, configured in pyproject.toml): a hung test
fails with the threads' stacks instead of hanging CI."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_the_suite_runs_under_a_per_test_timeout(request):
    assert request.config.pluginmanager.hasplugin("timeout")
    assert float(request.config.getini("timeout")) >= 300  # generous, but set
    assert request.config.getini("timeout_method") == "thread"  # stacks even in Qt's C++


def test_a_hung_test_fails_loudly_with_its_stack(tmp_path):
    """A test waiting forever on an event is stopped, its stack printed, the run failed."""
    (tmp_path / "test_hang.py").write_text(textwrap.dedent("""
        import threading

        def test_waits_forever():
            threading.Event().wait()
    """))
    (tmp_path / "pytest.ini").write_text("[pytest]\ntimeout = 3\ntimeout_method = thread\n")
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "test_hang.py"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode != 0
    out = run.stdout + run.stderr
    assert "Timeout" in out and "test_waits_forever" in out
