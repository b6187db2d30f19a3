"""``poshbridge lab``: start, inspect, disturb and stop the loopback Windows/IIS lab.

    poshbridge lab up [--hosts N] [--dir DIR] [--ocsp-lag SECONDS] [--sleep-cap SECONDS] [--timeout SECONDS]
    poshbridge lab status [--dir DIR] [--json]
    poshbridge lab down [--dir DIR]
    poshbridge lab fault HOST [--latency-ms N] [--drop-next-receive] [--fault-500 N]
          [--auth-fail | --no-auth-fail] [--hang-next] [--acme-error TYPE:DETAIL] [--clear]
    poshbridge lab reset HOST
    poshbridge lab clock [HOST...|all] [+61d]
    poshbridge lab run-task HOST... [--task NAME]

``up`` starts the lab daemon (``poshbridge.lab.services.daemon``) detached and waits until it is
ready; ``down`` stops exactly the processes named by the pid files under ``DIR/run``. Exit codes:
0 ok, 1 failed, 2 usage. The lab side never imports poshbridge's client side.
"""

from __future__ import annotations

import argparse
import json
import ntpath
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from poshbridge.lab.services import MAX_HOSTS
from poshbridge.lab.services.lifecycle import parse_offset
from poshbridge.lab.services.pebble import MissingBinaryError, challtestsrv_binary, find_binary, pebble_binary

DEFAULT_DIR = "./lab-run"
DEFAULT_HOSTS = 2
DEFAULT_LAG = 10.0
DEFAULT_TIMEOUT = 90.0
ACME_ERROR_PREFIX = "urn:ietf:params:acme:error:"
# What each pid file's process must look like before ``down`` signals it (guards against pid reuse).
PID_MARKERS = {
    "daemon": "poshbridge.lab.services.daemon",
    "pebble": "pebble",
    "dns": "pebble-challtestsrv",
}

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def make_console(stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    is_tty = stream.isatty()
    return Console(
        file=stream,
        force_terminal=is_tty,
        no_color="NO_COLOR" in os.environ or not is_tty,
        highlight=False,
        soft_wrap=not is_tty,
        width=None if is_tty else 200,
        emoji=False,
    )


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="poshbridge lab",
        description="A Windows/IIS host twin lab on 127.0.0.1: Pebble (ACME, EAB), DNS, OCSP, and N twin "
        "hosts speaking WinRM (WSMan + PSRP) with emulated Posh-ACME, IIS and Task Scheduler.",
    )
    sub = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)

    def with_dir(p: argparse.ArgumentParser) -> None:
        p.add_argument("--dir", default=DEFAULT_DIR, type=Path, help=f"lab directory (default {DEFAULT_DIR})")

    up = sub.add_parser(
        "up",
        help="start the lab and wait until it is ready",
        description="Start the lab daemon detached; wait until every service answers.",
    )
    with_dir(up)
    up.add_argument("--hosts", type=int, default=DEFAULT_HOSTS, help=f"twin hosts (default {DEFAULT_HOSTS})")
    up.add_argument(
        "--ocsp-lag",
        type=float,
        default=DEFAULT_LAG,
        metavar="SECONDS",
        help="OCSP says 'unknown' for a new certificate this long (default 10)",
    )
    up.add_argument(
        "--sleep-cap",
        type=float,
        default=None,
        metavar="SECONDS",
        help="longest Start-Sleep inside the lab (default 2)",
    )
    up.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help="give up waiting for readiness after this long (default 90)",
    )

    status = sub.add_parser(
        "status",
        help="show the twins, their endpoints, Pebble and the CA file",
        description="Show each twin's WinRM URLs and site endpoints, Pebble's directory "
        "URL and the lab CA file.",
    )
    with_dir(status)
    status.add_argument("--json", action="store_true", help="machine-readable output")

    down = sub.add_parser(
        "down",
        help="stop the processes the lab started (by pid files)",
        description="Stop exactly the processes named by DIR/run/*.pid; remove the files.",
    )
    with_dir(down)

    fault = sub.add_parser(
        "fault",
        help="inject faults into one twin's WinRM service",
        description="Change one twin's fault settings (only the options given).",
    )
    with_dir(fault)
    fault.add_argument("host", metavar="HOST", help="twin host name, e.g. host01")
    fault.add_argument("--latency-ms", type=int, metavar="N", help="add N ms to every WSMan request")
    fault.add_argument(
        "--drop-next-receive",
        action="store_true",
        default=None,
        help="close the connection during the next Receive",
    )
    fault.add_argument("--fault-500", type=int, metavar="N", help="the next N WSMan requests get a 500 fault")
    fault.add_argument(
        "--auth-fail",
        dest="auth_fail",
        action="store_true",
        default=None,
        help="refuse every authentication attempt",
    )
    fault.add_argument("--no-auth-fail", dest="auth_fail", action="store_false", help="accept logons again")
    fault.add_argument(
        "--hang-next", action="store_true", default=None, help="never answer the next WSMan request"
    )
    fault.add_argument(
        "--statement-delay-ms",
        type=int,
        metavar="N",
        help="every statement waits N ms before it runs (a slow host; Stop ends the wait)",
    )
    fault.add_argument(
        "--acme-error",
        metavar="TYPE:DETAIL",
        help="the next ACME order fails with this problem (e.g. rejectedIdentifier:no way)",
    )
    fault.add_argument(
        "--iis-administration-inbox",
        dest="iis_administration_inbox",
        action="store_true",
        default=None,
        help="only the in-box IISAdministration 1.0.0.0, as on Windows Server 2016",
    )
    fault.add_argument(
        "--no-iis-administration-inbox",
        dest="iis_administration_inbox",
        action="store_false",
        help="IISAdministration 1.1.0.0 in the box again (Windows Server 2019)",
    )
    fault.add_argument("--clear", action="store_true", help="reset every fault first")

    reset = sub.add_parser(
        "reset",
        help="wipe one twin back to fresh",
        description="Wipe a twin back to fresh: no Posh-ACME state, no web.config, no "
        "binding certificate, no tasks; faults and counters cleared.",
    )
    with_dir(reset)
    reset.add_argument("host", metavar="HOST", help="twin host name, e.g. host01")

    clock = sub.add_parser(
        "clock",
        help="move twins' clocks forward (+61d) or show them",
        description="Move the clock of the named twins (or all) forward: what the emulated Posh-ACME "
        "compares "
        "RenewAfter with, what Task Scheduler reports, and the times in transcripts and result files. "
        "The CA and the control node keep the real time. Without an offset: show the clocks. "
        "`lab reset HOST` returns a twin to the real time.",
    )
    with_dir(clock)
    clock.add_argument(
        "words",
        nargs="*",
        metavar="HOST|all|+OFFSET",
        help="twin names or 'all' (default all), then +N[d|h|m|s], e.g. +61d",
    )

    run_task = sub.add_parser(
        "run-task",
        help="run the registered renewal task now (as SYSTEM), like its trigger would",
        description="Run each twin's registered scheduled task now through the lab's renewal runner, as "
        "WORKGROUP\\SYSTEM, writing its transcript and result file; wait for it and show LastTaskResult.",
    )
    with_dir(run_task)
    run_task.add_argument("hosts", nargs="+", metavar="HOST", help="twin host names, or 'all'")
    run_task.add_argument("--task", metavar="NAME", help="the task's name (default: the only one registered)")
    return parser


# ----- pid files ---------------------------------------------------------------------------------------
def _proc_state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def pid_alive(pid: int) -> bool:
    """A running (not zombie) process."""
    state = _proc_state(pid)
    return state is not None and state not in ("Z", "X")


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def read_pid_files(lab_dir: Path) -> dict[str, int]:
    pids: dict[str, int] = {}
    run = lab_dir / "run"
    if not run.is_dir():
        return pids
    for pid_file in sorted(run.glob("*.pid")):
        try:
            pids[pid_file.stem] = int(pid_file.read_text().strip())
        except ValueError:
            continue
    return pids


def _ours(name: str, pid: int) -> bool:
    """The process with ``pid`` is still the one the lab started under ``name``."""
    marker = PID_MARKERS.get(name)
    return pid_alive(pid) and (marker is None or marker in _cmdline(pid))


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    return not pid_alive(pid)


def stop_pid(name: str, pid: int, timeout: float = 10.0) -> str:
    if not _ours(name, pid):
        return "not running"
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return "not running"
    if _wait_gone(pid, timeout):
        return "stopped"
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return "stopped"
    _wait_gone(pid, 5)
    return "killed"


def lab_down(lab_dir: Path) -> dict[str, tuple[int, str]]:
    """Stop the daemon (which stops its children), then any child whose pid file is left."""
    pids = read_pid_files(lab_dir)
    results: dict[str, tuple[int, str]] = {}
    if "daemon" in pids:
        results["daemon"] = (pids["daemon"], stop_pid("daemon", pids["daemon"], timeout=20))
    daemon_stopped = results.get("daemon", (0, ""))[1] in ("stopped", "killed")
    for name, pid in pids.items():
        if name != "daemon":
            outcome = stop_pid(name, pid)
            if outcome == "not running" and daemon_stopped:
                outcome = "stopped by the daemon"
            results[name] = (pid, outcome)
    for pid_file in (lab_dir / "run").glob("*.pid") if (lab_dir / "run").is_dir() else []:
        pid_file.unlink(missing_ok=True)
    (lab_dir / "ready").unlink(missing_ok=True)
    return results


def running_daemon(lab_dir: Path) -> int | None:
    pid = read_pid_files(lab_dir).get("daemon")
    return pid if pid is not None and _ours("daemon", pid) else None


# ----- management API ----------------------------------------------------------------------------------
class LabNotRunning(Exception):
    pass


def load_lab_json(lab_dir: Path) -> dict[str, Any]:
    path = lab_dir / "lab.json"
    if not path.exists():
        raise LabNotRunning(f"no lab in {lab_dir} (no lab.json): run `poshbridge lab up --dir {lab_dir}`")
    return dict(json.loads(path.read_text("utf-8")))


def management(lab_dir: Path, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    info = load_lab_json(lab_dir)
    if running_daemon(lab_dir) is None:
        raise LabNotRunning(f"the lab in {lab_dir} is not running: run `poshbridge lab up --dir {lab_dir}`")
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(  # noqa: S310 - loopback management URL written by the lab
        info["management_url"] + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read()).get("error", str(exc))
        except ValueError:
            message = str(exc)
        raise RuntimeError(message) from exc
    except OSError as exc:
        raise LabNotRunning(f"the lab's management API does not answer: {exc}") from exc


# ----- actions -----------------------------------------------------------------------------------------
def cmd_up(args: argparse.Namespace, out: Console, err: Console) -> int:
    lab_dir: Path = args.dir.resolve()
    if not 1 <= args.hosts <= MAX_HOSTS:
        err.print(f"--hosts must be between 1 and {MAX_HOSTS}")
        return EXIT_USAGE
    try:
        pebble_binary()
        challtestsrv_binary()
        find_binary("openssl")
    except MissingBinaryError as exc:
        err.print(f"error: {exc}")
        return EXIT_FAILED
    existing = running_daemon(lab_dir)
    if existing is not None:
        err.print(
            f"a lab is already running in {lab_dir} (pid {existing}); "
            f"`poshbridge lab down --dir {lab_dir}` first"
        )
        return EXIT_FAILED
    lab_dir.mkdir(parents=True, exist_ok=True)
    (lab_dir / "logs").mkdir(exist_ok=True)
    for stale in ("ready", "failed"):
        (lab_dir / stale).unlink(missing_ok=True)
    env = dict(os.environ)
    package_parent = str(Path(__file__).resolve().parents[2])  # the directory holding poshbridge/
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH")) if p)
    env.pop("NTLM_USER_FILE", None)
    argv = [
        sys.executable,
        "-m",
        "poshbridge.lab.services.daemon",
        "--dir",
        str(lab_dir),
        "--hosts",
        str(args.hosts),
        "--ocsp-lag",
        str(args.ocsp_lag),
    ]
    if args.sleep_cap is not None:
        argv += ["--sleep-cap", str(args.sleep_cap)]
    with open(lab_dir / "logs" / "daemon.out", "ab") as output:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=str(lab_dir),
            start_new_session=True,
            close_fds=True,
        )
    deadline = time.monotonic() + args.timeout
    while not (lab_dir / "ready").exists():
        code = proc.poll()
        if code is not None:
            err.print(f"error: the lab did not start (exit {code}): {_failure_text(lab_dir)}")
            lab_down(lab_dir)
            return EXIT_FAILED
        if time.monotonic() > deadline:
            err.print(
                f"error: the lab was not ready after {args.timeout:g} s; stopping it. See {lab_dir / 'logs'}"
            )
            lab_down(lab_dir)
            return EXIT_FAILED
        time.sleep(0.1)
    out.print(f"lab up in {lab_dir} (pid {proc.pid})")
    return _print_status(lab_dir, out, as_json=False)


def _failure_text(lab_dir: Path) -> str:
    failed = lab_dir / "failed"
    if failed.exists():
        return failed.read_text("utf-8").strip()
    try:
        lines = (lab_dir / "logs" / "daemon.out").read_text("utf-8", errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(lines[-10:])


def status_document(lab_dir: Path) -> dict[str, Any]:
    info = load_lab_json(lab_dir)
    running = running_daemon(lab_dir) is not None and (lab_dir / "ready").exists()
    hosts = []
    for name, host in sorted(info["hosts"].items()):
        hosts.append(
            {
                "name": name,
                "domains": host["domains"],
                "site": host["site"],
                "winrm_http_url": host["winrm_http_url"],
                "winrm_https_url": host["winrm_https_url"],
                "site_http": host["site_http"],
                "site_https": host["site_https"],
            }
        )
    return {
        "dir": str(lab_dir),
        "running": running,
        "pebble_directory": info["pebble_directory"],
        "ca_file": info["ca_file"],
        "ca_bundle": info["ca_bundle"],
        "inventory": info["inventory"],
        "management_url": info["management_url"],
        "ocsp_url": info["ocsp"]["url"],
        "ocsp_lag": info["ocsp_lag"],
        "pids": read_pid_files(lab_dir),
        "hosts": hosts,
    }


def _print_status(lab_dir: Path, out: Console, *, as_json: bool) -> int:
    doc = status_document(lab_dir)
    if as_json:
        out.print_json(json.dumps(doc)) if out.is_terminal else print(json.dumps(doc, indent=2))
        return EXIT_OK if doc["running"] else EXIT_FAILED
    state = "running" if doc["running"] else "NOT running"
    out.print(f"lab {state}: {doc['dir']}")
    out.print(f"  Pebble directory: {doc['pebble_directory']}")
    out.print(f"  lab CA file:      {doc['ca_file']}")
    out.print(f"  inventory:        {doc['inventory']}")
    out.print(f"  management API:   {doc['management_url']}")
    out.print(f"  OCSP:             {doc['ocsp_url']} (lag {doc['ocsp_lag']:g} s)")
    table = Table(box=box.SIMPLE if out.is_terminal else None, pad_edge=False, header_style="bold")
    for column in ("host", "WinRM http", "WinRM https", "site http", "site https", "domains"):
        table.add_column(column, no_wrap=True)
    for host in doc["hosts"]:
        table.add_row(
            host["name"],
            host["winrm_http_url"],
            host["winrm_https_url"],
            host["site_http"],
            host["site_https"],
            ", ".join(host["domains"]),
        )
    out.print(table)
    return EXIT_OK if doc["running"] else EXIT_FAILED


def cmd_status(args: argparse.Namespace, out: Console, err: Console) -> int:
    lab_dir: Path = args.dir.resolve()
    try:
        return _print_status(lab_dir, out, as_json=args.json)
    except LabNotRunning as exc:
        if args.json:
            print(json.dumps({"dir": str(lab_dir), "running": False, "error": str(exc)}, indent=2))
        else:
            err.print(str(exc))
        return EXIT_FAILED


def cmd_down(args: argparse.Namespace, out: Console, err: Console) -> int:
    lab_dir: Path = args.dir.resolve()
    results = lab_down(lab_dir)
    if not results:
        out.print(f"no lab processes recorded in {lab_dir / 'run'}")
        return EXIT_OK
    for name, (pid, outcome) in results.items():
        out.print(f"{name} (pid {pid}): {outcome}")
    left = [f"{name} (pid {pid})" for name, (pid, _) in results.items() if _ours(name, pid)]
    if left:
        err.print(f"error: still running: {', '.join(left)}")
        return EXIT_FAILED
    return EXIT_OK


def parse_acme_error(text: str) -> dict[str, Any]:
    """``TYPE:DETAIL`` -> ``{"type": <full URN>, "detail": DETAIL, "status": 400}``."""
    rest = text[len(ACME_ERROR_PREFIX) :] if text.startswith(ACME_ERROR_PREFIX) else text
    short, sep, detail = rest.partition(":")
    if not short or not sep:
        raise ValueError("--acme-error wants TYPE:DETAIL, e.g. rejectedIdentifier:domain not allowed")
    return {"type": ACME_ERROR_PREFIX + short, "detail": detail, "status": 400}


def cmd_fault(args: argparse.Namespace, out: Console, err: Console) -> int:
    lab_dir: Path = args.dir.resolve()
    body: dict[str, Any] = {}
    if args.clear:
        body.update(
            latency_ms=0,
            drop_next_receive=False,
            fault_500_next=0,
            auth_fail=False,
            hang_next=False,
            acme_error_next_order=None,
            iis_administration_inbox=False,
        )
    if args.latency_ms is not None:
        body["latency_ms"] = args.latency_ms
    if args.drop_next_receive:
        body["drop_next_receive"] = True
    if args.fault_500 is not None:
        body["fault_500_next"] = args.fault_500
    if args.auth_fail is not None:
        body["auth_fail"] = args.auth_fail
    if args.hang_next:
        body["hang_next"] = True
    if args.iis_administration_inbox is not None:
        body["iis_administration_inbox"] = args.iis_administration_inbox
    if args.statement_delay_ms is not None:
        body["statement_delay_ms"] = args.statement_delay_ms
    if args.acme_error is not None:
        try:
            body["acme_error_next_order"] = parse_acme_error(args.acme_error)
        except ValueError as exc:
            err.print(f"error: {exc}")
            return EXIT_USAGE
    try:
        faults = management(
            lab_dir, "POST" if body else "GET", f"/hosts/{args.host}/faults", body if body else None
        )
    except (LabNotRunning, RuntimeError) as exc:
        err.print(f"error: {exc}")
        return EXIT_FAILED
    out.print(f"{args.host} faults:")
    for key, value in faults.items():
        out.print(f"  {key}: {json.dumps(value)}")
    return EXIT_OK


def cmd_reset(args: argparse.Namespace, out: Console, err: Console) -> int:
    try:
        management(args.dir.resolve(), "POST", f"/hosts/{args.host}/reset", {})
    except (LabNotRunning, RuntimeError) as exc:
        err.print(f"error: {exc}")
        return EXIT_FAILED
    out.print(f"{args.host} reset to fresh")
    return EXIT_OK


def _twin_names(lab_dir: Path, names: Sequence[str]) -> list[str]:
    known = sorted(load_lab_json(lab_dir)["hosts"])
    if not names or list(names) == ["all"]:
        return known
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"no such twin: {', '.join(unknown)} (twins: {', '.join(known)})")
    return list(names)


def cmd_clock(args: argparse.Namespace, out: Console, err: Console) -> int:
    lab_dir: Path = args.dir.resolve()
    words = list(args.words)
    offset: int | None = None
    if words and words[-1].startswith("+"):
        try:
            offset = parse_offset(words.pop())
        except ValueError as exc:
            err.print(f"error: {exc}")
            return EXIT_USAGE
    try:
        names = _twin_names(lab_dir, words)
        for name in names:
            if offset is None:
                clock = management(lab_dir, "GET", f"/hosts/{name}/clock")
            else:
                clock = management(lab_dir, "POST", f"/hosts/{name}/clock", {"advance_seconds": offset})
            out.print(f"{name}: {clock['now']} (real time +{clock['offset_days']:g} d)", markup=False)
    except ValueError as exc:
        err.print(f"error: {exc}", markup=False)
        return EXIT_USAGE
    except (LabNotRunning, RuntimeError) as exc:
        err.print(f"error: {exc}", markup=False)
        return EXIT_FAILED
    return EXIT_OK


def cmd_run_task(args: argparse.Namespace, out: Console, err: Console) -> int:
    lab_dir: Path = args.dir.resolve()
    code = EXIT_OK
    try:
        names = _twin_names(lab_dir, args.hosts)
    except ValueError as exc:
        err.print(f"error: {exc}", markup=False)
        return EXIT_USAGE
    except LabNotRunning as exc:
        err.print(f"error: {exc}", markup=False)
        return EXIT_FAILED
    for name in names:
        body = {"task": args.task} if args.task else {}
        try:
            ran = management(lab_dir, "POST", f"/hosts/{name}/run-task", body)
        except (LabNotRunning, RuntimeError) as exc:
            err.print(f"error: {exc}", markup=False)
            code = EXIT_FAILED
            continue
        result = ran["last_task_result"]
        shown = f"0x{result:X}" if isinstance(result, int) and result > 9 else str(result)
        out.print(
            f"{name}: ran {ran['task']} as {ran['user']} at {ran['last_run_time']}: LastTaskResult {shown}",
            markup=False,
        )
        for path in ran["files"]:
            if ntpath.basename(path).lower().startswith("renew-"):
                out.print(f"  wrote {path}", markup=False)
        if result != 0:
            code = EXIT_FAILED
    return code


ACTIONS = {
    "up": cmd_up,
    "status": cmd_status,
    "down": cmd_down,
    "fault": cmd_fault,
    "reset": cmd_reset,
    "clock": cmd_clock,
    "run-task": cmd_run_task,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    if not getattr(args, "action", None):
        parser.print_help()
        return EXIT_USAGE
    out, err = make_console(), make_console(stderr=True)
    try:
        return ACTIONS[args.action](args, out, err)
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
