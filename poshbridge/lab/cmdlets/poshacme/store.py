"""Posh-ACME's config folder on the twin's disk: the config root, and reading and writing it.

:func:`import_config` picks the root the way Import-PAConfig does (``$env:POSHACME_HOME`` when that folder
exists, else Posh-ACME's warning and ``%LOCALAPPDATA%\\Posh-ACME``); :class:`Store` reads and writes the
servers, accounts and orders in Posh-ACME's layout through the lab's sandbox (``lab/sandbox.py``).
"""

from __future__ import annotations

import contextlib
import datetime
import json
from pathlib import Path
from typing import Any

from poshbridge.lab.cmdlets.core import mark_imported
from poshbridge.lab.engine.registry import Invocation, env_get
from poshbridge.lab.sandbox import PathRefused, confine

MODULE = "Posh-ACME"
ROOT_VAR = "__poshacme_root"


def _now(ctx: Invocation) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(ctx.host.clock(), datetime.timezone.utc)


def _utc_text(value: datetime.datetime) -> str:
    return value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(text: Any) -> datetime.datetime | None:
    if not text:
        return None
    raw = str(text).strip()
    try:
        value = datetime.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)


# ----- config root and files -----------------------------------------------------------------------
def import_config(ctx: Invocation, force: bool = False) -> str:
    """Import-PAConfig: pick the config root from $env:POSHACME_HOME (warning if it does not exist)."""
    if not force and ROOT_VAR in ctx.runspace.variables:
        return str(ctx.runspace.variables[ROOT_VAR])
    default = (
        env_get(ctx.runspace, "LOCALAPPDATA") or f"C:\\Users\\{ctx.runspace.user}\\AppData\\Local"
    ) + "\\Posh-ACME"
    root = default
    home = env_get(ctx.runspace, "POSHACME_HOME")
    if home:
        expanded = _expand_env(ctx, home)
        try:
            exists = confine(ctx.host, ctx.full_path(expanded)).is_dir()
        except PathRefused:
            exists = False
        if exists:
            root = ctx.full_path(expanded).rstrip("\\")
        else:
            ctx.warning(
                f"The POSHACME_HOME environment variable exists but the path it points to, {expanded}, does "
                "not. Using default config location."
            )
    if root == default:  # Import-PAConfig creates the default folder on first import
        with contextlib.suppress(PathRefused):
            confine(ctx.host, ctx.full_path(root)).mkdir(parents=True, exist_ok=True)
    ctx.runspace.variables[ROOT_VAR] = root
    return root


def _expand_env(ctx: Invocation, text: str) -> str:
    out = text
    for key, value in ctx.runspace.env.items():
        for variant in (f"%{key}%", f"%{key.upper()}%", f"%{key.lower()}%"):
            out = out.replace(variant, value)
    return out


def ensure_imported(ctx: Invocation) -> str:
    if mark_imported(ctx, MODULE) or ROOT_VAR not in ctx.runspace.variables:
        return import_config(ctx, force=True)
    return str(ctx.runspace.variables[ROOT_VAR])


class Store:
    """Reads and writes Posh-ACME's config folder through the sandbox."""

    def __init__(self, ctx: Invocation) -> None:
        self.ctx = ctx
        self.root = ensure_imported(ctx)

    def real(self, windows_path: str) -> Path:
        return confine(self.ctx.host, windows_path)

    def read_text(self, windows_path: str) -> str | None:
        path = self.real(windows_path)
        if not path.is_file():
            return None
        data = path.read_bytes()
        for bom, codec in ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le")):
            if data.startswith(bom):
                return data[len(bom) :].decode(codec).strip()
        return data.decode("utf-8", errors="replace").strip()

    def write_text(self, windows_path: str, text: str) -> None:
        path = self.real(windows_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("ascii", errors="replace") + b"\r\n")

    def read_json(self, windows_path: str) -> dict[str, Any] | None:
        text = self.read_text(windows_path)
        if text is None:
            return None
        try:
            value = json.loads(text)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    def write_json(self, windows_path: str, data: dict[str, Any]) -> None:
        """``ConvertTo-Json | Out-File -Encoding utf8`` in 5.1: UTF-8 with BOM, CRLF."""
        path = self.real(windows_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(data, indent=4).replace("\n", "\r\n")
        path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8") + b"\r\n")

    # ----- servers -------------------------------------------------------------------------------
    def servers(self) -> list[tuple[str, dict[str, Any]]]:
        root = self.real(self.root)
        found: list[tuple[str, dict[str, Any]]] = []
        if root.is_dir():
            for folder in sorted(root.iterdir(), key=lambda p: p.name.lower()):
                data = self.read_json(f"{self.root}\\{folder.name}\\dir.json") if folder.is_dir() else None
                if data is not None:
                    found.append((folder.name, data))
        return found

    def server_by_url(self, url: str) -> tuple[str, dict[str, Any]] | None:
        for name, data in self.servers():
            if str(data.get("location", "")).lower() == url.lower():
                return name, data
        return None

    def current_server(self) -> tuple[str, dict[str, Any]] | None:
        url = self.read_text(f"{self.root}\\current-server.txt")
        return self.server_by_url(url) if url else None

    def server_folder(self, name: str) -> str:
        return f"{self.root}\\{name}"

    # ----- accounts ------------------------------------------------------------------------------
    def accounts(self, server: str) -> list[dict[str, Any]]:
        folder = self.real(self.server_folder(server))
        found: list[dict[str, Any]] = []
        if folder.is_dir():
            for entry in sorted(folder.iterdir(), key=lambda p: p.name.lower()):
                data = (
                    self.read_json(f"{self.server_folder(server)}\\{entry.name}\\acct.json")
                    if entry.is_dir()
                    else None
                )
                if data is not None:
                    found.append({"id": entry.name, **data})
        return found

    def account(self, server: str, account_id: str) -> dict[str, Any] | None:
        for acct in self.accounts(server):
            if acct["id"].lower() == account_id.lower():
                return acct
        return None

    def current_account(self, server: str) -> dict[str, Any] | None:
        account_id = self.read_text(f"{self.server_folder(server)}\\current-account.txt")
        return self.account(server, account_id) if account_id else None

    def account_folder(self, server: str, account_id: str) -> str:
        return f"{self.server_folder(server)}\\{account_id}"

    def save_account(self, server: str, acct: dict[str, Any]) -> None:
        data = {k: v for k, v in acct.items() if k not in ("id", "Folder")}
        self.write_json(f"{self.account_folder(server, acct['id'])}\\acct.json", data)

    # ----- orders --------------------------------------------------------------------------------
    def orders(self, server: str, account_id: str) -> list[dict[str, Any]]:
        base = self.account_folder(server, account_id)
        folder = self.real(base)
        found: list[dict[str, Any]] = []
        if folder.is_dir():
            for entry in sorted(folder.iterdir(), key=lambda p: p.name.lower()):
                data = self.read_json(f"{base}\\{entry.name}\\order.json") if entry.is_dir() else None
                if data is not None:
                    found.append({"Name": entry.name, **data})
        return found

    def order(self, server: str, account_id: str, name: str) -> dict[str, Any] | None:
        for order in self.orders(server, account_id):
            if order["Name"].lower() == name.lower():
                return order
        return None

    def order_folder(self, server: str, account_id: str, name: str) -> str:
        return f"{self.account_folder(server, account_id)}\\{name}"

    def save_order(self, server: str, account_id: str, order: dict[str, Any]) -> None:
        data = {k: v for k, v in order.items() if k not in ("Name", "Folder", "PfxPass")}
        self.write_json(f"{self.order_folder(server, account_id, order['Name'])}\\order.json", data)


# ----- order lookups --------------------------------------------------------------------------------
def _find_orders(
    store: Store, server: str, account_id: str, main_domain: str | None, name: str | None
) -> list[dict[str, Any]]:
    orders = store.orders(server, account_id)
    if name:
        orders = [o for o in orders if o["Name"].lower() == name.lower()]
    if main_domain:
        orders = [o for o in orders if str(o.get("MainDomain", "")).lower() == main_domain.lower()]
    return orders


def current_order(store: Store, server: str, account_id: str) -> dict[str, Any] | None:
    name = store.read_text(f"{store.account_folder(server, account_id)}\\current-order.txt")
    return store.order(server, account_id, name) if name else None
