"""Every issue 11 figure in one table: start-up, client CPU per host, lab CPU, fleet wall ratios, 200 twins.

    python benchmarks/fleet_table.py [--skip-200]

Runs benchmarks/startup.py, benchmarks/client_cpu.py and benchmarks/lab_scale.py (each starts and stops
its own lab) and prints their rows as one table with the date, the machine and the targets. The
README's "Performance" section shows a run of it. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import client_cpu
import lab_scale
import startup
from table import Row, render


def machine() -> str:
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            names = (line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
            model = next(names, "")
    except OSError:
        pass
    cpus = f"{os.cpu_count()} cores {model}".strip()
    return f"{platform.system()} {platform.machine()}, {cpus}, Python {platform.python_version()}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skip-200", action="store_true", help="leave out the 200-twin figures")
    parser.add_argument("--hosts", type=int, default=50, help="twins for the client CPU figures (50)")
    args = parser.parse_args()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    rows: list[Row] = []
    rows += startup.rows()
    rows += client_cpu.rows(hosts=args.hosts)
    if not args.skip_200:
        rows += lab_scale.rows(200, audit_parallel=50)
    print(render(rows, title=f"poshbridge fleet figures, {started}, {machine()}"), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
