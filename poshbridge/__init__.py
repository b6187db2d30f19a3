"""poshbridge: Posh-ACME on a Windows/IIS fleet, driven over PowerShell Remoting."""

__version__ = "0.1.0"
