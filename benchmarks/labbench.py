"""Shared by the setup benchmarks: drive a lab and the poshbridge CLI as subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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
