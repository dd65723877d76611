"""Fuzz the note, checkpoint, vkey and policy parsers: they raise only LedgerErrors.

Random bytes, random text (lone surrogates included) and small mutations of valid
inputs go into every parse and verify function of ``ledger.note`` and ``ledger.policy``.
Any exception that is not a :class:`~ledger.errors.LedgerError` (an ``IndexError``, a
``UnicodeDecodeError``, a ``binascii.Error``...) fails the test. Whatever parses must
also re-format to exactly the input (one encoding per value).

``KPLEDGER_FUZZ_EXAMPLES`` sets the number of examples per test (default 300, a few
seconds in the default run). When it is set, the tests are also marked ``slow`` so that
``make fuzz`` (``-m slow -k fuzz``) selects them and the default run does not repeat a
long campaign.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.core import ed25519, note
from ledger.core.policy import parse_policy
from ledger.errors import LedgerError
from tests.vectors import TLOG

EXAMPLES = int(os.environ.get("KPLEDGER_FUZZ_EXAMPLES", "300"))
pytestmark = [pytest.mark.slow] if "KPLEDGER_FUZZ_EXAMPLES" in os.environ else []
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

TESSERA = TLOG / "transparency-dev-tessera" / "testdata" / "log"
TESSERA_VKEY = "example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx"

LOG_SEED, WITNESS_SEED = bytes(range(32)), bytes(range(32, 64))
ORIGIN, WITNESS = "kpledger.example/ledger", "witness.example/w1"
CHECKPOINT = note.Checkpoint(ORIGIN, 3, bytes(range(32)))
SIGNED = note.sign_checkpoint(CHECKPOINT, ORIGIN, LOG_SEED)
COSIGNED = note.add_signature(SIGNED, note.cosign(CHECKPOINT, WITNESS, WITNESS_SEED, 1234))
LOG = note.Verifier.for_ed25519(ORIGIN, ed25519.public_key(LOG_SEED))
COSIGNER = note.Verifier.for_cosigner(WITNESS, ed25519.public_key(WITNESS_SEED))
POLICY = f"""# fuzz seed
log {LOG.vkey()} https://example/
witness w {COSIGNER.vkey()}
witness v {note.format_vkey("v.example/w", ed25519.public_key(bytes(32)), sig_type=4)}
group g any w v
group h 2 g w
quorum h
deny-origin RU,CF
require warranty
require kp-certified
"""

NOTES = [SIGNED, COSIGNED, (TESSERA / "checkpoint").read_text(), "a\n\nb\n\n— k AAAAAAA=\n"]
BODIES = [note.parse_note(n).text for n in NOTES[:3]] + ["o\n0\n" + "A" * 43 + "=\next\n"]
VKEYS = [LOG.vkey(), COSIGNER.vkey(), TESSERA_VKEY]

# Characters that matter to the formats, plus anything at all.
SPECIAL = [*"\n\n\n —+=/ #,\t\r\x00\x7f0123456789AQgw", "\u2014", "\u00a0", "\ud800", "é"]
ANY_CHAR = st.characters(exclude_categories=())  # includes lone surrogates
CHARS = st.sampled_from(SPECIAL) | ANY_CHAR


@st.composite
def mutated(draw: st.DrawFn, seeds: list[str]) -> str | bytes:
    """A seed input with a few random edits, as text or (possibly broken) UTF-8 bytes."""
    text = draw(st.sampled_from(seeds))
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["insert", "delete", "replace", "cut", "repeat"]))
        if op == "insert":
            text = text[:i] + draw(CHARS) + text[i:]
        elif op == "delete":
            text = text[:i] + text[i + 1 :]
        elif op == "replace":
            text = text[:i] + draw(CHARS) + text[i + 1 :]
        elif op == "cut":
            text = text[:i]
        else:
            text = text[:i] + text[i:] * draw(st.integers(2, 3))
    if not draw(st.booleans()):
        return text
    data = bytearray(text.encode("utf-8", "surrogatepass"))
    if data and draw(st.booleans()):
        data[draw(st.integers(0, len(data) - 1))] ^= 1 << draw(st.integers(0, 7))
    return bytes(data)


def inputs(seeds: list[str]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.binary(max_size=600),
        st.text(ANY_CHAR, max_size=300),
        st.text(st.sampled_from(SPECIAL), max_size=300),
        mutated(seeds),
    )


def only_ledger_errors(fn: Callable[..., Any], *args: Any) -> Any:
    """Call ``fn``; a LedgerError is fine and gives None, anything else fails the test."""
    try:
        return fn(*args)
    except LedgerError:
        return None


def as_text(data: str | bytes) -> str:
    return data.decode() if isinstance(data, bytes) else data


@FUZZ
@given(inputs(NOTES))
def test_fuzz_parse_note(data: str | bytes) -> None:
    parsed = only_ledger_errors(note.parse_note, data)
    if parsed is not None:
        assert note.format_note(parsed) == as_text(data)


@FUZZ
@given(inputs(NOTES))
def test_fuzz_verify_note_and_cosignatures(data: str | bytes) -> None:
    tessera = note.parse_vkey(TESSERA_VKEY)
    only_ledger_errors(note.verify_note, data, [LOG, tessera])
    only_ledger_errors(note.open_checkpoint, data, LOG)
    only_ledger_errors(note.verify_cosignatures, data, [COSIGNER])


@FUZZ
@given(inputs(BODIES))
def test_fuzz_parse_checkpoint(data: str | bytes) -> None:
    cp = only_ledger_errors(note.parse_checkpoint, data)
    if cp is not None:
        assert note.format_checkpoint(cp) == as_text(data)


@FUZZ
@given(inputs(VKEYS))
def test_fuzz_parse_vkey(data: str | bytes) -> None:
    if isinstance(data, bytes):
        data = data.decode("utf-8", "replace")
    verifier = only_ledger_errors(note.parse_vkey, data)
    if verifier is not None:
        assert verifier.vkey() == data


@FUZZ
@given(inputs([POLICY]))
def test_fuzz_parse_policy(data: str | bytes) -> None:
    only_ledger_errors(parse_policy, data)


def test_fuzz_seeds_are_valid() -> None:
    """The mutation seeds parse, so the fuzzers start from deep inside the formats."""
    for text in NOTES:
        assert note.format_note(note.parse_note(text)) == text
    for body in BODIES:
        note.parse_checkpoint(body)
    for vkey in VKEYS:
        note.parse_vkey(vkey)
    assert parse_policy(POLICY).quorum == "h"
