"""The bundle conformance corpus (specs/vectors/bundles/README.md).

The Python verifier gives every vector its expected verdict and first failure, and the
committed corpus is exactly what ``tools/gen_bundle_corpus.py`` writes (``--check``), so it
cannot drift from the code.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from ledger.core import note, policy, proofs
from tools import gen_bundle_corpus

CORPUS = Path(__file__).resolve().parents[2] / "specs" / "vectors" / "bundles"
VECTORS: list[dict[str, Any]] = json.loads((CORPUS / "vectors.json").read_text())["vectors"]


def test_the_corpus_is_large_and_covers_every_kind() -> None:
    kinds = Counter(v["kind"] for v in VECTORS)
    assert len(VECTORS) >= 300
    assert set(kinds) == {"valid", "invalid", "rule", "policy"}
    checks = {v["expect"]["failure"] for v in VECTORS if v["expect"]["verdict"] == "invalid"}
    # Every check of specs/proof-bundle.md §4 that a bundle can reach ("dag" cannot: a
    # missing ancestor fails the replay first).
    assert set(proofs.CHECKS) - {"dag"} <= checks
    assert "R-SM-1" in checks


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_python_verdict(vector: dict[str, Any]) -> None:
    data = (CORPUS / vector["bundle"]).read_bytes()
    text = vector["policy"]
    pol = None
    if text in ("eu-russia", "us-russia"):
        pol = policy.named_policy(text)
    elif text is not None:
        pol = policy.parse_policy(text)
    got = proofs.verdict(
        data, note.parse_vkey(vector["vkey"]), buyer_policy=pol, as_of=vector["as_of"]
    )
    assert list(got) == [vector["expect"]["verdict"], vector["expect"]["failure"]]


def test_the_generator_reproduces_the_corpus() -> None:
    assert gen_bundle_corpus.main(["--check"]) == 0
