"""A request checked against the AWS API model botocore ships for its service.

botocore's `ParamValidator` checks types, required members, unknown members and minimums. It
deliberately leaves the rest to the service (botocore/validate.py: maximums are not checked
because services raise them over time; enums and patterns are not checked at all), so a request
that botocore accepts can still be refused by AWS with a ValidationException. `problems` adds
those checks by walking the request beside its shape:

- enums: a string member with an `enum` must hold one of its values;
- patterns: a string must match its `pattern` as a whole. Smithy says patterns are not anchored,
  but services built on Coral match them with Java's `Pattern.matches` (SageMaker's error for
  'abc_def' as a model name quotes `^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}` although a search would
  find 'abc'), so a whole-string match is the one AWS applies. Patterns use Java's Unicode
  classes (\\p{L}...), which the `regex` module understands and `re` does not;
- maximums: string and list lengths, and number values, within the shape's `max`.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import botocore.session
import regex
from botocore.model import OperationModel, Shape
from botocore.validate import ParamValidator

# SageMaker's models end some patterns in a Java-ism, "${1,256}" (the end anchor repeated): the
# length it means is the shape's own min/max, checked separately.
_JAVA_LENGTH_SUFFIX = re.compile(r"\$\{\d+,\d+\}$")
# Java regexes are matched against UTF-16 text: some models spell "every character beyond the
# Basic Multilingual Plane" as the surrogate pair range, which a Python regex reads as code points.
_JAVA_SURROGATE_RANGE = "\\uD800\\uDC00-\\uDBFF\\uDFFF"
_SUPPLEMENTARY_RANGE = "\\U00010000-\\U0010FFFF"


@functools.cache
def _session() -> botocore.session.Session:
    return botocore.session.get_session()


@functools.cache
def operation(service: str, name: str) -> OperationModel:
    """botocore's model of one operation, e.g. operation("sagemaker", "CreateModel")."""
    return _session().get_service_model(service).operation_model(name)


def available_services() -> list[str]:
    return _session().get_available_services()


def problems(service: str, operation_name: str, request: dict[str, Any]) -> list[str]:
    """Everything the service would refuse in `request`, one line each (empty: none)."""
    shape = operation(service, operation_name).input_shape
    where = f"{service}.{operation_name}"
    report = ParamValidator().validate(request, shape)
    found = [f"{where}: {line.strip()}" for line in report.generate_report().splitlines()] if report.has_errors() else []
    return found + constraint_problems(request, shape, where)


def constraint_problems(value: Any, shape: Shape, where: str) -> list[str]:
    """What botocore's validator leaves to the service: enums, patterns and maximums."""
    walk = _WALKERS.get(shape.type_name)
    return walk(value, shape, where) if walk else []


def _structure(value: Any, shape: Shape, where: str) -> list[str]:
    if not isinstance(value, dict):
        return []  # a type error, which botocore reports
    found: list[str] = []
    for key, item in value.items():
        if key in shape.members:  # unknown members are botocore's to report
            found += constraint_problems(item, shape.members[key], f"{where}.{key}")
    return found


def _list(value: Any, shape: Shape, where: str) -> list[str]:
    if not isinstance(value, list | tuple):
        return []
    found = _maximum(len(value), shape, where, "items")
    for index, item in enumerate(value):
        found += constraint_problems(item, shape.member, f"{where}[{index}]")
    return found


def _map(value: Any, shape: Shape, where: str) -> list[str]:
    if not isinstance(value, dict):
        return []
    found = _maximum(len(value), shape, where, "entries")
    for key, item in value.items():
        found += constraint_problems(key, shape.key, f"{where} key {key!r}")
        found += constraint_problems(item, shape.value, f"{where}[{key!r}]")
    return found


def _string(value: Any, shape: Shape, where: str) -> list[str]:
    if not isinstance(value, str):
        return []
    found = _maximum(len(value), shape, where, "characters")
    if shape.enum and value not in shape.enum:
        found.append(f"{where}: {value!r} is not one of {sorted(shape.enum)}")
    pattern = shape.metadata.get("pattern")
    if pattern:
        compiled = _compiled(pattern)
        if isinstance(compiled, str):
            found.append(f"{where}: pattern {pattern!r} cannot be checked ({compiled})")
        elif not compiled.fullmatch(value):
            found.append(f"{where}: {_shown(value)} does not match the pattern {pattern}")
    return found


def _number(value: Any, shape: Shape, where: str) -> list[str]:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return []
    return _maximum(value, shape, where, "")


def _maximum(measure: float, shape: Shape, where: str, unit: str) -> list[str]:
    highest = shape.metadata.get("max")
    if highest is not None and measure > highest:
        return [f"{where}: {measure}{' ' + unit if unit else ''}, more than the maximum {highest}"]
    return []


@functools.cache
def _compiled(pattern: str) -> regex.Pattern | str:
    """The compiled pattern, or why it cannot be compiled (reported, never silently skipped)."""
    try:
        return regex.compile(_JAVA_LENGTH_SUFFIX.sub("", pattern).replace(_JAVA_SURROGATE_RANGE, _SUPPLEMENTARY_RANGE))
    except regex.error as error:
        return str(error)


def _shown(value: str, limit: int = 80) -> str:
    return repr(value) if len(value) <= limit else f"{value[:limit]!r}... ({len(value)} characters)"


_WALKERS = {
    "structure": _structure,
    "list": _list,
    "map": _map,
    "string": _string,
    "integer": _number,
    "long": _number,
    "double": _number,
    "float": _number,
}
