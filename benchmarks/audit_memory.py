"""Peak memory of `poshbridge audit --log FILE` on a big transcript (target: 200 MB input < 300 MB).

    python benchmarks/audit_memory.py [--megabytes 200]

Writes a multi-session log (the sessions of benchmarks/audit_parse.py) of the given size, then runs
the audit in a child process twice: with the default cap (64 MiB: the file is cut, WARN "truncated
at cap") and with --max-file-size above the file size (the whole file is streamed). Prints the
child's peak RSS, the time and the verdict. Prints figures; not a test.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from audit_parse import make_log  # noqa: E402

CHILD = """
import json, resource, sys
from poshbridge.cli.main import main
import contextlib, io
out = io.StringIO()
with contextlib.redirect_stdout(out):
    code = main(sys.argv[1:])
doc = json.loads(out.getvalue())
verdict = doc["verdicts"][0] if doc["verdicts"] else {}
print(json.dumps({"code": code, "level": verdict.get("verdict"),
                  "reasons": [r["message"][:90] for r in verdict.get("reasons", [])][:3],
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="audit-memory-") as tmp:
        path = Path(tmp) / "acme_log.txt"
        size = make_log(path, args.megabytes, "utf-8-bom")
        print(f"input: {size / 1024 / 1024:.1f} MiB ({path.name})")
        print(f"{'cap':>10} {'peak RSS':>10} {'seconds':>8}  verdict")
        for cap in ("64M", f"{args.megabytes + 16}M"):
            started = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-c", CHILD, "audit", "--log", str(path), "--max-file-size", cap, "--json"],
                capture_output=True, text=True, cwd=ROOT, check=False,
            )  # fmt: skip
            elapsed = time.perf_counter() - started
            if not done.stdout.strip():
                print(f"{cap:>10} failed: {done.stderr[-500:]}")
                continue
            result = json.loads(done.stdout.strip().splitlines()[-1])
            verdict = f"{result['level']} (exit {result['code']})"
            print(f"{cap:>10} {result['peak_mb']:8.1f}MB {elapsed:8.1f}  {verdict}")
            for reason in result["reasons"]:
                print(f"{'':>32}- {reason}")
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"this process (the generator): {own:.1f} MB; target: peak RSS < 300 MB for a 200 MB input")


if __name__ == "__main__":
    main()
