"""Start-up cost of the commands that never talk to a host, against the interpreter's own start-up.

    python benchmarks/startup.py [--pairs 21] [--warmup 3]

For each command, ``python -c pass`` and the command run alternately, pair after pair (so a load
change on the machine hits both sides alike), both with the worktree's ``.venv`` python; the figure is
the median of the per-pair ratios of wall times (target: <= 4x). The note gives both medians and the
CPU ratio (user + system of the child, from ``getrusage``). stdout is not a terminal (a pipe to
/dev/null), as under cron or CI. Prints figures; not a test.

Bytecode: an installed poshbridge runs from compiled ``.pyc`` files (pip compiles them at install;
an editable checkout writes ``__pycache__`` on first use). An environment with
``PYTHONDONTWRITEBYTECODE`` set would make every run compile poshbridge's sources again, so both sides
run with that variable removed and ``PYTHONPYCACHEPREFIX`` pointing at a temporary folder (the warm-up
fills it; the checkout stays clean). ``--no-bytecode-cache`` measures the other case instead.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from table import Row, render  # benchmarks/ is on sys.path: this file runs as a script or from fleet_table

ROOT = Path(__file__).resolve().parents[1]
INVENTORY = ROOT / "examples" / "inventory.yaml"
TARGET = 4.0
# The commands named by issue 11, each as a user types it (the example inventory has two warnings,
# so the generators also print their one warning line to stderr).
COMMANDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("--version", ("--version",)),
    ("--help", ("--help",)),
    ("check", ("-i", str(INVENTORY), "check")),
    ("renew-script", ("-i", str(INVENTORY), "renew-script", "host01")),
    ("task-xml", ("-i", str(INVENTORY), "task-xml", "host01")),
)


def venv_python() -> str:
    """The worktree's .venv python (both sides of every pair), else the running one."""
    candidate = ROOT / ".venv" / "bin" / "python"
    return str(candidate) if candidate.exists() else sys.executable


def command_line(python: str, args: Sequence[str]) -> list[str]:
    """``poshbridge ARGS`` through the installed console script when there is one (what a user runs),
    else ``python -m poshbridge``; the interpreter is always ``python``."""
    script = Path(python).parent / "poshbridge"
    if script.is_file():
        return [python, str(script), *args]
    return [python, "-m", "poshbridge", *args]


def child_environment(pycache: str | None) -> dict[str, str]:
    """The environment of both sides: with ``pycache``, bytecode is written and read there."""
    env = dict(os.environ)
    if pycache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = pycache
    return env


def _run(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, child CPU seconds) of one run; a failing run stops the benchmark."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, env=env, check=False)  # fmt: skip
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)}: exit {done.returncode}: {done.stderr.decode(errors='replace')}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def measure(
    argv: list[str], baseline: list[str], *, pairs: int, warmup: int, env: dict[str, str]
) -> dict[str, float]:
    """Alternate ``baseline`` and ``argv`` ``pairs`` times after ``warmup`` unmeasured pairs."""
    for _ in range(warmup):
        _run(baseline, env)
        _run(argv, env)
    ratios, cpu_ratios, base_walls, walls = [], [], [], []
    for index in range(pairs):
        # alternate which side goes first, so neither always runs on a warmer cache
        if index % 2:
            wall, cpu = _run(argv, env)
            base_wall, base_cpu = _run(baseline, env)
        else:
            base_wall, base_cpu = _run(baseline, env)
            wall, cpu = _run(argv, env)
        ratios.append(wall / base_wall)
        cpu_ratios.append(cpu / base_cpu if base_cpu > 0 else float("nan"))
        base_walls.append(base_wall)
        walls.append(wall)
    return {
        "ratio": statistics.median(ratios),
        "cpu_ratio": statistics.median(cpu_ratios),
        "wall_ms": 1000 * statistics.median(walls),
        "base_ms": 1000 * statistics.median(base_walls),
    }


def rows(
    *, pairs: int = 21, warmup: int = 3, python: str | None = None, bytecode_cache: bool = True
) -> list[Row]:
    """One row per command: the median wall ratio against ``python -c pass``."""
    python = python or venv_python()
    baseline = [python, "-c", "pass"]
    with tempfile.TemporaryDirectory(prefix="poshbridge-pycache-") as folder:
        env = child_environment(folder if bytecode_cache else None)
        warmup = max(warmup, 1) if bytecode_cache else warmup  # the first run writes the bytecode
        out: list[Row] = []
        for name, args in COMMANDS:
            figures = measure(command_line(python, args), baseline, pairs=pairs, warmup=warmup, env=env)
            out.append(_row(name, figures, pairs, bytecode_cache))
        return out


def _row(name: str, figures: dict[str, float], pairs: int, bytecode_cache: bool) -> Row:
    cache = "" if bytecode_cache else "; no bytecode cache"
    return Row(
        figure=f"start-up: {name}",
        value=figures["ratio"],
        unit="x",
        target=f"<= {TARGET:g}x",
        met=figures["ratio"] <= TARGET,
        note=(
            f"median {figures['wall_ms']:.0f} ms vs python -c pass {figures['base_ms']:.0f} ms "
            f"(wall, {pairs} pairs; CPU {figures['cpu_ratio']:.1f}x{cache})"
        ),
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pairs", type=int, default=21, help="measured pairs per command (21)")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured pairs first (3)")
    parser.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="keep the environment as it is (with PYTHONDONTWRITEBYTECODE, sources compile on every run)",
    )
    args = parser.parse_args()
    table = rows(pairs=args.pairs, warmup=args.warmup, bytecode_cache=not args.no_bytecode_cache)
    print(render(table, title=f"start-up ({os.cpu_count()} CPUs)"))


if __name__ == "__main__":
    main()
