"""One table for the fleet-scale figures (issue 11): each benchmark module returns rows, this prints them.

Used by benchmarks/fleet_table.py (which prints the table) and the benchmarks it runs. A row names the
figure, what was measured, the target and whether the figure meets it. Figures are printed, never
asserted: a benchmark is not a test.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    """One measured figure. ``met`` is None when the figure has no target (context only)."""

    figure: str  # e.g. "audit: client CPU per host"
    value: float
    unit: str  # "ms", "s", "x", "hosts"
    target: str  # e.g. "<= 30 ms"; "" when there is none
    met: bool | None
    note: str = ""  # how it was measured, in a few words


def render(rows: list[Row], *, title: str = "") -> str:
    """The rows as a fixed-width text table (also pasted into README.md, "Performance")."""
    head = ("figure", "value", "target", "met", "how")
    body = [
        (
            r.figure,
            f"{r.value:.2f} {r.unit}" if r.unit != "hosts" else f"{r.value:.0f} {r.unit}",
            r.target or "-",
            "-" if r.met is None else ("yes" if r.met else "NO"),
            r.note,
        )
        for r in rows
    ]
    widths = [max(len(str(line[i])) for line in [head, *body]) for i in range(len(head))]
    lines = [title] if title else []
    for line in [head, tuple("-" * w for w in widths), *body]:
        cells = (str(cell).ljust(width) for cell, width in zip(line, widths, strict=True))
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
