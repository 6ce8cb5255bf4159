"""Plain messages for request validation errors: what to fix, in words, without pydantic's
internals ("Value error, ...", regular expressions, union member tags)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .models import KIND_PATTERN, KIND_RULE, META_KEY_PATTERN

_LOCATIONS = ("body", "query", "path", "header")

# what a value must be, by pydantic's *_type / *_parsing error
_SHAPES = {"string": "a string", "int": "an integer", "float": "a number", "bool": "true or false",
           "dict": "a JSON object", "model": "a JSON object", "model_attributes": "a JSON object",
           "list": "a list", "none": "null", "datetime": "a time", "decimal": "a number"}

_PATTERNS = {
    r"\S": "{f} must not be blank",
    KIND_PATTERN: "{f} must be " + KIND_RULE,
    META_KEY_PATTERN: "keys must be 1 to 64 letters, digits, '_' or '-'",
}


def _shape(kind: str) -> str | None:
    for suffix in ("_type", "_parsing"):
        if kind.endswith(suffix):
            return _SHAPES.get(kind[: -len(suffix)])
    return None


def _is_tag(part: str) -> bool:
    """A union member's tag in an error's location ('str', 'constrained-int', 'list[...]')."""
    return part in ("str", "int", "float", "bool", "none") or "[" in part or part.startswith(
        ("constrained-", "function-", "lax-", "strict-"))


def _path(loc: Sequence[Any]) -> tuple[list[str], bool]:
    """The field's dotted parts (location prefix dropped) and whether the error is on a key."""
    parts = [str(p) for p in loc]
    if parts and parts[0] in _LOCATIONS:
        parts = parts[1:]
    on_key = bool(parts) and parts[-1] == "[key]"
    return (parts[:-1] if on_key else parts), on_key


def _one(err: dict[str, Any], parts: list[str], on_key: bool) -> str:
    kind, ctx = err.get("type", ""), err.get("ctx") or {}
    f = ".".join(parts)
    if on_key:
        key = str(err.get("input", ""))
        if kind == "string_pattern_mismatch" and ctx.get("pattern") == META_KEY_PATTERN:
            return f"metadata key {key!r} is not allowed: " + _PATTERNS[META_KEY_PATTERN]
        return f"{f or 'the body'} has an invalid key {key!r}"
    if not f:  # the body as a whole
        if kind == "missing":
            return "the body is required: a JSON object"
        return "the body must be a JSON object"
    if kind == "missing":
        return f"{f} is required"
    if kind == "extra_forbidden":
        return f"unknown field '{f}'"
    if kind in ("value_error", "assertion_error") and "error" in ctx:
        return str(ctx["error"])  # the library's own message, which names the field
    if kind == "string_pattern_mismatch":
        rule = _PATTERNS.get(ctx.get("pattern", ""), "{f} is not in the expected form")
        return rule.format(f=f)
    if kind == "string_too_short":
        n = ctx.get("min_length", 1)
        return f"{f} must not be empty" if n == 1 else f"{f} must be at least {n} characters"
    if kind == "string_too_long":
        return f"{f} must be at most {ctx.get('max_length')} characters long"
    if kind == "too_short":
        n = ctx.get("min_length", 1)
        return f"{f} must not be empty" if n == 1 else f"{f} must have at least {n} items"
    if kind == "too_long":
        return f"{f} must have at most {ctx.get('max_length')} items"
    bounds = {"greater_than_equal": ("greater than or equal to", "ge"),
              "less_than_equal": ("less than or equal to", "le"),
              "greater_than": ("greater than", "gt"), "less_than": ("less than", "lt")}
    if kind in bounds:
        words, key = bounds[kind]
        return f"{f} must be {words} {ctx.get(key)}"
    if kind == "finite_number":
        return f"{f} must be a finite number"
    if kind in ("int_from_float", "int_parsing_size"):
        return f"{f} must be an integer"
    if kind in ("literal_error", "enum"):
        return f"{f} must be {ctx.get('expected', 'one of the allowed values')}"
    shape = _shape(kind)
    if shape is not None:
        return f"{f} must be {shape}"
    msg = str(err.get("msg", "is not valid")).removeprefix("Value error, ")
    return f"{f}: {msg}"


def _either(shapes: list[str]) -> str:
    unique = list(dict.fromkeys("a boolean" if s == "true or false" else s for s in shapes))
    return unique[0] if len(unique) == 1 else ", ".join(unique[:-1]) + " or " + unique[-1]


def plain_errors(errors: Sequence[dict[str, Any]], limit: int = 5) -> tuple[str, str | None]:
    """``(message, field)`` for pydantic's errors: one plain sentence each (at most ``limit``),
    a value that matches no member of a union said once ("time must be text or a number"),
    ``field`` the dotted path of the first."""
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(errors) and len(out) < limit:
        err = errors[i]
        parts, on_key = _path(err.get("loc", ()))
        # a union: one error per member, each under the member's tag, for the same input
        shapes: list[str] = []
        j = i
        while j < len(errors) and parts and not on_key:
            other = errors[j]
            shape = _shape(str(other.get("type", "")))
            there = _path(other.get("loc", ()))[0]
            if (shape is None or other.get("input") != err.get("input") or not there
                    or there[:-1] != parts[:-1] or not _is_tag(there[-1])):
                break
            shapes.append(shape)
            j += 1
        if len(shapes) > 1:
            field = ".".join(parts[:-1])
            out.append((f"{field or 'the body'} must be {_either(shapes)}", field))
            i = j
            continue
        if len(parts) > 1 and _is_tag(parts[-1]):
            parts = parts[:-1]
        out.append((_one(err, parts, on_key), ".".join(parts)))
        i += 1
    if not out:
        return "invalid request", None
    return "; ".join(m for m, _ in out), out[0][1] or None
