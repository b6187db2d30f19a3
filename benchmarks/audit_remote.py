"""Remote audit cost: WSMan requests per host (target <= 6) and wall time for 1 vs 50 lab hosts with
injected latency (target: 50 hosts in <= 2x the time of 1, with --parallel 50).

    python benchmarks/audit_remote.py [--hosts 50] [--latency-ms 50,500] [--keep DIR]

Starts its own lab (``python -m poshbridge lab up``), prepares every twin with ``poshbridge setup``
(so the audit reads real Posh-ACME state, a task and a binding), then runs ``poshbridge audit``.
Prints figures; not a test.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from poshbridge.cli.main import main as poshbridge  # noqa: E402


def api(base: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)  # noqa: S310 - loopback lab
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        text = response.read().decode() or "null"
    return json.loads(text)


def quiet(argv: list[str]) -> int:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        return poshbridge(argv)


def run(args: argparse.Namespace, labdir: Path) -> None:
    up = subprocess.run(
        [sys.executable, "-m", "poshbridge", "lab", "up", "--dir", str(labdir), "--hosts", str(args.hosts)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if up.returncode != 0:
        raise SystemExit(f"lab up failed:\n{up.stdout}\n{up.stderr}")
    lab = json.loads((labdir / "lab.json").read_text())
    base = str(lab["management_url"]).rstrip("/")
    inventory = str(labdir / "inventory.yaml")
    hosts = [f"host{n:02d}" for n in range(1, args.hosts + 1)]

    started = time.perf_counter()
    code = quiet(["-i", inventory, "setup", "all", "--parallel", str(args.hosts)])
    print(f"setup of {args.hosts} hosts: exit {code}, {time.perf_counter() - started:.1f} s")

    # WSMan requests for one host's audit
    api(base, "POST", "/hosts/host01/counters/reset")
    code = quiet(["-i", inventory, "audit", "host01", "--json"])
    counters = api(base, "GET", "/hosts/host01/counters")
    print(
        f"audit host01: exit {code}; WSMan requests {counters['wsman_requests']} (target <= 6), "
        f"HTTP requests {counters['http_requests']}, connections {counters['connections']}"
    )
    print(f"  by action: {counters['by_action']}")

    for latency in args.latency_ms:
        for host in hosts:
            api(base, "POST", f"/hosts/{host}/faults", {"latency_ms": latency})
        timings: dict[int, float] = {}
        for count in (1, args.hosts):
            targets = hosts[:count]
            best = float("inf")
            cpu_client = cpu_lab = 0.0
            for _ in range(args.repeat):
                lab_before = daemon_cpu(labdir)
                client_before = time.process_time()
                started = time.perf_counter()
                quiet(["-i", inventory, "audit", *targets, "--parallel", str(count), "--json"])
                elapsed = time.perf_counter() - started
                if elapsed < best:
                    best = elapsed
                    cpu_client = time.process_time() - client_before
                    cpu_lab = daemon_cpu(labdir) - lab_before
            timings[count] = best
            print(
                f"latency {latency:4d} ms, {count:3d} host(s): {best:6.2f} s wall (best of {args.repeat});"
                f" CPU: client {cpu_client:.2f} s, lab daemon {cpu_lab:.2f} s"
            )
        ratio = timings[args.hosts] / timings[1]
        print(f"latency {latency:4d} ms: {args.hosts} vs 1 host = {ratio:.2f}x (target <= 2x)")
    for host in hosts:
        api(base, "POST", f"/hosts/{host}/faults", {"latency_ms": 0})
    print(f"CPUs on this machine: {os.cpu_count()} (client and lab share them)")


def daemon_cpu(labdir: Path) -> float:
    """CPU seconds used so far by the lab daemon (Linux /proc), 0 when unknown."""
    try:
        pid = int((labdir / "run" / "daemon.pid").read_text().split()[0])
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument(
        "--latency-ms",
        type=lambda text: [int(x) for x in text.split(",")],
        default=[50, 500],
        help="injected WSMan latencies to try, comma separated (default 50,500)",
    )
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--keep", metavar="DIR", help="lab directory to use and keep (default: temporary)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="audit-remote-") as tmp:
        labdir = Path(args.keep) if args.keep else Path(tmp) / "lab"
        try:
            run(args, labdir)
        finally:
            subprocess.run(
                [sys.executable, "-m", "poshbridge", "lab", "down", "--dir", str(labdir)],
                cwd=ROOT,
                check=False,
            )


if __name__ == "__main__":
    main()
