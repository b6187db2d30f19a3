"""Wall time of `poshbridge setup` on 1 host vs 20 hosts with injected WSMan latency (target: 20 <= 2x 1).

    python benchmarks/fleet_scaling.py [--latency-ms 50] [--hosts 20] [--dir DIR] [--keep]

Starts its own lab (``python -m poshbridge lab up --dir DIR --hosts N``), sets ``latency_ms`` on every
twin through the management API, runs a first-run setup on one twin, resets, then on all twins with
``--parallel N``. Prints the figures. Not a test.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from labbench import lab_cli, lab_data, management, poshbridge


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--dir", default=None)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    lab_dir = Path(args.dir or tempfile.mkdtemp(prefix="poshbridge-bench-"))
    lab_cli("up", "--dir", str(lab_dir), "--hosts", str(args.hosts))
    try:
        names = sorted(lab_data(lab_dir)["hosts"])
        for name in names:
            management(lab_dir, "POST", f"/hosts/{name}/reset", {})
            management(lab_dir, "POST", f"/hosts/{name}/faults", {"latency_ms": args.latency_ms})
        code1, one, _doc = poshbridge(lab_dir, "setup", names[0])
        for name in names:
            management(lab_dir, "POST", f"/hosts/{name}/reset", {})
            management(lab_dir, "POST", f"/hosts/{name}/faults", {"latency_ms": args.latency_ms})
        code_n, many, doc = poshbridge(lab_dir, "setup", *names, "--parallel", str(len(names)))
        ok = sum(1 for h in (doc or {}).get("hosts", []) if h.get("ok"))
        ratio = many / one if one else float("inf")
        print(f"latency {args.latency_ms} ms per WSMan request")
        print(f"setup 1 host : {one:6.1f} s (exit {code1})")
        print(f"setup {len(names)} hosts: {many:6.1f} s (exit {code_n}, {ok}/{len(names)} ok)")
        print(f"ratio {ratio:.2f} (target <= 2.0): {'OK' if ratio <= 2.0 else 'ABOVE TARGET'}")
        return 0
    finally:
        if not args.keep:
            lab_cli("down", "--dir", str(lab_dir))


if __name__ == "__main__":
    raise SystemExit(main())
