"""GS1's EPCIS 2.0 JSON Schema as the tests use it: the validator, configured once.

The schema (``epcis/EPCIS-JSON-Schema.json``, vendored unchanged) declares draft-07, so
it is checked with ``jsonschema``'s ``Draft7Validator``. It relies on two formats, ``uri``
(every identifier, and the names of extension fields through ``propertyNames``) and
``date-time`` (event and record times), which ``jsonschema`` checks only with a format
checker and the optional packages of its ``format-nongpl`` extra; :func:`validator`
insists that both are really checked. The schema's references are all local
(``#/definitions/...``); the registry given to the validator cannot retrieve anything,
so validation never reaches for the network.

The JSON-LD context (``epcis/epcis-context.jsonld``) is not used by the schema; the tests
read its terms to check that every field name of an exported event is one GS1 defines
or carries a prefix the document declares.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator
from jsonschema.validators import validator_for
from referencing import Registry

from tests.vectors import EPCIS

SCHEMA_FILE = EPCIS / "EPCIS-JSON-Schema.json"
CONTEXT_FILE = EPCIS / "epcis-context.jsonld"
EXAMPLES = sorted((EPCIS / "examples").glob("*.jsonld"))
#: The formats the schema uses, each with a value that must fail it.
FORMATS = {"uri": "not a uri", "date-time": "2026-13-01T00:00:00Z"}


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


@cache
def schema() -> dict[str, Any]:
    value: dict[str, Any] = load(SCHEMA_FILE)
    return value


@cache
def validator() -> Draft7Validator:
    """A draft-07 validator of GS1's schema with format checking, offline."""
    s = schema()
    cls = validator_for(s)
    assert cls is Draft7Validator, f"the schema declares {s['$schema']}, not draft-07"
    Draft7Validator.check_schema(s)
    checker = Draft7Validator.FORMAT_CHECKER
    for fmt, bad in FORMATS.items():
        assert fmt in checker.checkers, f"{fmt!r} is not checked: install jsonschema[format-nongpl]"
        assert not checker.conforms(bad, fmt), f"format {fmt!r} is not really checked"
    return Draft7Validator(s, format_checker=checker, registry=Registry())


def errors(document: Mapping[str, Any]) -> list[str]:
    """Every schema error of ``document``, each as ``path: message``."""
    out = []
    for e in sorted(validator().iter_errors(document), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in e.absolute_path) or "(root)"
        out.append(f"{where}: {e.message[:300]}")
    return out


@cache
def context_terms() -> frozenset[str]:
    """The top-level terms of GS1's EPCIS 2.0 JSON-LD context."""
    return frozenset(load(CONTEXT_FILE)["@context"])


def undefined_terms(document: Mapping[str, Any]) -> list[str]:
    """Field names of the document and its events that neither GS1's context defines nor
    a prefix of the document's own ``@context`` (or GS1's) expands."""
    declared = {"@context", *context_terms()}
    for part in document["@context"]:
        if isinstance(part, dict):
            declared.update(part)
    out = []
    objects = [document, *document["epcisBody"]["eventList"]]
    for obj in objects:
        for key in obj:
            prefix = key.split(":", 1)[0] if ":" in key else None
            if key not in declared and prefix not in declared:
                out.append(key)
    return out
