"""The emulated cmdlets; importing this package registers all of them (see ``lab.engine.registry``)."""

from poshbridge.lab.cmdlets import (
    content,
    core,
    deploy,
    eventlog,
    files,
    iis,
    packages,
    poshacme,
    security,
    tasks,
)

__all__ = [
    "content",
    "core",
    "deploy",
    "eventlog",
    "files",
    "iis",
    "packages",
    "poshacme",
    "security",
    "tasks",
]
