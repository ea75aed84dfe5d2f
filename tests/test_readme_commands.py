"""The README agrees with the product. Without running anything: every option it gives
`lrp COMMAND` or `lrp-explorer` exists, every concrete command line in a code block parses,
the command synopsis brackets exactly the options argparse does not require, the commands of
one code block can run one after another as written, its links into itself resolve, the files
it names exist, and its install, dependency and test commands are those of `pyproject.toml`
and `.ci/run`. Running a few cheap commands: the outputs it quotes are what they print."""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import shlex
import tomllib
from pathlib import Path

import pytest

from lrpcore.cli.main import build_parser, join_negative_keys

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
PLACEHOLDER = re.compile(r"[\[\]|…]|\.\.\.|\b[A-Z]{2,}[A-Z0-9_]*\b")  # MODEL, X.npy|DATASET, [--x]


def _blocks() -> list[tuple[int, list[str]]]:
    """(first line number, lines) of every fenced and every indented code block."""
    lines, blocks, k = README.split("\n"), [], 0
    while k < len(lines):
        if lines[k].startswith("```"):
            end = next(j for j in range(k + 1, len(lines)) if lines[j].startswith("```"))
            blocks.append((k + 2, lines[k + 1:end]))
            k = end + 1
        elif lines[k].startswith("    ") and k > 0 and not lines[k - 1].strip():
            end = k
            while end < len(lines) and (lines[end].startswith("    ") or not lines[end].strip()):
                end += 1
            blocks.append((k + 1, [line[4:] for line in lines[k:end]]))
            k = end
        else:
            k += 1
    return blocks


def _block_commands(program="lrp") -> list[tuple[int, int, str]]:
    """(block, line number, command) of each `program ...` line of a code block, a synopsis's
    continuation lines (indented under it) joined, its comment left out."""
    found = []
    for start, lines in _blocks():
        for k, line in enumerate(lines):
            if not line.startswith(program + " ") and line != program:
                continue
            command = line
            for more in lines[k + 1:]:
                if not more.startswith(" " * (len(program) + 1)):
                    break
                command += " " + more.strip()
            found.append((start, start + k, re.sub(r"\s+#.*", "", command).strip()))
    return found


def _inline_commands(program="lrp") -> list[tuple[int, str]]:
    """(line number, text) of each `program ...` code span of the prose (they may wrap)."""
    return [(README.count("\n", 0, m.start()) + 1, " ".join(m.group(1).split()))
            for m in re.finditer(rf"(?<!`)`({re.escape(program)} [^`]+)`", README)]


def _subcommands(parser, prefix=()) -> dict:
    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found[(*prefix, name)] = sub
                found.update(_subcommands(sub, (*prefix, name)))
    return found


PARSER = build_parser()
SUBCOMMANDS = _subcommands(PARSER)


def _command_of(text: str):
    key = ()
    for word in text.split()[1:]:
        if (*key, word) not in SUBCOMMANDS:
            break
        key = (*key, word)
    return key, SUBCOMMANDS.get(key)


def _options(parser) -> set[str]:
    return {name for action in parser._actions for name in action.option_strings}


def _given_options(text: str) -> list[str]:
    return [o for o in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", text) if o != "--"]


def _parse(parse, words) -> str:
    """'' when `parse(words)` accepts the words, else what the parser said."""
    said = io.StringIO()
    try:
        with contextlib.redirect_stderr(said), contextlib.redirect_stdout(io.StringIO()):
            parse(words)
    except SystemExit as exc:
        if exc.code:
            return said.getvalue().strip() or f"exit {exc.code}"
    return ""


def test_the_readme_shows_commands_in_code_blocks_and_prose():
    """The extraction itself finds what it checks (a README reshaped so that it finds nothing
    would make the other tests pass vacuously)."""
    assert len(_block_commands()) >= 30 and len(_inline_commands()) >= 100
    assert {("explain",), ("concepts",), ("spray",), ("data", "info")} <= {
        _command_of(c)[0] for _, _, c in _block_commands()}
    assert len(_block_commands("lrp-explorer")) >= 2


def test_every_option_the_readme_gives_a_command_exists():
    wrong = []
    for line, text in ([(n, c) for _, n, c in _block_commands()] + _inline_commands()):
        key, sub = _command_of(text)
        if sub is None:  # `lrp --help`, `lrp --version`
            wrong += [f"line {line}: {text}"] if set(_given_options(text)) - _options(PARSER) \
                else []
            continue
        unknown = [o for o in _given_options(text) if o not in _options(sub)]
        if unknown:
            wrong.append(f"line {line}: lrp {' '.join(key)} has no {', '.join(unknown)}: {text}")
    assert wrong == []


def test_every_concrete_command_line_in_a_code_block_parses():
    """A line without placeholders is a command a reader copies: it must parse as written
    (required options and arguments included)."""
    concrete = [(n, c) for _, n, c in _block_commands() if not PLACEHOLDER.search(c)]
    assert len(concrete) >= 15
    failed = [f"line {n}: {c}: {said}" for n, c in concrete
              if (said := _parse(PARSER.parse_args, join_negative_keys(shlex.split(c)[1:])))]
    assert failed == []


def test_the_synopsis_brackets_exactly_the_optional_options():
    """In "## Command line" an option outside brackets reads as required: it must be one that
    argparse requires, and every option argparse requires must be shown."""
    start = README.index("## Command line\n")
    first, last = (README.count("\n", 0, start),
                   README.count("\n", 0, README.index("\n## ", start + 1)))
    synopsis = [(n, c) for _, n, c in _block_commands() if first < n < last and "[" in c]
    assert len(synopsis) >= 8
    wrong = []
    for line, text in synopsis:
        key, sub = _command_of(text)
        bare = text
        while (inner := re.sub(r"\[[^\[\]]*\]", "", bare)) != bare:
            bare = inner
        shown = set(_given_options(bare))
        required = {a.option_strings[0] for a in sub._actions if a.option_strings and a.required}
        if shown != required:
            wrong.append(f"line {line}: lrp {' '.join(key)}: shown bare {sorted(shown)}, "
                         f"required {sorted(required)}")
    assert wrong == []


def test_the_commands_of_one_code_block_run_one_after_another():
    """A block's commands, run in order, must not meet an earlier one's output: the second
    `--out R.npy` of a block stopped at "file exists"."""
    clashes, seen = [], {}
    for block, line, text in _block_commands():
        if PLACEHOLDER.search(text) or "--overwrite" in text:
            continue
        words = shlex.split(text)
        for k, word in enumerate(words[:-1]):
            if word == "--out":
                target = (block, words[k + 1].rstrip("/"))
                if target in seen:
                    clashes.append(f"line {line} writes {target[1]} as line {seen[target]}")
                seen[target] = line
    assert clashes == []


def test_every_explorer_option_the_readme_gives_exists(tmp_path, monkeypatch):
    from lrpgui.app import parse_args

    monkeypatch.chdir(tmp_path)
    help_text = io.StringIO()
    with contextlib.redirect_stdout(help_text), pytest.raises(SystemExit):
        parse_args(["--help"])
    options = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", help_text.getvalue()))
    assert {"--model", "--dataset", "--screenshot"} <= options
    # and the README names every one of them (it left out --dtype and --timeout)
    named = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", README))
    assert sorted(options - named - {"--help"}) == []
    blocks = [(n, c) for _, n, c in _block_commands("lrp-explorer")]
    shown = blocks + _inline_commands("lrp-explorer")
    unknown = [f"line {n}: {o}" for n, c in shown for o in _given_options(c) if o not in options]
    assert unknown == []
    failed = [f"line {n}: {c}: {said}" for n, c in blocks if not PLACEHOLDER.search(c)
              and (said := _parse(parse_args, shlex.split(c)[1:]))]
    assert failed == []


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def test_every_link_into_the_readme_names_a_heading():
    fences = re.sub(r"(?ms)^```.*?^```", "", README)
    anchors = {_slug(h) for h in re.findall(r"(?m)^#{1,6} (.+)$", fences)}
    links = re.findall(r"\]\(#([^)]+)\)", README)
    assert len(links) >= 10, "the README's contents list links its sections"
    assert sorted(set(links) - anchors) == []
    sections = re.findall(r"(?m)^## (.+)$", fences)
    assert {_slug(s) for s in sections} <= set(links), "every ## section is in the contents"


def test_the_readme_install_and_test_commands_are_pyprojects_and_cis():
    """README's test command is the one `.ci/run` runs, and every extra a README `pip install`
    names exists in pyproject.toml."""
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    tests_block = re.search(r"## Tests\n\n```bash\n(.*?)\n```", README, re.S).group(1).strip()
    pytest_line = next(line for line in ci.splitlines() if "-m pytest" in line)
    assert "export QT_QPA_PLATFORM=offscreen" in ci
    assert tests_block == f"QT_QPA_PLATFORM=offscreen {pytest_line.strip()}"
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"][
        "optional-dependencies"]
    named = re.findall(r'pip install (?:-\w+ )*(?:-e )?"\.\[([\w,]+)\]"', README)
    named += re.findall(r'add "\.\[(\w+)\]"', README)
    assert len(named) >= 4
    assert sorted({e for group in named for e in group.split(",")} - set(extras)) == []
    assert 'pip install -q -e ".[test]"' in ci and 'pip install -e ".[test]"' in README


def test_the_alphabeta_warning_the_readme_quotes_is_what_lrp_explain_prints(tmp_path, capsys):
    """The README quoted "8.1× … layers 8, 5, 2 (SumPool): ΣR ×2 — …", words `lrp explain`
    never printed; it now quotes the warning of its example command."""
    import numpy as np

    import lrpcore
    from lrpcore.cli.main import main

    example = re.search(r"Example: `(lrp explain mnist-lenet5 digits\.npy[^`]*)` \(`digits\.npy`: "
                        r'the first (\d+) test digits\) warns (".*?")\.', README, re.S)
    command, n = example.group(1), int(example.group(2))
    quoted = " ".join(example.group(3).split())
    digits = tmp_path / "digits.npy"
    np.save(digits, lrpcore.open_dataset("mnist-test").images(range(n)))
    words = [w if w != "digits.npy" else str(digits) for w in shlex.split(" ".join(
        command.split()))[1:]]
    words[words.index("--out") + 1] = str(tmp_path / "R.npy")
    assert main(words) == 0
    printed = " ".join(capsys.readouterr().err.split())
    pieces = [p.strip(' ";') for p in re.split(r'", then "|…', quoted)]
    assert len(pieces) == 3 and all(pieces)
    assert [p for p in pieces if p not in printed] == []


def test_the_dependency_table_is_pyprojects():
    """Every dependency of pyproject.toml has its row in "Dependencies, and why each", with the
    version bound pyproject gives where the row states one, and each row's `(extra X)` names
    the extra pyproject lists it in; the Python the install block asks for is pyproject's."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    start = README.index("### Dependencies, and why each")
    rows = [line.split("|")[1].strip() for line in
            README[start:README.index("\n## ", start)].splitlines()[4:] if line.startswith("|")]
    assert len(rows) >= 12

    def name(requirement):
        return re.match(r"[A-Za-z0-9_.-]+", requirement).group(0).lower()

    first_cells = " ".join(rows).lower()
    missing = [r for r in project["dependencies"] if name(r) not in first_cells]
    assert missing == []
    wrong = []
    for row in rows:
        extra = re.search(r"\(extra `(\w+)`", row)
        listed = {name(r) for r in project["optional-dependencies"][extra.group(1)]} \
            if extra else {name(r) for r in project["dependencies"]}
        for match in re.finditer(r"([A-Za-z][\w.-]*)(?:\[\w+\])?(?: `?(<|≥) ?([\d.]+)`?)?",
                                 row.split(" (extra")[0]):
            package, op, version = match.groups()
            if package.lower() not in listed:
                wrong.append(f"{package}: not in {extra.group(1) if extra else 'dependencies'}")
            elif op:
                pins = " ".join(r for r in (project["dependencies"] + sum(
                    project["optional-dependencies"].values(), [])) if name(r) == package.lower())
                if f"{'<' if op == '<' else '>='}{version}" not in pins:
                    wrong.append(f"{package} {op} {version}: pyproject says {pins}")
    assert wrong == []
    python = re.search(r"# Python ≥ ([\d.]+)", README).group(1)
    assert project["requires-python"] == f">={python}"


def test_the_dependency_table_names_the_package_that_reads_image_folders():
    """The scikit-image row said it reads image folders; lrpcore/io/image_folder.py decodes
    them with Pillow and never imports scikit-image."""
    start = README.index("### Dependencies, and why each")
    rows = {line.split("|")[1].strip().split()[0]: line.split("|")[2] for line in
            README[start:README.index("\n## ", start)].splitlines()[4:] if line.startswith("|")}
    readers = [package for package, why in rows.items() if "image folders" in why]
    source = (ROOT / "lrpcore" / "io" / "image_folder.py").read_text("utf-8")
    assert readers == ["pillow"] and "from PIL import" in source
    assert not re.search(r"^\s*(from|import) skimage", source, re.M)


def test_explain_outputs_help_says_what_the_file_holds(tmp_path, capsys):
    """`--outputs` said "(logits)"; an ONNX model's kept Softmax writes its probabilities (as
    the README says), a toolbox model its scores before the SoftMax."""
    import numpy as np

    from lrpcore.cli.main import main

    x = tmp_path / "x.npy"
    np.save(x, np.load(ROOT / "tests" / "data" / "zoo" / "softmax.npz")["x"])
    assert main(["explain", str(ROOT / "tests" / "data" / "zoo" / "softmax_ts.onnx"), str(x),
                 "--raw", "--out", str(tmp_path / "R.npy"), "--outputs",
                 str(tmp_path / "Y.npy")]) == 0
    y = np.load(tmp_path / "Y.npy")
    assert np.allclose(y.sum(axis=1), 1) and (y >= 0).all()  # probabilities, not logits
    (action,) = [a for a in SUBCOMMANDS[("explain",)]._actions if "--outputs" in a.option_strings]
    assert "logits" not in action.help and "probabilities" in action.help


def test_the_sanity_verdicts_the_readme_contrasts(capsys):
    """EpsilonGammaBox on LeNet-5 passes the sanity check on mnist-test (the README's table)
    and fails narrowly on mnist-sample (the README's timing command): the README says both,
    with the median |ρ| each prints at two of four layers random."""
    import csv

    from lrpcore.cli.main import main

    start = README.index("Which rules pass, on 64 digits")
    text = " ".join(README[start:start + 600].split())
    for data, code in (("mnist-test", 0), ("mnist-sample", 3)):
        assert main(["sanity", "mnist-lenet5", data, "--rule", "EpsilonGammaBox", "--n", "64",
                     "--csv", "--quiet"]) == code
        rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
        rho = float(rows[2]["spearman_abs_median"])
        assert f"{rho:.2f}" in text, (data, rho)


def test_every_file_the_readme_names_exists():
    """Paths in the prose (`tests/…`, `tools/…`, `docs/…`, `lrpcore/…`) and the modules of the
    Layout block, which lists lrpcore's files by bare name under their folders."""
    named = {p.rstrip(".,;:)") for p in re.findall(
        r"(?<![\w./])(?:tests|tools|docs|lrpcore|lrpgui|resources|models)/[\w./*-]+", README)}
    missing = [p for p in sorted(named) if not any(ROOT.glob(p)) and not (ROOT / p).exists()]
    start = README.index("## Layout\n")
    layout = README[start:README.index("\n## ", start + 1)]
    folder, modules = "", []
    for line in layout.splitlines():
        top = re.match(r"(\w+)/\s", line)
        if top:
            folder = top.group(1)
        for name in re.findall(r"(?<![\w/.])([a-z0-9_]+\*?\.py|[a-z0-9_]+/(?=\s))", line):
            modules.append(f"{folder}/{name}" if not top or name != f"{folder}/" else name)
    assert len(modules) >= 30
    missing += [m for m in modules if not any(ROOT.glob(m)) and not (ROOT / m).exists()]
    assert missing == []


def test_the_sweep_output_the_readme_describes(capsys):
    """The README said each setting is printed as the options that reproduce it; the table
    names settings by their parameters, the CSV holds the options, the best line gives them."""
    import csv

    from lrpcore.cli.main import main

    assert main(["sweep", "mnist-lenet5", "mnist-test", "--rule", "EpsilonGammaBox", "--param",
                 "epsilon=0.01", "--param", "gamma=0.5", "--n", "8", "--steps", "5", "--csv",
                 "--quiet"]) == 0
    out, err = capsys.readouterr()
    (row,) = csv.DictReader(io.StringIO(out))
    assert row["rule"] == "EpsilonGammaBox" and "3=gamma:0.5" in row["layer_rules"].split()
    text = " ".join(README.split())
    assert "`EpsilonGammaBox ε=0.01, γ=0.5`" in text and "EpsilonGammaBox ε=0.01, γ=0.5" in err
    assert "(`best: --rule EpsilonGammaBox --layer-rule 3=gamma:0.5 …`)" in text
    options = " ".join(f"--layer-rule {k}" for k in row["layer_rules"].split())
    assert re.search(rf"(?m)^best: --rule EpsilonGammaBox {re.escape(options)}$", err)


def test_the_pixel_flipping_step_count_the_readme_gives(capsys):
    """The README said the defaults flip "50 steps of 16 pixels"; a run ends once every unit
    is flipped, so a digit's run prints 49, which the README now quotes."""
    from lrpcore.cli.main import main

    assert main(["evaluate", "mnist-lenet5", "mnist-test", "--n", "2", "--quiet"]) == 0
    out, err = capsys.readouterr()
    printed = re.search(r"× (\d+ steps of 16 pixels)", out + err).group(1)
    assert f'"{printed}"' in " ".join(README.split())
