"""Parameter binding the way PowerShell does it, with PowerShell's error texts.

Order: named arguments (case-insensitive, unambiguous prefixes, aliases) -> positional arguments
(by Position among the parameters of the possible parameter sets) -> pipeline input per object
(ValueFromPipeline, then ValueFromPipelineByPropertyName) -> mandatory check.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from psrpcore.types import PSSecureString

from poshbridge.lab.engine.contract import LabErrorRecord
from poshbridge.lab.engine.registry import CmdletInfo, Flags, Param
from poshbridge.lab.engine.values import (
    ConversionError,
    get_property,
    is_ps_object,
    ps_string,
    ps_type_name,
    to_bool,
    to_hashtable,
    to_int,
    to_python,
    to_str_list,
)

_BINDING_EXCEPTION = "System.Management.Automation.ParameterBindingException"
_COMMON = {
    "verbose",
    "debug",
    "erroraction",
    "warningaction",
    "informationaction",
    "errorvariable",
    "warningvariable",
    "informationvariable",
    "outvariable",
    "outbuffer",
    "pipelinevariable",
    "whatif",
    "confirm",
}


class BindingError(Exception):
    def __init__(self, record: LabErrorRecord) -> None:
        super().__init__(record.message)
        self.record = record


def _fail(
    info: CmdletInfo,
    message: str,
    error_id: str,
    category: str = "InvalidArgument",
    target: Any = None,
    exception_type: str = _BINDING_EXCEPTION,
) -> BindingError:
    return BindingError(
        LabErrorRecord(
            message=message,
            fully_qualified_error_id=f"{error_id},{info.fqid_suffix}",
            category=category,
            exception_type=exception_type,
            command_name=info.name,
            target_object=target,
        )
    )


@dataclass
class Bound:
    """The result of binding the command line (before pipeline input)."""

    args: dict[str, Any] = field(default_factory=dict)  # canonical parameter name -> value
    flags: Flags = field(default_factory=Flags)
    candidate_sets: set[str] | None = None  # None: the cmdlet has no parameter sets


def find_param(info: CmdletInfo, given: str) -> Param:
    """Exact name/alias first, then a unique prefix, like PowerShell."""
    text = given.lstrip("-")
    lowered = text.lower()
    params = info.all_params()
    for p in params:
        if any(n.lower() == lowered for n in p.names()):
            return p
    matches = [p for p in params if any(n.lower().startswith(lowered) for n in p.names())]
    if len(matches) == 1 and lowered:
        return matches[0]
    if len(matches) > 1:
        listed = " ".join(f"-{p.name}" for p in matches)
        raise _fail(
            info,
            f"Parameter cannot be processed because the parameter name '{text}' is ambiguous. "
            f"Possible matches include: {listed}.",
            "AmbiguousParameter",
            target=text,
        )
    raise _fail(
        info,
        f"A parameter cannot be found that matches parameter name '{text}'.",
        "NamedParameterNotFound",
        target=text,
    )


def convert(info: CmdletInfo, param: Param, value: Any) -> Any:
    """Convert an argument to the parameter's type, raising BindingError in PowerShell's words."""
    kind = param.type
    if value is None:
        if param.is_switch:
            return True
        if param.mandatory and not param.allow_empty:
            raise _fail(
                info,
                f"Cannot bind argument to parameter '{param.name}' because it is null.",
                "ParameterArgumentValidationErrorNullNotAllowed",
                "InvalidData",
            )
        return None
    try:
        if kind in ("switch", "bool"):
            result: Any = to_bool(value)
        elif kind == "string":
            raw = to_python(value)
            result = ps_string(raw)
        elif kind == "string[]":
            result = to_str_list(value)
        elif kind == "int":
            result = to_int(value, "System.Int32", -(2**31), 2**31 - 1)
        elif kind == "uint":
            result = to_int(value, "System.UInt32", 0, 2**32 - 1)
        elif kind == "hashtable":
            result = to_hashtable(value)
        elif kind == "securestring":
            if not isinstance(value, PSSecureString):
                raise ConversionError(
                    f'Cannot convert the "{ps_string(to_python(value))}" value of type '
                    f'"{ps_type_name(value)}" to type "System.Security.SecureString".'
                )
            result = value
        elif kind == "datetime":
            result = _to_datetime(value)
        elif kind == "object[]":
            raw = to_python(value)
            result = raw if isinstance(raw, list) else [raw]
        elif kind == "psobject" or kind == "object":
            result = value if is_ps_object(value) else to_python(value)
        elif kind.startswith("enum:"):
            result = _to_enum(param, value)
        else:
            result = to_python(value)
    except ConversionError as exc:
        raise _fail(
            info,
            f"Cannot bind parameter '{param.name}'. {exc}",
            "CannotConvertArgumentNoMessage" if exc.no_message else "CannotConvertArgument",
            target=ps_string(to_python(value)) if not isinstance(value, PSSecureString) else None,
        ) from None
    if param.choices and not kind.startswith("enum:") and result is not None:
        values = result if isinstance(result, list) else [result]
        for item in values:
            if str(item).lower() not in {c.lower() for c in param.choices}:
                raise _fail(
                    info,
                    f"Cannot validate argument on parameter '{param.name}'. The argument \"{item}\" does not "
                    f'belong to the set "{",".join(param.choices)}" specified by the ValidateSet attribute. '
                    "Supply an argument that is in the set and then try the command again.",
                    "ParameterArgumentValidationError",
                    "InvalidData",
                )
    if param.mandatory and not param.allow_empty and result == "" and kind == "string":
        raise _fail(
            info,
            f"Cannot bind argument to parameter '{param.name}' because it is an empty string.",
            "ParameterArgumentValidationErrorEmptyStringNotAllowed",
            "InvalidData",
        )
    return result


def _to_enum(param: Param, value: Any) -> str:
    raw = to_python(value)
    text = ps_string(raw).strip()
    for choice in param.choices or ():
        if choice.lower() == text.lower():
            return choice
    if isinstance(raw, int) and param.choices and 0 <= raw < len(param.choices):
        return param.choices[raw]
    names = ", ".join(param.choices or ())
    raise ConversionError(
        f'Cannot convert value "{text}" to type "{param.dotnet_type}". Error: "Unable to match the '
        f"identifier name {text} to a valid enumerator name. Specify one of the following enumerator "
        f'names and try again:\r\n{names}"',
        no_message=True,
    )


def _to_datetime(value: Any) -> datetime.datetime:
    raw = to_python(value)
    if isinstance(raw, datetime.datetime):
        return raw
    text = ps_string(raw)
    for fmt in ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y"):
        try:
            return datetime.datetime.strptime(text.rstrip("Z"), fmt)
        except ValueError:
            continue
    try:
        return datetime.datetime.fromisoformat(text)
    except ValueError:
        raise ConversionError(
            f'Cannot convert value "{text}" to type "System.DateTime". Error: "String was not recognized as '
            'a valid DateTime."',
            no_message=True,
        ) from None


def _sets_of(p: Param, info: CmdletInfo) -> set[str]:
    return set(p.sets) if p.sets else info.set_names()


def bind_arguments(info: CmdletInfo, parameters: list[tuple[str | None, Any]]) -> Bound:
    """Bind named and positional arguments; common parameters become :class:`Flags`."""
    bound = Bound()
    seen: set[str] = set()
    positional: list[Any] = []
    for raw_name, value in parameters:
        if raw_name is None or raw_name == "":
            positional.append(value)
            continue
        try:
            param = find_param(info, str(raw_name))
        except BindingError:
            remaining = next((p for p in info.params if p.type == "remaining"), None)
            if remaining is None:
                raise
            # ValueFromRemainingArguments swallows unknown (splatted) parameters
            bound.args.setdefault(remaining.name, []).append((str(raw_name), to_python(value)))
            continue
        if param.name in seen:
            raise _fail(
                info,
                f"Cannot bind parameter because parameter '{param.name}' is specified more than once. To "
                "provide "
                "multiple values to parameters that can accept multiple values, use the array syntax. For "
                'example, "-parameter value1,value2,value3".',
                "ParameterAlreadyBound",
            )
        seen.add(param.name)
        _store(info, bound, param, convert(info, param, value))
    all_sets = info.set_names()
    candidates: set[str] | None = None
    if all_sets:
        candidates = set(all_sets)
        for name in bound.args:
            p = _param_by_name(info, name)
            if p is not None and p.sets:
                candidates &= set(p.sets)
    if positional:
        slots = sorted(
            (
                p
                for p in info.params
                if p.position is not None
                and p.name not in bound.args
                and (candidates is None or _sets_of(p, info) & candidates)
            ),
            key=lambda p: p.position if p.position is not None else 0,
        )
        for value in positional:
            if not slots:
                raise _fail(
                    info,
                    "A positional parameter cannot be found that accepts argument "
                    f"'{ps_string(to_python(value))}'.",
                    "PositionalParameterNotFound",
                    target=ps_string(to_python(value)),
                )
            param = slots.pop(0)
            _store(info, bound, param, convert(info, param, value))
            if candidates is not None and param.sets:
                candidates &= set(param.sets)
    if candidates is not None and not candidates:
        raise _fail(
            info,
            "Parameter set cannot be resolved using the specified named parameters.",
            "AmbiguousParameterSet",
        )
    bound.candidate_sets = candidates
    return bound


def _param_by_name(info: CmdletInfo, name: str) -> Param | None:
    for p in info.params:
        if p.name == name:
            return p
    return None


def _store(info: CmdletInfo, bound: Bound, param: Param, value: Any) -> None:
    lowered = param.name.lower()
    if lowered not in _COMMON:
        bound.args[param.name] = value
        return
    flags = bound.flags
    if lowered == "verbose":
        flags.verbose = bool(value)
    elif lowered == "debug":
        flags.debug = bool(value)
    elif lowered == "erroraction":
        flags.error_action = str(value)
    elif lowered == "warningaction":
        flags.warning_action = str(value)
    elif lowered == "informationaction":
        flags.information_action = str(value)
    elif lowered == "whatif":
        flags.whatif = bool(value)
    elif lowered == "confirm":
        flags.confirm = bool(value)
    # *Variable and OutBuffer are accepted and ignored (the lab keeps no session variables for them)


def choose_set(info: CmdletInfo, candidates: set[str] | None, args: dict[str, Any]) -> str | None:
    if candidates is None:
        return None
    usable = set(candidates)
    for name in args:
        p = _param_by_name(info, name)
        if p is not None and p.sets:
            usable &= set(p.sets)
    if len(usable) == 1:
        return next(iter(usable))
    if info.default_set in usable:
        return info.default_set
    if not usable:
        raise _fail(
            info,
            "Parameter set cannot be resolved using the specified named parameters.",
            "AmbiguousParameterSet",
        )
    # several sets remain: the one whose mandatory parameters are all bound, else the first by name
    complete = [
        s
        for s in sorted(usable)
        if all(p.name in args for p in info.params if p.mandatory and s in _sets_of(p, info))
    ]
    if len(complete) >= 1:
        return complete[0]
    raise _fail(
        info,
        "Parameter set cannot be resolved using the specified named parameters.",
        "AmbiguousParameterSet",
    )


def check_mandatory(info: CmdletInfo, bound: Bound, args: dict[str, Any]) -> str | None:
    """Raise MissingMandatoryParameter if a mandatory parameter of the chosen set is unbound."""
    chosen = choose_set(info, bound.candidate_sets, args)
    missing = [
        p.name
        for p in info.params
        if p.mandatory and p.name not in args and (chosen is None or chosen in _sets_of(p, info))
    ]
    if missing:
        raise _fail(
            info,
            "Cannot process command because of one or more missing mandatory parameters: "
            f"{' '.join(missing)}.",
            "MissingMandatoryParameter",
        )
    return chosen


def bind_pipeline(info: CmdletInfo, bound: Bound, item: Any) -> tuple[dict[str, Any], set[str]] | None:
    """Arguments for one pipeline input object, or None when the object binds to nothing."""
    args = dict(bound.args)
    used: set[str] = set()
    candidates = bound.candidate_sets
    eligible = [
        p
        for p in info.params
        if p.name not in bound.args and (candidates is None or _sets_of(p, info) & candidates)
    ]
    # 1. ValueFromPipeline: the whole object
    for p in eligible:
        if not p.from_pipeline:
            continue
        try:
            value = _pipeline_value(info, p, item)
        except BindingError:
            continue
        args[p.name] = value
        used.add(p.name)
        break
    # 2. ValueFromPipelineByPropertyName: properties named like the parameter or an alias
    if is_ps_object(item) or isinstance(item, dict):
        for p in eligible:
            if not p.by_property_name or p.name in used:
                continue
            for candidate in p.names():
                found, value = get_property(item, candidate)
                if found:
                    try:
                        args[p.name] = convert(info, p, value)
                    except BindingError:
                        break
                    used.add(p.name)
                    break
    if not used:
        return None
    return args, used


def _pipeline_value(info: CmdletInfo, p: Param, item: Any) -> Any:
    kind = p.type
    if kind in ("object", "psobject", "object[]"):
        return item if kind != "object[]" else [item]
    if kind in ("string", "string[]") and is_ps_object(item):
        raise _fail(info, "no", "x")  # objects bind by property name, not as their string form
    if kind == "securestring" and not isinstance(item, PSSecureString):
        raise _fail(info, "no", "x")
    return convert(info, p, item)


def input_not_bound(info: CmdletInfo, item: Any) -> LabErrorRecord:
    return LabErrorRecord(
        message=(
            "The input object cannot be bound to any parameters for the command either because the command "
            "does not take pipeline input or the input and its properties do not match any of the parameters "
            "that take pipeline input."
        ),
        fully_qualified_error_id=f"InputObjectNotBound,{info.fqid_suffix}",
        category="InvalidArgument",
        exception_type=_BINDING_EXCEPTION,
        command_name=info.name,
        target_object=item if isinstance(item, (str, int)) else None,
    )
