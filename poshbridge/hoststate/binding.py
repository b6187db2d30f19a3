"""The one binding matcher: which IIS binding is the one poshbridge manages for a host.

Set-IISCertificate (Posh-ACME.Deploy Public/Set-IISCertificate.ps1, Process block) looks for its
binding with ``Get-IISSiteBinding -Name $SiteName -Protocol 'https' | Where-Object {
$_.bindingInformation -eq "$($IPAddress):$($Port):$($hh)" }``: the WHOLE binding information string,
compared with PowerShell's ``-eq`` (case-insensitive), nothing scored or guessed. When none matches it
creates exactly that binding. So a binding of the same port with another host header or IP address
is not "our binding with another certificate": it is another binding, and ours is missing. The
string form also keeps IPv6 addresses (``[::1]:443:``) whole.
"""

from __future__ import annotations

from collections.abc import Iterable

from poshbridge.poshacme.model import IISBinding


def binding_information(*, port: int, ip_address: str = "*", host_header: str = "") -> str:
    """``<IP>:<Port>:<HostHeader>`` as Set-IISCertificate builds it (defaults ``*`` and empty)."""
    return f"{ip_address or '*'}:{port}:{host_header or ''}"


def is_managed_binding(
    binding: IISBinding, *, port: int, ip_address: str = "*", host_header: str = ""
) -> bool:
    wanted = binding_information(port=port, ip_address=ip_address, host_header=host_header)
    return (binding.protocol or "").lower() == "https" and (
        (binding.binding_information or "").casefold() == wanted.casefold()
    )


def find_binding(
    bindings: Iterable[IISBinding], *, port: int, ip_address: str = "*", host_header: str = ""
) -> IISBinding | None:
    """The https binding Set-IISCertificate would update for these settings (None: it would create one)."""
    for binding in bindings:
        if is_managed_binding(binding, port=port, ip_address=ip_address, host_header=host_header):
            return binding
    return None
