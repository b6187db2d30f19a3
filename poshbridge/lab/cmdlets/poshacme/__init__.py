"""Posh-ACME 4.32.0, emulated: the cmdlets, their messages, and the config folder on the twin's disk.

State lives where Posh-ACME keeps it (docs/reference/posh-acme.md §3), inside the twin's C:\\ sandbox::

    <root>\\current-server.txt
    <root>\\<server>\\dir.json, current-account.txt
    <root>\\<server>\\<acct>\\acct.json, current-order.txt
    <root>\\<server>\\<acct>\\<order>\\order.json, pluginargs.json, cert.key, request.csr, cert.cer,
                                     chain0.cer, chain.cer, fullchain.cer, cert.pfx, fullchain.pfx, *.bak

``<root>`` is read at the module's first use in a runspace pool (or ``Import-Module -Force``):
``$env:POSHACME_HOME`` when that folder exists, else (with Posh-ACME's warning) ``%LOCALAPPDATA%\\Posh-ACME``.
The lab's time zone is UTC: dates shown as local time are UTC. ACME goes to Pebble through
:mod:`poshbridge.lab.acme_client`; ACME problems surface like Posh-ACME's ``AcmeException`` (message
= detail; type/status/detail in Exception.Data).

The package is split along its concerns: ``store.py`` (the config root and folder), ``objects.py``
(the PoshACME.* objects), ``acme.py`` (session, problems, servers, accounts, refresh, revocation),
``issuance.py`` (New-PACertificate's flow), and the registered cmdlets: ``cmdlets.py`` (servers,
accounts, orders) and ``certificates.py`` (issue, renew, get, revoke, authorizations). Importing the
package registers them.
"""

from poshbridge.lab.cmdlets.poshacme import certificates, cmdlets
from poshbridge.lab.cmdlets.poshacme.store import MODULE, Store, ensure_imported, import_config

__all__ = ["MODULE", "Store", "certificates", "cmdlets", "ensure_imported", "import_config"]
