"""What the editor remembers between runs (QSettings): recent files, theme, autosave interval,
window geometry and dock layout."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

MAX_RECENT = 8
DEFAULT_AUTOSAVE_SECONDS = 120


class AppSettings:
    def __init__(self, settings: QSettings | None = None) -> None:
        self.qsettings = settings if settings is not None else QSettings()

    # -- recent files ---------------------------------------------------------------------------
    def recent_files(self) -> list[Path]:
        value = self.qsettings.value("files/recent", [])
        if isinstance(value, str):
            value = [value]
        return [Path(v) for v in (value or []) if isinstance(v, str) and v]

    def add_recent(self, path: Path) -> None:
        path = Path(path).resolve()
        files = [p for p in self.recent_files() if p != path]
        self.qsettings.setValue("files/recent", [str(p) for p in [path, *files][:MAX_RECENT]])

    def remove_recent(self, path: Path) -> None:
        self.qsettings.setValue("files/recent", [str(p) for p in self.recent_files() if p != Path(path)])

    def clear_recent(self) -> None:
        self.qsettings.setValue("files/recent", [])

    # -- preferences ----------------------------------------------------------------------------
    @property
    def theme(self) -> str:
        return str(self.qsettings.value("view/theme", "system"))

    @theme.setter
    def theme(self, mode: str) -> None:
        self.qsettings.setValue("view/theme", mode)

    @property
    def snap_to_grid(self) -> bool:
        return str(self.qsettings.value("view/snap", "true")).lower() == "true"

    @snap_to_grid.setter
    def snap_to_grid(self, on: bool) -> None:
        self.qsettings.setValue("view/snap", "true" if on else "false")

    @property
    def autosave_seconds(self) -> int:
        try:
            return max(10, int(self.qsettings.value("files/autosave_seconds", DEFAULT_AUTOSAVE_SECONDS)))
        except (TypeError, ValueError):
            return DEFAULT_AUTOSAVE_SECONDS

    # -- window ---------------------------------------------------------------------------------
    def window_state(self) -> tuple[QByteArray | None, QByteArray | None]:
        geometry = self.qsettings.value("window/geometry")
        state = self.qsettings.value("window/state")
        return (geometry if isinstance(geometry, QByteArray) else None,
                state if isinstance(state, QByteArray) else None)

    def save_window_state(self, geometry: QByteArray, state: QByteArray) -> None:
        self.qsettings.setValue("window/geometry", geometry)
        self.qsettings.setValue("window/state", state)
