"""Signed notes, vkeys, checkpoints and cosignatures against public vectors (specs/checkpoint.md).

The vectors are copied unchanged into ``tests/vectors/tlog/`` (``tests/vectors/README.md``
gives each file's source and licence): Go's note test keys, the C2SP example, a real
sum.golang.org tree head, the Tessera test log and Sunlight's cosigned checkpoints.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from ledger.core import ed25519, note
from ledger.errors import KeyFileError, ProofError
from tests.vectors import TLOG, VECTORS

TESSERA_LOG = TLOG / "transparency-dev-tessera" / "testdata" / "log"
SPEC = Path(__file__).resolve().parents[2] / "specs" / "checkpoint.md"


def tessera_vkey() -> str:
    """The Tessera test log's vkey, as given in tests/vectors/README.md."""
    found = re.findall(
        r"`(example\.com/log/testdata\+[0-9a-f]{8}\+[A-Za-z0-9+/=]+)`",
        (VECTORS / "README.md").read_text(),
    )
    assert len(found) == 1
    return str(found[0])


def kat(name: str) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads((TLOG / "kat" / name).read_text())["cases"]
    return cases


def signer_seed(signer_key: str) -> tuple[str, int, bytes]:
    """Decode Go's ``PRIVATE+KEY+name+hex8+b64(0x01 || seed)`` test key format."""
    private, key, name, hex_id, b64 = signer_key.split("+", 4)
    assert (private, key) == ("PRIVATE", "KEY")
    raw = base64.b64decode(b64)
    assert raw[0] == note.SIG_TYPE_ED25519 and len(raw) == 33
    return name, int(hex_id, 16), raw[1:]


# --- kat/signed-note-ed25519.json ------------------------------------------------------


def test_signed_note_kat_loaded() -> None:
    assert [c["id"] for c in kat("signed-note-ed25519.json")] == [
        "go-note-peterneumann",
        "go-note-two-signatures",
        "c2sp-signed-note-example",
        "sum-golang-org-checkpoint",
        "tessera-testdata-log-checkpoint-15",
    ]


@pytest.mark.parametrize("case", kat("signed-note-ed25519.json"), ids=lambda c: c["id"])
def test_signed_note_kat(case: dict[str, Any]) -> None:
    vkeys = case.get("vkeys") or [case["vkey"]]
    verifiers = [note.parse_vkey(v) for v in vkeys]
    for vkey, verifier in zip(vkeys, verifiers, strict=True):
        assert verifier.vkey() == vkey
        assert note.format_vkey(verifier.name, verifier.public) == vkey
        assert note.key_id(verifier.name, 1, verifier.public) == verifier.key_id
    if "key_id" in case:
        assert verifiers[0].key_id == int(case["key_id"], 16)
        assert verifiers[0].name == case["key_name"]

    signed = case["signed_note"]
    parsed = note.verify_note(signed, verifiers[:1])
    assert note.format_note(parsed) == signed
    assert note.verify_note(signed.encode(), verifiers) == parsed
    assert [(s.name, s.key_id) for s in parsed.signatures][: len(verifiers)] == [
        (v.name, v.key_id) for v in verifiers
    ]
    if "text" in case:
        assert parsed.text == case["text"]
    if "signer_key" in case:
        name, kid, seed = signer_seed(case["signer_key"])
        assert (name, kid) == (verifiers[0].name, verifiers[0].key_id)
        assert ed25519.public_key(seed) == verifiers[0].public
        assert note.sign_note(case["text"], name, seed) == signed  # byte for byte
    if "origin" in case:
        cp = note.parse_checkpoint(parsed.text)
        assert (cp.origin, cp.size, cp.extensions) == (case["origin"], case["size"], ())
        assert note.format_checkpoint(cp) == parsed.text


def test_c2sp_key_id_example() -> None:
    (case,) = [c for c in kat("signed-note-ed25519.json") if c["id"] == "c2sp-signed-note-example"]
    assert note.parse_vkey(case["vkey"]).key_id == 0x530D903A


def test_two_signatures_either_key_suffices() -> None:
    (case,) = [c for c in kat("signed-note-ed25519.json") if c["id"] == "go-note-two-signatures"]
    peter, enoch = (note.parse_vkey(v) for v in case["vkeys"])
    for verifiers in ([peter], [enoch], [peter, enoch]):
        assert len(note.verify_note(case["signed_note"], verifiers).signatures) == 2


# --- kat/cosignature-v1.json -----------------------------------------------------------


def test_cosignature_kat_loaded() -> None:
    assert len(kat("cosignature-v1.json")) == 2


@pytest.mark.parametrize("case", kat("cosignature-v1.json"), ids=lambda c: c["id"])
def test_cosignature_kat(case: dict[str, Any]) -> None:
    cosigner = note.parse_vkey(case["cosigner_vkey"])
    assert cosigner.sig_type == note.SIG_TYPE_COSIGNATURE_V1
    signed = case["signed_note"]
    assert note.verify_cosignatures(signed, [cosigner]) == {cosigner.name: case["expect_timestamp"]}
    parsed = note.parse_note(signed)
    cp = note.parse_checkpoint(parsed.text)
    assert (cp.origin, cp.size) == (case["origin"], case["size"])
    # Every other line, such as the log's type-0x05 RFC 6962 signature, is ignored.
    others = [s for s in parsed.signatures if s.name != cosigner.name]
    assert len(others) == len(parsed.signatures) - 1
    assert note.verify_cosignatures(signed, []) == {}
    # The cosignature is not a type-0x01 note signature.
    plain = note.Verifier.for_ed25519(cosigner.name, cosigner.public)
    with pytest.raises(ProofError, match="not signed by a known key"):
        note.verify_note(signed, [plain])


def test_cosignature_kat_has_a_type_0x05_line_that_is_ignored() -> None:
    case = kat("cosignature-v1.json")[0]
    parsed = note.parse_note(case["signed_note"])
    log_line = next(s for s in parsed.signatures if s.name == case["origin"])
    assert len(log_line.sig) != 72  # an RFC 6962 TreeHeadSignature, not a cosignature
    cosigner = note.parse_vkey(case["cosigner_vkey"])
    assert note.verify_cosignatures(parsed, [cosigner]) == {cosigner.name: case["expect_timestamp"]}


@pytest.mark.parametrize("field", ["timestamp", "signature", "text"])
def test_tampered_cosignature_fails(field: str) -> None:
    case = kat("cosignature-v1.json")[0]
    cosigner = note.parse_vkey(case["cosigner_vkey"])
    parsed = note.parse_note(case["signed_note"])
    sigs = list(parsed.signatures)
    i = next(i for i, s in enumerate(sigs) if s.name == cosigner.name)
    sig = bytearray(sigs[i].sig)
    text = parsed.text
    if field == "timestamp":
        sig[7] ^= 1
    elif field == "signature":
        sig[40] ^= 1
    else:
        text = text.replace("300", "301")
    sigs[i] = note.NoteSignature(sigs[i].name, sigs[i].key_id, bytes(sig))
    tampered = note.format_note(note.Note(text, tuple(sigs)))
    with pytest.raises(
        ProofError, match=re.escape("cosignature by witness.example.org is invalid")
    ):
        note.verify_cosignatures(tampered, [cosigner])


def test_cosignature_with_wrong_length_or_huge_timestamp_is_rejected() -> None:
    case = kat("cosignature-v1.json")[0]
    cosigner = note.parse_vkey(case["cosigner_vkey"])
    parsed = note.parse_note(case["signed_note"])
    good = next(s for s in parsed.signatures if s.name == cosigner.name)
    for sig, match in ((good.sig[:-1], "must be 72 bytes"), (b"\xff" + good.sig[1:], "2\\^63")):
        bad = note.Note(parsed.text, (note.NoteSignature(good.name, good.key_id, sig),))
        with pytest.raises(ProofError, match=match):
            note.verify_cosignatures(bad, [cosigner])


# --- Tessera test log ------------------------------------------------------------------


def tessera_checkpoints() -> list[Path]:
    return sorted(TESSERA_LOG.glob("checkpoint*"))


def test_tessera_checkpoints_loaded() -> None:
    assert len(tessera_checkpoints()) == 17


@pytest.mark.parametrize("path", tessera_checkpoints(), ids=lambda p: p.name)
def test_tessera_checkpoint_verifies(path: Path) -> None:
    verifier = note.parse_vkey(tessera_vkey())
    data = path.read_bytes()
    # Tessera's checkpoints are C2SP checkpoints, not kpledger ones (no state-map line).
    signed = note.verify_note(data, [verifier])
    cp = note.parse_checkpoint(signed.text)
    assert cp.origin == "example.com/log/testdata"
    assert cp.size == (15 if path.name == "checkpoint" else int(path.suffix[1:]))
    if cp.size == 0:
        assert cp.root == hashlib.sha256(b"").digest()
    assert note.format_note(signed).encode() == data


# --- round trips and the spec example ---------------------------------------------------

LOG_SEED = bytes(range(32))
WITNESS_SEED = bytes(range(32, 64))
ORIGIN = "kpledger.example/ledger"
WITNESS = "witness.example/w1"


def test_spec_example_is_reproduced_byte_for_byte() -> None:
    cp = note.kpledger_checkpoint(
        ORIGIN, 3, hashlib.sha256(b"example").digest(), hashlib.sha256(b"example state").digest()
    )
    signed = note.sign_checkpoint(cp, ORIGIN, LOG_SEED)
    line = note.cosign(signed, WITNESS, WITNESS_SEED, 1767139200)
    full = note.add_signature(signed, line)
    spec = SPEC.read_text()
    assert f"```text\n{full}```" in spec
    log_vkey = note.format_vkey(ORIGIN, ed25519.public_key(LOG_SEED))
    witness_vkey = note.format_vkey(
        WITNESS, ed25519.public_key(WITNESS_SEED), sig_type=note.SIG_TYPE_COSIGNATURE_V1
    )
    assert f"`{log_vkey}`" in spec and f"`{witness_vkey}`" in spec
    assert note.open_checkpoint(full, note.parse_vkey(log_vkey))[0] == cp
    assert note.verify_cosignatures(full, [note.parse_vkey(witness_vkey)]) == {WITNESS: 1767139200}
    # cosign accepts every form of the checkpoint and gives the same line.
    parsed = note.parse_note(signed)
    for form in (cp, parsed, parsed.text, signed.encode()):
        assert note.cosign(form, WITNESS, WITNESS_SEED, 1767139200) == line
    assert len(line) == len(f"— {WITNESS} \n") + 104


def test_cosigning_twice_keeps_the_latest_timestamp_and_dedupes_lines() -> None:
    cp = note.Checkpoint(ORIGIN, 0, hashlib.sha256(b"").digest())
    signed = note.sign_checkpoint(cp, ORIGIN, LOG_SEED)
    early = note.cosign(cp, WITNESS, WITNESS_SEED, 10)
    late = note.cosign(cp, WITNESS, WITNESS_SEED, 20)
    both = note.add_signature(note.add_signature(signed, late), early)
    assert note.add_signature(both, early) == both
    witness = note.Verifier.for_cosigner(WITNESS, ed25519.public_key(WITNESS_SEED))
    assert note.verify_cosignatures(both, [witness]) == {WITNESS: 20}


def test_note_text_with_blank_lines_and_signature_like_lines_round_trips() -> None:
    verifier = note.Verifier.for_ed25519("k", ed25519.public_key(LOG_SEED))
    for text in ("\n", "a\n\nb\n", "a\n\n\n", "x\n\n— k AAAA\n", "\x7f é 😀\n"):
        signed = note.sign_note(text, "k", LOG_SEED)
        assert note.verify_note(signed, [verifier]).text == text


# --- negative cases --------------------------------------------------------------------


def tessera() -> tuple[str, note.Verifier]:
    return (TESSERA_LOG / "checkpoint").read_text(), note.parse_vkey(tessera_vkey())


def test_wrong_key_is_rejected() -> None:
    text, verifier = tessera()
    other = note.Verifier.for_ed25519(verifier.name, ed25519.public_key(LOG_SEED))
    with pytest.raises(ProofError, match="not signed by a known key"):
        note.verify_note(text, [other])
    # Same name and key ID but another key: the signature is checked, and fails.
    impostor = note.Verifier.__new__(note.Verifier)  # no __post_init__ check
    for field, value in (("name", verifier.name), ("key_id", verifier.key_id)):
        object.__setattr__(impostor, field, value)
    object.__setattr__(impostor, "public", ed25519.public_key(LOG_SEED))
    object.__setattr__(impostor, "sig_type", 1)
    with pytest.raises(ProofError, match="is invalid: signature does not verify"):
        note.verify_note(text, [impostor])


def test_altered_text_is_rejected() -> None:
    text, verifier = tessera()
    with pytest.raises(ProofError, match="invalid"):
        note.open_checkpoint(text.replace("\n15\n", "\n16\n"), verifier)


def test_altered_signature_is_rejected() -> None:
    text, verifier = tessera()
    body, sigline = text.rsplit(" ", 1)
    raw = bytearray(base64.b64decode(sigline))
    raw[10] ^= 0x01
    with pytest.raises(ProofError, match="invalid"):
        note.verify_note(f"{body} {base64.b64encode(raw).decode()}\n", [verifier])


def test_malleated_signature_is_rejected_by_the_strict_rule() -> None:
    text, verifier = tessera()
    parsed = note.parse_note(text)
    sig = parsed.signatures[0]
    s = int.from_bytes(sig.sig[32:], "little") + ed25519._L
    malleated = sig.sig[:32] + s.to_bytes(32, "little")
    bad = note.Note(parsed.text, (note.NoteSignature(sig.name, sig.key_id, malleated),))
    with pytest.raises(ProofError, match="S is not below L"):
        note.verify_note(bad, [verifier])


def test_open_checkpoint_requires_origin_equal_to_key_name_and_one_state_map_line() -> None:
    (case,) = [c for c in kat("signed-note-ed25519.json") if c["id"] == "sum-golang-org-checkpoint"]
    with pytest.raises(ProofError, match="origin"):
        note.open_checkpoint(case["signed_note"], note.parse_vkey(case["vkey"]))
    verifier = note.Verifier.for_ed25519(ORIGIN, ed25519.public_key(LOG_SEED))
    good = note.kpledger_checkpoint(ORIGIN, 1, bytes(32), bytes(range(32)))
    state_line = good.extensions[0]
    assert note.open_checkpoint(note.sign_checkpoint(good, ORIGIN, LOG_SEED), verifier)[0] == good
    assert note.map_root(good) == bytes(range(32))
    for extensions in (
        (),
        ("ext",),
        (state_line, state_line),
        (state_line, "ext"),
        (state_line[:-2] + "9=",),  # not canonical base64 (padding bits set)
        (state_line.replace("state-map", "statemap"),),
    ):
        cp = note.Checkpoint(ORIGIN, 1, bytes(32), extensions)
        signed = note.sign_checkpoint(cp, ORIGIN, LOG_SEED)
        assert note.parse_checkpoint(note.verify_note(signed, [verifier]).text) == cp
        with pytest.raises(ProofError, match="extension"):
            note.open_checkpoint(signed, verifier)


GOOD_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SMALL_ORDER_KEY = base64.b64encode(b"\x01" + bytes(32)).decode()


@pytest.mark.parametrize(
    "vkey",
    [
        "",
        "example.com/foo",
        "example.com/foo+530d903a",
        "+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",  # empty name
        "example com+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",  # space
        "example.com/foo+530D903A+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",  # upper hex
        "example.com/foo+530d903+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",  # 7 hex
        "example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",  # wrong id
        "example.com/bar+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",  # wrong name
        "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2",  # bad b64
        "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2l",  # non-canonical
        "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k=",
        "example.com/foo+530d903a+AukyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",  # type 0x02
        "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv",  # short key
        f"example.com/foo+{note.key_id('example.com/foo', 1, bytes(32)):08x}+{SMALL_ORDER_KEY}",
        "example.com/\ud800+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
        "x" * 2000,
    ],
)
def test_bad_vkey_is_rejected(vkey: str) -> None:
    with pytest.raises(KeyFileError):
        note.parse_vkey(vkey)


def test_good_vkey_parses() -> None:
    assert note.parse_vkey(GOOD_VKEY).vkey() == GOOD_VKEY


@pytest.mark.parametrize(
    "size",
    [
        "015",
        "00",
        "+15",
        " 15",
        "15 ",
        "1_5",
        "１５",
        "\u0661\u0665",
        "",
        "-1",
        "0x0f",
        "9223372036854775808",
    ],
)
def test_checkpoint_size_must_be_canonical_decimal(size: str) -> None:
    root = base64.b64encode(bytes(32)).decode()
    with pytest.raises(ProofError):
        note.parse_checkpoint(f"origin\n{size}\n{root}\n")


def test_checkpoint_size_limit() -> None:
    root = base64.b64encode(bytes(32)).decode()
    assert note.parse_checkpoint(f"o\n9223372036854775807\n{root}\n").size == 2**63 - 1


@pytest.mark.parametrize(
    "body",
    [
        "o\n1\n" + base64.b64encode(bytes(31)).decode() + "\n",  # 31 bytes
        "o\n1\n" + base64.b64encode(bytes(33)).decode() + "\n",  # 33 bytes
        "o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=\n",  # non-canonical base64
        "o\n1\n" + base64.b64encode(bytes(32)).decode()[:-1] + "\n",  # no padding
        "o\n1\n" + base64.urlsafe_b64encode(b"\xff" * 32).decode() + "\n",  # URL-safe
        "o\n1\n" + base64.b64encode(bytes(32)).decode() + "\n\n",  # empty extension line
        "o\n1\n" + base64.b64encode(bytes(32)).decode(),  # no final newline
        "\n1\n" + base64.b64encode(bytes(32)).decode() + "\n",  # empty origin
        "o\n1\n",
    ],
)
def test_malformed_checkpoint_is_rejected(body: str) -> None:
    with pytest.raises(ProofError):
        note.parse_checkpoint(body)


@pytest.mark.parametrize(
    ("msg", "match"),
    [
        (b"text\n\n\xe2\x80\x94 k AAAAAAA=\n\xff", "UTF-8"),
        ("text\r\n\n— k AAAAAAA=\n", "U\\+000D"),
        ("te\txt\n\n— k AAAAAAA=\n", "U\\+0009"),
        ("te\x00xt\n\n— k AAAAAAA=\n", "U\\+0000"),
        ("text\ud800\n\n— k AAAAAAA=\n", "UTF-8"),
        ("text\n— k AAAAAAA=\n", "no blank line"),
        ("text\n\n— k AAAAAAA=", "end with a newline"),
        ("text\n\n", "end with a newline"),
        ("text\n\n\n", "end with a newline"),
        ("text\n\n- k AAAAAAA=\n", "em dash"),
        ("text\n\n— kAAAAAAA=\n", "key name"),
        ("text\n\n—  AAAAAAA=\n", "key name"),
        ("text\n\n— k+x AAAAAAA=\n", "key name"),
        ("text\n\n— k\u00a0x AAAAAAA=\n", "key name"),
        ("text\n\n— k AAAA\n", "too short"),
        ("text\n\n— k AAAAAAA\n", "base64"),
        ("text\n\n— k AAAAAAB=\n", "base64"),
        ("text\n\n— k AAAA AAA=\n", "base64"),
        ("text\n\n— k \n", "base64"),
    ],
)
def test_malformed_note_is_rejected(msg: str | bytes, match: str) -> None:
    with pytest.raises(ProofError, match=match):
        note.parse_note(msg)


def test_signature_count_limit() -> None:
    text, verifier = tessera()
    unknown = note.NoteSignature("other.example", 1, bytes(64)).line()
    at_limit = text + unknown * 99
    assert len(note.verify_note(at_limit, [verifier]).signatures) == 100
    with pytest.raises(ProofError, match="101 signatures"):
        note.parse_note(at_limit + unknown)
    with pytest.raises(ProofError, match="already has 100"):
        note.add_signature(at_limit, note.NoteSignature("x", 2, bytes(64)).line())


def test_size_limit_is_checked_first() -> None:
    huge = "a" * note.MAX_NOTE_SIZE + "\n\n— k AAAAAAA=\n"
    with pytest.raises(ProofError, match="larger than"):
        note.parse_note(huge)
    with pytest.raises(ProofError, match="larger than"):
        note.parse_note(huge.encode())
    # Multi-byte characters count in UTF-8 bytes, not code points.
    with pytest.raises(ProofError, match="larger than"):
        note.parse_note("é" * (note.MAX_NOTE_SIZE // 2 + 1))


def test_programmer_errors() -> None:
    with pytest.raises(ValueError, match="newline"):
        note.sign_note("no newline", "k", LOG_SEED)
    with pytest.raises(ValueError):
        note.sign_note("bad\rtext\n", "k", LOG_SEED)
    with pytest.raises(ValueError, match="key name"):
        note.sign_note("text\n", "bad name", LOG_SEED)
    with pytest.raises(ValueError):
        note.sign_note("text\n", "k", bytes(31))
    text, _ = tessera()
    for ts in (-1, 2**63):
        with pytest.raises(ValueError, match="timestamp"):
            note.cosign(text, "w", LOG_SEED, ts)
    with pytest.raises(ValueError):
        note.Verifier("w", 0, ed25519.public_key(LOG_SEED))  # key ID does not match
    with pytest.raises(ValueError):
        note.format_checkpoint(note.Checkpoint("a\nb", 1, bytes(32)))
    with pytest.raises(ValueError):
        note.format_checkpoint(note.Checkpoint("o", -1, bytes(32)))
    with pytest.raises(ValueError):
        note.format_checkpoint(note.Checkpoint("o", 1, bytes(31)))


def test_a_verifier_of_the_wrong_type_is_rejected_as_data() -> None:
    """A user-supplied vkey may be of the wrong kind: that is a ProofError, not a crash."""
    text, _ = tessera()
    cosigner = note.Verifier.for_cosigner("w", ed25519.public_key(LOG_SEED))
    log = note.Verifier.for_ed25519("w", ed25519.public_key(LOG_SEED))
    with pytest.raises(ProofError, match="type 0x01"):
        note.verify_note(text, [cosigner])
    with pytest.raises(ProofError, match="type 0x01"):
        note.open_checkpoint(text, cosigner)
    with pytest.raises(ProofError, match="type 0x04"):
        note.verify_cosignatures(text, [log])


def test_cosign_rejects_a_non_checkpoint() -> None:
    with pytest.raises(ProofError):
        note.cosign("not a checkpoint\n", WITNESS, WITNESS_SEED, 1)


def test_add_signature_rejects_a_malformed_line() -> None:
    text, _ = tessera()
    for line in ("— k AAAAAAA=", "— k AAAAAAA=\n— k AAAAAAA=\n", "x\n"):
        with pytest.raises(ProofError):
            note.add_signature(text, line)
