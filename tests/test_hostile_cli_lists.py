"""Comma-separated lists given empty (``--rules ,``): one line naming the option, exit 2,
before any timing — not an internal error, and not a run that quietly does nothing."""

from __future__ import annotations

import pytest

from lrpcore.cli.main import main


@pytest.mark.parametrize("option", ["--rules", "--models", "--dtypes", "--batch-sizes"])
def test_an_empty_bench_list_is_refused_in_one_line(option, capsys):
    args = {"--models": "lenet5", "--rules": "epsilon", "--dtypes": "float32",
            "--batch-sizes": "1", option: ","}
    code = main(["bench", "--repeat", "1", *[a for kv in args.items() for a in kv]])
    captured = capsys.readouterr()
    assert code == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and option in lines[0] and "internal error" not in lines[0]
    assert "model " not in captured.out  # no table was started


def test_quick_bench_keeps_batch_sizes_and_repeats_given_with_it(monkeypatch, capsys):
    """``--quick`` chose batch sizes 1, 16 and 3 repeats over ``--batch-sizes``/``--repeat``
    given with it, quietly; what is given explicitly wins now, the rest stays quick."""
    from lrpcore import bench

    runs = []
    monkeypatch.setattr(bench, "run_benchmark",
                        lambda models, batches, dtypes, rules, backend, repeat, report:
                        runs.append((tuple(batches), repeat)) or ([], {}))
    base = ["bench", "--models", "lenet5", "--rules", "epsilon", "--dtypes", "float32"]
    assert main([*base, "--quick", "--batch-sizes", "2,4", "--repeat", "5"]) == 0
    assert main([*base, "--quick"]) == 0
    assert main([*base, "--quick", "--repeat", "1"]) == 0
    assert main(base) == 0
    assert runs == [((2, 4), 5), ((1, 16), 3), ((1, 16), 1), ((1, 16, 64, 256), 7)]
