"""Linear-time parsing of untrusted text: 1 MB lines WITHOUT spaces vs the same size WITH spaces.

    python benchmarks/untrusted_text.py [--megabytes 1]

Feeds one long line (several shapes: one repeated letter, a mix of punctuation, words of an error
message glued together) to the transcript parser (as a TerminatingError, a 5.1 error record, a
ConciseView head and plain output), the result-file reader (error message/detail, dates, names)
and the ACME error classifier (message and detail). Prints the time of each next to the time for
the same size with spaces, and the ratio (target: within 2x). A quadratic regex shows up here as a
ratio of hundreds. Prints figures; not a test (tests/unit/test_regex_linear.py checks the shapes).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from poshbridge.audit.transcript import parse_result_file, parse_transcript
from poshbridge.poshacme.problems import classify_problem

HEADER = (
    "**********************\nWindows PowerShell transcript start\nStart time: 20241126030000\n"
    "Username: WORKGROUP\\SYSTEM\nRunAs User: WORKGROUP\\SYSTEM\nConfiguration Name: \n"
    "Machine: WEB01 (Microsoft Windows NT 10.0.17763.0)\nHost Application: powershell.exe\n"
    "Process ID: 1\nPSVersion: 5.1.17763.5830\n**********************\n"
)
FOOTER = (
    "**********************\nWindows PowerShell transcript end\nEnd time: 20241126030100\n"
    "**********************\n"
)

SHAPES = {
    "one letter": "x",
    "punctuation": "Ab0:-._/\\\"{}[]'",
    "error words": "Authorizationinvalidforexample.jp:authorizationstatusis'invalid'"
    "urn:ietf:params:acme:error:",
    "digits+colons": "1:2:3",
}


def line_of(unit: str, size: int, *, spaces: bool) -> str:
    if spaces:
        unit = unit + " "
    text = (unit * (size // len(unit) + 1))[:size]
    return text


def transcript_of(payload: str) -> bytes:
    body = (
        f'PS>TerminatingError(New-PACertificate): "{payload}"\n'
        f"New-PACertificate : {payload}\nAt C:\\renew.ps1:1 char:1\n"
        "    + FullyQualifiedErrorId : x,New-PACertificate\n"
        f"{payload}\nLine |\n   1 |  x\n     | {payload}\n"
        f"WARNING: {payload}\nVERBOSE: {payload}\nPS>{payload}\n"
    )
    return (HEADER + body + FOOTER).encode("utf-8")


def result_of(payload: str) -> bytes:
    body = {
        "schema": "poshbridge.renewal-result/1",
        "host": payload,
        "order": payload,
        "outcome": "failed",
        "started": "2024-11-26T03:00:00" + payload,
        "finished": payload,
        "error": {"message": payload, "detail": payload, "type": "urn:ietf:params:acme:error:malformed"},
    }
    return json.dumps(body).encode("utf-8")


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=1.0)
    args = parser.parse_args()
    size = int(args.megabytes * 1024 * 1024)
    print(f"line size: {size} characters")
    print(f"{'target':<28} {'shape':<14} {'no spaces':>10} {'spaces':>10} {'ratio':>6}")
    worst = 0.0
    for shape, unit in SHAPES.items():
        dense, spaced = line_of(unit, size, spaces=False), line_of(unit, size, spaces=True)
        targets: dict[str, Callable[[str], object]] = {
            "transcript parser": lambda p: parse_transcript(transcript_of(p), "renew.txt"),
            "result-file reader": lambda p: parse_result_file(result_of(p), "renew.json"),
            "classifier (message)": lambda p: classify_problem(message=p),
            "classifier (detail)": lambda p: classify_problem(type="malformed", detail=p),
        }
        for name, run in targets.items():
            t_dense = timed(lambda run=run, dense=dense: run(dense))  # type: ignore[misc]
            t_spaced = timed(lambda run=run, spaced=spaced: run(spaced))  # type: ignore[misc]
            ratio = t_dense / max(t_spaced, 1e-6)
            worst = max(worst, ratio)
            print(f"{name:<28} {shape:<14} {t_dense:9.3f}s {t_spaced:9.3f}s {ratio:5.2f}x")
    print(f"worst ratio: {worst:.2f}x (target: within 2x)")


if __name__ == "__main__":
    main()
