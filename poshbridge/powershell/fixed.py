"""The only PowerShell statements poshbridge sends as script text: fixed constants, no values in them.

Everything else is a :class:`~poshbridge.powershell.command.Cmd` (cmdlet + parameters). A statement
here exists because no cmdlet can do the same: setting a static .NET property.
"""

from __future__ import annotations

# Windows PowerShell 5.1 runs on .NET Framework 4.x, whose ServicePointManager offers only SSL 3 and
# TLS 1.0 unless SchUseStrongCrypto is set machine-wide; the PowerShell Gallery and the NuGet provider
# download need TLS 1.2 (MicrosoftDocs/PowerShell-Docs#6083). This adds TLS 1.2 for this session only.
ENABLE_TLS12 = (
    "[Net.ServicePointManager]::SecurityProtocol = "
    "[Net.ServicePointManager]::SecurityProtocol -bor [Net.SecurityProtocolType]::Tls12"
)

FIXED_SCRIPTS = frozenset({ENABLE_TLS12})
