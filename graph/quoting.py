"""Quoting the user's own text (names, paths, keys, column names, cells) inside messages.

A message is read by a person, so a quote only has to say *which* thing is meant: its start and its
end identify it. Without a limit a single pasted name or a corrupt file turns one dialog or one line
of CLI output into megabytes (a 5 MB node name once did). Every message that quotes user text goes
through :func:`cut` or :func:`quote`, and the error base classes pass their whole message through
:func:`cut_message` as a last line of defence.

Pure Python, no Qt and no torch: the graph, the engine and the CLI all use it.
"""

from __future__ import annotations

import os
import re

#: characters of user text a quote keeps at most (start and end together, plus the note in between)
QUOTE_LIMIT = 80
#: characters a whole message keeps at most, whatever it quotes
MESSAGE_LIMIT = 4000
_MARK = "…[{n:,} characters cut]…"


def cut(text: object, limit: int = QUOTE_LIMIT) -> str:
    """``text`` as a string of about ``limit`` characters at most: its start and its end, with a note
    in between saying how many characters were left out. Short text comes back unchanged.

    The end is kept as well as the start because a path's file name and a name's numbering are
    often what tells two long values apart."""
    text = text if isinstance(text, str) else str(text)
    if len(text) <= limit:
        return text
    head = max(1, (limit * 3) // 5)
    tail = max(1, limit - head)
    removed = len(text) - head - tail
    if removed <= 0:
        return text
    return text[:head] + _MARK.format(n=removed) + text[-tail:]


def quote(text: object, limit: int = QUOTE_LIMIT) -> str:
    """``text`` cut to ``limit`` and put in single quotes, the way messages name things: ``'age'``."""
    return f"'{cut(text, limit)}'"


def cut_path(path: str | os.PathLike[str], limit: int = 2 * QUOTE_LIMIT) -> str:
    """A file or folder path for a message; paths get twice a name's room since folders add up."""
    return cut(os.fspath(path), limit)


#: a run of this many characters without a space is user text (a path, a key, a pasted name), never prose
_LONG_RUN = re.compile(rf"\S{{{2 * QUOTE_LIMIT + 1},}}")


def cut_message(message: object, limit: int = MESSAGE_LIMIT) -> str:
    """A whole message with every long run of non-space characters cut like a path, and then the
    whole cut to ``limit``: the start says what went wrong and the end what to do, so both are kept.
    Used by the error base classes, so no message can grow without bound even where a quote was
    not cut at its source."""
    text = message if isinstance(message, str) else str(message)
    if len(text) > 2 * QUOTE_LIMIT:
        text = _LONG_RUN.sub(lambda m: cut(m.group(0), 2 * QUOTE_LIMIT), text)
    return cut(text, limit)
