"""WSMan requests per host for `poshbridge setup`: first run and a no-change run (target: <= 10).

    python benchmarks/setup_roundtrips.py [--dir DIR] [--keep]

Starts its own lab (``python -m poshbridge lab up --dir DIR --hosts 1``), counts requests with the
lab's per-host counters, prints the figures. Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def lab_cli(*args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "poshbridge", "lab", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"poshbridge lab {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")


def lab_data(lab_dir: Path) -> dict[str, Any]:
    return dict(json.loads((lab_dir / "lab.json").read_text("utf-8")))


def management(lab_dir: Path, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    url = lab_data(lab_dir)["management_url"] + path
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - the lab's loopback API
        return json.loads(response.read())


def poshbridge(lab_dir: Path, *args: str) -> tuple[int, float, dict[str, Any] | None]:
    """Run ``python -m poshbridge -i <lab inventory> ARGS --json``; (exit code, seconds, document)."""
    inventory = lab_data(lab_dir)["inventory"]
    env = dict(os.environ, POSHBRIDGE_STATE_DIR=str(lab_dir / "state"))
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "poshbridge", "-i", inventory, *args, "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    elapsed = time.perf_counter() - start
    try:
        doc = json.loads(done.stdout)
    except ValueError:
        doc = None
        print(done.stdout[-2000:], done.stderr[-2000:], file=sys.stderr)
    return done.returncode, elapsed, doc


TARGET_NO_CHANGE = 10


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", default=None)
    parser.add_argument("--keep", action="store_true", help="leave the lab running")
    args = parser.parse_args()
    lab_dir = Path(args.dir or tempfile.mkdtemp(prefix="poshbridge-bench-"))
    lab_cli("up", "--dir", str(lab_dir), "--hosts", "1")
    try:
        host = "host01"
        management(lab_dir, "POST", f"/hosts/{host}/reset", {})
        figures = []
        for label in ("first run", "no-change run"):
            management(lab_dir, "POST", f"/hosts/{host}/counters/reset", {})
            code, seconds, doc = poshbridge(lab_dir, "setup", host)
            counters = management(lab_dir, "GET", f"/hosts/{host}/counters")
            statuses = {
                s["name"]: s["status"] for s in (doc or {"hosts": [{"steps": []}]})["hosts"][0]["steps"]
            }
            figures.append((label, code, seconds, counters))
            print(
                f"{label:14s} exit={code} {seconds:6.1f}s wsman_requests={counters['wsman_requests']:3d} "
                f"http_requests={counters['http_requests']:3d} by_action={counters['by_action']}"
            )
            print(f"{'':14s} steps: {statuses}")
        no_change = figures[1][3]["wsman_requests"]
        verdict = "OK" if no_change <= TARGET_NO_CHANGE else "ABOVE TARGET"
        print(
            f"no-change setup: {no_change} WSMan requests per host (target <= {TARGET_NO_CHANGE}): {verdict}"
        )
        return 0
    finally:
        if not args.keep:
            lab_cli("down", "--dir", str(lab_dir))


if __name__ == "__main__":
    raise SystemExit(main())
