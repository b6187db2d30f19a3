"""Client CPU per host (audit, status, no-change setup) and the 50-host audit wall ratio (issue 11).

    python benchmarks/client_cpu.py [--hosts 50] [--parallel 10] [--latency-ms 100] [--repeat 3]
                                    [--dir DIR] [--keep] [--reuse DIR]

Starts its own lab (``python -m poshbridge lab up --dir DIR --hosts N``), sets every twin up (``setup
all --parallel N``; hosts that fail are set up again, up to three passes, and the passes are printed),
then measures, for each of ``audit``, ``status`` and a no-change ``setup``:

- the client process's own CPU time (user + sys of the ``poshbridge`` subprocess, from
  ``os.wait4``), once on one host and once on all N hosts (``--parallel``, default 10 as the CLI's);
  CPU per host = (cpu(N) - cpu(1)) / (N - 1), so start-up and the imports are not counted (median
  over ``--repeat`` pairs). More threads cost more CPU per host (GIL hand-offs, and a busier lab
  answers a Receive with fewer messages, so more Receives): ``--parallel 50`` shows it;
- the WSMan requests per host of the N-host run (the lab's per-twin counters).

Last, with ``latency_ms`` injected on every twin (the management API), the wall time of ``audit`` on
all N hosts (``--parallel N``) over one host's, in one run. Figures are printed (``rows()`` in the
format of benchmarks/table.py), never asserted. The machine may be shared: CPU time is the figure
that counts; the wall ratio depends on the lab's CPU too (lab and client share the cores).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from labbench import REPO, lab_cli, lab_data, management
from table import Row, render

TARGETS_MS = {"audit": 30.0, "status": 30.0, "setup": 40.0}
WALL_RATIO_TARGET = 2.0


@dataclass
class Run:
    code: int
    cpu: float  # seconds, user + sys of the client process
    wall: float  # seconds
    stdout: str


def client(lab_dir: Path, *args: str) -> Run:
    """One ``python -m poshbridge -i <lab inventory> ARGS`` process: exit code, its CPU and wall time."""
    env = dict(os.environ, POSHBRIDGE_STATE_DIR=str(lab_dir / "state"))
    inventory = lab_data(lab_dir)["inventory"]
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "poshbridge", "-i", inventory, *args],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.DEVNULL,
        )
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    return Run(proc.returncode, usage.ru_utime + usage.ru_stime, wall, text)


def reset_counters(lab_dir: Path, names: list[str]) -> None:
    for name in names:
        management(lab_dir, "POST", f"/hosts/{name}/counters/reset", {})


def requests_per_host(lab_dir: Path, names: list[str]) -> float:
    total = sum(
        int(management(lab_dir, "GET", f"/hosts/{name}/counters")["wsman_requests"]) for name in names
    )
    return total / len(names)


def set_latency(lab_dir: Path, names: list[str], latency_ms: int) -> None:
    for name in names:
        management(lab_dir, "POST", f"/hosts/{name}/faults", {"latency_ms": latency_ms})


def setup_all(lab_dir: Path, names: list[str], parallel: int) -> list[str]:
    """``setup`` on every twin; failed hosts again (three passes at most). Returns what each pass saw."""
    import json

    todo, seen = list(names), []
    for attempt in range(1, 4):
        run = client(lab_dir, "setup", *todo, "--parallel", str(min(parallel, len(todo))), "--json")
        try:
            hosts = json.loads(run.stdout).get("hosts", [])
        except ValueError:
            hosts = []
        ok = {str(h.get("host") or h.get("name")) for h in hosts if h.get("ok")}
        failed = [n for n in todo if n not in ok]
        seen.append(
            f"pass {attempt}: {len(todo) - len(failed)}/{len(todo)} ok (exit {run.code}, {run.wall:.0f} s)"
        )
        todo = failed
        if not todo:
            break
    if todo:
        seen.append(f"not set up: {', '.join(todo)}")
    return seen


def per_host_cpu(lab_dir: Path, names: list[str], command: str, repeat: int, parallel: int) -> dict[str, Any]:
    """Median over ``repeat`` pairs of (cpu(N) - cpu(1)) / (N - 1), and the runs' exit codes."""
    n = len(names)
    per_host: list[float] = []
    codes: set[int] = set()
    one_cpu: list[float] = []
    requests = 0.0
    for index in range(repeat):
        one = client(lab_dir, command, names[0], "--json")
        reset_counters(lab_dir, names)
        many = client(lab_dir, command, *names, "--parallel", str(parallel), "--json")
        if index == 0:
            requests = requests_per_host(lab_dir, names)
        codes.update({one.code, many.code})
        one_cpu.append(one.cpu)
        per_host.append((many.cpu - one.cpu) / (n - 1))
    return {
        "ms": statistics.median(per_host) * 1000,
        "one_ms": statistics.median(one_cpu) * 1000,
        "codes": sorted(codes),
        "requests": requests,
    }


def wall_ratio(lab_dir: Path, names: list[str], latency_ms: int) -> tuple[float, float, float, set[int]]:
    set_latency(lab_dir, names, latency_ms)
    try:
        one = client(lab_dir, "audit", names[0], "--json")
        many = client(lab_dir, "audit", *names, "--parallel", str(len(names)), "--json")
    finally:
        set_latency(lab_dir, names, 0)
    return many.wall / one.wall, one.wall, many.wall, {one.code, many.code}


def rows(
    hosts: int = 50,
    latency_ms: int = 100,
    repeat: int = 3,
    lab_dir: Path | None = None,
    keep: bool = False,
    reuse: Path | None = None,
    parallel: int = 10,
) -> list[Row]:
    """``reuse``: the directory of a running lab whose twins are set up already (not started, set up
    or stopped here)."""
    if reuse is not None:
        lab_dir, keep = reuse, True
    else:
        lab_dir = lab_dir or Path(tempfile.mkdtemp(prefix="poshbridge-clientcpu-"))
        lab_cli("up", "--dir", str(lab_dir), "--hosts", str(hosts))
    try:
        names = sorted(lab_data(lab_dir)["hosts"])
        if reuse is None:
            for line in setup_all(lab_dir, names, parallel=len(names)):
                print(f"setup all: {line}", file=sys.stderr)
        result: list[Row] = []
        for command in ("audit", "status", "setup"):
            figure = per_host_cpu(lab_dir, names, command, repeat, parallel=parallel)
            label = "no-change setup" if command == "setup" else command
            target = TARGETS_MS[command]
            result.append(
                Row(
                    f"{label}: client CPU per host",
                    figure["ms"],
                    "ms",
                    f"<= {target:.0f} ms",
                    figure["ms"] <= target,
                    f"(cpu({len(names)})-cpu(1))/{len(names) - 1}, --parallel {parallel}, median of {repeat};"
                    f" 1 host {figure['one_ms']:.0f} ms; exit {figure['codes']}",
                )
            )
            result.append(
                Row(f"{label}: WSMan requests per host", figure["requests"], "req", "", None, "lab counters")
            )
        ratio, one, many, codes = wall_ratio(lab_dir, names, latency_ms)
        result.append(
            Row(
                f"audit wall {len(names)} hosts / 1 host at {latency_ms} ms latency",
                ratio,
                "x",
                f"<= {WALL_RATIO_TARGET:.0f}x",
                ratio <= WALL_RATIO_TARGET,
                f"{one:.1f} s vs {many:.1f} s, --parallel {len(names)}; exit {sorted(codes)}; shared machine",
            )
        )
        return result
    finally:
        if not keep:
            lab_cli("down", "--dir", str(lab_dir))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--parallel", type=int, default=10, help="hosts at once for the CPU figures")
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", default=None, help="lab directory (default: a new temporary one)")
    parser.add_argument("--keep", action="store_true", help="leave the lab running")
    parser.add_argument("--reuse", default=None, metavar="DIR", help="a running lab, set up already")
    args = parser.parse_args()
    lab_dir = Path(args.dir) if args.dir else None
    reuse = Path(args.reuse) if args.reuse else None
    table = rows(args.hosts, args.latency_ms, args.repeat, lab_dir, args.keep, reuse, args.parallel)
    print(render(table, title="client CPU per host"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
