"""The lab at fleet scale (issue 11): 200 twins up, set up and audited, and the lab's CPU per audited host.

    python benchmarks/lab_scale.py [--hosts 200] [--parallel N] [--audit-parallel N] [--dir DIR] [--keep]
    python benchmarks/lab_scale.py --quick          # 20 twins: the same figures in a few minutes

Starts its own lab (``poshbridge lab up --hosts N``, timed), runs ``poshbridge setup all`` (ok count
and seconds), then ``poshbridge audit HOST`` for one twin and ``poshbridge audit all`` (wall times and
their ratio), and reads the lab daemon's own CPU (``/proc/PID/stat`` utime + stime, the process and
all its threads; not Pebble's or openssl's) before and after ``audit all``: the delta divided by N is
the lab CPU per audited host. Wall figures depend on the machine's load; CPU figures much less.
Prints one table (benchmarks/table.py); a benchmark is not a test.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from labbench import lab_cli, lab_data, poshbridge
from table import Row, render

UP_TARGET_S = 60.0
AUDIT_RATIO_TARGET = 3.0
LAB_CPU_TARGET_MS = 60.0


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    """CPU of this process's finished children (the poshbridge runs), user + system."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _ok_count(doc: dict[str, object] | None) -> int:
    hosts = (doc or {}).get("hosts", [])
    return sum(1 for h in hosts if isinstance(h, dict) and h.get("ok")) if isinstance(hosts, list) else 0


QUICK_HOSTS = 20


def rows(
    hosts: int = 200,
    *,
    quick: bool = False,
    parallel: int | None = None,
    audit_parallel: int | None = None,
    lab_dir: Path | None = None,
    keep: bool = False,
) -> list[Row]:
    """Bring up ``hosts`` twins (``quick``: 20), set them all up, audit one and all; the figures as rows.

    ``parallel`` is passed to setup and audit (None: the CLI's default); ``audit_parallel`` adds a
    second ``audit all`` with that ``--parallel`` (context: with 10 at a time, 200 hosts are 20 rounds
    of one host's round trips however cheap each is)."""
    hosts = QUICK_HOSTS if quick else hosts
    directory = lab_dir or Path(tempfile.mkdtemp(prefix="poshbridge-labscale-"))
    fleet = ["--parallel", str(parallel)] if parallel else []
    how_parallel = f"--parallel {parallel}" if parallel else "default --parallel"
    start = time.perf_counter()
    lab_cli("up", "--dir", str(directory), "--hosts", str(hosts), "--timeout", "600")
    up_seconds = time.perf_counter() - start
    try:
        data = lab_data(directory)
        daemon = int(data["pids"]["daemon"])
        names = sorted(data["hosts"])
        setup_code, setup_seconds, setup_doc = poshbridge(directory, "setup", "all", *fleet)
        setup_ok = _ok_count(setup_doc)
        one_code, one_seconds, _ = poshbridge(directory, "audit", names[0])
        cpu_before, client_before = process_cpu_seconds(daemon), children_cpu_seconds()
        all_code, all_seconds, all_doc = poshbridge(directory, "audit", "all", *fleet)
        lab_cpu_ms = (process_cpu_seconds(daemon) - cpu_before) * 1000 / hosts
        client_cpu_ms = (children_cpu_seconds() - client_before) * 1000 / hosts
        audited = len((all_doc or {}).get("hosts", []))
        ratio = all_seconds / one_seconds if one_seconds else float("inf")
        extra: list[Row] = []
        if audit_parallel:
            wide_code, wide_seconds, _ = poshbridge(
                directory, "audit", "all", "--parallel", str(audit_parallel)
            )
            wide = wide_seconds / one_seconds if one_seconds else float("inf")
            extra.append(
                Row(f"audit all {hosts} / 1 host, --parallel {audit_parallel}", wide, "x",
                    f"<= {AUDIT_RATIO_TARGET:g}x", wide <= AUDIT_RATIO_TARGET,
                    f"wall ratio ({wide_seconds:.1f} s, exit {wide_code})")
            )  # fmt: skip
        return [
            Row(f"lab up --hosts {hosts}", up_seconds, "s", f"<= {UP_TARGET_S:g} s",
                up_seconds <= UP_TARGET_S, "wall, until every twin answers"),
            Row(f"setup all: hosts ok of {hosts}", setup_ok, "hosts", f"{hosts}/{hosts}", setup_ok == hosts,
                f"exit {setup_code}, {how_parallel}"),
            Row(f"setup all: {hosts} hosts", setup_seconds, "s", "", None, "wall, first run"),
            Row("audit: 1 host", one_seconds, "s", "", None, f"wall incl. process start, exit {one_code}"),
            Row(f"audit all: {hosts} hosts", all_seconds, "s", "", None,
                f"wall, exit {all_code}, {audited} audited, {how_parallel}"),
            Row(f"audit all {hosts} / 1 host", ratio, "x", f"<= {AUDIT_RATIO_TARGET:g}x",
                ratio <= AUDIT_RATIO_TARGET, "wall ratio"),
            Row("audit: lab CPU per host", lab_cpu_ms, "ms", f"<= {LAB_CPU_TARGET_MS:g} ms",
                lab_cpu_ms <= LAB_CPU_TARGET_MS, f"lab process utime+stime over audit all / {hosts}"),
            Row("audit: client CPU per host", client_cpu_ms, "ms", "", None,
                f"the audit all process (start included) / {hosts}; its target: benchmarks of the client"),
            *extra,
        ]  # fmt: skip
    finally:
        if not keep:
            lab_cli("down", "--dir", str(directory))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hosts", type=int, default=200, help="twins (default 200)")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_HOSTS} twins instead of --hosts")
    parser.add_argument("--parallel", type=int, default=None, help="--parallel for setup/audit (CLI default)")
    parser.add_argument(
        "--audit-parallel", type=int, default=None, help="also audit all with this --parallel"
    )
    parser.add_argument("--dir", type=Path, default=None, help="lab directory (default: a new temp dir)")
    parser.add_argument("--keep", action="store_true", help="leave the lab running")
    args = parser.parse_args(argv)
    figures = rows(
        args.hosts,
        quick=args.quick,
        parallel=args.parallel,
        audit_parallel=args.audit_parallel,
        lab_dir=args.dir,
        keep=args.keep,
    )
    print(render(figures, title="lab scale"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
