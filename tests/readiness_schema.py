"""readiness.json against the JSON Schema the collection ships (docs/readiness.schema.json)."""
from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

SCHEMA = Path(__file__).resolve().parents[1] / "docs" / "readiness.schema.json"


@cache
def validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def schema_errors(doc: Any) -> list[str]:
    """Where and how a readiness.json document breaks the schema; empty when it matches."""
    return [f"{error.json_path}: {error.message}" for error in validator().iter_errors(doc)]
