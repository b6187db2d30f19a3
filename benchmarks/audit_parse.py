"""Transcript parsing throughput: 10 MB and 100 MB multi-session logs (MB/s should stay flat).

    python benchmarks/audit_parse.py [--sizes 10,100] [--encoding utf-8-bom|utf-16|cp932-mixed]

Generates logs of appended sessions (not-due, renewed, failed with an ACME JSON body, badNonce,
interrupted, German labels) in a temporary directory, parses each once, prints MB/s.
Prints figures; not a test.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from poshbridge.audit.transcript import parse_transcript

HEADER = """**********************
Windows PowerShell transcript start
Start time: 2024112603{n:04d}
Username: WORKGROUP\\SYSTEM
RunAs User: WORKGROUP\\SYSTEM
Configuration Name:
Machine: WEB01 (Microsoft Windows NT 10.0.17763.0)
Host Application: C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe -Command C:\\renew.ps1
Process ID: {n}
PSVersion: 5.1.17763.5830
PSEdition: Desktop
PSCompatibleVersions: 1.0, 2.0, 3.0, 4.0, 5.0, 5.1.17763.5830
BuildVersion: 10.0.17763.5830
CLRVersion: 4.0.30319.42000
WSManStackVersion: 3.0
PSRemotingProtocolVersion: 2.3
SerializationVersion: 1.1.0.1
**********************
Transcript started, output file is acme_log.txt
"""
FOOTER = """**********************
Windows PowerShell transcript end
End time: 2024112603{n:04d}
**********************
"""
BODIES = [
    "WARNING: Order 'example.jp' is not recommended for renewal yet. Use -Force to override.\n",
    "VERBOSE: Importing cert with thumbprint 3C1A5F0E8D2B47A6C9E1F3D5B7A9C0E2F4D6B8A1 to LocalMachine\\My\n"
    "VERBOSE: Deleting IIS site binding for *:443:\nVERBOSE: Adding IIS site binding for *:443:\n",
    'PS>TerminatingError(Invoke-WebRequest): "{\n  "type": "urn:ietf:params:acme:error:rejectedIdentifier",\n'
    '  "detail": "The server will not issue certificates for the identifier",\n  "status": 400\n}"\n'
    "Submit-Renewal : The server will not issue certificates for the identifier\n"
    "At C:\\renew.ps1:5 char:13\n+ if ($cert = Submit-Renewal) {\n+             ~~~~~~~~~~~~~~\n"
    "    + CategoryInfo          : NotSpecified: (:) [Submit-Renewal], AcmeException\n"
    "    + FullyQualifiedErrorId : AcmeException,Submit-Renewal\n",
    'PS>TerminatingError(Invoke-WebRequest): "{ "type": "urn:ietf:params:acme:error:badNonce",'
    ' "status": 400 }"\n'
    "WARNING: Order for example.jp is not recommended for renewal yet. Use -Force to override.\n",
    "some plain output line from a native command\n" * 20,
]


def session_text(n: int) -> str:
    body = BODIES[n % len(BODIES)]
    footer = "" if n % 11 == 10 else FOOTER.format(n=n % 10000)  # every 11th run interrupted
    return HEADER.format(n=n % 10000) + body + footer


def make_log(path: Path, megabytes: int, encoding: str) -> int:
    target = megabytes * 1024 * 1024
    chunk = "".join(session_text(n) for n in range(200)).replace("\n", "\r\n")
    if encoding == "utf-16":
        unit = chunk.encode("utf-16-le")
        head = b"\xff\xfe"
    else:
        unit = chunk.encode("utf-8")
        head = b"\xef\xbb\xbf" if encoding == "utf-8-bom" else b""
        if encoding == "cp932-mixed":
            unit += "ログ出力 (cmd.exe から追記)\r\n".encode("cp932")
    with path.open("wb") as handle:
        handle.write(head)
        written = len(head)
        while written < target:
            handle.write(unit)
            written += len(unit)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100", help="MB, comma separated (default 10,100)")
    parser.add_argument("--encoding", default="utf-8-bom", choices=["utf-8-bom", "utf-16", "cp932-mixed"])
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="audit-parse-") as tmp:
        print(f"encoding: {args.encoding}")
        print(f"{'size':>8} {'sessions':>9} {'seconds':>8} {'MB/s':>7}")
        for size in sizes:
            path = Path(tmp) / f"acme_log_{size}.txt"
            nbytes = make_log(path, size, args.encoding)
            data = path.read_bytes()
            started = time.perf_counter()
            parsed = parse_transcript(data, path.name)
            elapsed = time.perf_counter() - started
            mb = nbytes / (1024 * 1024)
            sessions = len(parsed.sessions) + parsed.sessions_dropped
            print(f"{mb:7.1f}M {sessions:9d} {elapsed:8.2f} {mb / elapsed:7.1f}")
            outcomes: dict[str, int] = {}
            for session in parsed.sessions:
                outcomes[session.outcome] = outcomes.get(session.outcome, 0) + 1
            kept = len(parsed.sessions)
            print(f"         outcomes of the {kept} newest (kept): {dict(sorted(outcomes.items()))}")
            del data, parsed


if __name__ == "__main__":
    main()
