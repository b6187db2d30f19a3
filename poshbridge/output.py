"""Console output: rich, plain when stdout is not a terminal, NO_COLOR honoured."""

from __future__ import annotations

import os
import sys

from rich.console import Console


def make_console(stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    is_tty = stream.isatty()
    no_color = "NO_COLOR" in os.environ
    return Console(
        file=stream,
        force_terminal=is_tty,
        no_color=no_color or not is_tty,
        highlight=False,
        soft_wrap=not is_tty,
        width=None if is_tty else 200,
        emoji=False,
    )
