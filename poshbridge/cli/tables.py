"""Tables that never break a host name or a thumbprint across lines.

``render_records`` prints a wide table when it fits the console; when it does not, it folds: one small
``field  value`` block per row, so every value keeps the console's full width. Columns named in
``wrap`` (free text such as a reason) may wrap at spaces.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from poshbridge.textsafe import safe_text

WRAP_MIN = 24  # the narrowest a wrapping column may become before the table folds
_BORDER_PER_COLUMN = 3  # "│ " + " " in rich's default box with padding (0, 1)


def required_width(columns: Sequence[str], rows: Sequence[Sequence[str]], wrap: set[str]) -> int:
    """The console width a table needs so that no unwrapped cell is cut."""
    total = 1
    for index, name in enumerate(columns):
        if name in wrap:
            widest = min(WRAP_MIN, max([cell_len(name)] + [_widest_line(r[index]) for r in rows]))
        else:
            widest = max([cell_len(name)] + [_widest_line(r[index]) for r in rows])
        total += widest + _BORDER_PER_COLUMN
    return total


def _widest_line(text: str) -> int:
    return max((cell_len(line) for line in text.split("\n")), default=0)


def render_records(
    console: Console,
    title: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    wrap: Sequence[str] = (),
    styles: Mapping[str, Sequence[str]] | None = None,
) -> bool:
    """Print ``rows`` (plain text cells; ``styles[column][i]`` a rich style for row i). Returns True
    when the rows were folded into blocks because the table did not fit."""
    wrap_set = set(wrap)
    styles = styles or {}
    # remote text: control characters made visible before widths are measured
    rows = [[safe_text(cell, keep_newlines=True) for cell in row] for row in rows]
    if required_width(columns, rows, wrap_set) <= console.width:
        table = Table(title=title, title_justify="left")
        for name in columns:
            if name in wrap_set:
                table.add_column(name, overflow="fold", ratio=1, min_width=min(WRAP_MIN, cell_len(name)))
            else:
                table.add_column(name, no_wrap=True, overflow="ignore")
        for i, row in enumerate(rows):
            cells = zip(columns, row, strict=True)
            table.add_row(*(_styled(cell, styles.get(name, ()), i) for name, cell in cells))
        console.print(table)
        return False
    console.print(title, style="italic", markup=False)
    label_width = max(cell_len(name) for name in columns)
    for i, row in enumerate(rows):
        block = Table(box=box.SIMPLE, show_header=False, pad_edge=False, show_edge=False)
        block.add_column("field", no_wrap=True, width=label_width, style="bold")
        block.add_column("value", overflow="fold")
        for name, cell in zip(columns, row, strict=True):
            block.add_row(name, _styled(cell, styles.get(name, ()), i))
        console.print(block)
        console.print()
    return True


def _styled(cell: str, styles: Sequence[str], index: int) -> Text:
    style = styles[index] if index < len(styles) else ""
    return Text(cell, style=style)
