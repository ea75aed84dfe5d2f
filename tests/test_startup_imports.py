"""Every ``lrp`` command builds the whole parser (all sub-command modules) before it runs, so
a heavy library imported at module level is paid by ``lrp --help`` and ``lrp info`` too:
scipy.ndimage via ``lrpcore.render`` (scikit-image's Canny outline) cost about 0.3 s of CPU a
start. Such libraries are imported where the work needs them; this keeps it so."""

import subprocess
import sys

HEAVY = ("scipy", "skimage", "sklearn", "dask", "distributed", "threadpoolctl", "numba",
         "llvmlite", "zarr", "PIL", "imageio", "onnx", "torch")

SCRIPT = """
import sys
{imports}
heavy = {heavy!r}
print(",".join(sorted(m for m in sys.modules if m.split(".")[0] in heavy)))
"""


def _heavy_modules_after(imports: str) -> list:
    code = SCRIPT.format(imports=imports, heavy=HEAVY)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    return [m for m in proc.stdout.strip().split(",") if m]


def test_building_the_cli_parser_imports_no_heavy_library():
    loaded = _heavy_modules_after("import lrpcore.cli.main\nlrpcore.cli.main.build_parser()")
    assert loaded == []


def test_import_lrpcore_and_its_render_package_import_no_heavy_library():
    loaded = _heavy_modules_after("import lrpcore\nimport lrpcore.render\nlrpcore.render.heatmap")
    assert loaded == []


def test_the_outline_still_imports_its_library_when_drawn():
    # the lazy import is where the work is: the first outline brings scikit-image in
    loaded = _heavy_modules_after(
        "import numpy as np\nfrom lrpcore.render.outline import outline_mask\n"
        "assert outline_mask(np.eye(8), sigma=1.0).shape == (8, 8)")
    assert "skimage" in loaded
