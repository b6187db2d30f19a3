"""Generators: the renewal script, the Task Scheduler XML and the challenge web.config (pure text).

Templates and the web.config live in ``ps_scripts/`` (installed as the package
``poshbridge.ps_scripts``); :func:`read_resource` reads them in both layouts.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

# In a source checkout the folder is <repo>/ps_scripts; pyproject maps it to poshbridge.ps_scripts only
# when the project is installed.
SOURCE_RESOURCE_DIR = Path(__file__).resolve().parents[2] / "ps_scripts"


@cache
def read_resource(name: str) -> str:
    """The text of ``ps_scripts/<name>`` (UTF-8), installed or from the source tree."""
    import importlib.resources  # here: a command that reads no template does not load it

    try:
        resource = importlib.resources.files("poshbridge.ps_scripts").joinpath(name)
        if resource.is_file():
            return resource.read_text(encoding="utf-8")
    except ModuleNotFoundError:
        pass
    return (SOURCE_RESOURCE_DIR / name).read_text(encoding="utf-8")
