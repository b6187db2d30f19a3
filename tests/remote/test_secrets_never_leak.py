"""Secrets never appear in anything poshbridge writes, on success and on failure.

Given the lab's WinRM password and EAB HMAC key (and the PFX password of the host's Posh-ACME order),
plus a wrong WinRM password and a wrong HMAC key used on failure paths, when the operator runs every
command (check, renew-script, task-xml, setup --dry-run, setup, status, renew, renew --force, audit,
revoke; text and --json), then none of these values is found in stdout, stderr, the JSON documents,
the history, the generated files, the files poshbridge put on the twin, or error text.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from labkit import LabHandle
from test_ops_lab import Run, cli, derived_inventory

WRONG_WINRM_PASSWORD = "Sentinel-Wrong-WinRM-Pw-5150"
PFX_PASSWORD = "Sentinel-Pfx-Pw-8086"
WRONG_HMAC = base64.urlsafe_b64encode(b"Sentinel-wrong-hmac-key-for-poshbridge-tests!!").decode().rstrip("=")


def _pfx_passwords(home: Path) -> list[str]:
    found: list[str] = []
    for order in home.rglob("order.json"):
        data = json.loads(order.read_text("utf-8-sig"))
        if isinstance(data.get("PfxPass"), str):
            found.append(data["PfxPass"])
        encoded = data.get("PfxPassB64U")
        if isinstance(encoded, str) and encoded:
            found.append(
                base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode("utf-8", "replace")
            )
    return [p for p in found if p]


def _set_pfx_password(home: Path, password: str) -> None:
    """Give the order a distinctive PFX password (Posh-ACME's default 'poshacme' is public); the next
    renewal writes its PFX files with it and Set-IISCertificate gets it through the pipeline."""
    encoded = base64.urlsafe_b64encode(password.encode()).decode().rstrip("=")
    for order in home.rglob("order.json"):
        data = json.loads(order.read_text("utf-8-sig"))
        data.pop("PfxPass", None)
        data["PfxPassB64U"] = encoded
        order.write_text(json.dumps(data, indent=2), "utf-8")


def test_no_secret_in_output_json_history_or_files(lab: LabHandle, tmp_path: Path) -> None:
    good = lab.claim("secrets: success paths")
    bad_auth = lab.claim("secrets: wrong WinRM password")
    bad_eab = lab.claim("secrets: wrong EAB")
    state = tmp_path / "state"
    outputs = tmp_path / "generated"
    outputs.mkdir()
    try:
        wrong_pw_file = tmp_path / "wrong-winrm"
        wrong_pw_file.write_text(WRONG_WINRM_PASSWORD, "utf-8")
        wrong_hmac_file = tmp_path / "wrong-hmac"
        wrong_hmac_file.write_text(WRONG_HMAC, "utf-8")
        bad = derived_inventory(
            lab,
            tmp_path / "bad",
            {
                bad_auth: {"winrm": {"password": {"file": str(wrong_pw_file)}}},
                bad_eab: {"acme": {"eab_hmac": {"file": str(wrong_hmac_file)}}},
            },
        )
        inv = lab.inventory
        runs: list[Run] = [
            cli(inv, state, "check"),
            cli(inv, state, "renew-script", good, "-o", str(outputs / "renew.ps1")),
            cli(inv, state, "task-xml", good, "-o", str(outputs / "task.xml")),
            cli(inv, state, "renew-script", good),
            cli(inv, state, "task-xml", good),
            cli(inv, state, "setup", good, "--dry-run"),
            cli(inv, state, "setup", good, "--dry-run", "--json"),
        ]
        setup = cli(inv, state, "setup", good, "--json")
        assert setup.code == 0, setup
        home = lab.twin(good).real_path("C:\\ProgramData\\poshbridge\\Posh-ACME")
        _set_pfx_password(home, PFX_PASSWORD)
        forced = cli(inv, state, "renew", good, "--force", "--json")
        assert forced.code == 0 and forced.host(good)["objects"]["renewal"]["outcome"] == "renewed", forced
        assert (
            forced.host(good)["objects"]["served"]["thumbprint"]
            == (forced.host(good)["objects"]["certificate"]["thumbprint"])
        )
        runs += [
            forced,
            setup,
            cli(inv, state, "setup", good),
            cli(inv, state, "status", good),
            cli(inv, state, "status", good, "--json"),
            cli(inv, state, "renew", good, "--json"),
            cli(inv, state, "renew", good, "--force"),
            cli(inv, state, "audit", good),
            cli(inv, state, "audit", good, "--json"),
        ]
        failing = [
            cli(bad, state, "setup", bad_auth, "--json"),
            cli(bad, state, "status", bad_auth),
            cli(bad, state, "setup", bad_eab, "--json"),
            cli(bad, state, "setup", bad_eab, "--lang", "ja"),
            cli(bad, state, "renew", bad_auth, bad_eab, "--json"),
        ]
        assert failing[0].code == 1 and failing[0].host(bad_auth)["errors"][0]["kind"] == "auth", failing[0]
        assert failing[2].code == 1 and any(e["kind"] == "acme" for e in failing[2].host(bad_eab)["errors"])
        runs += failing
        assert _pfx_passwords(home) == [PFX_PASSWORD]
        runs.append(cli(inv, state, "revoke", good, "--yes", "--json"))

        sentinels = {
            "WinRM password": lab.secret("winrm-password"),
            "EAB HMAC": lab.secret("eab-hmac"),
            "wrong WinRM password": WRONG_WINRM_PASSWORD,
            "wrong EAB HMAC": WRONG_HMAC,
            "PFX password": PFX_PASSWORD,
        }

        written: dict[str, str] = {}
        for index, run in enumerate(runs):
            written[f"run {index} stdout"] = run.stdout
            written[f"run {index} stderr"] = run.stderr
        written["history"] = (state / "history.jsonl").read_text("utf-8")
        for path in outputs.iterdir():
            written[f"generated {path.name}"] = path.read_bytes().decode(
                "utf-16" if path.suffix == ".xml" else "utf-8", "replace"
            )
        for name in (good, bad_auth, bad_eab):
            twin = lab.twin(name)
            for folder in ("C:\\poshbridge", "C:\\inetpub\\wwwroot\\.well-known"):
                root = twin.real_path(folder)
                for path in root.rglob("*") if root.exists() else []:
                    if path.is_file():
                        written[f"{name} {path}"] = path.read_bytes().decode("utf-8", "replace")
            tasks = twin.root / "tasks"
            for path in tasks.rglob("*") if tasks.exists() else []:
                if path.is_file():
                    written[f"{name} task {path.name}"] = path.read_text("utf-8", "replace")

        assert any(k.startswith("generated") for k in written)
        leaks = [
            f"{what} found in {where}"
            for what, secret in sentinels.items()
            for where, text in written.items()
            if secret in text
        ]
        assert leaks == []
    finally:
        for name in (good, bad_auth, bad_eab):
            lab.release(name)


def test_a_secret_the_engine_echoes_in_a_binding_error_is_scrubbed(lab: LabHandle, lab_host: str) -> None:
    """The real engine quotes a bound value in its binding error; the session scrubs every
    Secret of the batch from every error field and stream."""
    from poshbridge.cli.common import inventory_base_dir
    from poshbridge.inventory.load import load_inventory
    from poshbridge.inventory.targets import select_hosts
    from poshbridge.powershell.command import Batch, Cmd, Secret
    from poshbridge.remote.session import HostSession

    sentinel = "Sentinel-Echoed-Secret-6502"
    inventory = load_inventory(lab.inventory)
    (host,) = select_hosts(inventory, [lab_host])
    batch = Batch().add(Cmd.of("New-PAAccount", ExtAcctAlgorithm=Secret(sentinel)))
    with HostSession(host, base_dir=inventory_base_dir(inventory)) as session:
        result = session.run(batch)
    # the engine quotes the argument: `The argument "<value>" does not belong to the set ...`
    assert result.errors and 'The argument "********"' in result.errors[0].message, result
    assert sentinel not in repr(result)
    assert all(sentinel not in str(e.to_json()) for e in result.errors)


def test_the_progress_line_scrubs_the_summary() -> None:
    from poshbridge.runner.context import Context
    from poshbridge.runner.results import HostRun
    from poshbridge.runner.template import progress_outcome
    from poshbridge.scrubber import Scrubber

    ctx = Context(command="setup", scrub=Scrubber(["Sentinel-Summary-Secret-1234"]))
    run = HostRun("host01", "setup", summary="acme-account: acme: key Sentinel-Summary-Secret-1234 refused")
    ok, text = progress_outcome(run, ctx)
    assert "Sentinel-Summary-Secret-1234" not in text and "refused" in text and ok is True
    assert "Sentinel-Summary-Secret-1234" not in repr(ctx)
