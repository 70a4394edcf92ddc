"""Crash recovery: each running editor autosaves into its own file, guarded by a lock file.

A recovery file whose lock nobody holds belongs to an editor that died without closing cleanly, so
the next start offers it back. ``QLockFile`` tells a dead owner from a live one on every platform
(it checks the process, not the file's age), so two editors running side by side never take each
other's work.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QLockFile, QStandardPaths

from graph import Project
from graph.project_file import atomic_write, project_to_dict, save_project_data
from graph.project_pair import remove_pair

log = logging.getLogger(__name__)

ENV_DIR = "DEEPCANVAS_RECOVERY_DIR"


def default_directory() -> Path:
    override = os.environ.get(ENV_DIR)
    if override:
        return Path(override)
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(base or Path.home() / ".deepcanvas") / "recovery"


@dataclass(frozen=True)
class RecoveryEntry:
    session_id: str
    project_file: Path
    #: the file the crashed session was editing (None: it had never been saved)
    original: Path | None
    saved_at: float
    name: str

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.saved_at))
        where = str(self.original) if self.original else "a project that was never saved"
        return f"'{self.name}' ({where}), autosaved {when}"


class RecoveryStore:
    def __init__(self, directory: Path | None = None, session_id: str | None = None) -> None:
        self.directory = Path(directory) if directory is not None else default_directory()
        self.session_id = session_id or f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._lock: QLockFile | None = None

    def _files(self, session_id: str) -> tuple[Path, Path, Path]:
        stem = self.directory / f"session-{session_id}"
        return stem.with_suffix(".dcproj"), stem.with_suffix(".json"), stem.with_suffix(".lock")

    def _hold_lock(self) -> None:
        if self._lock is not None:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        lock = QLockFile(str(self._files(self.session_id)[2]))
        lock.setStaleLockTime(0)
        if lock.tryLock(0):
            self._lock = lock

    def write(self, project: Project | dict[str, Any], original: Path | None,
              weights: dict[str, Any] | None = None, fresh: bool = False) -> Path:
        """Autosave ``project`` (or its :func:`~graph.project_file.project_to_dict` snapshot, so
        that a worker thread can write it while the editor goes on) with the attached ``weights``;
        without weights, those written before stay, unless ``fresh`` starts over (weights were
        detached). The caller decides when (the window: a few seconds after the last edit)."""
        self._hold_lock()
        project_file, meta_file, _ = self._files(self.session_id)
        if fresh:
            remove_pair(project_file)
        data = project if isinstance(project, dict) else project_to_dict(project)
        save_project_data(data, project_file, weights)
        meta = {"original": str(original) if original else None, "saved_at": time.time(), "name": data.get("name")}
        atomic_write(meta_file, json.dumps(meta).encode("utf-8"))
        log.debug("autosaved to %s", project_file)
        return project_file

    def clear(self) -> None:
        """Nothing to recover any more (saved, or closed on purpose)."""
        project_file, meta_file, _ = self._files(self.session_id)
        meta_file.unlink(missing_ok=True)
        remove_pair(project_file)

    def release(self) -> None:
        self.clear()
        if self._lock is not None:
            self._lock.unlock()
            self._lock = None

    def orphans(self) -> list[RecoveryEntry]:
        """Recovery files of editors that are no longer running, newest first."""
        if not self.directory.is_dir():
            return []
        found = []
        for meta_file in self.directory.glob("session-*.json"):
            session_id = meta_file.stem.removeprefix("session-")
            if session_id == self.session_id:
                continue
            project_file, _, lock_file = self._files(session_id)
            lock = QLockFile(str(lock_file))
            lock.setStaleLockTime(0)
            if not lock.tryLock(0):
                continue  # its editor is still running
            lock.unlock()
            try:
                meta = json.loads(meta_file.read_text(encoding="utf-8"))
                original = Path(meta["original"]) if meta.get("original") else None
                entry = RecoveryEntry(session_id, project_file, original, float(meta.get("saved_at", 0)),
                                      str(meta.get("name", "Untitled")))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.warning("ignoring unreadable recovery note %s: %s", meta_file, exc)
                continue
            if project_file.exists():
                found.append(entry)
        return sorted(found, key=lambda e: e.saved_at, reverse=True)

    def discard(self, entry: RecoveryEntry) -> None:
        project_file, meta_file, lock_file = self._files(entry.session_id)
        remove_pair(project_file)
        for path in (meta_file, lock_file):
            path.unlink(missing_ok=True)
