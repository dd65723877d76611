"""Policy files (specs/policy.md): parsing, every error case, and quorum evaluation."""

from __future__ import annotations

import pytest

from ledger.core import ed25519, note
from ledger.core.policy import Group, Policy, check_quorum, parse_policy
from ledger.errors import PolicyError

LOG_SEED = bytes(range(32))
LOG = note.format_vkey("kpledger.example/ledger", ed25519.public_key(LOG_SEED))


def witness_vkey(i: int, name: str | None = None) -> str:
    seed = bytes([100 + i]) * 32
    return note.format_vkey(
        name or f"w{i}.example/witness",
        ed25519.public_key(seed),
        sig_type=note.SIG_TYPE_COSIGNATURE_V1,
    )


W = [witness_vkey(i) for i in range(7)]

EXAMPLE = f"""\
# Trust the KP ledger, and want two of three independent witnesses.
log {LOG} https://kpledger.example/ledger

witness w1 {W[1]}
witness w2 {W[2]}\thttps://w2.example/
witness w3 {W[3]}
group witnesses 2 w1 w2 w3
quorum witnesses

deny-origin RU,CF
require warranty
"""


def test_example_policy() -> None:
    p = parse_policy(EXAMPLE)
    assert [log.verifier.vkey() for log in p.logs] == [LOG]
    assert p.logs[0].url == "https://kpledger.example/ledger"
    assert p.log_verifiers()[0].name == "kpledger.example/ledger"
    assert [(w.name, w.verifier.vkey(), w.url) for w in p.witnesses] == [
        ("w1", W[1], None),
        ("w2", W[2], "https://w2.example/"),
        ("w3", W[3], None),
    ]
    assert [v.sig_type for v in p.witness_verifiers()] == [note.SIG_TYPE_COSIGNATURE_V1] * 3
    assert p.groups == (Group("witnesses", 2, ("w1", "w2", "w3")),)
    assert p.quorum == "witnesses"
    assert p.deny_origins == frozenset({"RU", "CF"})
    assert (p.require_kp, p.require_warranty) == (False, True)
    assert parse_policy(EXAMPLE.encode()) == p


def test_minimal_policy_and_whitespace() -> None:
    p = parse_policy("quorum none")
    assert p == Policy()
    p = parse_policy(
        "  \t# comment\n\n \t quorum \t none \t\n\t#x\nrequire kp-certified\nrequire kp-certified\n"
    )
    assert p.quorum == "none" and p.require_kp and not p.require_warranty
    assert not p.require_import_confirmed
    assert parse_policy("require import-confirmed\nquorum none").require_import_confirmed
    assert parse_policy("deny-origin RU\ndeny-origin CF,RU\nquorum none\n").deny_origins == {
        "RU",
        "CF",
    }


def cosigners(*indexes: int) -> set[str]:
    return {f"w{i}.example/witness" for i in indexes}


def test_quorum_evaluation_with_nested_groups() -> None:
    text = "\n".join(f"witness X{i} {W[i]}" for i in range(1, 4))
    text += "\n" + "\n".join(f"witness Y{i} {W[i + 3]}" for i in range(1, 4))
    text += """
group X-witnesses 2 X1 X2 X3
group Y-witnesses any Y1 Y2 Y3
group X-and-Y all X-witnesses Y-witnesses
quorum X-and-Y
"""
    p = parse_policy(text)
    check_quorum(p, cosigners(1, 2, 4))
    check_quorum(p, cosigners(1, 3, 5, 6))
    for failing in (cosigners(1, 4), cosigners(1, 2, 3), cosigners(4, 5, 6), set()):
        with pytest.raises(PolicyError, match="quorum 'X-and-Y' is not met"):
            check_quorum(p, failing)
    # Unknown cosigner names count for nothing.
    with pytest.raises(PolicyError):
        check_quorum(p, {"X1", "X2", "Y1", "someone.else/w"})


def test_quorum_single_witness_and_none() -> None:
    p = parse_policy(f"witness a {W[1]}\nquorum a\n")
    check_quorum(p, cosigners(1))
    with pytest.raises(PolicyError, match="verified cosignatures from: no policy witness"):
        check_quorum(p, cosigners(2))
    check_quorum(parse_policy(f"witness a {W[1]}\nquorum none\n"), set())


def test_quorum_error_lists_the_witnesses_that_cosigned() -> None:
    p = parse_policy(f"witness a {W[1]}\nwitness b {W[2]}\ngroup g all a b\nquorum g\n")
    with pytest.raises(PolicyError, match=r"from: b$"):
        check_quorum(p, cosigners(2))


def test_group_thresholds() -> None:
    base = f"witness a {W[1]}\nwitness b {W[2]}\nwitness c {W[3]}\n"
    assert parse_policy(base + "group g all a b c\nquorum g").groups[0].threshold == 3
    assert parse_policy(base + "group g any a b c\nquorum g").groups[0].threshold == 1
    assert parse_policy(base + "group g 3 a b c\nquorum g").groups[0].threshold == 3


def test_quorum_with_a_policy_not_from_the_parser_is_a_programmer_error() -> None:
    with pytest.raises(ValueError):
        check_quorum(Policy(quorum="ghost"), set())


def test_check_quorum_with_real_cosignatures() -> None:
    """End to end: a cosigned checkpoint, verify_cosignatures, then check_quorum."""
    origin = "kpledger.example/ledger"
    cp = note.kpledger_checkpoint(origin, 1, bytes(32), bytes(32))
    signed = note.sign_checkpoint(cp, origin, LOG_SEED)
    for i in (1, 3):
        signed = note.add_signature(
            signed, note.cosign(cp, f"w{i}.example/witness", bytes([100 + i]) * 32, 1_700_000_000)
        )
    p = parse_policy(EXAMPLE)
    opened, parsed = note.open_checkpoint(signed, p.log_verifiers()[0])
    assert opened == cp
    seen = note.verify_cosignatures(parsed, p.witness_verifiers())
    assert set(seen) == cosigners(1, 3)
    check_quorum(p, set(seen))


@pytest.mark.parametrize(
    ("text", "line", "match"),
    [
        ("", None, "no quorum line"),
        ("# only a comment\n", None, "no quorum line"),
        ("quorum none\nquorum none\n", 2, "more than one quorum"),
        ("quorum w1\n", 1, "not a witness or group defined above"),
        (f"quorum w1\nwitness w1 {W[1]}\n", 1, "defined above"),
        ("quorum\n", 1, "wrong number of arguments"),
        ("quorum a b\n", 1, "wrong number of arguments"),
        ("qourum none\n", 1, "unknown keyword 'qourum'"),
        ("quorum none # trailing comment\n", 1, "wrong number of arguments"),
        ("Quorum none\n", 1, "unknown keyword"),
        ("quorum none\r\n", 1, "control characters"),
        ("quorum none\x00\n", 1, "control characters"),
        ("quorum none\n\x7f\n", 2, "control characters"),
        ("quorum none\x0b\n", 1, "control characters"),
        # log
        (f"log {W[1]}\nquorum none\n", 1, "type 0x01"),
        (f"log {LOG}\nlog {LOG}\nquorum none\n", 2, "duplicate key"),
        (f"log {LOG} url extra\nquorum none\n", 1, "wrong number of arguments"),
        ("log nonsense\nquorum none\n", 1, "bad log vkey"),
        (f"log {LOG[:-2]}\nquorum none\n", 1, "bad log vkey"),
        # witness
        (f"witness w1 {LOG}\nquorum none\n", 1, "type 0x04"),
        (f"witness w1 {W[1]}\nwitness w1 {W[2]}\nquorum none\n", 2, "already defined"),
        (f"witness w1 {W[1]}\nwitness w2 {W[1]}\nquorum none\n", 2, "duplicate key"),
        (f"witness none {W[1]}\nquorum none\n", 1, "reserved"),
        ("witness w1\nquorum none\n", 1, "wrong number of arguments"),
        (f"witness w1 {W[1]} url extra\nquorum none\n", 1, "wrong number of arguments"),
        (
            f"witness w1 {W[1]}\nwitness w2 {witness_vkey(2, 'w1.example/witness')}\nquorum none",
            2,
            "share the key name",
        ),
        (
            # A witness that is one of the logs: the same public key under type 0x04.
            f"log {LOG}\nwitness w1 "
            + note.format_vkey("x.example/w", ed25519.public_key(LOG_SEED), sig_type=4)
            + "\nquorum none",
            2,
            "duplicate key",
        ),
        # group
        (f"witness a {W[1]}\ngroup g 2 a\nquorum g\n", 2, "1..1"),
        (f"witness a {W[1]}\ngroup g 0 a\nquorum g\n", 2, "threshold"),
        (f"witness a {W[1]}\ngroup g 01 a\nquorum g\n", 2, "threshold"),
        (f"witness a {W[1]}\ngroup g -1 a\nquorum g\n", 2, "threshold"),
        (f"witness a {W[1]}\ngroup g some a\nquorum g\n", 2, "threshold"),
        (f"witness a {W[1]}\ngroup g any\nquorum none\n", 2, "wrong number of arguments"),
        (f"witness a {W[1]}\ngroup g any a a\nquorum g\n", 2, "member twice"),
        (f"witness a {W[1]}\ngroup g any a b\nquorum g\n", 2, "'b' is not a witness or group"),
        (f"witness a {W[1]}\ngroup g any a none\nquorum g\n", 2, "'none' is not a witness"),
        (f"witness a {W[1]}\ngroup g any g\nquorum g\n", 2, "'g' is not a witness"),
        (f"witness a {W[1]}\ngroup a any a\nquorum a\n", 2, "already defined"),
        (f"witness a {W[1]}\ngroup none any a\nquorum none\n", 2, "reserved"),
        # kpledger lines
        ("deny-origin ru\nquorum none\n", 1, "ISO 3166-1"),
        ("deny-origin RU,\nquorum none\n", 1, "ISO 3166-1"),
        ("deny-origin RUS\nquorum none\n", 1, "ISO 3166-1"),
        ("deny-origin RU, CF\nquorum none\n", 1, "wrong number of arguments"),
        ("deny-origin\nquorum none\n", 1, "wrong number of arguments"),
        ("deny-origin \u0280U\nquorum none\n", 1, "ISO 3166-1"),
        ("require\nquorum none\n", 1, "wrong number of arguments"),
        ("require kp\nquorum none\n", 1, "unknown requirement"),
        ("require warranty kp-certified\nquorum none\n", 1, "wrong number of arguments"),
    ],
)
def test_policy_errors(text: str, line: int | None, match: str) -> None:
    with pytest.raises(PolicyError, match=match) as info:
        parse_policy(text)
    if line is not None:
        assert info.value.message.startswith(f"policy line {line}: ")


def test_encoding_and_size_errors() -> None:
    with pytest.raises(PolicyError, match="UTF-8"):
        parse_policy(b"quorum none\n# \xff\n")
    with pytest.raises(PolicyError, match="UTF-8"):
        parse_policy("quorum none\n# \ud800\n")
    big = "quorum none\n" + "#" * (64 << 10)
    with pytest.raises(PolicyError, match="larger than"):
        parse_policy(big)
    with pytest.raises(PolicyError, match="larger than"):
        parse_policy(big.encode())
    with pytest.raises(PolicyError, match="larger than"):
        parse_policy("quorum none\n#" + "é" * (33 << 10))


def test_non_ascii_names_are_opaque_strings() -> None:
    p = parse_policy(f"witness K {W[1]}\nwitness \u212a {W[2]}\ngroup g all K \u212a\nquorum g\n")
    assert [w.name for w in p.witnesses] == ["K", "\u212a"]
