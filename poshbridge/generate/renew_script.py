r"""The renewal script a host's scheduled task runs (the JPRS manual's section 4.3, per host).

Two styles:

- ``manual``: the manual's script with this host's domain, site, port and wait, and an absolute
  transcript path ``<log_dir>\acme_log.txt`` (a SYSTEM task starts in ``C:\Windows\System32``).
- ``hardened`` (default): ``POSHACME_HOME`` set before Posh-ACME is imported, one dated transcript
  and one JSON result file per run, retention, try/catch/finally, ``-ErrorAction Stop`` on
  ``Set-IISCertificate``, the ACME problem's type/status/detail recorded (AcmeException.Data is a
  PSCustomObject: read as properties; an IDictionary as a dictionary; catch/finally cannot throw),
  ``Set-PAOrder -Name`` (not ``-MainDomain``), a rebind when not due and the IIS binding holds another
  certificate (outcome ``rebound``), ``-RemoveOldCert`` (``iis.remove_old_cert``) passed only when no
other binding of any site (``Get-IISSite | Get-IISSiteBinding``) holds the certificate being replaced
(Posh-ACME.Deploy Private/Remove-OldCert.ps1 deletes it unconditionally), exit 1 on failure.

Templates are ``ps_scripts/renew-<style>.ps1.tmpl`` with ``<%NAME%>`` placeholders (``<`` is a
reserved operator in PowerShell, so ``<%`` never occurs in a valid script). Every value becomes a
single-quoted literal by :func:`poshbridge.powershell.quoting.ps_single_quote` or a checked integer.
"""

from __future__ import annotations

import codecs
import re
from typing import TYPE_CHECKING, Literal

from poshbridge.generate import read_resource
from poshbridge.powershell.quoting import ps_single_quote, ps_single_unquote

if TYPE_CHECKING:
    from poshbridge.inventory.model import HostConfig

Style = Literal["hardened", "manual"]
STYLES: tuple[Style, ...] = ("hardened", "manual")
DEFAULT_STYLE: Style = "hardened"
FIRST_LINE = "# poshbridge-renewal-script style={style} version=1"
MANUAL_TRANSCRIPT_NAME = "acme_log.txt"

# The header block of the hardened script, in order (the renewal script contract).
SETTINGS = (
    "PoshbridgeHost",
    "OrderName",
    "MainDomain",
    "SiteName",
    "Port",
    "IPAddress",
    "HostHeader",
    "LogDir",
    "PoshAcmeHome",
    "WaitSeconds",
    "RetentionDays",
    "RemoveOldCert",
)

_PLACEHOLDER = re.compile(r"<%([A-Z_]+)%>")
_SETTING_LINE = re.compile(r"^\$(?P<name>[A-Za-z]+) = (?P<value>'.*'|\d+)$")
_LINE_BREAKS = frozenset("\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


def _text(value: str, what: str) -> str:
    """A single-quoted literal. Line breaks are refused: each setting is one line of the script."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string, not {type(value).__name__}")
    if any(ch in _LINE_BREAKS for ch in value):
        raise ValueError(f"{what} contains a line break; it cannot be written into the renewal script")
    return ps_single_quote(value)


def _integer(value: int, what: str, low: int, high: int) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an integer, not {type(value).__name__}")
    if not low <= value <= high:
        raise ValueError(f"{what} must be in {low}..{high} (got {value})")
    return str(value)


def join_windows_path(folder: str, name: str) -> str:
    return folder.rstrip("\\") + "\\" + name


def manual_transcript_path(host: HostConfig) -> str:
    return join_windows_path(host.renewal.log_dir, MANUAL_TRANSCRIPT_NAME)


def _fill(template: str, values: dict[str, str]) -> str:
    used: set[str] = set()

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise KeyError(f"template placeholder <%{name}%> has no value")
        used.add(name)
        return values[name]

    # One pass: substituted values are never scanned again, so a value may contain "<%X%>".
    text = _PLACEHOLDER.sub(replace, template)
    unused = set(values) - used
    if unused:
        raise KeyError(f"values without a placeholder in the template: {', '.join(sorted(unused))}")
    return text


def _check_style(style: str) -> Style:
    if style not in STYLES:
        raise ValueError(f"unknown renewal script style {style!r}; expected one of {', '.join(STYLES)}")
    return style


def render_renew_script(host: HostConfig, style: str = DEFAULT_STYLE) -> str:
    """The renewal script for ``host`` (LF line ends; see :func:`renew_script_file_bytes`)."""
    checked = _check_style(style)
    wait = _integer(host.renewal.wait_after_renewal, "renewal.wait_after_renewal", 0, 86400)
    port = _integer(host.iis.port, "iis.port", 1, 65535)
    main_domain = _text(host.main_domain, "domains[0]")
    site = _text(host.iis.site, "iis.site")
    if checked == "manual":
        values = {
            "TRANSCRIPT_PATH": _text(manual_transcript_path(host), "renewal.log_dir"),
            "MAIN_DOMAIN": main_domain,
            "WAIT_SECONDS": wait,
            "SITE_NAME": site,
            "PORT": port,
        }
    else:
        switches = ""
        if host.iis.require_sni:
            switches += " -RequireSNI"
        values = {
            "HOST": _text(host.name, "host name"),
            "ORDER_NAME": _text(host.order_name, "order name"),
            "MAIN_DOMAIN": main_domain,
            "SITE_NAME": site,
            "PORT": port,
            "IP_ADDRESS": _text(host.iis.ip_address, "iis.ip_address"),
            "HOST_HEADER": _text(host.iis.host_header, "iis.host_header"),
            "LOG_DIR": _text(host.renewal.log_dir, "renewal.log_dir"),
            "POSHACME_HOME": _text(host.acme.poshacme_home, "acme.poshacme_home"),
            "WAIT_SECONDS": wait,
            "RETENTION_DAYS": _integer(
                host.renewal.log_retention_days, "renewal.log_retention_days", 1, 36500
            ),
            "IIS_SWITCHES": switches,
            # 1: -RemoveOldCert, passed only when no other binding uses the replaced certificate
            "REMOVE_OLD_CERT": "1" if host.iis.remove_old_cert else "0",
        }
    return _fill(read_resource(f"renew-{checked}.ps1.tmpl"), values)


def renew_script_file_bytes(host: HostConfig, style: str = DEFAULT_STYLE) -> bytes:
    """The file form: UTF-8 with BOM (Windows PowerShell 5.1 reads a BOM-less script as ANSI), CRLF."""
    text = render_renew_script(host, style)
    return codecs.BOM_UTF8 + text.replace("\n", "\r\n").encode("utf-8")


def script_style(text: str) -> str | None:
    """The style named on the first line of a generated script, or None if it is not one of ours."""
    first = text.lstrip("\ufeff").split("\n", 1)[0].rstrip("\r")
    match = re.fullmatch(r"# poshbridge-renewal-script style=(\w+) version=1", first)
    return match.group(1) if match else None


def read_settings(text: str) -> dict[str, str | int]:
    """The settings block of a hardened script, values decoded (for tests and auditing a host)."""
    settings: dict[str, str | int] = {}
    for line in text.lstrip("\ufeff").splitlines():
        match = _SETTING_LINE.match(line)
        if match and match["name"] in SETTINGS and match["name"] not in settings:
            raw = match["value"]
            settings[match["name"]] = int(raw) if raw.isdigit() else ps_single_unquote(raw)
        if line.startswith("# End of settings."):
            break
    return settings
