"""The PoshACME.* objects the cmdlets output (PAServer, PAAccount, PAOrder, PACertificate), built from
the config folder as Posh-ACME's ConvertTo-* / Get-PACertificate build them.
"""

from __future__ import annotations

from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from poshbridge.lab.acme_client import b64url, decode_base64url
from poshbridge.lab.cmdlets.poshacme.store import Store
from poshbridge.lab.engine.objects import PA_ACCOUNT, PA_ORDER, PA_SERVER, pa_certificate, pa_object


def _server_object(store: Store, name: str, data: dict[str, Any]) -> Any:
    fields = [("location", data.get("location")), ("Name", name), ("Folder", store.server_folder(name))]
    fields += [(k, v) for k, v in data.items() if k != "location"]
    return pa_object(PA_SERVER, dict(fields))


def _account_object(store: Store, server: str, acct: dict[str, Any]) -> Any:
    data = dict(acct)
    data["Folder"] = store.account_folder(server, acct["id"])
    return pa_object(PA_ACCOUNT, data)


def _order_object(store: Store, server: str, account_id: str, order: dict[str, Any]) -> Any:
    data = {k: v for k, v in order.items() if k not in ("Name", "PfxPassB64U")}
    pfx = order.get("PfxPassB64U")
    data_with_pass: dict[str, Any] = {}
    for key, value in data.items():
        data_with_pass[key] = value
        if key == "FriendlyName":
            data_with_pass["PfxPass"] = _pfx_pass(order) if pfx is not None else "poshacme"
    data_with_pass["Name"] = order["Name"]
    data_with_pass["Folder"] = store.order_folder(server, account_id, order["Name"])
    return pa_object(PA_ORDER, data_with_pass)


def _pfx_pass(order: dict[str, Any]) -> str:
    b64 = order.get("PfxPassB64U")
    if b64 is None:
        return str(order.get("PfxPass") or "poshacme")
    return decode_base64url(str(b64)).decode("utf-8") if b64 else ""


def certificate_object(store: Store, server: str, account_id: str, order: dict[str, Any]) -> Any | None:
    folder = store.order_folder(server, account_id, order["Name"])
    cert_path = store.real(folder + "\\cert.cer")
    if not cert_path.is_file():
        return None
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    thumbprint = cert.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 - the Windows thumbprint
    try:
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    except x509.ExtensionNotFound:
        aki = None
    serial = cert.serial_number
    serial_bytes = serial.to_bytes((serial.bit_length() + 8) // 8, "big", signed=True)
    ari_id = f"{b64url(aki)}.{b64url(serial_bytes)}" if aki else None
    if ari_id is None:
        store.ctx.warning("Unable to determine ARIId for certificate.")
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        all_sans = [str(n) for n in sans.get_values_for_type(x509.DNSName)]
        all_sans += [str(n) for n in sans.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        all_sans = []
    csr_path = store.real(folder + "\\request.csr")
    csr = None
    if csr_path.is_file():
        csr = b64url(x509.load_pem_x509_csr(csr_path.read_bytes()).public_bytes(serialization.Encoding.DER))
    subject = ", ".join(attribute.rfc4514_string() for attribute in cert.subject)
    return pa_certificate(
        subject=subject,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        key_length=str(order.get("KeyLength") or "2048"),
        thumbprint=thumbprint,
        ari_id=ari_id,
        serial=str(serial),
        all_sans=all_sans,
        folder=folder,
        csr=csr,
        pfx_pass=_pfx_pass(order),
    )
