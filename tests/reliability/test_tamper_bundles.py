"""Tamper evidence of provenance bundles and signed checkpoints (hypothesis).

One ledger is built per module (``bundle_scene`` in ``tests/reliability/conftest.py``,
with the ``World`` helper): a Botswana parcel shipped to Antwerp, split, shipped to Surat,
cut; one stone goes to a New York lab and retailer, another is sold. Checkpoints are
signed before the stone's last moves (``old``), after them (``main``, the one the bundle
carries) and after the sale (``new``).

Every tamper must make ``proofs.verify_bundle`` raise ``ProofError`` whose message names
what is wrong (asserted on keywords): any byte flipped; any record dropped; the
checkpoint swapped for an older, newer, forked (validly signed, other root) or foreign
one; another key trusted; records reordered or duplicated; the checkpoint note text
edited; the origin or item edited. The same for checkpoint files and
``note.open_checkpoint``.

Dropping a registry record (a KP status or participant entry) or the *latest* events of
the item itself is caught by the state map: the bundle's state-map proofs show, as of the
checkpoint, the latest state of the item and of every participant, key, KP status and
parameter its records use, and the replay of a bundle with a record dropped gives another
state (``test_dropping_the_items_latest_events_is_detected``,
``test_registry_drops_are_detected``). So is a map proof tampered with or swapped.

``KPLEDGER_TAMPER_EXAMPLES`` sets the examples per test (default 150). Run with ``-s``
for the tally of tampers tried and detected.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.core import ed25519, note, proofs
from ledger.errors import ProofError
from tests.conftest import ORIGIN, fixed_key
from tests.reliability.conftest import Scene

EXAMPLES = int(os.environ.get("KPLEDGER_TAMPER_EXAMPLES", "150"))
TAMPER = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

REGISTRY = ("genesis", "participant.add", "participant.rotate", "participant.revoke")
REGISTRY += ("kp-status.set",)
#: Words of the messages of every way a bundle can fail (for the untargeted mutations).
ANY_PROBLEM = re.compile(
    r"malformed bundle|not in the checkpointed log|note|signature|signed|checkpoint"
    r"|fail the rules|missing from the bundle|does not contain item|genesis|log order"
    r"|state map|map proof"
)

TALLY: Counter[str] = Counter()


@pytest.fixture(scope="module")
def scene(bundle_scene: Scene) -> Iterator[Scene]:
    """The shared scene (``tests/reliability/conftest.py``); prints the tally at the end."""
    yield bundle_scene
    if TALLY:
        lines = "\n".join(f"  {k}: {n}" for k, n in sorted(TALLY.items()))
        print(f"\ntampers tried (every one detected unless it says otherwise):\n{lines}")


def rejected(scene: Scene, data: bytes, kind: str, *words: str) -> str:
    """Assert ``data`` fails verification with a message containing one of ``words``."""
    TALLY[kind] += 1
    with pytest.raises(ProofError) as info:
        proofs.verify_bundle(data, scene.verifier)
    message = info.value.message
    if words:
        assert any(w in message for w in words), f"{kind}: {message!r} names none of {words}"
    else:
        assert ANY_PROBLEM.search(message), f"{kind}: unexplained message {message!r}"
    return message


def with_records(scene: Scene, records: list[proofs.BundleRecord]) -> bytes:
    return replace(scene.decoded, records=tuple(records)).encode()


# --- sanity ------------------------------------------------------------------------------------


def test_the_untampered_bundles_verify(scene: Scene) -> None:
    report = proofs.verify_bundle(scene.bundle, scene.verifier)
    assert (report.item, report.holder, report.status) == (
        "STONE-0001",
        "New York Retailer",
        "live",
    )
    assert proofs.Bundle.decode(scene.bundle).encode() == scene.bundle
    assert proofs.verify_bundle(scene.sold_bundle, scene.verifier).status == "sold"
    for cp in (scene.cp_old, scene.cp_main, scene.cp_new, scene.cp_forked):
        note.open_checkpoint(cp, scene.verifier)


# --- bytes ---------------------------------------------------------------------------------------


@TAMPER
@given(data=st.data())
def test_any_byte_flipped(scene: Scene, data: st.DataObject) -> None:
    at = data.draw(st.integers(0, len(scene.bundle) - 1), label="offset")
    mask = data.draw(st.integers(1, 255), label="xor")
    mutated = bytearray(scene.bundle)
    mutated[at] ^= mask
    rejected(scene, bytes(mutated), "bundle: byte flipped")


def test_every_byte_flipped_once(scene: Scene) -> None:
    """Exhaustive over offsets (one xor value each), beyond hypothesis's sample."""
    for at in range(len(scene.bundle)):
        mutated = bytearray(scene.bundle)
        mutated[at] ^= 0x01 << (at % 8)
        rejected(scene, bytes(mutated), "bundle: byte flipped (exhaustive)")


@TAMPER
@given(data=st.data())
def test_byte_flipped_in_a_record_or_its_proof(scene: Scene, data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(scene.decoded.records) - 1), label="record")
    r = scene.decoded.records[i]
    records = list(scene.decoded.records)
    if r.proof and data.draw(st.booleans(), label="in proof"):
        h = data.draw(st.integers(0, len(r.proof) - 1))
        blob = bytearray(r.proof[h])
        blob[data.draw(st.integers(0, 31))] ^= data.draw(st.integers(1, 255))
        records[i] = replace(r, proof=(*r.proof[:h], bytes(blob), *r.proof[h + 1 :]))
        kind = "bundle: proof hash flipped"
    else:
        blob = bytearray(r.record)
        blob[data.draw(st.integers(0, len(blob) - 1))] ^= data.draw(st.integers(1, 255))
        records[i] = replace(r, record=bytes(blob))
        kind = "bundle: record byte flipped"
    message = rejected(scene, with_records(scene, records), kind, "not in the checkpointed log")
    assert f"record {r.index} " in message


@TAMPER
@given(data=st.data())
def test_proof_hash_added_or_removed(scene: Scene, data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(scene.decoded.records) - 1), label="record")
    r = scene.decoded.records[i]
    if r.proof and data.draw(st.booleans()):
        proof = r.proof[:-1]
    else:
        proof = (*r.proof, data.draw(st.binary(min_size=32, max_size=32)))
    records = list(scene.decoded.records)
    records[i] = replace(r, proof=proof)
    rejected(scene, with_records(scene, records), "bundle: proof length", "checkpointed log")


# --- records -------------------------------------------------------------------------------------


def test_each_record_dropped(scene: Scene) -> None:
    """Every single record dropped, one at a time (exhaustive; see the module doc)."""
    for i, r in enumerate(scene.decoded.records):
        records = list(scene.decoded.records)
        del records[i]
        data = with_records(scene, records)
        if r.index == scene.head_index:
            rejected(scene, data, "bundle: item's latest event dropped", "state map")
        elif r.index == 0:
            rejected(scene, data, "bundle: genesis dropped", "genesis")
        elif scene.types[r.index] in REGISTRY:
            _registry_drop(scene, data)
        else:
            message = rejected(
                scene, data, "bundle: DAG record dropped", "fail the rules", "missing from"
            )
            assert re.search(r"R-[A-Z]+-\d", message) or "entry " in message, message


@TAMPER
@given(data=st.data())
def test_any_record_dropped(scene: Scene, data: st.DataObject) -> None:
    records = list(scene.decoded.records)
    i = data.draw(st.integers(0, len(records) - 1), label="dropped")
    dropped = records.pop(i)
    if dropped.index == scene.head_index:
        rejected(scene, with_records(scene, records), "bundle: latest event dropped", "state map")
        return
    entry_type = scene.types[dropped.index]
    if entry_type in REGISTRY and dropped.index != 0:
        _registry_drop(scene, with_records(scene, records))
        return
    rejected(scene, with_records(scene, records), "bundle: record dropped")


def _registry_drop(scene: Scene, data: bytes) -> None:
    """A dropped registry record is detected: by the rules, or by the state map (the
    participant's, key's or KP status's latest state differs from the map's)."""
    message = rejected(
        scene, data, "bundle: registry record dropped", "fail the rules", "state map"
    )
    assert re.search(r"R-[A-Z]+-\d", message) or "state map" in message, message


def test_registry_drops_are_detected(scene: Scene) -> None:
    for i, r in enumerate(scene.decoded.records):
        if r.index == 0 or scene.types[r.index] not in REGISTRY:
            continue
        records = list(scene.decoded.records)
        del records[i]
        _registry_drop(scene, with_records(scene, records))


@pytest.mark.parametrize("case", ["sold stone, sell dropped", "accept dropped", "offer+accept"])
def test_dropping_the_items_latest_events_is_detected(scene: Scene, case: str) -> None:
    if case == "sold stone, sell dropped":
        bundle = proofs.Bundle.decode(scene.sold_bundle)
        records = [r for r in bundle.records if r.index != scene.sell_index]
        data = replace(bundle, records=tuple(records)).encode()
    else:
        cut = 1 if case == "accept dropped" else 2
        data = with_records(scene, list(scene.decoded.records[:-cut]))
    with pytest.raises(ProofError):
        report = proofs.verify_bundle(data, scene.verifier)
        print(f"\n{case}: verifies, status {report.status}, holder {report.holder}")


@TAMPER
@given(data=st.data())
def test_records_reordered_or_duplicated(scene: Scene, data: st.DataObject) -> None:
    records = list(scene.decoded.records)
    if data.draw(st.booleans(), label="duplicate"):
        i = data.draw(st.integers(0, len(records) - 1))
        records.insert(data.draw(st.integers(0, len(records))), records[i])
        kind = "bundle: record duplicated"
    else:
        i = data.draw(st.integers(0, len(records) - 2))
        j = data.draw(st.integers(i + 1, len(records) - 1))
        records[i], records[j] = records[j], records[i]
        kind = "bundle: records swapped"
    rejected(scene, with_records(scene, records), kind, "log order", "genesis")


@TAMPER
@given(data=st.data())
def test_records_permuted(scene: Scene, data: st.DataObject) -> None:
    records = list(scene.decoded.records)
    shuffled = data.draw(st.permutations(records), label="order")
    if shuffled == records:
        return
    rejected(
        scene, with_records(scene, shuffled), "bundle: records permuted", "log order", "genesis"
    )


@TAMPER
@given(data=st.data())
def test_record_moved_to_another_index(scene: Scene, data: st.DataObject) -> None:
    """A record claimed at another position: its inclusion proof no longer fits."""
    records = list(scene.decoded.records)
    i = data.draw(st.integers(1, len(records) - 1))
    lo = records[i - 1].index + 1
    hi = records[i + 1].index - 1 if i + 1 < len(records) else records[i].index + 5
    new = data.draw(st.integers(lo, max(lo, hi)))
    if new == records[i].index:
        return
    records[i] = replace(records[i], index=new)
    rejected(
        scene, with_records(scene, records), "bundle: record index changed", "checkpointed log"
    )


# --- checkpoint and trust ------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["old", "new", "forked"])
def test_checkpoint_swapped(scene: Scene, which: str) -> None:
    cp = {"old": scene.cp_old, "new": scene.cp_new, "forked": scene.cp_forked}[which]
    data = replace(scene.decoded, checkpoint=cp).encode()
    rejected(scene, data, f"bundle: {which} checkpoint swapped in", "not in the checkpointed log")


def test_checkpoint_of_another_log(scene: Scene) -> None:
    other = note.sign_checkpoint(
        note.Checkpoint("other.example/log", 3, bytes(32)), ORIGIN, scene.seed
    )
    data = replace(scene.decoded, checkpoint=other).encode()
    rejected(scene, data, "bundle: foreign checkpoint", "is not the signing key's name")
    foreign_origin = replace(scene.decoded, origin="other.example/log").encode()
    rejected(scene, foreign_origin, "bundle: origin edited", "checkpoint is for")


@pytest.mark.parametrize("who", ["stranger", "renamed", "cosigner", "other operator seed"])
def test_another_key_trusted(scene: Scene, who: str) -> None:
    TALLY["bundle: another key trusted"] += 1
    pub = scene.verifier.public
    verifier = {
        "stranger": note.Verifier.for_ed25519(ORIGIN, fixed_key("Stranger", 99).public),
        "renamed": note.Verifier.for_ed25519("other.example/log", pub),
        "cosigner": note.Verifier.for_cosigner(ORIGIN, pub),
        "other operator seed": note.Verifier.for_ed25519(ORIGIN, ed25519.public_key(b"\x02" * 32)),
    }[who]
    with pytest.raises(ProofError) as info:
        proofs.verify_bundle(scene.bundle, verifier)
    assert "not signed by a known key" in info.value.message or "cosigner key" in info.value.message


SIG_PREFIX = "\u2014 "


@TAMPER
@given(data=st.data())
def test_checkpoint_note_text_edited(scene: Scene, data: st.DataObject) -> None:
    """Edit the signed text (origin, size, root lines) of the bundle's checkpoint."""
    cp = scene.cp_main
    body_end = cp.index("\n\n") + 1
    at = data.draw(st.integers(0, body_end - 1), label="at")
    op = data.draw(st.sampled_from(["replace", "insert", "delete"]))
    char = data.draw(
        st.sampled_from(list("0123456789+/=abcXYZ.\n ")) | st.characters(exclude_categories=("Cs",))
    )
    if op == "replace":
        text = cp[:at] + char + cp[at + 1 :]
    elif op == "insert":
        text = cp[:at] + char + cp[at:]
    else:
        text = cp[:at] + cp[at + 1 :]
    if text == cp:
        return
    data_ = replace(scene.decoded, checkpoint=text).encode()
    rejected(
        scene,
        data_,
        "bundle: checkpoint text edited",
        "note",
        "signature",
        "signed",
        "malformed",
        "checkpoint",
    )


@pytest.mark.parametrize("field", ["size+1", "size-1", "root", "origin", "extension"])
def test_checkpoint_fields_edited(scene: Scene, field: str) -> None:
    cp = note.parse_checkpoint(note.parse_note(scene.cp_main).text)
    sig = scene.cp_main[scene.cp_main.index("\n\n") + 1 :]
    edited = {
        "size+1": replace(cp, size=cp.size + 1),
        "size-1": replace(cp, size=cp.size - 1),
        "root": replace(cp, root=bytes(32)),
        "origin": replace(cp, origin=ORIGIN + "x"),
        "extension": replace(cp, extensions=("x",)),
    }[field]
    text = note.format_checkpoint(edited) + sig
    data = replace(scene.decoded, checkpoint=text).encode()
    rejected(scene, data, f"bundle: checkpoint {field} edited", "is invalid", "not signed")


def test_item_edited(scene: Scene) -> None:
    for item in ("STONE-0003", "STONE-000", "stone-0001", ""):
        data = replace(scene.decoded, item=item).encode()
        rejected(scene, data, "bundle: item edited", "does not contain item")


# --- checkpoint files --------------------------------------------------------------------------


def opened_fails(scene: Scene, text: str | bytes, kind: str, *words: str) -> None:
    TALLY[kind] += 1
    with pytest.raises(ProofError) as info:
        note.open_checkpoint(text, scene.verifier)
    message = info.value.message
    assert any(w in message for w in words), f"{kind}: {message!r} names none of {words}"


CP_WORDS = ("note", "signature", "signed", "malformed", "checkpoint", "UTF-8", "control")


@TAMPER
@given(data=st.data())
def test_checkpoint_file_byte_flipped(scene: Scene, data: st.DataObject) -> None:
    raw = bytearray(scene.cp_main.encode())
    at = data.draw(st.integers(0, len(raw) - 1))
    raw[at] ^= data.draw(st.integers(1, 255))
    opened_fails(scene, bytes(raw), "checkpoint file: byte flipped", *CP_WORDS)


def test_checkpoint_file_every_byte_flipped_and_truncated(scene: Scene) -> None:
    raw = scene.cp_main.encode()
    for at in range(len(raw)):
        mutated = bytearray(raw)
        mutated[at] ^= 0x01 << (at % 8)
        opened_fails(scene, bytes(mutated), "checkpoint file: byte flipped (exhaustive)", *CP_WORDS)
        opened_fails(scene, raw[:at], "checkpoint file: truncated", *CP_WORDS)


@pytest.mark.parametrize(
    "case", ["signature line dropped", "old signature", "new signature", "stranger re-signed"]
)
def test_checkpoint_file_signatures(scene: Scene, case: str) -> None:
    body = note.parse_note(scene.cp_main).text
    if case == "signature line dropped":
        text = body + "\n"
    elif case in ("old signature", "new signature"):
        other = scene.cp_old if case == "old signature" else scene.cp_new
        text = body + other[other.index("\n\n") + 1 :]
    else:
        text = note.sign_note(body, ORIGIN, fixed_key("Stranger", 99).seed)
    opened_fails(scene, text, f"checkpoint file: {case}", "malformed", "invalid", "not signed")


@pytest.mark.parametrize("who", ["stranger", "renamed", "cosigner"])
def test_checkpoint_file_other_key_trusted(scene: Scene, who: str) -> None:
    pub = scene.verifier.public
    verifier = {
        "stranger": note.Verifier.for_ed25519(ORIGIN, fixed_key("Stranger", 99).public),
        "renamed": note.Verifier.for_ed25519("other.example/log", pub),
        "cosigner": note.Verifier.for_cosigner(ORIGIN, pub),
    }[who]
    TALLY["checkpoint file: another key trusted"] += 1
    with pytest.raises(ProofError) as info:
        note.open_checkpoint(scene.cp_main, verifier)
    assert "not signed by a known key" in info.value.message or "cosigner" in info.value.message
