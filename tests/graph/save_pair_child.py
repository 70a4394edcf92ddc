"""Helper process for tests/graph/test_save_pair.py (not a test): a fork server that, per request,
starts a process saving one project with its weights in a tight loop and SIGKILLs it after the
requested delay. Torch is imported once here, so each trial costs a fork, not an interpreter.

Request on stdin: ``<project path> <delay seconds> <first tag>``; answer on stdout: ``killed``.
Save number k writes the tag ``first + k`` into the project's settings and into every element of
its weights, so a reader can tell whether the JSON and the weights come from the same save.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import torch

from graph import Network, Project, save_project

ELEMENTS = 1 << 18          # 2 MiB of int64: a write long enough to be killed in the middle of


def save_loop(path: Path, first: int) -> None:
    project = Project(name="kill test", networks=[Network("main")])
    tag = first
    while True:
        tag += 1
        project.settings["save"] = tag
        save_project(project, path, weights={"main": {"w": torch.full((ELEMENTS,), tag, dtype=torch.int64)}})


def main() -> None:
    for line in sys.stdin:
        where, delay, first = line.split()
        pid = os.fork()
        if pid == 0:
            try:
                save_loop(Path(where), int(first))
            finally:
                os._exit(1)
        time.sleep(float(delay))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        print("killed", flush=True)


if __name__ == "__main__":
    main()
