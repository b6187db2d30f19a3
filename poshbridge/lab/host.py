"""One twin host's state: its sandboxed C:\\ drive, IIS sites/bindings, certificate store, faults.

Shared by the lab's three parts: the WinRM front (``lab.wsman``/``lab.auth``/``lab.psrp``) reads the
fault settings and counts requests; the emulated cmdlets (``lab.engine``/``lab.cmdlets``) change
files, IIS state and the certificate store; the site servers (``lab.services.web``) serve the
webroot and whatever certificate is bound. State lives on disk under ``root`` so it survives a lab
restart and can be inspected by a person.

Layout of ``root`` (``<labdir>/hosts/<name>``)::

    C/                       the host's C:\\ drive (everything a cmdlet touches is under here)
    iis.json                 sites and bindings (see IISState)
    certstore/My/<THUMB>.pem LocalMachine\\My: leaf + chain PEM, then the private key PEM
    tasks/<name>.json        registered scheduled tasks (lab.cmdlets.tasks owns the format)
    env.json                 machine-level environment variables (e.g. POSHACME_HOME)
"""

from __future__ import annotations

import json
import ntpath
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12


class SandboxError(Exception):
    """A Windows path that is not on the twin's C:\\ drive (never touched)."""


class LabServices(Protocol):
    """What the whole lab offers to every twin (implemented by ``lab.services.daemon``)."""

    @property
    def ca_bundle(self) -> Path:
        """PEM bundle the twin trusts (the lab CA that signed Pebble's and WinRM's TLS certs)."""
        ...

    @property
    def pebble_directory(self) -> str: ...

    def register_issued(self, cert_pem: bytes) -> None:
        """Tell the OCSP responder a certificate exists (it says ``good`` after the lag)."""
        ...

    def register_revoked(self, cert_pem: bytes, reason: int) -> None: ...

    def sleep(self, seconds: float) -> None:
        """Start-Sleep inside the lab (scaled/capped by the lab so tests stay fast)."""
        ...


@dataclass
class FaultConfig:
    """Fault injection, settable at runtime through the lab's management API."""

    latency_ms: int = 0  # added to every WSMan request
    drop_next_receive: bool = False  # close the TCP connection during the next Receive (once)
    fault_500_next: int = 0  # the next N WSMan requests get a 500 SOAP fault (w:InternalError)
    auth_fail: bool = False  # every authentication attempt is refused (401)
    hang_next: bool = False  # the next WSMan request never answers (until the client gives up)
    statement_delay_ms: int = 0  # every statement of a pipeline waits this long first (Stop ends it)
    fault_500_action: str = ""  # one 500 fault for a request of this WSMan action (e.g. "Command") ...
    fault_500_skip: int = 0  # ... after letting this many requests of that action through
    acme_error_next_order: dict[str, Any] | None = None  # {"type", "detail", "status"} for the next order
    # Windows Server 2016: only the in-box IISAdministration 1.0.0.0 (Set-IISCertificate needs >= 1.1.0.0
    # from the PowerShell Gallery; Install-Module IISAdministration adds it)
    iis_administration_inbox: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Counters:
    """Request counting per host, for round-trip benchmarks."""

    wsman_requests: int = 0  # SOAP requests (one per WSMan action), auth-only legs excluded
    http_requests: int = 0  # every HTTP request including authentication legs
    by_action: dict[str, int] = field(default_factory=dict)
    connections: int = 0

    def count(self, action: str) -> None:
        self.wsman_requests += 1
        self.by_action[action] = self.by_action.get(action, 0) + 1

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TwinHost:
    name: str
    root: Path
    domains: list[str]
    site_name: str
    winrm_http_port: int
    winrm_https_port: int
    site_http_port: int
    site_https_port: int
    services: LabServices
    username: str = "certadmin"
    faults: FaultConfig = field(default_factory=FaultConfig)
    counters: Counters = field(default_factory=Counters)
    lock: threading.RLock = field(default_factory=threading.RLock)
    clock: Callable[[], float] = time.time

    # ----- C:\ sandbox -------------------------------------------------------------------------
    @property
    def drive(self) -> Path:
        return self.root / "C"

    def real_path(self, windows_path: str) -> Path:
        """Map an absolute ``C:\\...`` path to the sandbox. Anything else is a SandboxError."""
        text = windows_path.replace("/", "\\")
        drive, rest = ntpath.splitdrive(text)
        if drive.upper() != "C:" or not rest.startswith("\\"):
            raise SandboxError(f"path outside the lab's C:\\ drive: {windows_path}")
        parts = [p for p in rest.split("\\") if p not in ("", ".")]
        if any(p == ".." for p in parts):
            raise SandboxError(f"path escapes the lab's C:\\ drive: {windows_path}")
        real = self.drive.joinpath(*parts) if parts else self.drive
        # Windows paths are case-insensitive: reuse an existing entry whatever its case.
        return _case_insensitive(self.drive, parts) or real

    def windows_path(self, real: Path) -> str:
        rel = real.relative_to(self.drive)
        return "C:\\" + "\\".join(rel.parts)

    # ----- machine environment ---------------------------------------------------------------
    def machine_env(self) -> dict[str, str]:
        path = self.root / "env.json"
        with self.lock:
            if path.exists():
                return dict(json.loads(path.read_text("utf-8")))
            return {}

    def set_machine_env(self, name: str, value: str | None) -> None:
        with self.lock:
            env = self.machine_env()
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
            _atomic_write(self.root / "env.json", json.dumps(env, indent=2).encode())

    # ----- IIS -------------------------------------------------------------------------------
    def iis(self) -> IISState:
        return IISState(self.root / "iis.json", self.lock)

    def cert_store(self) -> CertStore:
        return CertStore(self.root / "certstore" / "My", self.lock)


def _case_insensitive(base: Path, parts: list[str]) -> Path | None:
    current = base
    for part in parts:
        candidate = current / part
        if not candidate.exists() and current.is_dir():
            matches = [c for c in current.iterdir() if c.name.lower() == part.lower()]
            if matches:
                candidate = matches[0]
        current = candidate
    return current


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class IISState:
    """``iis.json``::

        {"sites": {"<name>": {"id": 1, "physical_path": "C:\\\\inetpub\\\\wwwroot", "state": "Started",
          "bindings": [{"protocol": "http", "binding_information": "*:80:", "certificate_hash": null,
                        "certificate_store": null, "ssl_flags": 0}, ...]}}}

    ``binding_information`` is ``<ip>:<port>:<host header>`` as IIS writes it. In the lab the port of a
    binding IS the real loopback port the site server listens on.
    """

    def __init__(self, path: Path, lock: threading.RLock) -> None:
        self.path = path
        self.lock = lock

    def load(self) -> dict[str, Any]:
        with self.lock:
            if not self.path.exists():
                return {"sites": {}}
            return dict(json.loads(self.path.read_text("utf-8")))

    def save(self, state: dict[str, Any]) -> None:
        with self.lock:
            _atomic_write(self.path, json.dumps(state, indent=2).encode())

    def site(self, name: str) -> dict[str, Any] | None:
        for site_name, site in self.load()["sites"].items():
            if site_name.lower() == name.lower():
                return dict(site)
        return None

    def https_binding_for_port(self, port: int, sni: str | None) -> dict[str, Any] | None:
        """The https binding that answers on ``port`` for ``sni`` (exact host header, else catch-all)."""
        best: dict[str, Any] | None = None
        for site in self.load()["sites"].values():
            for binding in site.get("bindings", []):
                if binding.get("protocol") != "https":
                    continue
                _ip, b_port, host = _split_binding(binding["binding_information"])
                if b_port != port:
                    continue
                if host and sni and host.lower() == sni.lower():
                    return dict(binding)
                if not host and best is None:
                    best = dict(binding)
        return best


def _split_binding(info: str) -> tuple[str, int, str]:
    ip, _, rest = info.partition(":")
    port_text, _, host = rest.partition(":")
    return ip, int(port_text), host


class CertStore:
    """Emulated ``Cert:\\LocalMachine\\My``: one PEM per thumbprint (cert + chain, then key)."""

    def __init__(self, folder: Path, lock: threading.RLock) -> None:
        self.folder = folder
        self.lock = lock

    def import_pfx(self, pfx: bytes, password: str | None) -> str:
        key, cert, chain = pkcs12.load_key_and_certificates(
            pfx, password.encode() if password is not None else None
        )
        if cert is None or key is None:
            raise ValueError("PFX holds no certificate with a private key")
        thumbprint = cert.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 - the Windows thumbprint
        pem = cert.public_bytes(serialization.Encoding.PEM)
        for extra in chain or []:
            pem += extra.public_bytes(serialization.Encoding.PEM)
        pem += key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        with self.lock:
            _atomic_write(self.folder / f"{thumbprint}.pem", pem)
        return thumbprint

    def path(self, thumbprint: str) -> Path | None:
        candidate = self.folder / f"{thumbprint.upper()}.pem"
        return candidate if candidate.exists() else None

    def certificate(self, thumbprint: str) -> x509.Certificate | None:
        path = self.path(thumbprint)
        if path is None:
            return None
        return x509.load_pem_x509_certificate(path.read_bytes())

    def remove(self, thumbprint: str) -> bool:
        path = self.path(thumbprint)
        if path is None:
            return False
        with self.lock:
            path.unlink()
        return True

    def thumbprints(self) -> list[str]:
        if not self.folder.exists():
            return []
        return sorted(p.stem for p in self.folder.glob("*.pem"))
