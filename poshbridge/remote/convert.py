"""pypsrp's deserialized values (CLIXML objects, error records) -> plain data.

Complex objects become dicts (adapted + extended properties, plus ``"_types"`` = the PSTypeNames);
SecureString values are dropped (:data:`DROPPED`), never returned; so are the Posh-ACME account's
private ``key``/``sskey`` and any ``PfxPass``. An error record becomes a :class:`RemoteError`.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

# Properties never returned, whatever object carries them (secrets and private keys).
DROPPED_PROPERTIES = frozenset({"pfxpass", "pfxpassb64u", "sskey", "vaultguid"})
ACCOUNT_TYPES = frozenset({"poshacme.paaccount"})
ACCOUNT_DROPPED = frozenset({"key"})


class _Dropped:
    """Stands for a value that must not leave the session (a SecureString)."""

    def __repr__(self) -> str:
        return "<dropped>"


DROPPED = _Dropped()


@dataclass
class RemoteError:
    """One PowerShell error record, as plain data."""

    message: str
    fq_error_id: str | None = None
    category: str | None = None
    command: str | None = None
    exception_data: dict[str, Any] | None = None
    terminating: bool = False
    statement: int | None = None  # index in the batch of the statement that wrote it
    exception_type: str | None = None
    target: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "message": self.message,
            "fq_error_id": self.fq_error_id,
            "category": self.category,
            "command": self.command,
            "exception_data": self.exception_data,
            "terminating": self.terminating,
            "statement": self.statement,
            "exception_type": self.exception_type,
        }

    def __str__(self) -> str:
        return f"{self.command}: {self.message}" if self.command else self.message


def to_plain(value: Any, depth: int = 0) -> Any:
    """pypsrp values → plain Python data (dict/list/str/int/...). SecureStrings → :data:`DROPPED`."""
    from pypsrp.complex_objects import ComplexObject, GenericComplexObject

    if value is DROPPED or isinstance(value, ET.Element):
        return DROPPED
    if value is None or isinstance(value, (str, bool, int, float, bytes)):
        return value
    if isinstance(value, uuid.UUID):
        return str(value)
    if depth > 12:
        return str(value)
    if isinstance(value, GenericComplexObject):
        types = [str(t) for t in value.types]
        props: dict[str, Any] = {}
        for source in (value.adapted_properties, value.extended_properties):
            for key, raw in source.items():
                props[str(key)] = raw
        # Windows serializes a PSObject that wraps a .NET object as an outer <Obj> (<MS>: PSPath, ...)
        # around the base object (<Props>: its own properties); pypsrp keeps the inner one in
        # property_sets (Get-Item WSMan:\...\AllowUnencrypted: Value, Name; pypsrp's recording
        # test_psrp_with_jea_configuration). The base object's properties belong to the value.
        for inner in value.property_sets if props else ():
            if isinstance(inner, GenericComplexObject):
                for source in (inner.adapted_properties, inner.extended_properties):
                    for key, raw in source.items():
                        props.setdefault(str(key), raw)
        if not props:
            if value.to_string is not None:
                return str(value.to_string)
            if len(value.property_sets) == 1:
                return to_plain(value.property_sets[0], depth + 1)
        lowered_types = {t.lower().removeprefix("deserialized.") for t in types}
        out: dict[str, Any] = {}
        for key, raw in props.items():
            low = key.lower()
            if low in DROPPED_PROPERTIES or (lowered_types & ACCOUNT_TYPES and low in ACCOUNT_DROPPED):
                continue
            plain = to_plain(raw, depth + 1)
            if plain is DROPPED:
                continue
            out[key] = plain
        if value.to_string is not None and "_string" not in out:
            out["_string"] = str(value.to_string)
        out["_types"] = types
        return out
    if isinstance(value, Mapping):
        result: dict[str, Any] = {}
        for key, raw in value.items():
            plain = to_plain(raw, depth + 1)
            if plain is not DROPPED and str(key).lower() not in DROPPED_PROPERTIES:
                result[str(key)] = plain
        return result
    if isinstance(value, (list, tuple, set)):
        return [p for p in (to_plain(v, depth + 1) for v in value) if p is not DROPPED]
    if isinstance(value, ComplexObject):
        return str(value)
    return str(value)


def _exception_data(exception: Any) -> tuple[dict[str, Any] | None, str | None]:
    plain = to_plain(exception)
    if not isinstance(plain, dict):
        return None, None
    data = None
    for key, raw in plain.items():
        if key.lower() == "data" and isinstance(raw, dict):
            data = {k: v for k, v in raw.items() if not k.startswith("_")} or None
    types = plain.get("_types") or []
    exc_type = str(types[0]).removeprefix("Deserialized.") if types else None
    return data, exc_type


def convert_error(record: Any, *, terminating: bool, statement: int | None) -> RemoteError:
    message = _first_text(
        getattr(record, "details_message", None),
        _exception_message(getattr(record, "exception", None)),
        str(record),
        getattr(record, "message", None),
    )
    data, exc_type = _exception_data(getattr(record, "exception", None))
    command = _first_text(getattr(record, "invocation_name", None), getattr(record, "activity", None))
    if not command:
        info = to_plain(getattr(record, "invocation_info", None))
        if isinstance(info, dict):
            my = info.get("MyCommand")
            command = _first_text(info.get("InvocationName"), my if isinstance(my, str) else None)
    category = getattr(record, "category", None)
    reason = getattr(record, "reason", None)
    return RemoteError(
        message=message or "(no message)",
        fq_error_id=_first_text(getattr(record, "fq_error", None)),
        category=f"{_CATEGORIES.get(category, category)}" + (f" ({reason})" if reason else "")
        if category is not None
        else reason,
        command=command,
        exception_data=data,
        terminating=terminating,
        statement=statement,
        exception_type=exc_type,
        target=_first_text(getattr(record, "target_name", None)),
    )


def scrub_error(error: RemoteError, scrub: Callable[[str], str]) -> RemoteError:
    """Scrub every string of ``error`` in place (message, ids, target, command, exception data)."""
    for name in ("message", "fq_error_id", "category", "command", "exception_type", "target"):
        value = getattr(error, name)
        if isinstance(value, str):
            setattr(error, name, scrub(value))
    if error.exception_data is not None:
        error.exception_data = scrub_value(error.exception_data, scrub)
    return error


def scrub_value(value: Any, scrub: Callable[[str], str]) -> Any:
    """``value`` with every string in it (keys too) scrubbed, recursively."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, Mapping):
        return {scrub_value(k, scrub): scrub_value(v, scrub) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub_value(v, scrub) for v in value]
    return value


def _exception_message(exception: Any) -> str | None:
    plain = to_plain(exception)
    if isinstance(plain, dict):
        for key, raw in plain.items():
            if key.lower() == "message" and isinstance(raw, str):
                return raw
        text = plain.get("_string")
        return str(text) if text else None
    return str(plain) if plain not in (None, DROPPED) else None


def _first_text(*values: Any) -> str | None:
    for value in values:
        if isinstance(value, str) and value.strip():
            return value
    return None


_CATEGORIES = {
    0: "NotSpecified", 1: "OpenError", 2: "CloseError", 3: "DeviceError", 4: "DeadlockDetected",
    5: "InvalidArgument", 6: "InvalidData", 7: "InvalidOperation", 8: "InvalidResult", 9: "InvalidType",
    10: "MetadataError", 11: "NotImplemented", 12: "NotInstalled", 13: "ObjectNotFound",
    14: "OperationStopped", 15: "OperationTimeout", 16: "SyntaxError", 17: "ParserError",
    18: "PermissionDenied", 19: "ResourceBusy", 20: "ResourceExists", 21: "ResourceUnavailable",
    22: "ReadError", 23: "WriteError", 24: "FromStdErr", 25: "SecurityError", 26: "ProtocolError",
    27: "ConnectionError", 28: "AuthenticationError", 29: "LimitsExceeded", 30: "QuotaExceeded",
    31: "NotEnabled",
}  # fmt: skip


def _record_text(record: Any) -> str:
    for attr in ("message", "message_data"):
        value = getattr(record, attr, None)
        if value is not None:
            plain = to_plain(value)
            if isinstance(plain, dict):
                return str(plain.get("_string") or plain.get("MessageData") or "")
            return str(plain)
    return str(record)
