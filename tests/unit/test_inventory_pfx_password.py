"""acme.pfx_password (issue 8 item 5): an optional secret reference like the EAB ones."""

from __future__ import annotations

from poshbridge.inventory.load import inventory_from_text
from poshbridge.inventory.model import SecretRef

INVENTORY = """\
defaults:
  winrm: {{username: 'CONTOSO\\certadmin', password: {{env: PW}}}}
  acme: {{contacts: [admin@example.jp], pfx_password: {pfx}}}
hosts:
  host01: {{address: web01.example.jp, domains: [example.jp], webroot: 'C:\\inetpub\\wwwroot'}}
"""


def test_pfx_password_is_a_secret_reference() -> None:
    inv = inventory_from_text(INVENTORY.format(pfx="{env: PFX_PW}"))
    assert inv.problems == ()
    assert inv.hosts["host01"].acme.pfx_password == SecretRef("env", "PFX_PW")
    assert inventory_from_text(INVENTORY.format(pfx="null")).hosts["host01"].acme.pfx_password is None


def test_a_bad_pfx_password_reference_is_located_and_never_echoed() -> None:
    inv = inventory_from_text(INVENTORY.format(pfx="{vault: Sentinel-Pfx-7}"))
    (problem,) = [p for p in inv.problems if "pfx_password" in str(p)]
    assert problem.severity == "error" and "defaults.acme.pfx_password" in str(problem)
    assert "Sentinel-Pfx-7" not in str(problem)
    literal = inventory_from_text(INVENTORY.format(pfx="Sentinel-Pfx-8"))
    assert any(p.severity == "warning" and "pfx_password" in str(p) for p in literal.problems)
    assert all("Sentinel-Pfx-8" not in str(p) for p in literal.problems)
