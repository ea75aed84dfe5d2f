"""`lrp info NAME` of a model the app knows by name says so (it printed "(? format)")."""

from __future__ import annotations

from lrpcore.cli.main import main


def test_info_of_a_bundled_model_by_name(capsys):
    assert main(["info", "mnist-lenet5"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first == "model: mnist-lenet5 (built-in model)"
