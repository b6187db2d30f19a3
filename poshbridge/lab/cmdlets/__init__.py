"""The emulated cmdlets; importing this package registers all of them (see ``lab.engine.registry``)."""

from poshbridge.lab.cmdlets import core, deploy, eventlog, files, iis, packages, poshacme, security, tasks

__all__ = ["core", "deploy", "eventlog", "files", "iis", "packages", "poshacme", "security", "tasks"]
