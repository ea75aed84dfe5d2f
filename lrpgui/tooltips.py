"""Which controls lack a tooltip: the test that every control explains itself walks the
widget tree with :func:`controls_without_tooltip`."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSlider,
    QAbstractSpinBox,
    QComboBox,
    QDialogButtonBox,
    QHeaderView,
    QLineEdit,
    QScrollBar,
    QWidget,
)

CONTROLS = (QAbstractButton, QComboBox, QAbstractSpinBox, QLineEdit, QAbstractSlider,
            QAbstractItemView)


def _is_part_of_another(widget) -> bool:
    """Qt's own pieces: a combo box's or spin box's line edit, scroll bars, headers, dock
    title buttons (``qt_…``), the list inside a combo box's popup."""
    if isinstance(widget, (QScrollBar, QHeaderView)) or widget.objectName().startswith("qt_"):
        return True
    parent = widget.parent()
    while parent is not None:
        if isinstance(parent, (QComboBox, QAbstractSpinBox, QDialogButtonBox)):
            return True
        parent = parent.parent()
    return False


def controls_without_tooltip(root: QWidget) -> list[str]:
    """'Class objectName "text"' for every control under ``root`` without a tooltip."""
    missing = []
    for widget in root.findChildren(QWidget):
        if not isinstance(widget, CONTROLS) or _is_part_of_another(widget):
            continue
        if not widget.toolTip().strip():
            text = widget.text() if hasattr(widget, "text") and callable(widget.text) else ""
            missing.append(f'{type(widget).__name__} {widget.objectName()} "{text}"')
    return missing


# Tooltips by object name, for controls whose module sets none itself (a module's own tooltip
# always wins: these only fill gaps, so the panels' owners can say more where they know more).
TIPS = {
    "modelBrowser": "Bundled and recent models: click one to open it",
    "openModelButton": "Open a model file: native .npz, LRP Toolbox .txt/.nn, ONNX (Ctrl+O)",
    "datasetBrowser": "Built-in and recent datasets: click one to open it",
    "openDatasetButton": "Open a dataset file: .npy/.npz/.mat/.txt or MNIST IDX (Ctrl+Shift+O);"
                         " a folder of images: File → Open image folder…",
    "downloadButton": "Download the full MNIST training and test sets (asks first; needs the "
                      "internet)",
    "ruleSelector": "The LRP rule or preset applied to every layer without an override",
    "ruleParameter": "The chosen rule's parameter (ε, α, γ)",
    "zbLow": "Lowest input value for the zᴮ rule (the input's lower bound)",
    "zbHigh": "Highest input value for the zᴮ rule (the input's upper bound)",
    "targetSelector": "Which output is explained: the predicted class, the true class, all "
                      "outputs, or one class",
    "dtypeSelector": "Precision of the computation: float64 (toolbox-exact) or float32 "
                     "(faster, GPU-friendly)",
    "backendSelector": "Where LRP runs: the CPU (numpy) or an NVIDIA GPU (cupy)",
    "outlineCheck": "Draw the input's outline (Canny edges) over every heatmap",
    "compareMode": "Columns: the explained class, every class, or class A versus class B",
    "compareClassA": "Class A of the contrast A versus B (pick it, or type part of its name)",
    "compareClassB": "Class B of the contrast A versus B (pick it, or type part of its name)",
    "comparePositive": "In A versus B, show only where the evidence favours A",
    "compareSharedScale": "One colour scale for every row, so rows compare by brightness",
    "conservationTable": "Relevance summed at each layer's input: a conserving rule keeps "
                         "it equal to the explained output",
    "flipSteps": "How many flipping steps the curve has",
    "flipPerStep": "Pixels (or patches) flipped per step",
    "flipPatch": "Side of the square patch flipped at once (1 = single pixels)",
    "flipBaseline": "The value a flipped pixel gets",
    "flipRandom": "Also flip in random order: the baseline a good explanation must beat",
    "flipLive": "Run again whenever another sample is selected",
    "flipRun": "Flip the most relevant pixels first and plot how the score falls",
    "flipCancel": "Stop the running pixel-flipping",
    "aopcTable": "Area over the perturbation curve (AOPC) per method: higher is better",
    "clearPad": "Erase the drawing",
    "drawPad": "Draw a digit with the mouse or a pen; it is predicted and explained as you "
               "draw",
    "scratchList": "Digits kept in this session: click one to bring it back on the pad",
    "addScratch": "Keep the drawing in the scratch set",
    "removeScratch": "Remove the selected drawing from the scratch set",
    "exportScratch": "Save the scratch set as one N×28×28 uint8 .npy file",
}


def fill_tooltips(root: QWidget) -> None:
    """Give every widget named in :data:`TIPS` its tooltip, unless it already has one; the
    Compare tool's rule boxes share one."""
    for widget in root.findChildren(QWidget):
        if widget.toolTip().strip():
            continue
        name = widget.objectName()
        tip = TIPS.get(name)
        if tip is None and name.startswith("compareRule"):
            tip = ("A rule spec, preset or gradient baseline for one row (empty: no row); "
                   "type any spec, e.g. epsilon:0.1")
        if tip:
            widget.setToolTip(tip)
