"""Schema errors in words: each problem with its line in chatops.yaml and what is allowed."""

from __future__ import annotations

import re
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from chatops.config.bots import AwsSecret, EnvSecret, FileSecret
from chatops.config.document import ConfigModel

__all__ = ["explain"]

_KEYED = re.compile(r"[\w.-]+(?: and [\w.-]+)*: ")


# pydantic's words for a wrong type, said plainly
_PLAIN = {
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_type": "must be text (quote it if it looks like something else)",
    "list_type": "must be a list, e.g. [a, b]",
    "dict_type": "must be a mapping of keys to values",
    "model_type": "must be a mapping of keys to values",
    "model_attributes_type": "must be a mapping of keys to values",
}


def explain(path: Path, exc: ValidationError, text: str = "") -> str:
    lines = [f"{path}: {exc.error_count()} problem(s):"]
    line_of = _line_finder(text)
    for error in exc.errors():
        loc = [str(p) for p in error["loc"] if not str(p).startswith(("function-", "tagged-union"))]
        # drop pydantic's union branch names (e.g. "env" inside a discriminated union)
        key = ".".join(loc) or "(top level)"
        if error["type"] == "extra_forbidden":
            allowed = _allowed_keys(error["loc"][:-1])
            message = "unknown key" + (f"; allowed: {', '.join(allowed)}" if allowed else "")
        elif error["type"] == "missing":
            message = "required key is missing"
        elif error["type"] in _PLAIN:
            message = f"{_PLAIN[error['type']]} (not {error['input']!r})"
        else:
            message = str(error["msg"]).removeprefix("Value error, ")
        line = line_of(error["loc"])
        at = f"line {line}: " if line else ""
        if not loc and _KEYED.match(message):  # the message names its key path itself
            lines.append(f"  {at}{message}")
        else:
            lines.append(f"  {at}{key}: {message}")
    return "\n".join(lines)


def _line_finder(text: str) -> Any:
    """loc → the line of chatops.yaml it is on (the deepest part of it found), or None."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader) if text else None
    except yaml.YAMLError:
        root = None

    def line_of(loc: tuple[Any, ...]) -> int | None:
        node, line = root, None
        for part in loc:
            if isinstance(node, yaml.MappingNode):
                found = [(k, v) for k, v in node.value if k.value == str(part)]
                if not found:
                    continue  # a union branch name, or a key that is missing
                key, node = found[0]
                line = key.start_mark.line + 1
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if part >= len(node.value):
                    break
                node = node.value[part]
                line = node.start_mark.line + 1
        return line

    return line_of


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """The keys allowed at a location in the schema, by walking the models along `loc`."""
    model: Any = ConfigModel
    mapping_next = False
    for part in loc:
        if mapping_next:
            mapping_next = False
            continue
        if isinstance(part, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return []
        field = model.model_fields.get(str(part))
        if field is None:
            # a discriminated union branch name (e.g. "file") selects that model
            providers = {"env": EnvSecret, "file": FileSecret, "aws_secretsmanager": AwsSecret}
            if part not in providers:
                return []
            model = providers[part]
            continue
        model, mapping_next = _inner_model(field.annotation)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return sorted(model.model_fields)
    return []


def _inner_model(annotation: Any) -> tuple[Any, bool]:
    """The model a field holds, and whether it sits in a dict (so the next loc part is a key)."""
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin in (dict, Mapping):
        inner, _ = _inner_model(args[1]) if len(args) == 2 else (None, False)
        return inner, True
    if origin is list:
        return _inner_model(args[0])[0] if args else None, False
    if origin is typing.Annotated:
        return _inner_model(args[0])
    if args and origin is not None:  # Optional / Union: the first model among the members
        for arg in args:
            inner, in_dict = _inner_model(arg)
            if inner is not None:
                return inner, in_dict
        return None, False
    return annotation, False
