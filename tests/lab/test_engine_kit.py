"""Helpers for the in-process engine tests (no network): a twin on a temp dir and a recording sink."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from poshbridge.lab.engine import invoke, run_statement
from poshbridge.lab.engine.contract import CommandCall, LabErrorRecord, RunspaceState, TerminatingError
from poshbridge.lab.host import TwinHost

MODULES = "Program Files/WindowsPowerShell/Modules"


class OfflineServices:
    """LabServices without any server: ACME is never reached by the offline tests."""

    def __init__(self) -> None:
        self.issued: list[bytes] = []
        self.revoked: list[tuple[bytes, int]] = []
        self.slept: list[float] = []

    @property
    def ca_bundle(self) -> Path:
        return Path("/nonexistent-ca-bundle.pem")

    @property
    def pebble_directory(self) -> str:
        return "https://127.0.0.1:1/dir"

    def register_issued(self, cert_pem: bytes) -> None:
        self.issued.append(cert_pem)

    def register_revoked(self, cert_pem: bytes, reason: int) -> None:
        self.revoked.append((cert_pem, reason))

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


@dataclass
class Result:
    output: list[Any] = field(default_factory=list)
    errors: list[LabErrorRecord] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    verbose: list[str] = field(default_factory=list)
    information: list[Any] = field(default_factory=list)
    terminating: LabErrorRecord | None = None


class _SinkAdapter:
    def __init__(self, result: Result) -> None:
        self.r = result

    def output(self, value: Any) -> None:
        self.r.output.append(value)

    def error(self, record: LabErrorRecord) -> None:
        self.r.errors.append(record)

    def warning(self, message: str) -> None:
        self.r.warnings.append(message)

    def verbose(self, message: str) -> None:
        self.r.verbose.append(message)

    def debug(self, message: str) -> None:
        return None

    def information(self, message_data: Any, source: str, tags: list[str] | None = None) -> None:
        self.r.information.append(message_data)


Params = dict[str, Any] | list[tuple[str | None, Any]]


def _call(name: str, params: Params | None = None, *, script: bool = False) -> CommandCall:
    items: list[tuple[str | None, Any]] = (
        list(params.items()) if isinstance(params, dict) else list(params or [])
    )
    return CommandCall(name=name, is_script=script, parameters=items)


class Twin:
    """A twin host on ``tmp_path`` with Posh-ACME and Posh-ACME.Deploy installed (like a fresh lab twin)."""

    def __init__(self, root: Path, services: Any | None = None, *, modules: bool = True) -> None:
        self.services = services or OfflineServices()
        self.host = TwinHost(
            name="host01",
            root=root / "host01",
            domains=["host01.poshbridge.test", "www.host01.poshbridge.test"],
            site_name="host01.poshbridge.test",
            winrm_http_port=0,
            winrm_https_port=0,
            site_http_port=8080,
            site_https_port=8443,
            services=self.services,
        )
        self.host.drive.mkdir(parents=True)
        (self.host.drive / "inetpub" / "wwwroot").mkdir(parents=True)
        (self.host.drive / "Users" / "certadmin" / "Documents").mkdir(parents=True)
        if modules:
            for name, version in (("Posh-ACME", "4.32.0"), ("Posh-ACME.Deploy", "2.1.0")):
                folder = self.host.drive / MODULES / name / version
                folder.mkdir(parents=True)
                (folder / f"{name}.psd1").write_text(f"@{{\nModuleVersion = '{version}'\n}}\n", "utf-8")
        self.host.iis().save(
            {
                "sites": {
                    "host01.poshbridge.test": {
                        "id": 1,
                        "physical_path": "C:\\inetpub\\wwwroot",
                        "state": "Started",
                        "bindings": [
                            {
                                "protocol": "http",
                                "binding_information": "*:8080:",
                                "certificate_hash": None,
                                "certificate_store": None,
                                "ssl_flags": 0,
                            },
                            {
                                "protocol": "https",
                                "binding_information": "*:8443:",
                                "certificate_hash": None,
                                "certificate_store": None,
                                "ssl_flags": 0,
                            },
                        ],
                    }
                }
            }
        )
        self.runspace = RunspaceState()

    def c(self, windows_path: str) -> Path:
        return self.host.real_path(windows_path)

    def run(
        self,
        *statements: list[tuple[str, Params]] | tuple[str, Params],
        input: list[Any] | None = None,
        script: bool = False,
    ) -> Result:
        """Each statement is a pipeline [(name, params), ...] (a single (name, params) is one command)."""
        result = Result()
        parsed = [
            [_call(n, p, script=script) for n, p in (st if isinstance(st, list) else [st])]
            for st in statements
        ]
        try:
            invoke(self.host, self.runspace, parsed, input or [], _SinkAdapter(result))
        except TerminatingError as exc:
            result.terminating = exc.record
        return result

    def pipe(self, *commands: tuple[str, Params], items: list[Any] | None = None) -> Result:
        result = Result()
        try:
            run_statement(
                self.host, self.runspace, [_call(n, p) for n, p in commands], items, _SinkAdapter(result)
            )
        except TerminatingError as exc:
            result.terminating = exc.record
        return result


TLS12 = (
    "[Net.ServicePointManager]::SecurityProtocol = "
    "[Net.ServicePointManager]::SecurityProtocol -bor [Net.SecurityProtocolType]::Tls12"
)


def prepare_gallery(twin: Twin) -> None:
    """What ``setup --install-modules`` sends before Install-Module: TLS 1.2, then the NuGet provider."""
    assert twin.run((TLS12, {}), script=True).terminating is None
    provider = twin.run(
        ("Install-PackageProvider", {"Name": "NuGet", "MinimumVersion": "2.8.5.201", "Force": None})
    )
    assert provider.errors == [] and provider.terminating is None
