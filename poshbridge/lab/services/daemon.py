"""The lab process: ``python -m poshbridge.lab.services.daemon --dir DIR --hosts N --ocsp-lag S``.

Composes, all on 127.0.0.1: the lab CA, the lab DNS (pebble-challtestsrv), Pebble, the OCSP responder,
the shared http-01 front, and N twin hosts (``host01``..``hostNN``), each with a WinRM listener over
HTTP and one over HTTPS and an IIS site served over HTTP and HTTPS; plus a JSON management API.

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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from poshbridge.lab.auth import write_ntlm_user_file
from poshbridge.lab.host import Counters, FaultConfig, TwinHost
from poshbridge.lab.server import WinRMListener
from poshbridge.lab.services.ca import LabCA, write_private
from poshbridge.lab.services.dns import DNSService
from poshbridge.lab.services.lifecycle import TwinClock, clock_json, move_clock, run_task_now
from poshbridge.lab.services.ocsp import OCSPResponder
from poshbridge.lab.services.pebble import PebbleService, ServiceError, new_eab_credentials
from poshbridge.lab.services.web import FrontServer, TwinSiteServers

log = logging.getLogger("poshbridge.lab")

SCHEMA = "poshbridge.lab/1"
USERNAME = "certadmin"
DOMAIN_SUFFIX = "poshbridge.test"
WEBROOT = "C:\\inetpub\\wwwroot"
DEFAULT_SLEEP_CAP = 2.0
POSH_ACME_VERSION = "4.32.0"
POSH_ACME_DEPLOY_VERSION = "2.1.0"
MODULES_DIR = ("Program Files", "WindowsPowerShell", "Modules")

IISSTART_HTM = """<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" \
"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">
<html xmlns="http://www.w3.org/1999/xhtml">
<head>
<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1" />
<title>IIS Windows Server</title>
</head>
<body>
<div id="container">IIS Windows Server (poshbridge lab twin)</div>
</body>
</html>
"""


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


# ----- fresh twins ---------------------------------------------------------------------------------
def fresh_iis_state(host: TwinHost) -> dict[str, Any]:
    return {
        "sites": {
            host.site_name: {
                "id": 1,
                "physical_path": WEBROOT,
                "state": "Started",
                "bindings": [
                    {
                        "protocol": "http",
                        "binding_information": f"*:{host.site_http_port}:",
                        "certificate_hash": None,
                        "certificate_store": None,
                        "ssl_flags": 0,
                    },
                    {
                        "protocol": "https",
                        "binding_information": f"*:{host.site_https_port}:",
                        "certificate_hash": None,
                        "certificate_store": None,
                        "ssl_flags": 0,
                    },
                ],
            }
        }
    }


def _module_manifest(name: str, version: str, guid: str, description: str) -> str:
    return (
        "@{\n"
        f"RootModule = '{name}.psm1'\n"
        f"ModuleVersion = '{version}'\n"
        f"GUID = '{guid}'\n"
        "Author = 'Ryan Bolger'\n"
        f"Description = '{description}'\n"
        "PowerShellVersion = '5.1'\n"
        "}\n"
    )


def make_fresh(host: TwinHost) -> None:
    """Wipe ``host.root`` and lay out a fresh Windows/IIS twin (stock IIS site, Posh-ACME installed)."""
    with host.lock:
        if host.root.exists():
            for entry in host.root.iterdir():
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
        host.root.mkdir(parents=True, exist_ok=True)
        webroot = host.real_path(WEBROOT)
        webroot.mkdir(parents=True, exist_ok=True)
        (webroot / "iisstart.htm").write_text(IISSTART_HTM, "utf-8")
        modules = host.drive.joinpath(*MODULES_DIR)
        for name, version, guid, description in (
            (
                "Posh-ACME",
                POSH_ACME_VERSION,
                "5f52d490-68dd-411c-a3f4-a7b4b6b3b5ea",
                "ACME protocol client for obtaining certificates using Let's Encrypt (or other ACME CA)",
            ),
            (
                "Posh-ACME.Deploy",
                POSH_ACME_DEPLOY_VERSION,
                "9a2f9c4c-64cf-43c0-8d1c-9f2f1d2b5e1f",
                "Deployment functions for certificates generated by Posh-ACME",
            ),
        ):
            folder = modules / name / version
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{name}.psd1").write_text(_module_manifest(name, version, guid, description), "utf-8")
            (folder / f"{name}.psm1").write_text("", "utf-8")
        host.drive.joinpath("Users", host.username, "Documents").mkdir(parents=True, exist_ok=True)
        host.drive.joinpath("Windows", "Temp").mkdir(parents=True, exist_ok=True)
        host.drive.joinpath("ProgramData").mkdir(parents=True, exist_ok=True)
        host.iis().save(fresh_iis_state(host))
        for f in dataclasses.fields(FaultConfig):
            setattr(host.faults, f.name, getattr(FaultConfig(), f.name))
        for f in dataclasses.fields(Counters):
            setattr(host.counters, f.name, getattr(Counters(), f.name))
        if isinstance(host.clock, TwinClock):  # a fresh twin runs on the real time again
            host.clock.reset()


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
        self.management: _ManagementServer | None = None
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
        self.management = _ManagementServer(self)
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


# ----- management API ----------------------------------------------------------------------------------
class _ManagementError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def update_faults(faults: FaultConfig, body: dict[str, Any]) -> None:
    """Apply a partial FaultConfig (JSON) after checking every field's name and type."""
    known = {f.name: f for f in dataclasses.fields(FaultConfig)}
    for key, value in body.items():
        if key not in known:
            raise _ManagementError(400, f"unknown fault field {key!r} (known: {', '.join(sorted(known))})")
        if key in ("drop_next_receive", "auth_fail", "hang_next", "iis_administration_inbox"):
            if not isinstance(value, bool):
                raise _ManagementError(400, f"{key} must be true or false")
        elif key == "fault_500_action":
            if not isinstance(value, str) or len(value) > 40:
                raise _ManagementError(400, f"{key} must be a WSMan action name such as Command")
        elif key in ("latency_ms", "fault_500_next", "statement_delay_ms", "fault_500_skip"):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise _ManagementError(400, f"{key} must be a non-negative integer")
        elif (
            key == "acme_error_next_order"
            and value is not None
            and not (isinstance(value, dict) and isinstance(value.get("type"), str))
        ):
            raise _ManagementError(400, "acme_error_next_order must be null or {type, detail, status}")
    for key, value in body.items():
        setattr(faults, key, value)


class _ManagementHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _ManagementServer

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("management %s", format % args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length > 0 else b""
            body = json.loads(raw) if raw.strip() else {}
            if not isinstance(body, dict):
                raise _ManagementError(400, "the request body must be a JSON object")
            status, payload = 200, self._route(method, self.path.split("?", 1)[0], body)
        except _ManagementError as exc:
            status, payload = exc.status, {"error": str(exc)}
        except (ValueError, TypeError) as exc:
            status, payload = 400, {"error": f"bad request: {exc}"}
        except Exception as exc:
            log.exception("management: %s %s failed", method, self.path)
            status, payload = 500, {"error": f"internal error: {exc}"}
        data = (json.dumps(payload, indent=2) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _route(self, method: str, path: str, body: dict[str, Any]) -> Any:
        lab = self.server.lab
        parts = [p for p in path.split("/") if p]
        if parts == ["status"] and method == "GET":
            return lab.status()
        if parts[:1] == ["hosts"] and len(parts) >= 3:
            twin = lab.twin(parts[1])
            if twin is None:
                raise _ManagementError(404, f"no such lab host: {parts[1]}")
            return self._host_route(twin, method, parts[2:], body)
        if parts[:1] == ["ocsp"] and method == "POST" and len(parts) == 2:
            return self._ocsp_route(parts[1], body)
        if parts[:2] == ["ocsp", "status"] and len(parts) == 3 and method == "GET":
            assert lab.ocsp is not None
            return {"serial": parts[2].upper(), "status": lab.ocsp.status_of(int(parts[2], 16))}
        raise _ManagementError(404, f"no such endpoint: {method} {path}")

    def _host_route(self, twin: TwinHost, method: str, rest: list[str], body: dict[str, Any]) -> Any:
        if rest == ["counters"] and method == "GET":
            with twin.lock:
                return twin.counters.to_json()
        if rest == ["counters", "reset"] and method == "POST":
            with twin.lock:
                for f in dataclasses.fields(Counters):
                    setattr(twin.counters, f.name, getattr(Counters(), f.name))
                return twin.counters.to_json()
        if rest == ["faults"] and method == "GET":
            with twin.lock:
                return twin.faults.to_json()
        if rest == ["faults"] and method == "POST":
            with twin.lock:
                update_faults(twin.faults, body)
                log.info("%s: faults now %s", twin.name, twin.faults.to_json())
                return twin.faults.to_json()
        if rest == ["clock"] and method == "GET":
            return clock_json(twin)
        if rest == ["clock"] and method == "POST":
            seconds = body.get("advance_seconds")
            if isinstance(seconds, bool) or not isinstance(seconds, int):
                raise _ManagementError(400, "advance_seconds (a non-negative integer) is required")
            try:
                moved = move_clock(twin, seconds)
            except ValueError as exc:
                raise _ManagementError(400, str(exc)) from None
            log.info("%s: clock moved by %d s, now %s", twin.name, seconds, moved["now"])
            return moved
        if rest == ["run-task"] and method == "POST":
            name = body.get("task")
            if name is not None and not isinstance(name, str):
                raise _ManagementError(400, "task must be a task name")
            try:
                return run_task_now(twin, name)
            except LookupError as exc:
                raise _ManagementError(409, str(exc).strip("'\"")) from None
            except TimeoutError as exc:
                raise _ManagementError(504, str(exc)) from None
        if rest == ["reset"] and method == "POST":
            make_fresh(twin)
            log.info("%s: reset to fresh", twin.name)
            return {"host": twin.name, "reset": True}
        raise _ManagementError(404, f"no such endpoint: {method} /hosts/{twin.name}/{'/'.join(rest)}")

    def _ocsp_route(self, action: str, body: dict[str, Any]) -> Any:
        ocsp = self.server.lab.ocsp
        assert ocsp is not None
        pem = body.get("pem")
        if not isinstance(pem, str):
            raise _ManagementError(400, "pem (a PEM certificate) is required")
        if action == "issued":
            lag = body.get("lag")
            serial = ocsp.register_issued(pem.encode(), None if lag is None else float(lag))
        elif action == "revoked":
            serial = ocsp.register_revoked(pem.encode(), int(body.get("reason", 0)))
        else:
            raise _ManagementError(404, f"no such endpoint: POST /ocsp/{action}")
        return {"serial": format(serial, "X"), "status": ocsp.status_of(serial)}


class _ManagementServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        super().__init__(("127.0.0.1", 0), _ManagementHandler)


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
    if not 1 <= args.hosts <= 99:
        parser.error("--hosts must be between 1 and 99")
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
