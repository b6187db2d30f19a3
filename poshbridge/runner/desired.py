"""What setup wants on a host: the generated files and the resolved ACME secrets (each one remembered
by the run's scrubber)."""

from __future__ import annotations

from typing import Any

from poshbridge.inventory.model import HostConfig
from poshbridge.plan.setup import Desired
from poshbridge.powershell.command import Secret, SecureSecret
from poshbridge.remote.outcome import RemoteConnectionError
from poshbridge.runner.context import Context


def resolve(ref: Any, ctx: Context) -> Secret | None:
    """The secret an inventory reference names (raises ``SecretError``), remembered by the scrubber."""
    if ref is None:
        return None
    from poshbridge.inventory.secrets import resolve as resolve_reference

    secret: Secret = resolve_reference(ref, ctx.base_dir)
    ctx.remember(secret)
    return secret


def desired_state(host: HostConfig, ctx: Context) -> Desired:
    from poshbridge.generate.renew_script import render_renew_script
    from poshbridge.generate.task_xml import task_xml_for_register
    from poshbridge.generate.web_config import challenge_web_config
    from poshbridge.inventory.secrets import SecretError

    kid: Secret | None = None
    hmac: Secret | None = None
    eab_error: str | None = None
    try:
        kid = resolve(host.acme.eab_kid, ctx)
        hmac = resolve(host.acme.eab_hmac, ctx)
    except SecretError as exc:  # only matters when an account must be created: the plan says so
        eab_error = f"EAB credentials not available: {exc}"
    try:
        pfx = resolve(host.acme.pfx_password, ctx)
    except SecretError as exc:  # the message names the reference, never a value
        raise RemoteConnectionError("config", host.name, f"acme.pfx_password: {exc}") from None
    return Desired(
        web_config=challenge_web_config(),
        script=render_renew_script(host, "hardened"),
        task_xml=task_xml_for_register(host, "hardened"),
        eab_kid=kid,
        eab_hmac=hmac,
        eab_error=eab_error,
        pfx_password=SecureSecret(pfx.reveal()) if pfx is not None else None,
    )
