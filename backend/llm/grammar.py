"""Grammars that constrain decoding to JSON: any object, or one matching a JSON Schema.

llama.cpp's own converter turns a schema into GBNF. It skips keywords it does not know (numeric
bounds, `not`, `uniqueItems`…), so a reply could break the schema while looking constrained.
Hence every keyword is checked first: one the grammar cannot enforce is refused by its path.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from backend.errors import InvalidRequestError

# Keywords that describe but do not constrain; `format` is an annotation in JSON Schema 2020-12
# (the converter enforces date, time, date-time and uuid; others are free strings).
ANNOTATIONS = frozenset(
    {
        "title",
        "description",
        "$schema",
        "$id",
        "$comment",
        "default",
        "examples",
        "deprecated",
        "readOnly",
        "writeOnly",
        "format",
        "discriminator",
        "strict",
    }
)
# Keywords the converter turns into grammar rules.
ENFORCED = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "prefixItems",
        "minItems",
        "maxItems",
        "enum",
        "const",
        "anyOf",
        "oneOf",
        "allOf",
        "$ref",
        "$defs",
        "definitions",
        "pattern",
        "minLength",
        "maxLength",
    }
)
# JSON's string character: the converter's own lets control characters through, which JSON
# forbids unescaped (a small model writes them), and code points that are not characters
# (surrogates, above U+10FFFF).
JSON_CHAR_RULE = (
    r"char ::= [\x20-\x21\x23-\x5B\x5D-\x7E\u0080-\uD7FF\uE000-\U0010FFFF] | "
    r'"\\" (["\\/bfnrt] | "u" [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F])'
)
JSON_TYPES = frozenset({"object", "array", "string", "number", "integer", "boolean", "null"})


class UnsupportedSchemaError(InvalidRequestError, ValueError):
    """A JSON Schema uses something the decoding grammar cannot enforce."""

    code = "unsupported_schema"


def _subschemas(schema: dict[str, Any], path: str) -> Iterator[tuple[Any, str]]:
    """Each nested schema with its path, for the keywords that hold schemas."""
    for key in ("properties", "$defs", "definitions"):
        for name, sub in (schema.get(key) or {}).items():
            yield sub, f"{path}/{key}/{name}"
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        for index, sub in enumerate(schema.get(key) or []):
            yield sub, f"{path}/{key}/{index}"
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            yield schema[key], f"{path}/{key}"


def check_schema(schema: Any, path: str = "#") -> None:
    """Refuse, by its path, the first keyword the grammar would silently not enforce."""
    if isinstance(schema, bool):
        return  # `true` allows anything; `false` only appears where nothing may follow
    if not isinstance(schema, dict):
        raise UnsupportedSchemaError(f"the schema at {path} is not a JSON object")
    for key in schema:
        if key not in ANNOTATIONS and key not in ENFORCED:
            raise UnsupportedSchemaError(
                f"the JSON Schema keyword '{key}' at {path} cannot be enforced while decoding; "
                "remove it or check the value after the reply"
            )
    types = schema.get("type")
    for kind in types if isinstance(types, list) else [types] if types else []:
        if kind not in JSON_TYPES:
            raise UnsupportedSchemaError(f"unknown type '{kind}' at {path}/type")
    ref = schema.get("$ref")
    if ref is not None and not str(ref).startswith("#/"):
        raise UnsupportedSchemaError(
            f"the $ref '{ref}' at {path} is not local; Hearth fetches no schemas, so put it "
            "under $defs"
        )
    _check_combination(schema, path)
    for sub, sub_path in _subschemas(schema, path):
        check_schema(sub, sub_path)


# What may stand beside a keyword that the converter reads alone: it follows a `$ref`, an
# `anyOf`/`oneOf` or an `allOf` and skips the schema's other constraints.
_BESIDE_ALONE = ANNOTATIONS | {"$defs", "definitions"}
_ALL_OF_PART = ANNOTATIONS | {"properties", "required", "$ref", "type"}


def _check_combination(schema: dict[str, Any], path: str) -> None:
    for alone in ("$ref", "anyOf", "oneOf", "allOf"):
        if alone not in schema:
            continue
        beside = set(schema) - _BESIDE_ALONE - {alone} - ({"type"} if alone == "allOf" else set())
        if beside:
            raise UnsupportedSchemaError(
                f"'{alone}' at {path} together with {', '.join(sorted(beside))} cannot be "
                f"enforced while decoding; put those inside the '{alone}'"
            )
    for index, part in enumerate(schema.get("allOf") or []):
        ok_type = schema.get("type", "object") == "object"
        if not ok_type or not isinstance(part, dict) or set(part) - _ALL_OF_PART:
            raise UnsupportedSchemaError(
                f"'allOf' at {path} is enforced only as a merge of objects' properties and "
                f"required lists; #{index} holds more"
            )


def json_schema_grammar(schema: dict[str, Any]) -> str:
    """GBNF for JSON matching `schema`, after refusing what it could not enforce."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    check_schema(schema)
    try:
        grammar = json_schema_to_gbnf(json.dumps(schema))
    except (AssertionError, ValueError, KeyError, TypeError) as exc:
        message = f"the JSON Schema cannot be turned into a grammar: {exc}"
        raise UnsupportedSchemaError(message) from exc
    return strict_json_strings(grammar)


def strict_json_strings(grammar: str) -> str:
    """`grammar` (from llama.cpp's converter) with JSON's own string character."""
    rules = grammar.splitlines()
    return "\n".join(JSON_CHAR_RULE if r.startswith("char ::= ") else r for r in rules)


def json_object_grammar() -> str:
    """GBNF for any JSON object, as OpenAI's `json_object` mode promises."""
    return json_schema_grammar({"type": "object"})
