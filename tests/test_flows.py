"""lrpgui.flows without Qt: what each export writes and refuses, the batch export's checks,
and the download's question and job — the rules the window only binds to dialogs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lrpcore.bundled import default_model_path
from lrpgui import flows
from lrpgui.services import ExplainService, Token
from lrpgui.session import Session
from lrpgui.state import AppState


@pytest.fixture
def shown(tmp_path):
    """A session with sample 3 of mnist-test explained and on display."""
    session = Session(AppState())
    session.open_model(default_model_path())
    session.open_dataset("mnist-test")
    session.state.sample_index = 3
    result = ExplainService().run(session.explain_request())
    assert session.accept_explanation(result)
    return session


def test_importing_the_flows_loads_no_qt():
    code = ("import sys, lrpgui.flows; "
            "print(any(m.startswith(('PySide6', 'pyqtgraph')) for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"


def test_nothing_on_display_is_refused(tmp_path):
    exports = flows.Exports(Session(AppState()))
    with pytest.raises(flows.Refused, match="no explanation") as info:
        exports.write("png", tmp_path / "a.png")
    assert info.value.title == "Nothing to export" and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kind", sorted(flows.SINGLE_EXPORTS))
def test_every_single_export_writes_its_file_and_a_sidecar(shown, tmp_path, kind):
    exports = flows.Exports(shown)
    spec = flows.SINGLE_EXPORTS[kind]
    result = exports.current()
    if spec.filters is None:
        target = tmp_path
    else:
        target = tmp_path / exports.suggested_name(kind, result)
        assert "3" in target.name  # the sample is named
    paths = exports.write(kind, target, scale=2 if spec.needs_scale else None)
    assert paths and all(Path(p).exists() for p in paths)
    sidecars = [p for p in map(str, paths) if p.endswith(".json")]
    info = json.loads(open(sidecars[0]).read())
    assert info["sample"] == 3 and info["dataset"] == "mnist-test"
    if kind != "colormaps":  # that one names each file's own colormap
        assert ("colormap" in info) == spec.colormap_in_info
    assert flows.written_status(paths).startswith(f"wrote {paths[0]}")


def test_figure_scale_is_applied_and_remembered_text_is_checked(shown, tmp_path):
    from PIL import Image

    exports = flows.Exports(shown)
    small = exports.write("figure", tmp_path / "s.png", scale=2)[0]
    large = exports.write("figure", tmp_path / "l.png", scale=6)[0]
    assert Image.open(large).size[1] >= Image.open(small).size[1] + 4 * 28  # 28 rows, 4× more
    assert [flows.figure_scale(t) for t in ("5", "", None, "0", "x", " 12 ")] == [5, 8, 8, 8,
                                                                                  8, 12]


def test_a_failing_write_is_one_refusal_naming_the_file(shown, tmp_path):
    exports = flows.Exports(shown)
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(flows.Refused) as info:
        exports.write("npy", blocker / "r.npy")  # a folder that is a file
    assert info.value.title == "Export failed" and "r.npy" in str(info.value)
    assert "\n" not in str(info.value)


def test_batch_job_checks_scope_formats_and_writes_the_chosen_samples(shown, tmp_path):
    exports = flows.Exports(shown)
    with pytest.raises(flows.Refused, match="choose PNG"):
        exports.batch_job(tmp_path, "filtered", (), [], [1, 2])
    with pytest.raises(flows.Refused, match="the selection is empty"):
        exports.batch_job(tmp_path, "selection", ("npy",), [], [1, 2])
    with pytest.raises(flows.Refused, match="open a model"):
        flows.Exports(Session(AppState())).batch_job(tmp_path, "filtered", ("npy",), [], [1])
    job = exports.batch_job(tmp_path, "selection", ("npy", "png"), [7, 2], [1, 2, 3], chunk=1)
    assert list(job.indices) == [7, 2] and job.cmap == shown.state.colormap
    from lrpgui import services

    paths = services.batch_export(job, Token())
    assert exports.batch_status(paths) == "batch export wrote 8 files"
    assert sorted(p.name for p in tmp_path.glob("*.npy")) == ["relevance_2.npy",
                                                              "relevance_7.npy"]


def test_download_question_and_job(monkeypatch):
    assert "test set" in flows.download_question("test")
    with pytest.raises(flows.Refused, match="choose one of all, train, test"):
        flows.download_question("validation")
    seen = []

    def fake(kind, progress=None, cancel=None):
        progress(5, 10, "t10k-images-idx3-ubyte.gz")
        seen.append((kind, cancel()))
        return {}

    monkeypatch.setattr("lrpcore.io.download.download_mnist", fake)
    steps = []
    token = Token(on_progress=lambda d, t, name: steps.append((d, t, name)))
    token.cancel()
    flows.download_job("test")(token)
    assert seen == [("test", True)] and steps == [(5, 10, "t10k-images-idx3-ubyte.gz")]


def test_png_export_is_named_as_the_other_heatmap_exports(shown):
    """Export PNG suggested heatmap_3.png while `lrp explain --png`, the batch export and "all
    colormaps" write heatmap_3_bwr.png: a second colormap's PNG asked to replace the first."""
    from lrpcore.export import colormap_file_name

    exports = flows.Exports(shown)
    result = exports.current()
    assert exports.suggested_name("png", result) == colormap_file_name(3, shown.state.colormap)
