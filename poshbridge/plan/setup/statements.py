"""The statements the steps send: Posh-ACME server/account/certificate, the IIS binding, the files
read for the OCSP request."""

from __future__ import annotations

from poshbridge.inventory.model import HostConfig
from poshbridge.plan.setup.facts import R_ALL_BINDINGS, R_BINDINGS, env_statement
from poshbridge.plan.setup.model import Desired, _stmt
from poshbridge.poshacme import calls
from poshbridge.poshacme.model import PACertificate
from poshbridge.powershell.command import Batch, Cmd, Secret, Statement


def _set_server(host: HostConfig) -> Cmd:
    return calls.set_pa_server(host.acme.directory, skip_certificate_check=host.acme.skip_certificate_check)


def _new_account(host: HostConfig, desired: Desired) -> Cmd:
    return calls.new_pa_account(
        eab_kid=desired.eab_kid if desired.eab_kid is not None else "",
        eab_hmac=desired.eab_hmac if desired.eab_hmac is not None else Secret(""),
        contacts=host.acme.contacts,
        key_length=host.acme.account_key_length,
    )


def _new_certificate(host: HostConfig, desired: Desired) -> Cmd:
    return calls.new_pa_certificate(
        host.domains,
        webroot=host.webroot,
        order_name=host.order_name,
        key_length=host.acme.cert_key_length,
        plugin=host.acme.plugin,
        pfx_password=desired.pfx_password,
    )


# ----- binding (after the certificate and the OCSP wait) -------------------------------------------------


def bind_statements(host: HostConfig, *, remove_old_cert: bool = False) -> tuple[Statement, ...]:
    """``Get-PACertificate -Name <order> | Set-IISCertificate ...``: the PFX password stays on the host."""
    iis = host.iis
    return (
        env_statement(host),
        _stmt(
            calls.get_pa_certificate(host.order_name),
            calls.set_iis_certificate(
                site=iis.site,
                port=iis.port,
                ip_address=iis.ip_address,
                host_header=iis.host_header,
                require_sni=iis.require_sni,
                remove_old_cert=remove_old_cert,
            ),
            label="bind:set",
        ),
        _stmt(calls.get_iis_site_bindings(iis.site), label=R_BINDINGS),
        _stmt(*calls.get_all_site_bindings(), label=R_ALL_BINDINGS),
    )


def cert_files_batch(host: HostConfig, cert: PACertificate) -> Batch:
    """Read the leaf and the chain (issuer first) for the OCSP request."""
    batch = Batch()
    if cert.cert_file:
        batch.add(calls.get_content_raw(cert.cert_file), label="file:cert")
    if cert.chain_file:
        batch.add(calls.get_content_raw(cert.chain_file), label="file:chain")
    return batch
