"""WSMan requests per host for `poshbridge setup`: first run and a no-change run (target: <= 10).

    python benchmarks/setup_roundtrips.py [--dir DIR] [--keep]

Starts its own lab (``python -m poshbridge lab up --dir DIR --hosts 1``), counts requests with the
lab's per-host counters, prints the figures. Not a test.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from labbench import lab_cli, management, poshbridge

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
