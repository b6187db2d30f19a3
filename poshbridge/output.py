"""Console output: rich, plain when stdout is not a terminal, NO_COLOR honoured.

Every console made here passes what it prints through :func:`poshbridge.textsafe.safe_text`
(line feeds kept): remote text can never reach the terminal as a control sequence, whichever
renderer (table, progress line, error text) forgot to clean a value.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import TextIO

from rich.console import Console
from rich.segment import Segment

from poshbridge.cli.plain import PLAIN_WIDTH
from poshbridge.textsafe import safe_text


def _safe_segment(segment: Segment) -> Segment:
    if segment.control:
        return segment
    return Segment(safe_text(segment.text, keep_newlines=True), segment.style)


class SafeConsole(Console):
    """A rich Console whose text segments are made safe just before they are written; rich's own
    control segments (cursor moves of a live progress display) pass unchanged."""

    def _render_buffer(self, buffer: Iterable[Segment]) -> str:
        return super()._render_buffer(_safe_segment(segment) for segment in buffer)


def make_console(stderr: bool = False, *, file: TextIO | None = None) -> Console:
    """``file``: the stream (default: stdout, or stderr with ``stderr``)."""
    stream = file if file is not None else (sys.stderr if stderr else sys.stdout)
    is_tty = stream.isatty()
    no_color = "NO_COLOR" in os.environ
    return SafeConsole(
        file=stream,
        force_terminal=is_tty,
        no_color=no_color or not is_tty,
        highlight=False,
        soft_wrap=not is_tty,
        width=None if is_tty else PLAIN_WIDTH,
        emoji=False,
    )
