"""One exception root: every exception class poshbridge defines (outside the lab) is a PoshbridgeError."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import yaml

import poshbridge
from poshbridge.errors import ConfigurationError, HostError, LocalFileError, PoshbridgeError
from poshbridge.inventory.files import FileRefused
from poshbridge.inventory.load import InventoryError, YamlTagError, YamlValueError
from poshbridge.inventory.secrets import SecretError
from poshbridge.inventory.targets import TargetError
from poshbridge.remote.clixml_guard import UnreadableMessage
from poshbridge.remote.control import HostTimeout, Interrupted
from poshbridge.remote.session import InsecureConfigError, RemoteConnectionError, RemoteInterrupted

PACKAGE = Path(poshbridge.__file__).parent


def product_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages([str(PACKAGE)], prefix="poshbridge."):
        if info.name == "poshbridge.lab" or info.name.startswith("poshbridge.lab."):
            continue
        if info.name.endswith(".__main__"):  # importing it runs the command line
            continue
        names.append(info.name)
    return names


def test_every_exception_class_derives_from_poshbridge_error() -> None:
    found: list[type[BaseException]] = []
    outside: list[str] = []
    for name in product_modules():
        module = importlib.import_module(name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == name and issubclass(cls, BaseException):
                found.append(cls)
                if not issubclass(cls, PoshbridgeError):
                    outside.append(f"{name}.{cls.__qualname__}")
    assert outside == []
    assert len(found) >= 14  # the walk saw the classes (it cannot pass by seeing none)


def test_no_exception_class_hides_inside_a_function() -> None:
    """The import walk sees module-level classes only; a class statement nested in a function or
    method that subclasses something named like an exception is reported here."""
    nested: list[str] = []
    for path in PACKAGE.rglob("*.py"):
        if "lab" in path.relative_to(PACKAGE).parts[:1]:
            continue
        tree = ast.parse(path.read_text("utf-8"))
        for outer in ast.walk(tree):
            if not isinstance(outer, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(outer):
                if isinstance(node, ast.ClassDef):
                    bases = [ast.unparse(b) for b in node.bases]
                    if any(b.endswith(("Error", "Exception", "Interrupt", "Exit", "Refused")) for b in bases):
                        nested.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}")
    assert nested == []


def test_families_and_the_old_roots_still_catch() -> None:
    for cls in (InventoryError, YamlTagError, YamlValueError, SecretError, TargetError, InsecureConfigError):
        assert issubclass(cls, ConfigurationError)
    for cls in (RemoteConnectionError, RemoteInterrupted, Interrupted, HostTimeout, UnreadableMessage):
        assert issubclass(cls, HostError)
    assert issubclass(FileRefused, LocalFileError)
    # the roots they had keep catching them: except sites written against them keep working
    assert issubclass(FileRefused, OSError)
    assert issubclass(InsecureConfigError, ValueError)
    assert issubclass(YamlTagError, yaml.YAMLError) and issubclass(YamlValueError, yaml.YAMLError)
    assert issubclass(RemoteInterrupted, RemoteConnectionError)


def test_one_except_catches_what_poshbridge_raises() -> None:
    from poshbridge.inventory.model import Inventory
    from poshbridge.inventory.targets import select_hosts

    try:
        select_hosts(Inventory(hosts={}, groups={}, source="fleet.yaml"), ["nosuchhost"])
    except PoshbridgeError as exc:
        assert isinstance(exc, TargetError) and "nosuchhost" in str(exc)
    else:
        raise AssertionError("an unknown target was accepted")
