"""One error hierarchy, in one module, that crosses the wire intact (STYLE.md, Errors)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from ledger import errors
from ledger.net.client import error_from_answer

ROOT = Path(__file__).resolve().parents[2]


def _all_classes() -> list[type[errors.LedgerError]]:
    return sorted(set(errors.error_classes().values()), key=lambda c: c.__name__)


def test_every_error_class_is_defined_in_errors_py() -> None:
    """No module but ``ledger/errors.py`` defines a ``LedgerError`` class (a caller catches
    those; control-flow exceptions private to a module are not errors of the API)."""
    names = {c.__name__ for c in _all_classes()}
    outside = []
    for path in (ROOT / "ledger").rglob("*.py"):
        if path.name == "errors.py" and path.parent.name == "ledger":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ClassDef):
                continue
            bases = {getattr(b, "id", getattr(b, "attr", "")) for b in node.bases}
            if bases & names:
                outside.append(f"{path.relative_to(ROOT)}: {node.name}")
    assert not outside, f"error classes outside ledger/errors.py: {outside}"


def test_codes_are_unique() -> None:
    codes = [c.code for c in _all_classes()]
    assert len(codes) == len(set(codes))
    assert len(codes) >= 15  # every class of the module is found, not just the base


@pytest.mark.parametrize("cls", _all_classes(), ids=lambda c: c.__name__)
def test_wire_mapping_round_trips(cls: type[errors.LedgerError]) -> None:
    """A node's error answer comes back as the very class, rule and message it raised."""
    sent = cls("something precise went wrong", rule="R-XX-1")
    answer = {"error": sent.code, "rule": sent.rule, "message": sent.message}
    got = error_from_answer(422, answer, "POST /api/entries")
    assert type(got) is cls
    assert (got.rule, got.message) == ("R-XX-1", "something precise went wrong")


def test_unknown_code_is_a_store_error() -> None:
    got = error_from_answer(500, {"error": "nonsense", "message": "x"}, "GET /")
    assert type(got) is errors.StoreError
