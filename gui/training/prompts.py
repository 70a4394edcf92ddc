"""The training panel's file questions, in one place so tests can replace them (like gui.dialogs)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QWidget


def choose_data_file(parent: QWidget, directory: str, filters: str) -> Path | None:
    path, _ = QFileDialog.getOpenFileName(parent, "Choose the data file", directory, filters)
    return Path(path) if path else None


def choose_data_folder(parent: QWidget, directory: str) -> Path | None:
    path = QFileDialog.getExistingDirectory(parent, "Choose the data folder", directory)
    return Path(path) if path else None
