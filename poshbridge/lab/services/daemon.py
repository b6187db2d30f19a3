"""The lab process: ``python -m poshbridge.lab.services.daemon --dir DIR --hosts N --ocsp-lag S``.

Composes, all on 127.0.0.1: the lab CA, the lab DNS (pebble-challtestsrv), Pebble, the OCSP responder,
the shared http-01 front, and N twin hosts (``host01``..``hostNN``), each with a WinRM listener over
HTTP and one over HTTPS and an IIS site served over HTTP and HTTPS; plus a JSON management API
(``management.py``). A twin starts fresh as ``fresh.py`` lays it out.

It implements :class:`~poshbridge.lab.host.LabServices` for the twins (``sleep(s)`` is
``time.sleep(min(s, sleep_cap))``, ``--sleep-cap`` default 2 s, so a renewal script's
``Start-Sleep -Seconds 600`` does not stall a test).

Files under DIR::

    lab.json            ports, URLs, management_url, CA files, pids, host table (no secrets)
    inventory.yaml      a poshbridge inventory for the twins (secrets by file reference)
    secrets/            winrm-password, eab-kid, eab-hmac, ntlm-users (mode 0600)
    ca/                 lab CA, listener certificates, Pebble's root/intermediate, bundle.pem
    run/*.pid           the daemon and each child process (``lab down`` stops exactly these)
    logs/               daemon.log, pebble.log, dns.log, daemon.out
    hosts/hostNN/       each twin's state (see poshbridge.lab.host)
    ready               written once everything answers; removed at shutdown
    failed              why start-up failed (read by ``lab up``)

Every ``lab up`` starts from fresh twins: Pebble keeps nothing across restarts (new CA, no accounts),
so state from an earlier run would refer to accounts and orders that no longer exist.
SIGTERM (or SIGINT) stops everything and removes the pid files.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import logging
import math
import os
import resource
import secrets
import shutil
import signal
import socket
import ssl
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from poshbridge.lab.auth import write_ntlm_user_file
from poshbridge.lab.host import TwinHost
from poshbridge.lab.server import WinRMListener
from poshbridge.lab.services import MAX_HOSTS
from poshbridge.lab.services.ca import LabCA, write_private
from poshbridge.lab.services.dns import DNSService
from poshbridge.lab.services.fresh import WEBROOT, make_fresh
from poshbridge.lab.services.lifecycle import TwinClock
from poshbridge.lab.services.management import ManagementServer
from poshbridge.lab.services.ocsp import OCSPResponder
from poshbridge.lab.services.pebble import PebbleService, ServiceError, new_eab_credentials
from poshbridge.lab.services.web import FrontServer, TwinSiteServers

log = logging.getLogger("poshbridge.lab")

SCHEMA = "poshbridge.lab/1"
USERNAME = "certadmin"
DOMAIN_SUFFIX = "poshbridge.test"
DEFAULT_SLEEP_CAP = 2.0


# ----- layout --------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class LabPaths:
    root: Path

    @property
    def lab_json(self) -> Path:
        return self.root / "lab.json"

    @property
    def inventory(self) -> Path:
        return self.root / "inventory.yaml"

    @property
    def secrets(self) -> Path:
        return self.root / "secrets"

    @property
    def ca(self) -> Path:
        return self.root / "ca"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def hosts(self) -> Path:
        return self.root / "hosts"

    @property
    def ready(self) -> Path:
        return self.root / "ready"

    @property
    def failed(self) -> Path:
        return self.root / "failed"

    def pid_file(self, name: str) -> Path:
        return self.run / f"{name}.pid"


def host_name(index: int) -> str:
    return f"host{index:02d}"


def main_domain(name: str) -> str:
    return f"{name}.{DOMAIN_SUFFIX}"


# ----- file descriptors ------------------------------------------------------------------------------
# A twin holds four listening sockets at rest (WinRM over HTTP and HTTPS, its IIS site over HTTP and
# HTTPS); every connection of a fleet run, Pebble's validations and the files being read add more.
FDS_PER_TWIN = 4
FDS_SPARE = 256


def ensure_fd_limit(hosts: int) -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit; the new soft limit.

    A login shell's soft limit is commonly 1024 (systemd's and Docker's default), less than 200 twins
    hold open before the first request: accept() then fails with EMFILE mid-run and a fleet command
    fails on whichever host it hit. The hard limit is what an unprivileged process may raise itself
    to; a hard limit too low for ``hosts`` is refused at start-up, with the figure.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = hosts * FDS_PER_TWIN + FDS_SPARE
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise ServiceError(
            f"{hosts} twins need about {needed} open files, but this process may open at most {hard} "
            "(the hard `ulimit -n`); raise it or start fewer twins"
        )
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
        soft = max(soft, needed) if hard == resource.RLIM_INFINITY else hard
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return soft


# ----- ports ---------------------------------------------------------------------------------------
class PortAllocator:
    """Free loopback ports (TCP, optionally also UDP), never the same one twice in this process."""

    def __init__(self) -> None:
        self._given: set[int] = set()

    def take(self, udp_too: bool = False) -> int:
        for _ in range(200):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                tcp.bind(("127.0.0.1", 0))
                port = int(tcp.getsockname()[1])
                if port in self._given:
                    continue
                if udp_too:
                    try:
                        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                            udp.bind(("127.0.0.1", port))
                    except OSError:
                        continue
            self._given.add(port)
            return port
        raise ServiceError("no free loopback port found")


# ----- the lab -------------------------------------------------------------------------------------
class Lab:
    """Everything the daemon runs; also the :class:`LabServices` the twins use."""

    def __init__(self, root: Path, hosts: int, ocsp_lag: float, sleep_cap: float = DEFAULT_SLEEP_CAP) -> None:
        self.paths = LabPaths(root)
        self.host_count = hosts
        self.ocsp_lag = ocsp_lag
        self.sleep_cap = sleep_cap
        self.started = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        self.ports = PortAllocator()
        self.twins: dict[str, TwinHost] = {}
        self.listeners: list[WinRMListener] = []
        self.site_servers: list[TwinSiteServers] = []
        self.front: FrontServer | None = None
        self.ocsp: OCSPResponder | None = None
        self.pebble: PebbleService | None = None
        self.dns: DNSService | None = None
        self.management: ManagementServer | None = None
        self._management_thread: threading.Thread | None = None
        self.password = ""
        self._bundle = self.paths.ca / "bundle.pem"
        self._directory = ""

    # ----- LabServices -----------------------------------------------------------------------------
    @property
    def ca_bundle(self) -> Path:
        return self._bundle

    @property
    def pebble_directory(self) -> str:
        return self._directory

    def register_issued(self, cert_pem: bytes) -> None:
        if self.ocsp is not None:
            self.ocsp.register_issued(cert_pem)

    def register_revoked(self, cert_pem: bytes, reason: int) -> None:
        if self.ocsp is not None:
            self.ocsp.register_revoked(cert_pem, reason)

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, min(seconds, self.sleep_cap)))

    # ----- start -----------------------------------------------------------------------------------
    def start(self) -> None:
        ensure_fd_limit(self.host_count)
        paths = self.paths
        if paths.hosts.exists():
            shutil.rmtree(paths.hosts)  # every start is fresh (see the module docstring)
        for folder in (paths.secrets, paths.ca, paths.run, paths.logs, paths.hosts):
            folder.mkdir(parents=True, exist_ok=True)
        os.chmod(paths.secrets, 0o700)

        # Secrets, per lab start (a restarted Pebble knows only the keys of its config).
        self.password = "Lab-" + secrets.token_urlsafe(18)
        eab_kid, eab_hmac = new_eab_credentials()
        write_private(paths.secrets / "winrm-password", self.password.encode())
        write_private(paths.secrets / "eab-kid", eab_kid.encode())
        write_private(paths.secrets / "eab-hmac", eab_hmac.encode())
        # pyspnego's NTLM acceptor reads NTLM_USER_FILE; the daemon's own, not one inherited.
        os.environ["NTLM_USER_FILE"] = str(
            write_ntlm_user_file(paths.secrets / "ntlm-users", USERNAME, self.password)
        )

        ca = LabCA(paths.ca)
        self.lab_ca = ca
        names = [host_name(i) for i in range(1, self.host_count + 1)]
        pebble_leaf = ca.issue_server_cert("pebble-listener", ["localhost"], ["127.0.0.1"])
        winrm_dns = ["localhost", *names, *(main_domain(n) for n in names)]
        self.winrm_leaf = ca.issue_server_cert("winrm", winrm_dns, ["127.0.0.1"])

        # Bind what the children need to know before any thread starts, then spawn the children
        # from this (main) thread: they get SIGTERM if it dies (PR_SET_PDEATHSIG).
        self.ocsp = OCSPResponder(paths.root / "ocsp", lag=self.ocsp_lag)
        self.front = FrontServer(0, lambda: list(self.twins.values()))
        self.dns = DNSService(
            dns_port=self.ports.take(udp_too=True),
            management_port=self.ports.take(),
            pid_file=paths.pid_file("dns"),
            log_file=paths.logs / "dns.log",
        )
        self.pebble = PebbleService(
            paths.root / "pebble",
            listener=pebble_leaf,
            lab_ca_file=ca.cert_file,
            listen_port=self.ports.take(),
            management_port=self.ports.take(),
            http_port=self.front.port,
            tls_port=self.ports.take(),
            ocsp_url=self.ocsp.url,
            dns_address=self.dns.address,
            eab_kid=eab_kid,
            eab_hmac=eab_hmac,
            pid_file=paths.pid_file("pebble"),
            log_file=paths.logs / "pebble.log",
        )
        self.pebble.workdir.mkdir(parents=True, exist_ok=True)
        self.dns.start()
        self.pebble.start()

        self.ocsp.start()
        self.front.start()
        self.dns.wait_ready()
        pebble_ca = self.pebble.wait_ready()
        self._directory = self.pebble.directory_url
        self.ocsp.configure(pebble_ca.intermediate_pem, pebble_ca.intermediate_key_pem)
        (paths.ca / "pebble-root.pem").write_bytes(pebble_ca.root_pem)
        (paths.ca / "pebble-intermediate.pem").write_bytes(pebble_ca.intermediate_pem)
        self._bundle.write_bytes(ca.cert_pem + pebble_ca.root_pem)
        log.info("pebble ready at %s (dns %s, ocsp %s)", self._directory, self.dns.address, self.ocsp.url)

        self._start_twins(names)
        self._start_management()
        self._probe_everything()
        self._write_lab_json()
        self._write_inventory(eab_files=("secrets/eab-kid", "secrets/eab-hmac"))
        paths.failed.unlink(missing_ok=True)
        paths.ready.write_text(f"{os.getpid()}\n")
        log.info("lab ready: %d hosts, management %s", len(self.twins), self.management_url)

    def _start_twins(self, names: list[str]) -> None:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.minimum_version = ssl.TLSVersion.TLSv1_2
        tls.load_cert_chain(str(self.winrm_leaf.cert), str(self.winrm_leaf.key))
        for name in names:
            domain = main_domain(name)
            twin = TwinHost(
                name=name,
                root=self.paths.hosts / name,
                domains=[domain, f"www.{domain}"],
                site_name=domain,
                winrm_http_port=0,  # every port 0: bound below, then written back (no allocation race)
                winrm_https_port=0,
                site_http_port=0,
                site_https_port=0,
                services=self,
                username=USERNAME,
                clock=TwinClock(),
            )
            sites = TwinSiteServers(twin)
            self.site_servers.append(sites)
            for https, context in ((False, None), (True, tls)):
                listener = WinRMListener(twin, 0, tls=context, username=USERNAME, password=self.password)
                listener.start()
                self.listeners.append(listener)
                if https:
                    twin.winrm_https_port = listener.port
                else:
                    twin.winrm_http_port = listener.port
            make_fresh(twin)  # the IIS bindings name the site ports
            self.twins[name] = twin
            sites.start()

    def _start_management(self) -> None:
        self.management = ManagementServer(self)
        self._management_thread = threading.Thread(
            target=self.management.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="management",
            daemon=True,
        )
        self._management_thread.start()

    @property
    def management_url(self) -> str:
        assert self.management is not None
        return f"http://127.0.0.1:{self.management.server_address[1]}"

    # ----- readiness ------------------------------------------------------------------------------
    def _probe_everything(self) -> None:
        """Ask every endpoint once: readiness means answering, not just listening."""
        assert self.ocsp is not None and self.front is not None
        deadline = time.monotonic() + 20
        pending = {"ocsp", "front", "management", *self.twins}
        last: dict[str, str] = {}
        lab_ca = ssl.create_default_context(cafile=str(self.lab_ca.cert_file))
        while pending:
            for item in sorted(pending):
                try:
                    if item == "ocsp":
                        _http("POST", self.ocsp.url, b"\x30\x00")
                    elif item == "front":
                        first = next(iter(self.twins.values()))
                        status, _ = _http(
                            "GET", f"http://127.0.0.1:{self.front.port}/", headers={"Host": first.domains[0]}
                        )
                        _expect(status, 200, "front")
                    elif item == "management":
                        status, _ = _http("GET", self.management_url + "/status")
                        _expect(status, 200, "management")
                    else:
                        self._probe_twin(self.twins[item], lab_ca)
                    pending.discard(item)
                except (OSError, ServiceError, ssl.SSLError) as exc:
                    last[item] = str(exc)
            if pending:
                if time.monotonic() > deadline:
                    detail = "; ".join(f"{k}: {last.get(k, '?')}" for k in sorted(pending))
                    raise ServiceError(f"lab endpoints did not answer: {detail}")
                time.sleep(0.1)

    def _probe_twin(self, twin: TwinHost, lab_ca: ssl.SSLContext) -> None:
        status, _ = _http(
            "GET", f"http://127.0.0.1:{twin.site_http_port}/iisstart.htm", headers={"Host": twin.domains[0]}
        )
        _expect(status, 200, f"{twin.name} site http")
        with socket.create_connection(("127.0.0.1", twin.site_https_port), timeout=2):
            pass  # no certificate is bound yet: a TLS handshake would (rightly) fail
        status, _ = _http("POST", f"http://127.0.0.1:{twin.winrm_http_port}/wsman", b"")
        _expect(status, 401, f"{twin.name} winrm http")
        status, _ = _http("POST", f"https://127.0.0.1:{twin.winrm_https_port}/wsman", b"", context=lab_ca)
        _expect(status, 401, f"{twin.name} winrm https")

    # ----- files ----------------------------------------------------------------------------------
    def host_table(self) -> dict[str, dict[str, Any]]:
        table: dict[str, dict[str, Any]] = {}
        for name, twin in self.twins.items():
            table[name] = {
                "name": name,
                "domains": list(twin.domains),
                "site": twin.site_name,
                "root": str(twin.root),
                "winrm_http_port": twin.winrm_http_port,
                "winrm_https_port": twin.winrm_https_port,
                "winrm_http_url": f"http://127.0.0.1:{twin.winrm_http_port}/wsman",
                "winrm_https_url": f"https://127.0.0.1:{twin.winrm_https_port}/wsman",
                "site_http_port": twin.site_http_port,
                "site_https_port": twin.site_https_port,
                "site_http": f"127.0.0.1:{twin.site_http_port}",
                "site_https": f"127.0.0.1:{twin.site_https_port}",
            }
        return table

    def _write_lab_json(self) -> None:
        assert self.pebble is not None and self.dns is not None and self.ocsp is not None
        assert self.front is not None
        paths = self.paths
        data = {
            "schema": SCHEMA,
            "dir": str(paths.root),
            "started": self.started.isoformat().replace("+00:00", "Z"),
            "ocsp_lag": self.ocsp_lag,
            "sleep_cap": self.sleep_cap,
            "management_url": self.management_url,
            "pebble_directory": self.pebble.directory_url,
            "pebble": {
                "directory": self.pebble.directory_url,
                "management_url": self.pebble.management_url,
                "http_port": self.front.port,
                "config": str(self.pebble.config_file),
            },
            "dns": {"address": self.dns.address, "management_port": self.dns.management_port},
            "ocsp": {"url": self.ocsp.url, "port": self.ocsp.port, "index": str(self.ocsp.index_file)},
            "ca_file": str(self.lab_ca.cert_file),
            "ca_bundle": str(self._bundle),
            "pebble_root": str(paths.ca / "pebble-root.pem"),
            "pebble_intermediate": str(paths.ca / "pebble-intermediate.pem"),
            "inventory": str(paths.inventory),
            "username": USERNAME,
            "password_file": str(paths.secrets / "winrm-password"),
            "eab_kid_file": str(paths.secrets / "eab-kid"),
            "eab_hmac_file": str(paths.secrets / "eab-hmac"),
            "pids": {
                "daemon": os.getpid(),
                "pebble": self.pebble.process.pid,
                "dns": self.dns.process.pid,
            },
            "pid_files": {name: str(paths.pid_file(name)) for name in ("daemon", "pebble", "dns")},
            "hosts": self.host_table(),
        }
        tmp = paths.lab_json.with_name("lab.json.tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n", "utf-8")
        tmp.replace(paths.lab_json)

    def _write_inventory(self, eab_files: tuple[str, str]) -> None:
        inventory = build_inventory(
            hosts=[self.twins[name] for name in sorted(self.twins)],
            directory=self.pebble_directory,
            ca_file=self.lab_ca.cert_file,
            ocsp_lag=self.ocsp_lag,
            eab_files=eab_files,
        )
        header = (
            "# poshbridge lab inventory, written by `poshbridge lab up` (regenerated at every start).\n"
            "# Secrets are file references relative to this file; the EAB keys are this lab's own.\n"
        )
        tmp = self.paths.inventory.with_name("inventory.yaml.tmp")
        tmp.write_text(header + yaml.safe_dump(inventory, sort_keys=False, width=200), "utf-8")
        tmp.replace(self.paths.inventory)

    # ----- management operations ------------------------------------------------------------------------
    def twin(self, name: str) -> TwinHost | None:
        for key, twin in self.twins.items():
            if key.lower() == name.lower():
                return twin
        return None

    def status(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "ready": self.paths.ready.exists(),
            "pid": os.getpid(),
            "started": self.started.isoformat().replace("+00:00", "Z"),
            "pebble_directory": self.pebble_directory,
            "children": {
                "pebble": self.pebble is not None and self.pebble.process.alive(),
                "dns": self.dns is not None and self.dns.process.alive(),
            },
            "ocsp_requests": self.ocsp.requests if self.ocsp is not None else 0,
            "hosts": self.host_table(),
        }

    # ----- stop -------------------------------------------------------------------------------------
    def stop(self) -> None:
        self.paths.ready.unlink(missing_ok=True)
        for step in (
            *(listener.stop for listener in self.listeners),
            *(sites.stop for sites in self.site_servers),
            *([self.front.stop] if self.front is not None else []),
            *([self.ocsp.stop] if self.ocsp is not None else []),
            *([self.pebble.stop] if self.pebble is not None else []),
            *([self.dns.stop] if self.dns is not None else []),
            self._stop_management,
        ):
            try:
                step()
            except Exception:
                log.exception("error during shutdown")
        log.info("lab stopped")

    def _stop_management(self) -> None:
        if self.management is not None:
            self.management.shutdown()
            self.management.server_close()
        if self._management_thread is not None:
            self._management_thread.join(timeout=5)


def build_inventory(
    *, hosts: list[TwinHost], directory: str, ca_file: Path, ocsp_lag: float, eab_files: tuple[str, str]
) -> dict[str, Any]:
    """The lab's inventory document (the format of poshbridge's inventory; written with pyyaml)."""
    return {
        "defaults": {
            "winrm": {
                "transport": "https",
                "auth": "negotiate",
                "username": USERNAME,
                "password": {"file": "secrets/winrm-password"},
                "verify": str(ca_file.resolve()),
            },
            "acme": {
                "directory": directory,
                "eab_kid": {"file": eab_files[0]},
                "eab_hmac": {"file": eab_files[1]},
                "contacts": [f"admin@{DOMAIN_SUFFIX}"],
            },
            "renewal": {
                "script_path": "C:\\poshbridge\\renew.ps1",
                "log_dir": "C:\\poshbridge\\logs",
                "wait_after_renewal": max(30, math.ceil(3 * ocsp_lag)),
            },
        },
        "groups": {"lab": {"hosts": [h.name for h in hosts]}},
        "hosts": {
            h.name: {
                "address": "127.0.0.1",
                "winrm": {"port": h.winrm_https_port},
                "domains": list(h.domains),
                "webroot": WEBROOT,
                "iis": {"site": h.site_name, "port": h.site_https_port},
            }
            for h in hosts
        },
    }


# ----- small HTTP helpers --------------------------------------------------------------------------------
def _http(
    method: str,
    url: str,
    body: bytes | None = None,
    *,
    headers: dict[str, str] | None = None,
    context: ssl.SSLContext | None = None,
) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=3, context=context) as response:  # noqa: S310
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), bytes(exc.read())


def _expect(status: int, wanted: int, what: str) -> None:
    if status != wanted:
        raise ServiceError(f"{what} answered HTTP {status} (expected {wanted})")


# ----- process entry point ---------------------------------------------------------------------------------
def _pid_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m poshbridge.lab.services.daemon",
        description="The poshbridge lab process (started by `poshbridge lab up`).",
    )
    parser.add_argument("--dir", required=True, type=Path, help="lab directory")
    parser.add_argument("--hosts", type=int, default=2, help="number of twin hosts (default 2)")
    parser.add_argument(
        "--ocsp-lag",
        type=float,
        default=10.0,
        help="seconds before a new certificate is 'good' in OCSP (default 10)",
    )
    parser.add_argument(
        "--sleep-cap",
        type=float,
        default=DEFAULT_SLEEP_CAP,
        help="longest Start-Sleep inside the lab, seconds (default 2)",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.hosts <= MAX_HOSTS:
        parser.error(f"--hosts must be between 1 and {MAX_HOSTS}")
    if args.ocsp_lag < 0 or args.sleep_cap < 0:
        parser.error("--ocsp-lag and --sleep-cap must not be negative")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    root = args.dir.resolve()
    paths = LabPaths(root)
    paths.run.mkdir(parents=True, exist_ok=True)
    paths.logs.mkdir(parents=True, exist_ok=True)
    own_pid = paths.pid_file("daemon")
    if own_pid.exists():
        try:
            other = int(own_pid.read_text().strip())
        except ValueError:
            other = 0
        if other != os.getpid() and _pid_alive(other):
            print(f"a lab is already running in {root} (pid {other})", file=sys.stderr)
            return 1
    own_pid.write_text(f"{os.getpid()}\n")
    paths.failed.unlink(missing_ok=True)
    paths.ready.unlink(missing_ok=True)
    logging.basicConfig(
        filename=str(paths.logs / "daemon.log"),
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    stop = threading.Event()

    def _on_signal(signum: int, _frame: object) -> None:
        log.info("signal %d: shutting down", signum)
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    lab = Lab(root, args.hosts, args.ocsp_lag, args.sleep_cap)
    code = 0
    try:
        lab.start()
        reported: set[str] = set()
        while not stop.wait(1.0):
            for name, service in (("pebble", lab.pebble), ("dns", lab.dns)):
                if service is not None and not service.process.alive() and name not in reported:
                    reported.add(name)
                    log.error("%s exited unexpectedly:\n%s", name, service.process.log_tail())
    except Exception as exc:
        log.exception("lab start-up failed")
        paths.failed.write_text(f"{exc}\n", "utf-8")
        code = 1
    finally:
        lab.stop()
        own_pid.unlink(missing_ok=True)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
