"""Every ``lrp`` command builds the whole parser (all sub-command modules) before it runs, so
a heavy library imported at module level is paid by ``lrp --help`` and ``lrp info`` too:
scipy.ndimage via ``lrpcore.render`` (scikit-image's Canny outline) cost about 0.3 s of CPU a
start. Such libraries are imported where the work needs them; this keeps it so."""

import subprocess
import sys

import numpy as np

import lrpcore

HEAVY = ("scipy", "skimage", "sklearn", "dask", "distributed", "threadpoolctl", "numba",
         "llvmlite", "zarr", "PIL", "imageio", "onnx", "torch")

SCRIPT = """
import sys
{imports}
heavy = {heavy!r}
print("HEAVY:" + ",".join(sorted(m for m in sys.modules if m.split(".")[0] in heavy)))
"""


def _heavy_modules_after(imports: str) -> list:
    code = SCRIPT.format(imports=imports, heavy=HEAVY)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    line = [line for line in proc.stdout.splitlines() if line.startswith("HEAVY:")][-1]
    return [m for m in line[len("HEAVY:"):].split(",") if m]


def test_building_the_cli_parser_imports_no_heavy_library():
    loaded = _heavy_modules_after("import lrpcore.cli.main\nlrpcore.cli.main.build_parser()")
    assert loaded == []


def test_import_lrpcore_and_its_render_package_import_no_heavy_library():
    loaded = _heavy_modules_after("import lrpcore\nimport lrpcore.render\nlrpcore.render.heatmap")
    assert loaded == []


def test_explaining_one_digit_without_png_imports_no_rendering_or_analysis_library(tmp_path):
    one, out = str(tmp_path / "one.npy"), str(tmp_path / "R.npy")
    np.save(one, lrpcore.open_dataset("mnist-test").images()[:1])
    loaded = _heavy_modules_after(
        "from lrpcore.cli.main import main\n"
        f"assert main(['explain', 'mnist-lenet5', {one!r}, '--out', {out!r}]) == 0")
    assert (tmp_path / "R.npy").exists()
    # BLAS thread control (threadpoolctl) and numba kernels may serve the work itself
    assert [m for m in loaded if m.split(".")[0] not in ("threadpoolctl", "numba",
                                                          "llvmlite")] == []


def test_the_outline_still_imports_its_library_when_drawn():
    # the lazy import is where the work is: the first outline brings scikit-image in
    loaded = _heavy_modules_after(
        "import numpy as np\nfrom lrpcore.render.outline import outline_mask\n"
        "assert outline_mask(np.eye(8), sigma=1.0).shape == (8, 8)")
    assert "skimage" in loaded
