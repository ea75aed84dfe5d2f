"""Persistent settings (QSettings): last model, dataset, rule, colormap, geometry, folders.

``LRP_EXPLORER_SETTINGS=/path/file.ini`` redirects everything to one ini file, which is how the
tests keep the user's real settings untouched.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QSettings

ENV = "LRP_EXPLORER_SETTINGS"
MAX_RECENT = 8


def settings_file_problem(path) -> str | None:
    """Why the explorer could not keep its settings in ``path`` (None: it can), said before
    the window opens: Qt reads nothing from a folder, a file under a file or a file it may not
    write, and drops every change at the end without a word. (A missing folder is no
    problem: Qt makes it.)"""
    path = os.fspath(path)
    if path.endswith(("/", os.sep)) or os.path.isdir(path):
        example = os.path.join(path, "lrp-explorer.ini")
        return f"{path}: is a folder; give a settings file (e.g. {example})"
    if os.path.exists(path):
        try:
            with open(path, "r+b"):  # opened for writing, nothing written
                pass
        except OSError as exc:
            return f"{path}: cannot be written ({exc.strerror or exc}): changes would not be saved"
        return None
    folder = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(folder):  # the part of the path that exists
        folder = os.path.dirname(folder)
    if not os.path.isdir(folder):
        return f"{path}: {folder} is a file, not a folder"
    if not os.access(folder, os.W_OK):
        return f"{path}: cannot be created: folder {folder} is not writable"
    return None


def open_settings() -> QSettings:
    path = os.environ.get(ENV)
    if path:
        return QSettings(path, QSettings.Format.IniFormat)
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "lrp-explorer",
                     "lrp-explorer")


class Settings:
    """Typed access to the few values the explorer remembers."""

    def __init__(self, qsettings: QSettings | None = None):
        self.q = qsettings or open_settings()

    def get(self, key, default=None):
        value = self.q.value(key, default)
        return default if value is None else value

    def get_str(self, key, default=None):
        value = self.q.value(key, default)
        return value if isinstance(value, str) else default

    def get_bool(self, key, default=False):
        value = self.q.value(key, default)
        if isinstance(value, str):
            return value.lower() in ("1", "true", "yes")
        return bool(value)

    def set(self, key, value) -> None:
        self.q.setValue(key, value)

    def remove(self, key) -> None:
        self.q.remove(key)

    def recent(self, kind: str) -> list[str]:
        """The last MAX_RECENT files of ``kind``: the explorer writes no more, and a settings
        file edited to list 1,000 froze the window for 96 s at every refresh of its lists
        (each entry compared with every other by resolved path)."""
        value = self.q.value(f"recent/{kind}", [])
        if isinstance(value, str):
            value = [value]
        return [v for v in (value or []) if isinstance(v, str)][:MAX_RECENT]

    def add_recent(self, kind: str, entry: str) -> None:
        items = [entry] + [v for v in self.recent(kind) if v != entry]
        self.q.setValue(f"recent/{kind}", items[:MAX_RECENT])

    def last_dir(self, purpose: str) -> str:
        return self.get_str(f"dirs/{purpose}", "") or os.getcwd()

    def set_last_dir(self, purpose: str, folder: str) -> None:
        self.q.setValue(f"dirs/{purpose}", folder)

    def sync(self) -> str | None:
        """Write the changes; why they were not written, naming the file (None: written)."""
        self.q.sync()
        if self.q.status() == QSettings.Status.NoError:
            return None
        return f"{self.q.fileName()}: the settings cannot be written there; they are not saved"
