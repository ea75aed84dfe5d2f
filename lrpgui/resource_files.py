"""The files in ``resources/`` (application icon, desktop entry, the style the app loads).

They live at the repository root (``resources/``); ``lrpgui/resources`` links there so that a
wheel carries them as package data and an installed app finds them beside the package.
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent
FOLDERS = (_HERE / "resources", _HERE.parent / "resources")
ICON = "lrp-explorer.png"
STYLE = "style.qss"
DESKTOP_ENTRY = "lrp-explorer.desktop"


def resource(name: str) -> Path | None:
    """Path of a resource file, or None when this installation lacks it."""
    for folder in FOLDERS:
        path = folder / name
        if path.is_file():
            return path
    return None


def style_sheet() -> str:
    """The application's style sheet ('' when missing: Qt's own style is fine)."""
    path = resource(STYLE)
    try:
        return path.read_text(encoding="utf-8") if path else ""
    except OSError:
        return ""


def app_icon():
    """The window icon as a QIcon (an empty one when the file is missing)."""
    from PySide6.QtGui import QIcon  # noqa: PLC0415 (Qt only where a window exists)

    path = resource(ICON)
    return QIcon(str(path)) if path else QIcon()
