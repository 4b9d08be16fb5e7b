"""chatops.yaml's JSON Schema (`chatops config schema`) and the README's table of every key.

The table is made from the schema, so a key added to the models appears in it,
and a test keeps the README's copy equal to what this prints.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["json_schema", "keys_table"]

# the placeholder a mapping key stands for, by the mapping's name
_KEY_NAMES = {
    "environments": "<env>",
    "bots": "<bot>",
    "secrets": "<NAME>",
    "env": "<NAME>",
    "build_args": "<NAME>",
}


def json_schema() -> dict[str, Any]:
    from chatops.config import ConfigModel

    schema = ConfigModel.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "chatops.yaml"
    return schema


def keys_table() -> str:
    """Every key path of chatops.yaml as a Markdown table: key, what it takes, default."""
    schema = json_schema()
    rows: list[tuple[str, str, str]] = []
    _walk(schema, schema, "", rows)
    merged: dict[str, tuple[list[str], str]] = {}
    for key, takes, default in rows:  # a key of several union members: one row
        seen, _ = merged.setdefault(key, ([], default))
        if takes not in seen:
            seen.append(takes)
    lines = ["| key | takes | default |", "|---|---|---|"]
    lines.extend(
        f"| `{key}` | {' or '.join(takes)} | {default} |"
        for key, (takes, default) in merged.items()
    )
    return "\n".join(lines) + "\n"


def _resolve(root: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = root["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def _members(root: dict[str, Any], node: dict[str, Any]) -> list[dict[str, Any]]:
    node = _resolve(root, node)
    if "anyOf" in node or "oneOf" in node:
        found = []
        for member in node.get("anyOf", node.get("oneOf", [])):
            found.extend(_members(root, member))
        return found
    return [node]


def _takes(root: dict[str, Any], node: dict[str, Any]) -> str:
    words = []
    for member in _members(root, node):
        kind = member.get("type")
        if "enum" in member or "const" in member:
            values = member.get("enum", [member.get("const")])
            words.append(" \\| ".join(f"`{v}`" for v in values))
        elif kind == "string" and "pattern" in member and "d)?" in member["pattern"]:
            words.append("duration (`90s`, `10m`, `2h`, `1d`)")
        elif kind == "array":
            item = _takes(root, member.get("items", {}))
            words.append(f"list of {item}")
        elif kind == "object":
            words.append("mapping")
        elif kind == "null":
            continue
        elif kind:
            words.append(
                {"string": "text", "integer": "whole number", "boolean": "true/false"}.get(
                    kind, kind
                )
            )
    if any(w.startswith("duration") for w in words):
        words = ["seconds" if w == "number" else w for w in words]
    return " or ".join(dict.fromkeys(words)) or "any"


def _default(node: dict[str, Any]) -> str:
    if "default" not in node or node["default"] is None:
        return ""
    return f"`{json.dumps(node['default'])}`"


def _walk(root: dict[str, Any], node: dict[str, Any], prefix: str, rows: list[Any]) -> None:
    model = _resolve(root, node)
    for name, field in model.get("properties", {}).items():
        key = f"{prefix}{name}"
        rows.append((key, _takes(root, field), _default(field)))
        for member in _members(root, field):
            if member.get("type") == "object" and "properties" in member:
                _walk(root, member, f"{key}.", rows)
            mapped = member.get("additionalProperties") or next(
                iter(member.get("patternProperties", {}).values()), None
            )
            if isinstance(mapped, dict):
                inner = _members(root, mapped)
                models = [m for m in inner if "properties" in m]
                placeholder = _KEY_NAMES.get(name, "<key>")
                for sub in models:
                    _walk(root, sub, f"{key}.{placeholder}.", rows)
            elif member.get("type") == "array":
                items = _members(root, member.get("items", {}))
                for sub in (m for m in items if "properties" in m):
                    _walk(root, sub, f"{key}[].", rows)
