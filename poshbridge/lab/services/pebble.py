"""Pebble (Debian ``pebble`` 2.4.0) as the lab's ACME CA, plus the child-process helper of the lab.

The lab writes a config of its own (the Debian package ships none) with EAB required, 90-day leaves
(``certificateValidityPeriod`` 7776000 s, like JPRS), http-01 validation sent to the lab's shared site
front (``httpPort``), the lab OCSP URL in every leaf's AIA, and both listeners on 127.0.0.1. Pebble runs
with two environment settings chosen for deterministic tests:

- ``PEBBLE_VA_NOSLEEP=1``: no random 0-4 s sleep before each validation.
- ``PEBBLE_WFE_NONCEREJECT=0``: no valid nonce is rejected as ``badNonce`` (Pebble's default rejects
  5 %). Posh-ACME retries a bad nonce once; the lab keeps issuance deterministic instead.

Pebble keeps everything in memory and generates a new root and intermediate at every start; the lab
fetches them (and the intermediate's key, which signs OCSP responses) from the management API.
"""

from __future__ import annotations

import base64
import ctypes
import json
import logging
import os
import secrets
import shutil
import signal
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from poshbridge.lab.services.ca import LeafFiles, write_private

log = logging.getLogger(__name__)

CERTIFICATE_VALIDITY_SECONDS = 7776000  # 90 days
PEBBLE_ENV = {"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"}
PEBBLE_BINARY_ENV = "POSHBRIDGE_LAB_PEBBLE"  # override of the pebble binary path (tests, odd installs)
CHALLTESTSRV_BINARY_ENV = "POSHBRIDGE_LAB_CHALLTESTSRV"
INSTALL_HINT = (
    "install it with `apt-get install pebble` (it ships /usr/bin/pebble and /usr/bin/pebble-challtestsrv)"
)


class MissingBinaryError(RuntimeError):
    """A program the lab needs is not installed."""


class ServiceError(RuntimeError):
    """A lab service did not start or did not answer."""


def find_binary(name: str, override_env: str | None = None) -> str:
    """Path of ``name`` (``$<override_env>`` first, then ``PATH``) or a MissingBinaryError with the fix."""
    override = os.environ.get(override_env) if override_env else None
    if override:
        if os.path.isfile(override) and os.access(override, os.X_OK):
            return override
        raise MissingBinaryError(f"{name} not found at {override} (from ${override_env}): {INSTALL_HINT}")
    found = shutil.which(name)
    if found is None:
        raise MissingBinaryError(f"{name} not found on PATH: {INSTALL_HINT}")
    return found


def pebble_binary() -> str:
    return find_binary("pebble", PEBBLE_BINARY_ENV)


def challtestsrv_binary() -> str:
    return find_binary("pebble-challtestsrv", CHALLTESTSRV_BINARY_ENV)


# ----- child processes ---------------------------------------------------------------------------
_PR_SET_PDEATHSIG = 1
try:
    _LIBC: ctypes.CDLL | None = ctypes.CDLL(None, use_errno=True)
except OSError:  # pragma: no cover - not Linux
    _LIBC = None


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


class ManagedProcess:
    """One child program of the lab daemon, with a pid file and a log file.

    The child gets SIGTERM if the daemon's main thread dies (PR_SET_PDEATHSIG), so a crashed daemon
    leaves nothing behind; ``lab down`` also stops children by their pid files.
    """

    def __init__(
        self,
        name: str,
        argv: list[str],
        *,
        pid_file: Path,
        log_file: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = argv
        self.pid_file = pid_file
        self.log_file = log_file
        self.env = dict(env or {})
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def start(self) -> None:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PEBBLE_")}
        env.update(self.env)
        with open(self.log_file, "ab") as log_handle:
            self.proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log_handle,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.cwd,
                preexec_fn=_die_with_parent,
                close_fds=True,
            )
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        self.pid_file.write_text(f"{self.proc.pid}\n")
        log.info("started %s (pid %d): %s", self.name, self.proc.pid, " ".join(self.argv))

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_file.read_text("utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 5.0) -> None:
        proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)
        self.pid_file.unlink(missing_ok=True)


# ----- Pebble ------------------------------------------------------------------------------------
def new_eab_credentials() -> tuple[str, str]:
    """A fresh EAB key id and HMAC key (48 random bytes, unpadded base64url as Pebble requires)."""
    kid = "poshbridge-lab-" + secrets.token_hex(6)
    hmac_key = base64.urlsafe_b64encode(secrets.token_bytes(48)).decode().rstrip("=")
    return kid, hmac_key


@dataclass
class PebbleCA:
    """What Pebble generated at this start (PEM bytes)."""

    root_pem: bytes
    intermediate_pem: bytes
    intermediate_key_pem: bytes


class PebbleService:
    def __init__(
        self,
        workdir: Path,
        *,
        listener: LeafFiles,
        lab_ca_file: Path,
        listen_port: int,
        management_port: int,
        http_port: int,
        tls_port: int,
        ocsp_url: str,
        dns_address: str,
        eab_kid: str,
        eab_hmac: str,
        pid_file: Path,
        log_file: Path,
    ) -> None:
        self.workdir = workdir
        self.lab_ca_file = lab_ca_file
        self.listen_port = listen_port
        self.management_port = management_port
        self.config = {
            "pebble": {
                "listenAddress": f"127.0.0.1:{listen_port}",
                "managementListenAddress": f"127.0.0.1:{management_port}",
                "certificate": str(listener.cert),
                "privateKey": str(listener.key),
                "httpPort": http_port,
                "tlsPort": tls_port,
                "ocspResponderURL": ocsp_url,
                "externalAccountBindingRequired": True,
                "externalAccountMACKeys": {eab_kid: eab_hmac},
                "certificateValidityPeriod": CERTIFICATE_VALIDITY_SECONDS,
            }
        }
        self.config_file = workdir / "pebble-config.json"
        self.process = ManagedProcess(
            "pebble",
            [pebble_binary(), "-config", str(self.config_file), "-dnsserver", dns_address],
            pid_file=pid_file,
            log_file=log_file,
            env=PEBBLE_ENV,
            cwd=workdir,
        )
        self.ca: PebbleCA | None = None

    @property
    def directory_url(self) -> str:
        return f"https://127.0.0.1:{self.listen_port}/dir"

    @property
    def management_url(self) -> str:
        return f"https://127.0.0.1:{self.management_port}"

    def _tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.lab_ca_file))

    def start(self) -> None:
        """Write the config (0600: it holds the EAB HMAC key) and start Pebble (does not wait)."""
        write_private(self.config_file, json.dumps(self.config, indent=2).encode())
        self.process.start()

    def wait_ready(self, timeout: float = 30.0) -> PebbleCA:
        """Wait until the directory answers, then fetch this start's root, intermediate and its key."""
        deadline = time.monotonic() + timeout
        last_error = ""
        while True:
            if not self.process.alive():
                raise ServiceError(f"pebble exited during start-up:\n{self.process.log_tail()}")
            try:
                directory = json.loads(self._get(self.directory_url))
                if "newAccount" in directory:
                    break
            except (OSError, ValueError) as exc:
                last_error = str(exc)
            if time.monotonic() > deadline:
                raise ServiceError(f"pebble did not answer at {self.directory_url}: {last_error}")
            time.sleep(0.1)
        self.ca = PebbleCA(
            root_pem=self._get(self.management_url + "/roots/0"),
            intermediate_pem=self._get(self.management_url + "/intermediates/0"),
            intermediate_key_pem=self._get(self.management_url + "/intermediate-keys/0"),
        )
        return self.ca

    def _get(self, url: str) -> bytes:
        with urllib.request.urlopen(url, timeout=5, context=self._tls()) as response:  # noqa: S310
            return bytes(response.read())

    def stop(self) -> None:
        self.process.stop()


__all__ = [
    "CERTIFICATE_VALIDITY_SECONDS",
    "INSTALL_HINT",
    "PEBBLE_ENV",
    "ManagedProcess",
    "MissingBinaryError",
    "PebbleCA",
    "PebbleService",
    "ServiceError",
    "challtestsrv_binary",
    "find_binary",
    "new_eab_credentials",
    "pebble_binary",
]
