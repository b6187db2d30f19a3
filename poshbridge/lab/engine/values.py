"""psrpcore values -> plain Python, and PowerShell's loose conversions between them.

Parameters arrive as psrpcore types (``PSString`` is a ``str``, ``PSInt`` an ``int``, a hashtable a
``PSDict``, an array a ``PSList``, a SecureString a ``PSSecureString``); pipeline input may also be a
deserialized ``PSObject`` with properties. These helpers read them without caring which.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from psrpcore.types import PSObject, PSSecureString


class ConversionError(Exception):
    """A value that PowerShell could not convert (message completed by the binder)."""

    def __init__(self, message: str, *, no_message: bool = False) -> None:
        super().__init__(message)
        self.no_message = no_message  # 'Cannot convert value "x" to type "T". Error: "..."' form


def is_ps_object(value: Any) -> bool:
    """A PSObject that is not a primitive (str/int/... are PSObjects in psrpcore too)."""
    return isinstance(value, PSObject) and not isinstance(
        value, (str, int, float, bytes, list, dict, datetime.datetime, datetime.timedelta, PSSecureString)
    )


def ps_properties(value: Any) -> dict[str, Any]:
    """Properties of an object (extended over adapted, PowerShell's order) or a dict's entries."""
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}
    if is_ps_object(value):
        meta = value.PSObject
        props: dict[str, Any] = {}
        for prop in [*meta.adapted_properties, *meta.extended_properties]:
            try:
                props[prop.name] = prop.get_value(value)
            except Exception:  # noqa: S112 - a property without a value is simply absent
                continue
        return props
    return {}


def get_property(value: Any, name: str) -> tuple[bool, Any]:
    """(found, value) for a property looked up case-insensitively, like ``$obj.Name``."""
    for key, item in ps_properties(value).items():
        if key.lower() == name.lower():
            return True, item
    return False, None


def type_names(value: Any) -> list[str]:
    if is_ps_object(value):
        return [str(t) for t in value.PSObject.type_names]
    return []


def to_python(value: Any) -> Any:
    """Strip psrpcore wrappers: str/int/float/bool/bytes/datetime/list/dict; PSObjects/SecureStrings stay."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, PSSecureString):
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, bytes):
        return bytes(value)
    if isinstance(value, datetime.datetime):
        return datetime.datetime.fromtimestamp(value.timestamp(), value.tzinfo) if value.tzinfo else value
    if isinstance(value, Mapping):
        return {to_python(k): to_python(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_python(v) for v in value]
    return value


def ps_string(value: Any) -> str:
    """PowerShell's string conversion (``[string]$x``): $null -> '', $true -> 'True', arrays joined."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, PSSecureString):
        return "System.Security.SecureString"
    if isinstance(value, (list, tuple)):
        return " ".join(ps_string(v) for v in value)
    if isinstance(value, datetime.datetime):
        return value.strftime("%m/%d/%Y %H:%M:%S")
    if is_ps_object(value):
        text = value.PSObject.to_string
        if text:
            return str(text)
        names = type_names(value)
        return names[0] if names else ""
    return str(value)


def ps_type_name(value: Any) -> str:
    """The .NET type name PowerShell would print for ``value`` in conversion errors."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "System.Boolean"
    if isinstance(value, str):
        return "System.String"
    if isinstance(value, int):
        return "System.Int32"
    if isinstance(value, float):
        return "System.Double"
    if isinstance(value, PSSecureString):
        return "System.Security.SecureString"
    if isinstance(value, Mapping):
        return "System.Collections.Hashtable"
    if isinstance(value, (list, tuple)):
        return "System.Object[]"
    names = type_names(value)
    if names:
        return names[0].removeprefix("Deserialized.")
    return "System.Object"


def to_int(value: Any, type_name: str, low: int, high: int) -> int:
    raw = to_python(value)
    if isinstance(raw, list) and len(raw) == 1:
        raw = raw[0]
    if isinstance(raw, bool):
        return int(raw)
    if isinstance(raw, int):
        number = raw
    elif isinstance(raw, float):
        number = round(raw)
    elif isinstance(raw, str):
        text = raw.strip()
        try:
            number = int(text, 16) if text.lower().startswith("0x") else int(text)
        except ValueError:
            try:
                number = round(float(text))
            except ValueError:
                raise ConversionError(
                    f'Cannot convert value "{raw}" to type "{type_name}". '
                    'Error: "Input string was not in a correct format."',
                    no_message=True,
                ) from None
    else:
        raise ConversionError(
            f'Cannot convert the "{ps_string(raw)}" value of type "{ps_type_name(value)}" to type '
            f'"{type_name}".'
        )
    if not low <= number <= high:
        short = type_name.rsplit(".", 1)[-1]
        raise ConversionError(
            f'Cannot convert value "{raw}" to type "{type_name}". '
            f'Error: "Value was either too large or too small for a{"n" if short[0] in "AEIOU" else ""} '
            f'{short}."',
            no_message=True,
        )
    return number


def to_bool(value: Any) -> bool:
    """PowerShell's [bool] conversion (non-empty string is $true, 0 is $false)."""
    raw = to_python(value)
    if isinstance(raw, list):
        return len(raw) > 0 and (len(raw) > 1 or to_bool(raw[0]))
    if isinstance(raw, str):
        return raw != ""
    return bool(raw)


def to_str_list(value: Any) -> list[str]:
    raw = to_python(value)
    if raw is None:
        return []
    if isinstance(raw, list):
        return [ps_string(v) for v in raw]
    return [ps_string(raw)]


def to_hashtable(value: Any) -> dict[str, Any]:
    raw = to_python(value)
    if isinstance(raw, dict):
        return {str(k): v for k, v in raw.items()}
    raise ConversionError(
        f'Cannot convert the "{ps_string(raw)}" value of type "{ps_type_name(value)}" to type '
        '"System.Collections.Hashtable".'
    )


def secure_text(value: Any) -> str:
    """Clear text of a SecureString (only ever used inside the lab)."""
    if isinstance(value, PSSecureString):
        return str(value.decrypt())
    return str(value)


def hashtable_get(table: Mapping[str, Any], key: str, default: Any = None) -> Any:
    """Hashtables are case-insensitive in PowerShell."""
    for k, v in table.items():
        if str(k).lower() == key.lower():
            return v
    return default
