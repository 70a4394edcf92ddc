"""The project file and its weights file as one pair, whatever moment a save is killed at.

Each file on its own is written atomically (a temporary file beside it, flushed, then renamed over
the old one). A pair needs more: a save that dies between the two renames must not leave new
weights beside the old JSON. So a save with weights goes

1. the weights to ``<stem>.<save id>.safetensors`` (a *staged* name no project uses yet), the save
   id also written into the file's metadata;
2. the JSON, naming that save id (``"weights": {"save_id": ...}``), switched atomically: this is
   the moment the new pair exists;
3. the staged weights renamed over ``<stem>.safetensors`` (the name people and tools expect).

A reader takes ``<stem>.safetensors`` when its save id is the JSON's, else the staged file with the
JSON's id; so at every moment the JSON meets the weights of its own save. What a kill leaves
behind (temporary files, a staged file the JSON never came to name, one it named but never had
renamed) is cleaned by the next save or open of that project: the named one is renamed into
place, the others removed. A file a running save is still writing is never taken for a leftover:
the writer holds an advisory lock (``flock``) on it until the JSON is switched, and the cleaner
only removes what it can lock (on systems without ``flock``, what has not changed for a minute).
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

WEIGHTS_SUFFIX = ".safetensors"
#: key of the save id in a weights file's safetensors metadata
SAVE_ID_KEY = "save_id"
SAVE_ID = re.compile(r"^[0-9a-f]{16}$")
#: without flock, a leftover must be this old before it is removed (a live save renews it quickly)
STALE_AGE_S = 60.0

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


def new_save_id() -> str:
    return uuid.uuid4().hex[:16]


def fixed_weights_path(project: Path) -> Path:
    return project.with_suffix(WEIGHTS_SUFFIX)


def staged_weights_path(project: Path, save_id: str) -> Path:
    return project.with_name(f"{project.stem}.{save_id}{WEIGHTS_SUFFIX}")


def weights_save_id(file: Path) -> str | None:
    """The save id in a weights file's metadata; None for a file without one (written before
    pairs had ids, or by another program) or one that cannot be read."""
    try:
        with file.open("rb") as fh:
            size = int.from_bytes(fh.read(8), "little")
            if not 2 <= size <= 100_000_000:
                return None
            header = json.loads(fh.read(size))
    except (OSError, ValueError, RecursionError):
        return None
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    value = meta.get(SAVE_ID_KEY) if isinstance(meta, dict) else None
    return value if isinstance(value, str) and SAVE_ID.match(value) else None


def resolve_weights(project: Path, save_id: str | None) -> Path:
    """The weights file of the pair whose JSON names ``save_id`` (None: a file written before
    pairs had ids, whose weights are simply ``<stem>.safetensors``)."""
    fixed = fixed_weights_path(project)
    if save_id is None or weights_save_id(fixed) == save_id:
        return fixed
    staged = staged_weights_path(project, save_id)
    return staged if staged.is_file() else fixed


# -- writing ------------------------------------------------------------------------------------
def _lock(fd: int) -> None:
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX)


@contextmanager
def locked_atomic_write(path: Path, data: bytes, mode: Callable[[Path], int]) -> Iterator[None]:
    """Write ``data`` to a temporary file beside ``path``, flush it to disk and rename it over
    ``path``; the new file stays locked against :func:`clean_stale_files` until the block ends.
    On any failure the temporary file is removed and ``path`` is as it was."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    lock_fd: int | None = None
    try:
        # a second descriptor holds the lock: it stays with the file through the rename
        lock_fd = os.open(tmp, os.O_RDONLY)
        _lock(lock_fd)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp makes the file private (0600); keep the mode a plain write would have given
        os.chmod(tmp, mode(path))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        if lock_fd is not None:
            os.close(lock_fd)
        raise
    try:
        fsync_dir(path.parent)
        yield
    finally:
        os.close(lock_fd)


def fsync_dir(directory: Path) -> None:
    """Make a rename itself durable (POSIX), so renames reach the disk in the order they were made."""
    if os.name != "posix":
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def settle(project: Path, save_id: str) -> None:
    """Step 3 of a save: the staged weights of ``save_id`` become ``<stem>.safetensors``."""
    staged = staged_weights_path(project, save_id)
    try:
        os.replace(staged, fixed_weights_path(project))
    except FileNotFoundError:
        return      # another process (an open of the same project) settled it first
    fsync_dir(project.parent)


# -- cleaning -----------------------------------------------------------------------------------
def _leftover_patterns(project: Path) -> tuple[re.Pattern[str], re.Pattern[str]]:
    stem = re.escape(project.stem)
    temp = re.compile(rf"^\.(?:{re.escape(project.name)}|{stem}(?:\.[0-9a-f]{{16}})?{re.escape(WEIGHTS_SUFFIX)})"
                      rf"\..+\.tmp$")
    staged = re.compile(rf"^{stem}\.([0-9a-f]{{16}}){re.escape(WEIGHTS_SUFFIX)}$")
    return temp, staged


@contextmanager
def _unless_in_use(file: Path) -> Iterator[bool]:
    """True (and the file locked for the block) when no running save is writing it."""
    if fcntl is None:  # pragma: no cover - Windows: an open file cannot be removed there anyway
        try:
            yield time.time() - file.stat().st_mtime > STALE_AGE_S
        except OSError:
            yield False
        return
    try:
        fd = os.open(file, os.O_RDONLY)
    except OSError:
        yield False
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def clean_stale_files(project: Path, save_id: str | None) -> list[str]:
    """Finish or undo what killed saves left beside ``project`` (whose JSON names ``save_id``):
    the staged weights it names are renamed into place; temporary files and staged weights it does
    not name are removed. Best effort (a read-only folder stays as it is); returns what it removed
    or renamed, for the log."""
    temp, staged = _leftover_patterns(project)
    done: list[str] = []
    try:
        names = sorted(os.listdir(project.parent or "."))
    except OSError:
        return done
    for name in names:
        file = project.parent / name
        match = staged.match(name)
        try:
            if match and match.group(1) == save_id:
                if weights_save_id(fixed_weights_path(project)) != save_id:
                    with _unless_in_use(file) as free:
                        if free:
                            settle(project, save_id)
                            done.append(f"{name} -> {fixed_weights_path(project).name}")
                            continue
                # else: the settled copy is already in place; this one is a duplicate (below)
            if match and weights_save_id(file) != match.group(1):
                continue    # not a staged file of ours (another project's name that looks like one)
            if match or temp.match(name):
                with _unless_in_use(file) as free:
                    if free:
                        file.unlink()
                        done.append(name)
        except OSError as exc:
            log.debug("cannot clean %s: %s", file, exc)
    if done:
        log.info("cleaned what an interrupted save left beside %s: %s", project.name, ", ".join(done))
    return done


def remove_pair(project: Path) -> None:
    """Delete a project file with its weights and whatever its saves left behind (a recovery copy
    that is no longer needed)."""
    project.unlink(missing_ok=True)
    fixed_weights_path(project).unlink(missing_ok=True)
    clean_stale_files(project, None)
