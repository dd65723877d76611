"""Write the bundle conformance corpus (specs/vectors/bundles/README.md).

    .venv/bin/python tools/gen_bundle_corpus.py            # (re)write the corpus
    .venv/bin/python tools/gen_bundle_corpus.py --check    # exit 1 if it is stale

Every vector is a bundle, the trusted vkey, a policy, a judgement date and the expected
verdict with the rule ID or check name of the first failure. The bundles come from
in-memory logs (``tools/corpus_log.py``) and from simulated ledgers (``ledger.sim``), and
from hand-made mutations of them. Each vector states what it means to show; the generator
asserts that the Python verifier (``ledger.core.proofs.verdict``) agrees before writing.
Deterministic: the same code writes the same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # run as a script: make the repository's ledger importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ledger.core import ed25519, merkle, note, policy, proofs
from ledger.core.encoding import decode, encode
from ledger.core.model import Record, key_id
from tools.corpus_log import DAY, HOUR, MINUTE, OPERATOR, Log, pub_of, seed_of, witness_vkey

OUT = Path(__file__).resolve().parents[1] / "specs" / "vectors" / "bundles"

W1, W2, W3 = "witness.example/w1", "witness.example/w2", "witness.example/w3"
#: POSIX seconds: 2025-04-01T00:00:00Z, the time the corpus witnesses cosign at.
COSIGN_TIME = 1_743_465_600


@dataclass
class Vector:
    name: str
    kind: str  # valid | invalid | rule | policy
    description: str
    bundle: bytes
    vkey: str
    policy: str | None
    as_of: str | None
    verdict: str
    failure: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "description": self.description,
            "bundle": f"bundles/{digest(self.bundle)}.kpproof",
            "vkey": self.vkey,
            "policy": self.policy,
            "as_of": self.as_of,
            "expect": {"verdict": self.verdict, "failure": self.failure},
        }


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:24]


# ---------------------------------------------------------------------------
# The world


PARTIES: list[tuple[str, list[str], str]] = [
    ("BW Authority", ["authority"], "BW"),
    ("Debswana", ["mine"], "BW"),
    ("Dubai Trading", ["trader"], "AE"),
    ("AE Authority", ["authority"], "AE"),
    ("Surat Cutting", ["cutter"], "IN"),
    ("IN Authority", ["authority"], "IN"),
    ("NY Lab", ["grader"], "US"),
    ("Fifth Avenue", ["retailer"], "US"),
]
EXTRA: dict[str, tuple[list[str], str]] = {
    "Alrosa": (["mine"], "RU"),
    "RU Authority": (["authority"], "RU"),
    "Moscow Trading": (["trader"], "RU"),
    "EU Sanctions": (["publisher"], "BE"),
    "Antwerp Trading": (["trader"], "BE"),
    "BE Authority": (["authority"], "BE"),
    "Lab Grown Co": (["producer"], "US"),
    "CF Mine": (["mine"], "CF"),
    "Gem Trader": (["trader"], "US"),
}


def registry(log: Log, extra: tuple[str, ...] = ()) -> None:
    countries = {"BW", "AE", "IN", "US"}
    for name, roles, cc in PARTIES:
        log.add(name, roles, cc)
    for name in extra:
        roles, cc = EXTRA[name]
        log.add(name, roles, cc)
        countries.add(cc)
    for cc in sorted(countries):
        log.kp(cc, "suspended" if cc == "CF" else "participant")


def base(*, extra: tuple[str, ...] = (), governed: bool = False) -> Log:
    """A small log: the registry, a parcel at the mine (BW-1), a parcel shipped to Dubai
    (BW-2, offer ``log.o_dubai``), rough cut in Surat into ST-1, ST-2 and BP-1 and a
    pending offer (BW-4, ``log.o_pending``)."""
    gov = ("Governor A", "Governor B", "Governor C") if governed else ()
    log = Log(governors=gov, threshold=2 if governed else 0)
    registry(log, extra)
    log.mint("Debswana", "BW-1", 1000, 10)
    log.mint("Debswana", "BW-2", 500, 5)
    log.mint("Debswana", "BW-3", 300, 3)
    log.o_dubai = log.ship(  # type: ignore[attr-defined]
        "Debswana", "Dubai Trading", ["BW-2"], authority="BW Authority", number="BW-0001"
    )
    log.ship("Debswana", "Surat Cutting", ["BW-3"], authority="BW Authority", number="BW-0002")
    log.cut("Surat Cutting", ["BW-3"], [("ST-1", 100), ("ST-2", 50)], [("BP-1", 100)])
    log.mint("Debswana", "BW-4", 200, 2)
    log.issue("BW Authority", "BW-0004", "Debswana", "Dubai Trading", ["BW-4"])
    log.o_pending = log.transfer(  # type: ignore[attr-defined]
        "Debswana", "Dubai Trading", ["BW-4"], cert="BW-0004"
    )
    return log


# ---------------------------------------------------------------------------
# Vectors


class Corpus:
    def __init__(self) -> None:
        self.vectors: list[Vector] = []
        self.names: set[str] = set()
        self.wrong: list[str] = []

    def add(
        self,
        name: str,
        kind: str,
        description: str,
        bundle: bytes,
        vkey: str,
        expect: tuple[str, str | None],
        *,
        policy_text: str | None = None,
        as_of: str | None = None,
    ) -> None:
        assert name not in self.names, name
        self.names.add(name)
        got = python_verdict(bundle, vkey, policy_text, as_of)
        if got != expect:
            self.wrong.append(f"vector {name}: expected {expect}, the Python verifier gives {got}")
        self.vectors.append(
            Vector(name, kind, description, bundle, vkey, policy_text, as_of, *expect)
        )


def load_policy(text: str | None) -> policy.Policy | None:
    if text is None:
        return None
    if text in ("eu-russia", "us-russia"):
        return policy.named_policy(text)
    return policy.parse_policy(text)


def python_verdict(
    bundle: bytes, vkey: str, policy_text: str | None, as_of: str | None
) -> tuple[str, str | None]:
    verifier = note.parse_vkey(vkey)
    return proofs.verdict(bundle, verifier, buyer_policy=load_policy(policy_text), as_of=as_of)


def wire(bundle: bytes) -> dict[str, Any]:
    value = decode(bundle, max_size=proofs.MAX_BUNDLE_SIZE)
    assert isinstance(value, dict)
    return value


def rewire(bundle: bytes, change: Callable[[dict[str, Any]], None]) -> bytes:
    w = wire(bundle)
    change(w)
    return encode(w)


VALID = ("valid", None)


def invalid(check: str) -> tuple[str, str]:
    return ("invalid", check)


def rejected(rule: str) -> tuple[str, str]:
    return ("rejected", rule)


# ---------------------------------------------------------------------------
# 1. Valid journeys


def journeys(c: Corpus) -> dict[str, tuple[bytes, str]]:
    """Valid bundles of every journey shape; returns them by name for the policy cases."""
    out: dict[str, tuple[bytes, str]] = {}

    def add(name: str, log: Log, item: str, description: str, **kw: Any) -> None:
        data = log.bundle(item, **kw)
        c.add(f"valid/{name}", "valid", description, data, log.vkey(), VALID)
        out[name] = (data, log.vkey())

    log = base(
        extra=(
            "Alrosa",
            "RU Authority",
            "Moscow Trading",
            "EU Sanctions",
            "Antwerp Trading",
            "BE Authority",
            "Lab Grown Co",
        )
    )
    add("mine", log, "BW-1", "a parcel at its mine: one origin record")
    add("shipped", log, "BW-2", "rough shipped under a KP certificate and accepted")
    add("pending", log, "BW-4", "rough locked in a pending offer under a certificate")
    add("cut-stone", log, "ST-1", "a polished stone cut from shipped rough")
    add("byproduct", log, "BP-1", "the by-product of a cut")
    add("attested", log, "ST-2", "a polished stone with the operator's attestation", attest=True)
    # Splits, merges (mixing hub), grading and sale.
    log.split("Dubai Trading", "BW-2", [("BW-2a", 300, 3), ("BW-2b", 199, 2)])
    log.mint("Alrosa", "RU-1", 400, 4)
    log.ship("Alrosa", "Dubai Trading", ["RU-1"], authority="RU Authority", number="RU-0001")
    log.merge("Dubai Trading", ["BW-2a", "RU-1"], "MIX-1", 700)
    add("split", log, "BW-2b", "one output of a split at a trading hub")
    add("merge", log, "MIX-1", "a mixed-origin parcel merged at a hub (BW and RU)")
    log.ship(
        "Dubai Trading", "Surat Cutting", ["MIX-1"], authority="AE Authority", number="AE-0001"
    )
    log.cut("Surat Cutting", ["MIX-1"], [("ST-M1", 150), ("ST-M2", 40)], [("BP-M1", 200)])
    log.ship("Surat Cutting", "NY Lab", ["ST-M1"])
    log.grade("NY Lab", "ST-M1", "GIA-0001", 149)
    log.ship("NY Lab", "Fifth Avenue", ["ST-M1"])
    log.sell("Fifth Avenue", "ST-M1")
    add("sold", log, "ST-M1", "a stone cut from a hub mix, graded and sold (mixed origin)")
    add("small-stone", log, "ST-M2", "a 0.40 ct stone of the same mix")
    # Rejected, cancelled and re-offered.
    log.mint("Debswana", "BW-5", 250, 2)
    log.issue("BW Authority", "BW-0005", "Debswana", "Dubai Trading", ["BW-5"])
    offer = log.transfer("Debswana", "Dubai Trading", ["BW-5"], cert="BW-0005")
    log.answer("reject", "Dubai Trading", offer)
    log.issue("BW Authority", "BW-0015", "Debswana", "Dubai Trading", ["BW-5"])
    offer = log.transfer("Debswana", "Dubai Trading", ["BW-5"], cert="BW-0015")
    log.answer("cancel", "Debswana", offer)
    add("rejected-offer", log, "BW-5", "rough whose offers were rejected and cancelled")
    # A confirmed import.
    first = log.o_dubai  # type: ignore[attr-defined]
    log.confirm("AE Authority", "BW-0001", first)
    add(
        "confirmed", log, "BW-2b", "rough whose import the AE authority confirmed", everything=False
    )
    # Laboratory-grown goods.
    log.tick()
    log.emit(
        "grow",
        {"parcel": "LG-1", "carats": 400, "stones": 4, "facility": "Lab reactor"},
        "Lab Grown Co",
    )
    log.ship("Lab Grown Co", "Surat Cutting", ["LG-1"])
    log.cut("Surat Cutting", ["LG-1"], [("LG-S1", 120)])
    add("grown", log, "LG-S1", "a laboratory-grown stone (no KP certificate needed)")
    # Goods via Moscow, a sanctions designation, warranties missing.
    log.mint("Debswana", "BW-6", 600, 6)
    log.ship("Debswana", "Moscow Trading", ["BW-6"], authority="BW Authority", number="BW-0006")
    log.ship(
        "Moscow Trading", "Dubai Trading", ["BW-6"], authority="RU Authority", number="RU-0002"
    )
    add("via-moscow", log, "BW-6", "Botswana rough re-exported through Moscow")
    log.tick()
    log.emit(
        "sanction.designate",
        {"list": "EU-CONSOLIDATED", "party": "Antwerp Trading", "from": "2025-03-04"},
        "EU Sanctions",
    )
    log.mint("Debswana", "BW-7", 300, 3)
    log.ship("Debswana", "Antwerp Trading", ["BW-7"], authority="BW Authority", number="BW-0007")
    add("sanctioned-party", log, "BW-7", "rough received by a party on the EU list")
    log.mint("Debswana", "BW-8", 300, 3)
    log.ship(
        "Debswana",
        "Dubai Trading",
        ["BW-8"],
        authority="BW Authority",
        number="BW-0008",
        warranty=None,
    )
    add("no-warranty", log, "BW-8", "rough shipped without a System of Warranties statement")
    # Russian rough exported before a witness-cosigned checkpoint (grandfathering).
    log.mint("Alrosa", "RU-2", 300, 3)
    log.ship("Alrosa", "Antwerp Trading", ["RU-2"], authority="RU Authority", number="RU-0003")
    early = len(log.records)
    log.checkpoint(witnesses=[(W1, COSIGN_TIME), (W2, COSIGN_TIME + 60)])
    log.tick(DAY)
    log.ship(
        "Antwerp Trading", "Dubai Trading", ["RU-2"], authority="BE Authority", number="BE-0001"
    )
    log.checkpoint(witnesses=[(W1, COSIGN_TIME + 86400 * 30)])
    add(
        "grandfathered",
        log,
        "RU-2",
        "Russian rough, cosigned outside Russia early",
        evidence=[early],
    )
    log.ship("Debswana", "Dubai Trading", ["BW-1"], authority="BW Authority", number="BW-0009")
    log.checkpoint(witnesses=[(W1, COSIGN_TIME + 86400 * 31), (W2, COSIGN_TIME + 86400 * 31)])
    add("cosigned", log, "BW-1", "rough under a checkpoint cosigned by two witnesses")
    return out


def simulated(c: Corpus) -> None:
    """Bundles ``prove`` makes of a simulated ledger (``kpledger simulate``): every item kind
    and journey shape the simulator produces, governed registry included."""
    from ledger.ledger import Ledger
    from ledger.sim import simulate
    from ledger.sim.world import Cast

    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/sim.db"
        simulate(path, parcels=2, seed=17)
        ledger = Ledger.open(path)
        try:
            ledger.checkpoint(Cast.build(17).operator)
            vkey = ledger.verifier().vkey()
            seen: set[str] = set()
            for pid in ledger.store.keys_with_prefix("parcel", "", 1000):
                item = ledger.parcel(pid)
                shape = f"{item['kind']}-{item['status']}"
                if shape in seen:
                    continue
                seen.add(shape)
                data = ledger.prove(pid)
                expect = python_verdict(data, vkey, None, None)
                what = "quarantined " if expect[0] == "rejected" else ""
                c.add(
                    f"sim/{shape}",
                    "valid" if expect == VALID else "policy",
                    f"a {what}{item['kind']} parcel, {item['status']}, from a simulated ledger",
                    data,
                    vkey,
                    expect,
                )
                if shape == "polished-sold" and expect == VALID:
                    disclosures(c, ledger, data, vkey)
        finally:
            ledger.close()


def disclosures(c: Corpus, ledger: Any, data: bytes, vkey: str) -> None:
    """A sold stone's bundle disclosing its committed prices and values (specs/disclosure.md,
    specs/proof-bundle.md §2.4), and openings that open nothing: each fails ``disclose``."""
    chosen = [commitment for _, commitment in proofs.bundle_commitments(data)]
    held = ledger.openings().get(chosen)
    assert held, "a sold stone's bundle commits to its sale price"
    disclosed = proofs.add_disclosures(data, held)
    c.add("disclose/valid", "valid", "a sold stone disclosing every committed value", disclosed,
          vkey, VALID)  # fmt: skip

    def amount_plus_one(w: dict[str, Any]) -> None:
        w["disclose"][0]["value"]["amount"] += 1

    def other_salt(w: dict[str, Any]) -> None:
        w["disclose"][0]["salt"] = hashlib.sha256(b"another salt").digest()

    def other_field(w: dict[str, Any]) -> None:
        label = w["disclose"][0]["field"]
        w["disclose"][0]["field"] = "sell.price" if label != "sell.price" else "transfer.price"

    def twice(w: dict[str, Any]) -> None:
        w["disclose"].append(dict(w["disclose"][0]))

    for name, what, change in (
        ("tampered-value", "an opening whose amount was raised by one", amount_plus_one),
        ("other-salt", "an opening with another salt", other_salt),
        ("other-field", "an opening presented as another field's", other_field),
        ("salt-twice", "the same opening given twice", twice),
    ):
        c.add(f"disclose/{name}", "invalid", what, rewire(disclosed, change), vkey,
              invalid("disclose"))  # fmt: skip


# ---------------------------------------------------------------------------
# 2. Bundles that do not verify: every check of specs/proof-bundle.md §4


def structure(c: Corpus, good: bytes, vkey: str, log: Log) -> None:
    def bad(name: str, description: str, data: bytes, check: str, key: str = vkey) -> None:
        c.add(f"invalid/{name}", "invalid", description, data, key, invalid(check))

    def mut(
        name: str, description: str, change: Callable[[dict[str, Any]], None], check: str
    ) -> None:
        bad(name, description, rewire(good, change), check)

    # decode
    bad("decode/empty", "an empty file", b"", "decode")
    bad("decode/trailing-byte", "a canonical bundle followed by one byte", good + b"\x00", "decode")
    bad("decode/truncated", "the bundle cut one byte short", good[:-1], "decode")
    bad("decode/not-a-map", "an array instead of a map", encode([1, 2]), "decode")
    w = wire(good)
    raw = bytearray(good)
    # Non-canonical: the top-level map written with a map 16 header.
    n = len(w)
    bad(
        "decode/wide-map-header",
        "the top-level map with a map 16 header",
        bytes([0xDE, 0, n]) + bytes(raw[1:]),
        "decode",
    )
    mut("decode/version-1", "format version 1", lambda w: w.__setitem__("v", 1), "decode")
    mut("decode/version-3", "format version 3", lambda w: w.__setitem__("v", 3), "decode")
    mut("decode/type", "another type", lambda w: w.__setitem__("type", "kpledger-proof2"), "decode")
    mut(
        "decode/unknown-field",
        "an unknown top-level field",
        lambda w: w.__setitem__("extra", 1),
        "decode",
    )
    mut("decode/no-map", "the state-map proofs missing", lambda w: w.pop("map"), "decode")
    mut(
        "decode/empty-map",
        "an empty list of map proofs",
        lambda w: w.__setitem__("map", []),
        "decode",
    )
    mut("decode/no-records", "no records", lambda w: w.__setitem__("records", []), "decode")
    mut(
        "decode/item-bytes", "the item as bytes", lambda w: w.__setitem__("item", b"BW-1"), "decode"
    )
    mut(
        "decode/attestation-int",
        "an attestation that is not text",
        lambda w: w.__setitem__("attestation", 7),
        "decode",
    )
    mut(
        "decode/evidence-empty",
        "an empty evidence list",
        lambda w: w.__setitem__("evidence", []),
        "decode",
    )
    mut(
        "decode/evidence-shape",
        "evidence without a proof",
        lambda w: w.__setitem__("evidence", [{"checkpoint": w["checkpoint"]}]),
        "decode",
    )
    mut(
        "decode/record-field",
        "a record with an extra field",
        lambda w: w["records"][0].__setitem__("x", 1),
        "decode",
    )
    mut(
        "decode/record-index-negative",
        "a negative record index",
        lambda w: w["records"][0].__setitem__("index", -1),
        "decode",
    )
    mut(
        "decode/proof-hash-31",
        "a 31-byte proof hash",
        lambda w: w["records"][-1]["proof"].__setitem__(0, bytes(31)),
        "decode",
    )
    mut(
        "decode/proof-65",
        "65 proof hashes",
        lambda w: w["records"][-1].__setitem__("proof", [bytes(32)] * 65),
        "decode",
    )
    mut(
        "decode/map-proof-field",
        "a map proof without its path",
        lambda w: w["map"][0].pop("path"),
        "decode",
    )
    mut(
        "decode/map-proof-value-31",
        "a map proof value of 31 bytes",
        lambda w: w["map"][0].__setitem__("value", bytes(31)),
        "decode",
    )
    mut(
        "decode/map-proof-absent-index",
        "an absent map proof with index 1",
        lambda w: w["map"][-1].update({"value": b"", "index": 1}),
        "decode",
    )
    mut(
        "decode/map-proof-empty-hash",
        "a map proof path with 32 zero bytes",
        lambda w: w["map"][0]["path"].append(bytes(32)),
        "decode",
    )
    mut(
        "decode/map-proof-nul",
        "a map proof key with NUL",
        lambda w: w["map"][0].__setitem__("key", "a\x00b"),
        "decode",
    )
    # checkpoint
    other = note.format_vkey(log.origin, pub_of("Another Operator"))
    bad("checkpoint/foreign-key", "verified with another operator's key", good, "checkpoint", other)
    renamed = note.format_vkey("other.example/log", pub_of(OPERATOR))
    bad(
        "checkpoint/other-name",
        "a vkey of the right key under another name",
        good,
        "checkpoint",
        renamed,
    )
    cp = w["checkpoint"]
    mut(
        "checkpoint/size-changed",
        "the checkpoint size edited",
        lambda w: w.__setitem__(
            "checkpoint", cp.replace(f"\n{len(log.records)}\n", f"\n{len(log.records) + 1}\n")
        ),
        "checkpoint",
    )
    mut(
        "checkpoint/no-signature",
        "the checkpoint without its signature line",
        lambda w: w.__setitem__("checkpoint", cp.split("\n\n")[0] + "\n\n"),
        "checkpoint",
    )
    mut(
        "checkpoint/not-a-note",
        "checkpoint text without a blank line",
        lambda w: w.__setitem__("checkpoint", "hello\n"),
        "checkpoint",
    )
    body = cp.split("\n\n")[0] + "\n"
    lines = body.split("\n")
    no_ext = "\n".join(lines[:3]) + "\n"
    mut(
        "checkpoint/no-extension",
        "a C2SP checkpoint without the state-map line",
        lambda w: w.__setitem__(
            "checkpoint", note.sign_note(no_ext, log.origin, seed_of(OPERATOR))
        ),
        "checkpoint",
    )
    two_ext = body + "extra line\n"
    mut(
        "checkpoint/two-extensions",
        "a checkpoint with a second extension line",
        lambda w: w.__setitem__(
            "checkpoint", note.sign_note(two_ext, log.origin, seed_of(OPERATOR))
        ),
        "checkpoint",
    )
    tab = body.replace(log.origin, log.origin + "\t", 1)
    mut(
        "checkpoint/control-char",
        "a tab in the checkpoint",
        lambda w: w.__setitem__("checkpoint", tab + "\n— x AAAA\n"),
        "checkpoint",
    )
    # A second signature line by the operator's key that does not verify.
    sigline = cp.split("\n\n")[1]
    forged = sigline[:-6] + ("A" if sigline[-6] != "A" else "B") + sigline[-5:]
    mut(
        "checkpoint/bad-second-signature",
        "a second copy of the operator's line, altered",
        lambda w: w.__setitem__("checkpoint", cp + forged),
        "checkpoint",
    )
    # origin
    mut(
        "origin/other",
        "the bundle names another origin",
        lambda w: w.__setitem__("origin", "other.example/log"),
        "origin",
    )
    # order
    mut(
        "order/duplicate",
        "a record listed twice",
        lambda w: w["records"].insert(1, w["records"][1]),
        "order",
    )
    mut(
        "order/swapped",
        "two records swapped",
        lambda w: w["records"].__setitem__(slice(1, 3), w["records"][2:0:-1]),
        "order",
    )
    # genesis
    mut("genesis/missing", "the genesis record left out", lambda w: w["records"].pop(0), "genesis")

    # inclusion
    def flip_record(w: dict[str, Any]) -> None:
        r = bytearray(w["records"][-1]["record"])
        r[-1] ^= 1
        w["records"][-1]["record"] = bytes(r)

    mut("inclusion/record-byte", "one byte of a record flipped", flip_record, "inclusion")

    def flip_proof(w: dict[str, Any]) -> None:
        p = bytearray(w["records"][1]["proof"][0])
        p[0] ^= 0x80
        w["records"][1]["proof"][0] = bytes(p)

    mut("inclusion/proof-byte", "one bit of a proof hash flipped", flip_proof, "inclusion")
    mut(
        "inclusion/short-proof",
        "a proof one hash short",
        lambda w: w["records"][1]["proof"].pop(),
        "inclusion",
    )
    mut(
        "inclusion/long-proof",
        "a proof one hash long",
        lambda w: w["records"][1]["proof"].append(bytes(range(32))),
        "inclusion",
    )
    mut(
        "inclusion/wrong-index",
        "a record claimed at another position",
        lambda w: (
            w["records"][1].__setitem__("index", w["records"][1]["index"] + 1)
            if w["records"][2]["index"] > w["records"][1]["index"] + 1
            else w["records"][-1].__setitem__("index", w["records"][-1]["index"] + 1)
        ),
        "inclusion",
    )
    mut(
        "inclusion/beyond-size",
        "a record index beyond the checkpoint",
        lambda w: w["records"][-1].__setitem__("index", len(log.records) + 5),
        "inclusion",
    )


def later_checks(c: Corpus) -> None:
    """Checks after the replay: ledger, item, state map (R-SM-1), attestation, quarantine
    (R-ID-2), time evidence, witness cosignatures."""
    log = base()
    vkey = log.vkey()
    good = log.bundle("ST-1")

    def bad(
        name: str,
        description: str,
        data: bytes,
        expect: tuple[str, str | None],
        kind: str = "invalid",
        key: str = vkey,
        **kw: Any,
    ) -> None:
        c.add(f"{kind}/{name}", kind, description, data, key, expect, **kw)

    # ledger: the genesis names another ledger than the checkpoint's origin.
    other = Log(genesis_ledger="elsewhere.example/log")
    bad(
        "ledger/genesis-origin",
        "the genesis entry is for another ledger",
        other.bundle("x", everything=True),
        invalid("ledger"),
    )
    # item
    bad(
        "item/unknown",
        "the bundle relabelled to an item it does not contain",
        rewire(good, lambda w: w.__setitem__("item", "NO-SUCH-ITEM")),
        invalid("item"),
    )
    # R-SM-1
    bad(
        "state-map/relabelled",
        "relabelled to another item of the bundle (BW-3)",
        rewire(good, lambda w: w.__setitem__("item", "BW-3")),
        invalid("R-SM-1"),
    )
    log2 = base()
    log2.ship("Surat Cutting", "NY Lab", ["ST-1"])
    later = log2.bundle("ST-1")
    bad(
        "state-map/cut-short",
        "the item's last record left out (the accept)",
        rewire(later, lambda w: w["records"].pop()),
        invalid("R-SM-1"),
    )
    bad(
        "state-map/proof-dropped",
        "one map proof left out",
        rewire(good, lambda w: w["map"].pop(1)),
        invalid("R-SM-1"),
    )
    bad(
        "state-map/proof-extra",
        "a map proof for a key the records do not use",
        rewire(
            good,
            lambda w: w["map"].append(
                log.map.prove("party", "Fifth Avenue").to_wire()
                if False
                else dict(w["map"][0], key=w["map"][0]["key"] + "x")
            ),
        ),
        invalid("R-SM-1"),
    )
    bad(
        "state-map/proofs-swapped",
        "two map proofs swapped",
        rewire(good, lambda w: w["map"].__setitem__(slice(0, 2), w["map"][1::-1])),
        invalid("R-SM-1"),
    )

    def tamper_value(w: dict[str, Any]) -> None:
        for p in w["map"]:
            if p["kind"] == "parcel":
                v = bytearray(p["value"])
                v[0] ^= 1
                p["value"] = bytes(v)

    bad(
        "state-map/value-changed",
        "the item's value hash altered",
        rewire(good, tamper_value),
        invalid("R-SM-1"),
    )

    def old_index(w: dict[str, Any]) -> None:
        for p in w["map"]:
            if p["kind"] == "parcel":
                p["index"] = p["index"] - 1

    bad(
        "state-map/index-changed",
        "the item's last-change index altered",
        rewire(good, old_index),
        invalid("R-SM-1"),
    )
    wrong_root = log.checkpoint(map_root=hashlib.sha256(b"another map").digest())
    bad(
        "state-map/wrong-root",
        "a checkpoint committing to another map root",
        log.bundle("ST-1", checkpoint=wrong_root),
        invalid("R-SM-1"),
    )
    log.checkpoint()  # restore the right checkpoint for later bundles
    # A registry record dropped: its party's key is still in the state map.
    log3 = base()
    log3.rotate("Surat Cutting", "Surat Cutting key 2")
    log3.ship("Surat Cutting", "NY Lab", ["ST-1"])
    rot = next(r.index for r in log3.records if r.entry().type == "participant.rotate")
    bad(
        "state-map/registry-dropped",
        "a key rotation of a party of the journey left out",
        log3.bundle("ST-2", drop=[rot]),
        invalid("R-SM-1"),
    )
    # attestation
    att = log.bundle("ST-1", attest=True)
    bad("attestation/valid", "an attested bundle", att, VALID, kind="valid")
    a = wire(att)["attestation"]
    bad(
        "attestation/bad-signature",
        "the attestation's signature altered",
        rewire(att, lambda w: w.__setitem__("attestation", a.replace("ST-1", "ST-2"))),
        invalid("attestation"),
    )
    wrong_item = proofs.attest(
        log.origin, len(log.records), "ST-2", log.parcel("ST-1")["head"], seed_of(OPERATOR)
    )
    bad(
        "attestation/other-item",
        "an attestation about another item",
        rewire(att, lambda w: w.__setitem__("attestation", wrong_item)),
        invalid("attestation"),
    )
    wrong_size = proofs.attest(
        log.origin, len(log.records) - 1, "ST-1", log.parcel("ST-1")["head"], seed_of(OPERATOR)
    )
    bad(
        "attestation/other-size",
        "an attestation at another tree size",
        rewire(att, lambda w: w.__setitem__("attestation", wrong_size)),
        invalid("attestation"),
    )
    stale = proofs.attest(log.origin, len(log.records), "ST-1", bytes(32), seed_of(OPERATOR))
    bad(
        "attestation/other-head",
        "an attestation naming another latest state",
        rewire(att, lambda w: w.__setitem__("attestation", stale)),
        invalid("attestation"),
    )
    text = note.sign_note(
        f"kpledger/v1 item-stat\n{log.origin}\n1\nST-1\n00\n", log.origin, seed_of(OPERATOR)
    )
    bad(
        "attestation/not-an-attestation",
        "a signed note that is not an attestation",
        rewire(att, lambda w: w.__setitem__("attestation", text)),
        invalid("attestation"),
    )
    # quarantine (R-ID-2): the cutter's key is revoked as compromised since before the cut.
    q = base()
    cut_time = next(r.time for r in q.records if r.entry().type == "cut")
    q.tick()
    q.emit("participant.revoke", {"name": "Surat Cutting", "compromised_since": cut_time}, OPERATOR)
    bad(
        "quarantine/compromised-cutter",
        "a stone cut with a key compromised since then",
        q.bundle("ST-1"),
        rejected("R-ID-2"),
        kind="policy",
    )
    bad(
        "quarantine/before-compromise",
        "rough shipped before the key was compromised",
        q.bundle("BW-1"),
        VALID,
        kind="valid",
    )
    # time evidence
    ev = base()
    ev.checkpoint(witnesses=[(W1, COSIGN_TIME)])
    small = len(ev.records)
    ev.ship("Surat Cutting", "NY Lab", ["ST-1"])
    ev.checkpoint()
    good_ev = ev.bundle("ST-1", evidence=[small])
    bad("evidence/valid", "a bundle carrying time evidence", good_ev, VALID, kind="valid")
    e = wire(good_ev)["evidence"][0]
    bad(
        "evidence/inconsistent",
        "the consistency proof altered",
        rewire(
            good_ev,
            lambda w: w["evidence"][0]["proof"].__setitem__(0, hashlib.sha256(b"x").digest()),
        ),
        invalid("evidence"),
    )
    bad(
        "evidence/short-proof",
        "the consistency proof one hash short",
        rewire(good_ev, lambda w: w["evidence"][0]["proof"].pop()),
        invalid("evidence"),
    )
    foreign = note.sign_note(
        e["checkpoint"].split("\n\n")[0] + "\n", ev.origin, seed_of("Another Operator")
    )
    bad(
        "evidence/foreign-signature",
        "an evidence checkpoint signed by another key",
        rewire(good_ev, lambda w: w["evidence"][0].__setitem__("checkpoint", foreign)),
        invalid("evidence"),
    )
    bigger = ev.checkpoints[len(ev.records)]
    bad(
        "evidence/larger",
        "an evidence checkpoint newer than the bundle's",
        rewire(
            good_ev,
            lambda w: (
                w.__setitem__("checkpoint", ev.checkpoints[small])
                or w["evidence"][0].update({"checkpoint": bigger, "proof": []})
            ),
        ),
        invalid("inclusion"),
    )
    other_cp = Log(origin="other.example/log").checkpoint()
    bad(
        "evidence/other-log",
        "an evidence checkpoint of another log (not its key)",
        rewire(good_ev, lambda w: w["evidence"][0].__setitem__("checkpoint", other_cp)),
        invalid("evidence"),
    )
    same = ev.checkpoints[len(ev.records)]
    bad(
        "evidence/same-size",
        "evidence at the bundle's own size with an empty proof",
        rewire(good_ev, lambda w: w["evidence"][0].update({"checkpoint": same, "proof": []})),
        VALID,
        kind="valid",
    )
    bad(
        "evidence/same-size-with-proof",
        "evidence at the bundle's own size carrying a proof (specs/merkle.md §3.3: it must be "
        "empty)",
        rewire(good_ev, lambda w: w["evidence"][0].update({"checkpoint": same})),
        invalid("evidence"),
    )
    # cosignature: a known witness's cosignature that does not verify.
    pol = f"witness w1 {witness_vkey(W1)}\nquorum none\n"
    cosigned = ev.checkpoint(witnesses=[(W1, COSIGN_TIME + 100)])
    bad_line = cosigned.split("\n\n")[1].split("\n")[1]
    broken = bad_line[:-6] + ("A" if bad_line[-6] != "A" else "B") + bad_line[-5:]
    text2 = cosigned.split("\n\n")[0] + "\n\n" + cosigned.split("\n\n")[1].split("\n")[0] + "\n"
    text2 += broken + "\n"
    bad(
        "cosignature/invalid",
        "a policy witness's cosignature altered",
        rewire(ev.bundle("ST-1"), lambda w: w.__setitem__("checkpoint", text2)),
        invalid("cosignature"),
        policy_text=pol,
    )
    bad(
        "cosignature/unknown-witness",
        "an altered cosignature of a witness the policy omits",
        rewire(ev.bundle("ST-1"), lambda w: w.__setitem__("checkpoint", text2)),
        VALID,
        kind="valid",
        policy_text=f"witness w2 {witness_vkey(W2)}\nquorum none\n",
    )


# ---------------------------------------------------------------------------
# 3. Records that break a rule (step 5, the replay)


def rule_vectors(c: Corpus) -> None:
    def case(
        name: str,
        description: str,
        rule: str,
        build: Callable[[Log], Any],
        *,
        extra: tuple[str, ...] = (),
        governed: bool = False,
        item: str = "BW-1",
    ) -> None:
        log = base(extra=extra, governed=governed)
        build(log)
        data = log.bundle(item, everything=True)
        c.add(f"rule/{rule}/{name}", "rule", description, data, log.vkey(), invalid(rule))

    def raw_record(log: Log, entry_bytes: bytes, **kw: Any) -> None:
        log.tick()
        entry = log.sign(
            "origin",
            {"parcel": "X-1", "carats": 1, "stones": 1, "mine": "m", "hs": "7102.10"},
            "Debswana",
        )
        log.append(entry, force=True, entry_bytes=entry_bytes, **kw)

    # R-EN-1: encoding
    def en_extra_field(log: Log) -> None:
        e = log.sign(
            "origin",
            {"parcel": "X-1", "carats": 1, "stones": 1, "mine": "m", "hs": "7102.10"},
            "Debswana",
        )
        env = decode(e.raw)
        env["extra"] = 1
        raw_record(log, encode(env))

    case("envelope-field", "an envelope with an unknown field", "R-EN-1", en_extra_field)
    case(
        "not-msgpack",
        "entry bytes that are not msgpack",
        "R-EN-1",
        lambda log: raw_record(log, b"\xc1"),
    )

    def en_body_field(log: Log) -> None:
        fields = {"parcel": "X-1", "carats": 1, "stones": 1, "mine": "m", "hs": "7102.10"}
        raw_record(log, hand_signed(log, "origin", dict(fields, color="D"), "Debswana"))

    case("unknown-entry-field", "an origin with an unknown field", "R-EN-1", en_body_field)

    def en_wide_int(log: Log) -> None:
        log.tick()
        e = log.sign(
            "origin",
            {"parcel": "X-1", "carats": 1, "stones": 1, "mine": "m", "hs": "7102.10"},
            "Debswana",
        )
        rec = Record.build(len(log.records), log.records[-1].hash, log.clock, e.raw).raw
        # The record's time as uint 64 (0xcf) where the canonical form is the same: make
        # the index field wide instead (a fixint written as uint 8).
        pos = rec.index(b"\xa5index") + 6
        wide = rec[:pos] + b"\xcc" + rec[pos:]
        log.records.append(
            Record(
                len(log.records),
                log.records[-1].hash,
                log.clock,
                e.raw,
                wide,
                merkle.leaf_hash(wide),
            )
        )
        log.map_roots[len(log.records)] = log.map.root()

    case("wide-integer", "a record index written as uint 8 (not canonical)", "R-EN-1", en_wide_int)

    def en_unknown_type(log: Log) -> None:
        raw_record(log, hand_signed(log, "burn", {"parcel": "X-1"}, "Debswana"))

    case("unknown-type", "an entry of an unknown type", "R-EN-1", en_unknown_type)
    # R-EN-2
    case(
        "other-ledger",
        "an entry signed for another ledger",
        "R-EN-2",
        lambda log: log.mint("Debswana", "X-1", force=True, ledger="other.example/log"),
    )

    # R-CH-1, R-CH-4, R-TM-5
    def ch1(log: Log) -> None:
        log.tick()
        e = log.sign(
            "origin",
            {"parcel": "X-1", "carats": 1, "stones": 1, "mine": "m", "hs": "7102.10"},
            "Debswana",
        )
        log.append(e, force=True, index=len(log.records) + 1)

    case("index", "a record whose index is not its position", "R-CH-1", ch1)
    case(
        "second-genesis",
        "a second genesis entry",
        "R-CH-4",
        lambda log: log.emit(
            "genesis",
            {"operator": pub_of(OPERATOR), "name": OPERATOR},
            OPERATOR,
            force=True,
            cosigners=[],
        ),
    )

    def tm5(log: Log) -> None:
        log.mint("Debswana", "X-1", force=True, now=log.clock - HOUR, time=log.clock - HOUR)

    case("clock-back", "a record appended earlier than the one before", "R-TM-5", tm5)
    # R-TM-*
    case(
        "future",
        "a claimed time 6 minutes after the append time",
        "R-TM-1",
        lambda log: log.mint("Debswana", "X-1", force=True, time=log.clock + HOUR + 6 * MINUTE),
    )
    case(
        "too-old",
        "a claimed time 31 days before the append time",
        "R-TM-4",
        lambda log: log.mint("Debswana", "X-1", force=True, time=log.clock - 30 * DAY),
    )

    def tm2(log: Log) -> None:
        t = log.parcel("BW-1")["time"]
        log.split(
            "Debswana", "BW-1", [("A", 500, 5), ("B", 500, 5)], force=True, time=t - 6 * MINUTE
        )

    case("before-input", "a split claimed 6 minutes before its input's last event", "R-TM-2", tm2)

    def tm3(log: Log) -> None:
        log.tick(31 * DAY)
        log.answer("accept", "Dubai Trading", log.o_pending, force=True)  # type: ignore

    case("offer-expired", "an offer accepted 31 days after it was made", "R-TM-3", tm3)

    def tm3b(log: Log) -> None:
        offer = log.o_pending  # type: ignore[attr-defined]
        log.answer("reject", "Dubai Trading", offer, force=True, time=offer.body.time - 6 * MINUTE)

    case("answer-before-offer", "a rejection claimed before the offer", "R-TM-3", tm3b)
    # R-ID-*
    case(
        "role",
        "an origin by a trader",
        "R-ID-1",
        lambda log: log.mint("Dubai Trading", "X-1", force=True),
    )

    def unknown_signer(log: Log) -> None:
        log.tick()
        e = log.sign(
            "origin",
            {"parcel": "X-1", "carats": 1, "stones": 1, "mine": "m", "hs": "7102.10"},
            "Nobody",
        )
        log.append(e, force=True)

    case("unknown-key", "an entry signed by an unregistered key", "R-ID-1", unknown_signer)

    def bad_sig(log: Log) -> None:
        log.tick()
        e = log.sign(
            "origin",
            {"parcel": "X-1", "carats": 1, "stones": 1, "mine": "m", "hs": "7102.10"},
            "Debswana",
        )
        env = decode(e.raw)
        sig = bytearray(env["sigs"][0]["sig"])
        sig[5] ^= 1
        env["sigs"][0]["sig"] = bytes(sig)
        raw_record(log, encode(env))

    case("bad-signature", "a signature with one bit flipped", "R-ID-1", bad_sig)

    def s_not_below_l(log: Log) -> None:
        log.tick()
        e = log.sign(
            "origin",
            {"parcel": "X-1", "carats": 1, "stones": 1, "mine": "m", "hs": "7102.10"},
            "Debswana",
        )
        env = decode(e.raw)
        sig = env["sigs"][0]["sig"]
        s = int.from_bytes(sig[32:], "little") + 2**252 + 27742317777372353535851937790883648493
        env["sigs"][0]["sig"] = sig[:32] + s.to_bytes(32, "little")
        raw_record(log, encode(env))

    case("s-not-below-l", "a signature whose S is S + L (malleated)", "R-ID-1", s_not_below_l)

    def unknown_cosigner(log: Log) -> None:
        log.mint("Debswana", "X-1", force=True, cosigners=["Nobody"])

    case(
        "unknown-cosigner", "an entry co-signed by an unregistered key", "R-ID-1", unknown_cosigner
    )
    case(
        "receiver-role",
        "a transfer to an authority",
        "R-ID-1",
        lambda log: log.transfer("Debswana", "BW Authority", ["BW-1"], force=True),
    )

    def revoked_signer(log: Log) -> None:
        log.emit("participant.revoke", {"name": "Debswana"}, OPERATOR)
        log.mint("Debswana", "X-1", force=True)

    case("revoked-signer", "an origin by a revoked mine", "R-ID-2", revoked_signer)

    def rotated_out(log: Log) -> None:
        log.rotate("Debswana", "Debswana key 2")
        log.tick()
        e = log.sign(
            "origin",
            {"parcel": "X-1", "carats": 1, "stones": 1, "mine": "m", "hs": "7102.10"},
            "Debswana",
            signer_kid=kid_of_seed("Debswana"),
            seeds=[seed_of("Debswana")],
        )
        log.append(e, force=True)

    case("rotated-out", "an entry signed with a key rotated out", "R-ID-2", rotated_out)

    def revoked_receiver(log: Log) -> None:
        log.emit("participant.revoke", {"name": "Dubai Trading"}, OPERATOR)
        log.issue("BW Authority", "BW-0010", "Debswana", "Dubai Trading", ["BW-1"], force=True)

    case("revoked-importer", "a certificate naming a revoked importer", "R-ID-2", revoked_receiver)

    def revoked_to(log: Log) -> None:
        log.emit("participant.revoke", {"name": "NY Lab"}, OPERATOR)
        log.transfer("Surat Cutting", "NY Lab", ["ST-1"], force=True)

    case("revoked-receiver", "a transfer to a revoked participant", "R-ID-2", revoked_to)

    def revoked_sender(log: Log) -> None:
        log.emit("participant.revoke", {"name": "Debswana"}, OPERATOR)
        log.answer("accept", "Dubai Trading", log.o_pending, force=True)  # type: ignore

    case(
        "revoked-sender", "an offer accepted after its sender was revoked", "R-ID-2", revoked_sender
    )

    def revoked_authority(log: Log) -> None:
        log.issue("BW Authority", "BW-0010", "Debswana", "Dubai Trading", ["BW-1"])
        log.tick()
        log.emit("participant.revoke", {"name": "BW Authority"}, OPERATOR)
        log.transfer("Debswana", "Dubai Trading", ["BW-1"], cert="BW-0010", force=True)

    case(
        "revoked-authority",
        "a crossing under a certificate of a revoked authority",
        "R-ID-2",
        revoked_authority,
    )
    case(
        "compromised-later",
        "a compromise time after the revocation's append time",
        "R-ID-2",
        lambda log: log.emit(
            "participant.revoke",
            {"name": "Debswana", "compromised_since": log.clock + HOUR},
            OPERATOR,
            force=True,
        ),
    )
    case(
        "not-operator",
        "a participant added by a mine",
        "R-ID-3",
        lambda log: log.emit(
            "participant.add",
            {"name": "New", "pub": pub_of("New"), "roles": ["trader"], "country": "BW"},
            "Debswana",
            force=True,
        ),
    )
    case(
        "revoke-operator",
        "the operator revoked",
        "R-ID-3",
        lambda log: log.emit("participant.revoke", {"name": OPERATOR}, OPERATOR, force=True),
    )

    def rotate_no_cosig(log: Log) -> None:
        log.tick()
        e = log.sign("participant.rotate", {"name": "Debswana", "pub": pub_of("D2")}, OPERATOR)
        log.append(e, force=True)

    case(
        "rotation-cosignature",
        "a rotation without the old key's co-signature",
        "R-ID-5",
        rotate_no_cosig,
    )
    case(
        "duplicate-name",
        "a participant name registered twice",
        "R-ID-6",
        lambda log: log.emit(
            "participant.add",
            {"name": "Debswana", "pub": pub_of("D2"), "roles": ["mine"], "country": "BW"},
            OPERATOR,
            force=True,
        ),
    )
    case(
        "duplicate-key",
        "a public key registered twice",
        "R-ID-6",
        lambda log: log.emit(
            "participant.add",
            {"name": "New", "pub": pub_of("Debswana"), "roles": ["mine"], "country": "BW"},
            OPERATOR,
            force=True,
        ),
    )
    case(
        "small-order-key",
        "a small-order public key",
        "R-ID-6",
        lambda log: log.emit(
            "participant.add",
            {"name": "New", "pub": bytes(32), "roles": ["mine"], "country": "BW"},
            OPERATOR,
            force=True,
        ),
    )
    case(
        "off-curve-key",
        "a public key that is not a curve point",
        "R-ID-6",
        lambda log: log.emit(
            "participant.add",
            {"name": "New", "pub": off_curve(), "roles": ["mine"], "country": "BW"},
            OPERATOR,
            force=True,
        ),
    )
    case(
        "revoke-unknown",
        "a revocation of an unknown participant",
        "R-ID-6",
        lambda log: log.emit("participant.revoke", {"name": "Nobody"}, OPERATOR, force=True),
    )
    # Governance
    gov = dict(governed=True)
    case(
        "one-governor",
        "a participant added with one governor's signature",
        "R-GV-1",
        lambda log: log.emit(
            "participant.add",
            {"name": "New", "pub": pub_of("New"), "roles": ["trader"], "country": "BW"},
            "Governor A",
            cosigners=[],
            force=True,
        ),
        **gov,
    )
    case(
        "operator-alone",
        "a participant added by the operator on a governed ledger",
        "R-GV-1",
        lambda log: log.append(
            log.sign(
                "participant.add",
                {"name": "New", "pub": pub_of("New"), "roles": ["trader"], "country": "BW"},
                OPERATOR,
            ),
            force=True,
        ),
        **gov,
    )
    case(
        "non-governor-proposer",
        "a change proposed by the operator, co-signed by two",
        "R-GV-2",
        lambda log: log.append(
            log.sign(
                "participant.add",
                {"name": "New", "pub": pub_of("New"), "roles": ["trader"], "country": "BW"},
                OPERATOR,
                cosigners=["Governor A", "Governor B"],
            ),
            force=True,
        ),
        **gov,
    )
    case(
        "revoke-governor",
        "a governor revoked by a participant entry",
        "R-GV-3",
        lambda log: log.emit("participant.revoke", {"name": "Governor C"}, OPERATOR, force=True),
        **gov,
    )
    case(
        "threshold",
        "a governance set with k above n",
        "R-GV-3",
        lambda log: log.emit(
            "governance.set",
            {"governors": [{"name": "Governor A", "pub": pub_of("Governor A")}], "threshold": 2},
            OPERATOR,
            force=True,
        ),
        **gov,
    )
    case(
        "expired-proposal",
        "a change appended 8 days after it was signed",
        "R-GV-4",
        lambda log: log.emit(
            "participant.add",
            {"name": "New", "pub": pub_of("New"), "roles": ["trader"], "country": "BW"},
            OPERATOR,
            time=log.clock - 8 * DAY,
            force=True,
        ),
        **gov,
    )

    def replayed_proposal(log: Log) -> None:
        e = log.emit(
            "kp-status.set",
            {"country": "ZA", "status": "participant", "from": "2025-06-01"},
            OPERATOR,
        )
        log.tick()
        again = log.sign(
            "kp-status.set",
            dict(e.fields),
            "Governor A",
            cosigners=["Governor C"],
            time=e.body.time,
        )
        log.append(again, force=True)

    case(
        "replayed-proposal",
        "the same registry change applied twice",
        "R-GV-5",
        replayed_proposal,
        **gov,
    )
    case(
        "migration-signer",
        "a move to governance signed by a governor-to-be",
        "R-ID-3",
        lambda log: log.append(
            log.sign(
                "governance.set",
                {"governors": [{"name": "G", "pub": pub_of("G")}], "threshold": 1},
                "Debswana",
            ),
            force=True,
        ),
    )
    # R-CU-*
    case(
        "not-holder",
        "a split by someone who does not hold the parcel",
        "R-CU-1",
        lambda log: log.split("Dubai Trading", "BW-1", [("A", 500, 5), ("B", 500, 5)], force=True),
    )
    case(
        "locked",
        "a split of a parcel locked in a pending offer",
        "R-CU-2",
        lambda log: log.split("Debswana", "BW-4", [("A", 100, 1), ("B", 100, 1)], force=True),
    )
    case(
        "accept-by-other",
        "an offer accepted by someone else",
        "R-CU-2",
        lambda log: log.answer(
            "accept",
            "Surat Cutting",
            log.o_pending,  # type: ignore
            force=True,
        ),
    )
    case(
        "cancel-by-other",
        "an offer cancelled by its receiver",
        "R-CU-2",
        lambda log: log.answer(
            "cancel",
            "Dubai Trading",
            log.o_pending,  # type: ignore
            force=True,
        ),
    )
    case(
        "answered-twice",
        "an offer accepted twice",
        "R-CU-2",
        lambda log: log.answer(
            "accept",
            "Dubai Trading",
            log.o_dubai,  # type: ignore
            force=True,
        ),
    )

    def stale(log: Log) -> None:
        head = log.parcel("BW-1")["head"]
        log.split("Debswana", "BW-1", [("A", 500, 5), ("B", 500, 5)])
        log.tick()
        log.emit(
            "split",
            {
                "input": {"parcel": "BW-1", "head": head},
                "outputs": [{"parcel": "C", "carats": 1}, {"parcel": "D", "carats": 1}],
            },
            "Debswana",
            force=True,
        )

    case("consumed", "a parcel split twice (double spend)", "R-CU-3", stale)

    def stale_head(log: Log) -> None:
        log.tick()
        log.emit(
            "split",
            {
                "input": {"parcel": "BW-1", "head": bytes(32)},
                "outputs": [{"parcel": "C", "carats": 1}, {"parcel": "D", "carats": 1}],
            },
            "Debswana",
            force=True,
        )

    case("stale-head", "an input naming a head that is not the parcel's", "R-CU-3", stale_head)

    def sold(log: Log) -> None:
        log.ship("Surat Cutting", "Fifth Avenue", ["ST-1"])
        log.sell("Fifth Avenue", "ST-1")
        log.tick()
        log.emit("sell", {"input": log.inp("ST-1")}, "Fifth Avenue", force=True)

    case("sold", "a stone sold twice", "R-CU-3", sold)
    case(
        "unknown-parcel",
        "a transfer of an unknown parcel",
        "R-CU-6",
        lambda log: log.emit(
            "transfer",
            {"to": "Dubai Trading", "inputs": [{"parcel": "NOPE", "head": bytes(32)}]},
            "Debswana",
            force=True,
        ),
    )
    case(
        "unknown-offer",
        "an accept of an unknown offer",
        "R-CU-6",
        lambda log: log.emit("accept", {"transfer": bytes(32)}, "Dubai Trading", force=True),
    )
    case(
        "cert-unknown-parcel",
        "a certificate of an unknown parcel",
        "R-CU-6",
        lambda log: log.emit(
            "certificate.issue",
            dict(cert_fields(log, "BW-1"), parcels=["NOPE"]),
            "BW Authority",
            force=True,
        ),
    )
    case(
        "reused-id",
        "an origin reusing a parcel id",
        "R-CU-7",
        lambda log: log.mint("Debswana", "BW-2", force=True),
    )
    case(
        "reused-output",
        "a split output reusing an id",
        "R-CU-7",
        lambda log: log.split("Debswana", "BW-1", [("BW-2", 500, 5), ("B", 500, 5)], force=True),
    )
    case(
        "unregistered-receiver",
        "a transfer to an unregistered name",
        "R-CU-8",
        lambda log: log.transfer("Debswana", "Nobody", ["BW-1"], force=True),
    )
    case(
        "self",
        "a transfer to oneself",
        "R-CU-8",
        lambda log: log.transfer("Dubai Trading", "Dubai Trading", ["BW-2"], force=True),
    )
    # R-MB-*, R-GR-1, R-SL-1
    case(
        "split-inflation",
        "split outputs heavier than the input beyond tolerance",
        "R-MB-1",
        lambda log: log.split("Debswana", "BW-1", [("A", 500, 5), ("B", 503, 5)], force=True),
    )
    case(
        "merge-one",
        "a merge of one parcel",
        "R-MB-1",
        lambda log: log.merge("Debswana", ["BW-1"], "M", 1000, force=True),
    )

    def grade_up(log: Log) -> None:
        log.ship("Surat Cutting", "NY Lab", ["ST-1"])
        log.grade("NY Lab", "ST-1", "R1", 102, force=True)

    case("grade-inflation", "a graded weight 2 points above the recorded one", "R-MB-1", grade_up)
    case(
        "cut-inflation",
        "cut outputs heavier than the inputs",
        "R-MB-2",
        lambda log: (
            log.cut("Surat Cutting", ["BP-1"], [("S", 50)], force=True)
            if False
            else cut_inflation(log)
        ),
    )
    case(
        "split-stones",
        "split outputs with more stones than the input",
        "R-MB-3",
        lambda log: log.split("Debswana", "BW-1", [("A", 500, 6), ("B", 500, 5)], force=True),
    )

    def merge_stones(log: Log) -> None:
        log.merge(
            "Debswana",
            ["BW-1", "BW-2x"],
            "M",
            1100,
            force=True,
            override={"output": {"parcel": "M", "carats": 1100, "stones": 99}},
        )

    case(
        "merge-stones",
        "a merged parcel with more stones than its inputs",
        "R-MB-3",
        lambda log: (log.mint("Debswana", "BW-2x", 100, 1), merge_stones(log)),
    )
    case(
        "cut-too-many",
        "ten polished stones from three rough",
        "R-MB-3",
        lambda log: many_stones(log),
    )
    case(
        "polished-count",
        "a polished stone stating two stones",
        "R-MB-3",
        lambda log: two_stone_cut(log),
    )
    case(
        "split-polished",
        "a split of a polished stone",
        "R-MB-6",
        lambda log: log.split("Surat Cutting", "ST-1", [("A", 50, 1), ("B", 50, 1)], force=True),
    )
    case(
        "merge-polished",
        "a merge of polished stones",
        "R-MB-6",
        lambda log: log.merge("Surat Cutting", ["ST-1", "ST-2"], "M", 150, force=True),
    )
    case(
        "cut-byproduct",
        "a cut of a by-product",
        "R-MB-6",
        lambda log: log.cut("Surat Cutting", ["BP-1"], [("S", 30)], force=True),
    )
    case("grade-rough", "a grading of rough", "R-GR-1", grade_rough)
    case("sell-rough", "a retail sale of rough", "R-SL-1", sell_rough)
    # R-KP-*
    case(
        "suspended-mine",
        "an origin in a suspended country",
        "R-KP-1",
        lambda log: log.mint("CF Mine", "CF-1", force=True),
        extra=("CF Mine",),
    )
    case(
        "no-certificate",
        "rough across a border without a certificate",
        "R-KP-2",
        lambda log: log.transfer("Debswana", "Dubai Trading", ["BW-1"], force=True),
    )

    def reused_cert(log: Log) -> None:
        log.tick()
        log.transfer("Debswana", "Dubai Trading", ["BW-1"], cert="BW-0001", force=True)

    case("reused-certificate", "a certificate cited a second time", "R-KP-2", reused_cert)
    case(
        "forged-certificate",
        "a certificate never issued on the ledger",
        "R-KP-2",
        lambda log: log.transfer("Debswana", "Dubai Trading", ["BW-1"], cert="BW-9999", force=True),
    )

    def expired_cert(log: Log) -> None:
        log.issue("BW Authority", "BW-0010", "Debswana", "Dubai Trading", ["BW-1"], days=2)
        log.tick(3 * DAY)
        log.transfer("Debswana", "Dubai Trading", ["BW-1"], cert="BW-0010", force=True)

    case("expired-certificate", "an offer after its certificate expired", "R-KP-2", expired_cert)

    def other_parcels(log: Log) -> None:
        log.mint("Debswana", "BW-9", 100, 1)
        log.issue("BW Authority", "BW-0010", "Debswana", "Dubai Trading", ["BW-9"])
        log.transfer("Debswana", "Dubai Trading", ["BW-1"], cert="BW-0010", force=True)

    case("certificate-parcels", "a certificate covering other parcels", "R-KP-2", other_parcels)
    case(
        "confirm-wrong-country",
        "an import confirmed by the exporting authority",
        "R-KP-3",
        lambda log: log.confirm(
            "BW Authority",
            "BW-0001",
            log.o_dubai,  # type: ignore
            force=True,
        ),
    )

    def confirm_twice(log: Log) -> None:
        log.confirm("AE Authority", "BW-0001", log.o_dubai)  # type: ignore[attr-defined]
        log.confirm("AE Authority", "BW-0001", log.o_dubai, force=True)  # type: ignore

    case("confirm-twice", "an import confirmed twice", "R-KP-3", confirm_twice)
    case(
        "confirm-pending",
        "a confirmation of a shipment still pending",
        "R-KP-3",
        lambda log: log.confirm(
            "AE Authority",
            "BW-0004",
            log.o_pending,  # type: ignore
            force=True,
        ),
    )
    case(
        "confirm-count",
        "a confirmation of the wrong number of parcels",
        "R-KP-3",
        lambda log: log.confirm(
            "AE Authority",
            "BW-0001",
            log.o_dubai,  # type: ignore
            override={"count": 2},
            force=True,
        ),
    )
    case(
        "confirm-carats",
        "a confirmation of 10 points more than shipped",
        "R-KP-3",
        lambda log: log.confirm(
            "AE Authority",
            "BW-0001",
            log.o_dubai,  # type: ignore
            override={"carats": 510},
            force=True,
        ),
    )
    case(
        "origins",
        "certificate origins not the parcels' mining countries",
        "R-KP-4",
        lambda log: log.issue(
            "BW Authority",
            "BW-0010",
            "Debswana",
            "Dubai Trading",
            ["BW-1"],
            override={"origins": ["BW", "RU"]},
            force=True,
        ),
    )

    def suspended_importer(log: Log) -> None:
        log.kp("AE", "suspended", "2025-03-03")
        log.issue("BW Authority", "BW-0010", "Debswana", "Dubai Trading", ["BW-1"], force=True)

    case("suspended-importer", "a certificate to a suspended country", "R-KP-5", suspended_importer)

    def suspended_crossing(log: Log) -> None:
        log.issue("BW Authority", "BW-0010", "Debswana", "Dubai Trading", ["BW-1"])
        log.kp("AE", "suspended", "2025-03-03")
        log.transfer("Debswana", "Dubai Trading", ["BW-1"], cert="BW-0010", force=True)

    case(
        "suspended-crossing",
        "a crossing after the importing country was suspended",
        "R-KP-5",
        suspended_crossing,
    )

    def suspended_accept(log: Log) -> None:
        log.kp("AE", "suspended", "2025-03-03")
        log.answer("accept", "Dubai Trading", log.o_pending, force=True)  # type: ignore

    case("suspended-accept", "a crossing accepted after a suspension", "R-KP-5", suspended_accept)
    case(
        "foreign-authority",
        "a certificate by another country's authority",
        "R-KP-6",
        lambda log: log.issue(
            "IN Authority", "BW-0010", "Debswana", "Dubai Trading", ["BW-1"], force=True
        ),
    )
    case(
        "number-prefix",
        "a certificate number not starting with the country",
        "R-KP-6",
        lambda log: log.issue(
            "BW Authority", "XX-0010", "Debswana", "Dubai Trading", ["BW-1"], force=True
        ),
    )
    case(
        "number-reused",
        "a certificate number issued twice",
        "R-KP-6",
        lambda log: log.issue(
            "BW Authority", "BW-0001", "Debswana", "Dubai Trading", ["BW-1"], force=True
        ),
    )
    case(
        "validity",
        "a certificate valid 61 days",
        "R-KP-6",
        lambda log: log.issue(
            "BW Authority", "BW-0010", "Debswana", "Dubai Trading", ["BW-1"], days=61, force=True
        ),
    )
    case(
        "currency",
        "a certificate value in EUR",
        "R-KP-6",
        lambda log: log.issue(
            "BW Authority",
            "BW-0010",
            "Debswana",
            "Dubai Trading",
            ["BW-1"],
            override={"value": {"amount": 1, "currency": "EUR"}},
            force=True,
        ),
    )
    case(
        "certificate-carats",
        "a certificate weight not the parcels'",
        "R-KP-6",
        lambda log: log.issue(
            "BW Authority",
            "BW-0010",
            "Debswana",
            "Dubai Trading",
            ["BW-1"],
            override={"carats": 999},
            force=True,
        ),
    )
    case(
        "certificate-polished",
        "a certificate for a polished stone",
        "R-KP-6",
        lambda log: log.issue(
            "IN Authority", "IN-0010", "Surat Cutting", "Dubai Trading", ["ST-1"], force=True
        ),
    )
    case(
        "back-dated-status",
        "a KP status period before the last one",
        "R-KP-7",
        lambda log: log.emit(
            "kp-status.set",
            {"country": "BW", "status": "suspended", "from": "2023-01-01"},
            OPERATOR,
            force=True,
        ),
    )
    case(
        "param-range",
        "a parameter above its range",
        "R-PA-1",
        lambda log: log.emit(
            "param.set",
            {"name": "confirm-days", "value": 400, "from": "2025-06-01"},
            OPERATOR,
            force=True,
        ),
    )
    case(
        "param-retroactive",
        "a parameter changed retroactively",
        "R-PA-1",
        lambda log: log.emit(
            "param.set",
            {"name": "confirm-days", "value": 40, "from": "2025-01-01"},
            OPERATOR,
            force=True,
        ),
    )

    def param_twice(log: Log) -> None:
        log.emit("param.set", {"name": "confirm-days", "value": 40, "from": "2025-06-01"}, OPERATOR)
        log.tick()
        log.emit(
            "param.set",
            {"name": "confirm-days", "value": 50, "from": "2025-06-01"},
            OPERATOR,
            force=True,
        )

    case("param-same-date", "a parameter set twice from the same date", "R-PA-1", param_twice)

    def param_applies(log: Log) -> None:
        log.emit(
            "param.set",
            {"name": "mass-tolerance-points", "value": 0, "from": "2025-03-03"},
            OPERATOR,
        )
        log.emit(
            "param.set", {"name": "mass-tolerance-ppm", "value": 0, "from": "2025-03-03"}, OPERATOR
        )
        log.split("Debswana", "BW-1", [("A", 500, 5), ("B", 501, 5)], force=True)

    case(
        "zero-tolerance",
        "a split 1 point heavy once the tolerance is set to 0",
        "R-MB-1",
        param_applies,
    )
    # R-SW-*, R-SA-4
    case(
        "wdc-without-warranty",
        "a WDC id without a warranty statement",
        "R-SW-1",
        lambda log: log.transfer(
            "Surat Cutting",
            "NY Lab",
            ["ST-1"],
            warranty=None,
            override={"wdc": "WDC-1"},
            force=True,
        ),
    )

    def broken_chain(log: Log) -> None:
        log.mint("Debswana", "BW-9", 100, 1)
        log.ship(
            "Debswana",
            "Dubai Trading",
            ["BW-9"],
            authority="BW Authority",
            number="BW-0010",
            warranty=None,
        )
        log.issue("AE Authority", "AE-0010", "Dubai Trading", "Surat Cutting", ["BW-9"])
        log.transfer("Dubai Trading", "Surat Cutting", ["BW-9"], cert="AE-0010", force=True)

    case("broken-chain", "goods warranted after an unwarranted transfer", "R-SW-2", broken_chain)

    def mix_grown(log: Log) -> None:
        log.tick()
        log.emit(
            "grow",
            {"parcel": "LG-1", "carats": 100, "stones": 1, "facility": "lab"},
            "Lab Grown Co",
        )
        log.ship("Lab Grown Co", "Surat Cutting", ["LG-1"])
        log.mint("Debswana", "BW-9", 100, 1)
        log.ship("Debswana", "Surat Cutting", ["BW-9"], authority="BW Authority", number="BW-0010")
        log.merge("Surat Cutting", ["LG-1", "BW-9"], "M", 200, force=True)

    case(
        "mixed-nature",
        "laboratory-grown and natural rough merged",
        "R-SW-3",
        mix_grown,
        extra=("Lab Grown Co",),
    )
    sanc = ("EU Sanctions", "BE Authority")

    def designate(
        log: Log,
        party: str,
        start: str,
        signer: str = "EU Sanctions",
        force: bool = False,
        kind: str = "sanction.designate",
    ) -> None:
        log.tick()
        log.emit(
            kind, {"list": "EU-CONSOLIDATED", "party": party, "from": start}, signer, force=force
        )

    case(
        "unregistered-party",
        "a designation of an unregistered party",
        "R-SA-4",
        lambda log: designate(log, "Nobody", "2025-03-04", force=True),
        extra=sanc,
    )
    case(
        "old-designation",
        "a designation from 31 days before its append date",
        "R-SA-4",
        lambda log: designate(log, "Dubai Trading", "2025-01-01", force=True),
        extra=sanc,
    )

    def twice(log: Log) -> None:
        designate(log, "Dubai Trading", "2025-03-04")
        designate(log, "Dubai Trading", "2025-03-05", force=True)

    case("already-listed", "a party designated twice", "R-SA-4", twice, extra=sanc)
    case(
        "delist-unlisted",
        "a delisting of a party not listed",
        "R-SA-4",
        lambda log: designate(
            log, "Dubai Trading", "2025-03-04", force=True, kind="sanction.delist"
        ),
        extra=sanc,
    )

    def other_publisher(log: Log) -> None:
        log.add("US Sanctions", ["publisher"], "US")
        designate(log, "Dubai Trading", "2025-03-04")
        designate(log, "Debswana", "2025-03-04", signer="US Sanctions", force=True)

    case(
        "other-publisher",
        "a designation on another publisher's list",
        "R-SA-4",
        other_publisher,
        extra=sanc,
    )
    case(
        "publisher-role",
        "a designation by a trader",
        "R-ID-1",
        lambda log: designate(log, "Debswana", "2025-03-04", signer="Dubai Trading", force=True),
        extra=sanc,
    )


def hand_signed(log: Log, entry_type: str, fields: dict[str, Any], signer: str) -> bytes:
    """An envelope signed by ``signer`` whose body the model would refuse to build."""
    body = encode(
        {
            "v": 1,
            "type": entry_type,
            "ledger": log.origin,
            "signer": log.kid(signer),
            "time": log.clock,
            "fields": fields,
        }
    )
    sig = ed25519.sign(seed_of(log.key(signer)), b"kpledger/v1 entry signature\x00" + body)
    return encode({"v": 1, "body": body, "sigs": [{"kid": log.kid(signer), "sig": sig}]})


def kid_of_seed(name: str) -> bytes:
    return key_id(pub_of(name))


def off_curve() -> bytes:
    """A canonical y below p (not small order) whose x does not exist."""
    for y in range(2, 100):
        raw = y.to_bytes(32, "little")
        try:
            ed25519.check_public_key(raw)
        except Exception as exc:
            if "curve" in str(exc):
                return raw
    raise AssertionError("no off-curve y below 100")


def cert_fields(log: Log, pid: str) -> dict[str, Any]:
    p = log.parcel(pid)
    return {
        "number": "BW-0010",
        "parcels": [pid],
        "exporter": "Debswana",
        "importer": "Dubai Trading",
        "exporter_country": "BW",
        "importer_country": "AE",
        "value": {"amount": 1, "currency": "USD"},
        "expires": "2025-04-01",
        "carats": p["carats"],
        "count": 1,
        "hs": ["7102.10"],
        "origins": ["BW"],
    }


def cut_inflation(log: Log) -> None:
    log.mint("Debswana", "BW-9", 100, 1)
    log.ship("Debswana", "Surat Cutting", ["BW-9"], authority="BW Authority", number="BW-0010")
    log.cut("Surat Cutting", ["BW-9"], [("S", 60)], [("B", 45)], force=True)


def many_stones(log: Log) -> None:
    log.mint("Debswana", "BW-9", 1000, 3)
    log.ship("Debswana", "Surat Cutting", ["BW-9"], authority="BW Authority", number="BW-0010")
    log.cut("Surat Cutting", ["BW-9"], [(f"S{i}", 20) for i in range(10)], force=True)


def two_stone_cut(log: Log) -> None:
    log.mint("Debswana", "BW-9", 1000, 3)
    log.ship("Debswana", "Surat Cutting", ["BW-9"], authority="BW Authority", number="BW-0010")
    log.cut(
        "Surat Cutting",
        ["BW-9"],
        [("S1", 200)],
        force=True,
        override={"stones": [{"parcel": "S1", "carats": 200, "stones": 2}]},
    )


def grade_rough(log: Log) -> None:
    log.mint("Debswana", "BW-9", 100, 1)
    log.ship("Debswana", "Surat Cutting", ["BW-9"], authority="BW Authority", number="BW-0010")
    log.ship("Surat Cutting", "NY Lab", ["BW-9"], authority="IN Authority", number="IN-0010")
    log.grade("NY Lab", "BW-9", "R1", force=True)


def sell_rough(log: Log) -> None:
    log.mint("Debswana", "BW-9", 100, 1)
    log.ship("Debswana", "Surat Cutting", ["BW-9"], authority="BW Authority", number="BW-0010")
    log.ship("Surat Cutting", "Fifth Avenue", ["BW-9"], authority="IN Authority", number="IN-0010")
    log.sell("Fifth Avenue", "BW-9", force=True)


# ---------------------------------------------------------------------------
# 4. Policies


def policies(c: Corpus, j: dict[str, tuple[bytes, str]]) -> None:
    w1, w2, w3 = witness_vkey(W1), witness_vkey(W2), witness_vkey(W3)
    witnesses = f"witness w1 {w1}\nwitness w2 {w2}\nwitness w3 {w3}\n"
    cases: list[tuple[str, str, str, str | None, tuple[str, str | None], str]] = [
        # (name, bundle, policy, as_of, expect, description)
        ("quorum-none", "mine", "quorum none\n", None, VALID, "quorum none: nothing required"),
        (
            "quorum-witness-pass",
            "cosigned",
            witnesses + "quorum w1\n",
            None,
            VALID,
            "one required witness cosigned",
        ),
        (
            "quorum-witness-fail",
            "mine",
            witnesses + "quorum w1\n",
            None,
            rejected("R-CH-2"),
            "one required witness did not cosign",
        ),
        (
            "quorum-group-pass",
            "cosigned",
            witnesses + "group g 2 w1 w2 w3\nquorum g\n",
            None,
            VALID,
            "2 of 3 witnesses cosigned",
        ),
        (
            "quorum-group-fail",
            "cosigned",
            witnesses + "group g all w1 w2 w3\nquorum g\n",
            None,
            rejected("R-CH-2"),
            "all 3 required, 2 cosigned",
        ),
        (
            "quorum-group-any",
            "cosigned",
            witnesses + "group g any w3 w2\nquorum g\n",
            None,
            VALID,
            "any of w3, w2: w2 cosigned",
        ),
        (
            "quorum-nested-fail",
            "cosigned",
            witnesses + "group a any w1 w2\ngroup b 2 a w3\nquorum b\n",
            None,
            rejected("R-CH-2"),
            "nested groups: w3 missing",
        ),
        (
            "quorum-nested-pass",
            "cosigned",
            witnesses + "group a all w1 w2\ngroup b 1 a w3\nquorum b\n",
            None,
            VALID,
            "nested groups: w1 and w2",
        ),
        (
            "log-line",
            "mine",
            f"log {j['mine'][1]} https://example.org\nquorum none\n",
            None,
            VALID,
            "a log line (informational for verify-proof)",
        ),
        (
            "deny-origin-pass",
            "shipped",
            "deny-origin RU,CF\nquorum none\n",
            None,
            VALID,
            "Botswana rough, RU and CF denied",
        ),
        (
            "deny-origin-fail",
            "merge",
            "deny-origin RU\nquorum none\n",
            None,
            rejected("R-SA-1"),
            "a BW/RU mix, RU denied",
        ),
        (
            "deny-origin-stone",
            "sold",
            "deny-origin RU\nquorum none\n",
            None,
            rejected("R-SA-1"),
            "a stone cut from a mix that may contain RU",
        ),
        (
            "deny-origin-lines",
            "shipped",
            "deny-origin RU\ndeny-origin BW\nquorum none\n",
            None,
            rejected("R-SA-1"),
            "two deny-origin lines accumulate",
        ),
        (
            "deny-custody-pass",
            "shipped",
            "deny-custody RU\nquorum none\n",
            None,
            VALID,
            "never held in Russia",
        ),
        (
            "deny-custody-fail",
            "via-moscow",
            "deny-custody RU\nquorum none\n",
            None,
            rejected("R-SA-2"),
            "held in Moscow",
        ),
        (
            "deny-custody-ae",
            "shipped",
            "deny-custody AE\nquorum none\n",
            None,
            rejected("R-SA-2"),
            "held in Dubai, AE denied",
        ),
        (
            "deny-listed-pass",
            "shipped",
            "deny-listed EU-CONSOLIDATED\nquorum none\n",
            None,
            VALID,
            "no party of the journey is listed",
        ),
        (
            "deny-listed-fail",
            "sanctioned-party",
            "deny-listed EU-CONSOLIDATED\nquorum none\n",
            None,
            rejected("R-SA-4"),
            "received by a designated party",
        ),
        (
            "deny-listed-other-list",
            "sanctioned-party",
            "deny-listed OFAC-SDN\nquorum none\n",
            None,
            VALID,
            "designated on another list",
        ),
        (
            "require-kp-certified",
            "shipped",
            "require kp-certified\nquorum none\n",
            None,
            VALID,
            "kp-certified holds for every bundle that verifies",
        ),
        (
            "require-warranty-pass",
            "shipped",
            "require warranty\nquorum none\n",
            None,
            VALID,
            "every transfer warranted",
        ),
        (
            "require-warranty-fail",
            "no-warranty",
            "require warranty\nquorum none\n",
            None,
            rejected("R-SW-1"),
            "a transfer without a warranty",
        ),
        (
            "require-import-confirmed-pass",
            "confirmed",
            "require import-confirmed\nquorum none\n",
            None,
            VALID,
            "the import was confirmed",
        ),
        (
            "require-import-confirmed-fail",
            "shipped",
            "require import-confirmed\nquorum none\n",
            None,
            rejected("R-KP-3"),
            "an unconfirmed import",
        ),
        (
            "require-natural-pass",
            "cut-stone",
            "require natural\nquorum none\n",
            None,
            VALID,
            "a natural stone",
        ),
        (
            "require-natural-fail",
            "grown",
            "require natural\nquorum none\n",
            None,
            rejected("R-SW-3"),
            "a laboratory-grown stone",
        ),
        (
            "pack-eu-pass",
            "shipped",
            "pack eu-russia\nquorum none\n",
            None,
            VALID,
            "Botswana rough under eu-russia",
        ),
        (
            "pack-eu-rough",
            "merge",
            "pack eu-russia\nquorum none\n",
            None,
            rejected("R-SA-2"),
            "rough mined in Russia: custody there first",
        ),
        (
            "pack-eu-custody",
            "via-moscow",
            "pack eu-russia\nquorum none\n",
            None,
            rejected("R-SA-2"),
            "rough held in Moscow",
        ),
        (
            "pack-eu-stone-custody",
            "sold",
            "pack eu-russia\nquorum none\n",
            None,
            rejected("R-SA-2"),
            "a stone whose rough was held in Russia (any size)",
        ),
        (
            "pack-eu-before-2024",
            "merge",
            "pack eu-russia\nquorum none\n",
            "2023-12-31",
            VALID,
            "judged before the EU ban",
        ),
        (
            "pack-us-stone-1ct",
            "sold",
            "pack us-russia\nquorum none\n",
            None,
            rejected("R-SA-1"),
            "a 1.49 ct stone cut in India from a mix with RU",
        ),
        (
            "pack-us-stone-small",
            "small-stone",
            "pack us-russia\nquorum none\n",
            "2025-06-01",
            VALID,
            "a 0.40 ct stone: under the 0.50 ct threshold",
        ),
        (
            "pack-us-stone-half",
            "small-stone",
            "pack us-russia\nquorum none\n",
            "2024-08-31",
            VALID,
            "a 0.40 ct stone before the 0.50 ct threshold",
        ),
        (
            "pack-us-stone-early",
            "sold",
            "pack us-russia\nquorum none\n",
            "2024-02-29",
            VALID,
            "a stone cut elsewhere judged before 2024-03-01",
        ),
        (
            "pack-us-stone-march",
            "sold",
            "pack us-russia\nquorum none\n",
            "2024-03-01",
            rejected("R-SA-1"),
            "a 1.49 ct stone judged on 2024-03-01",
        ),
        (
            "pack-us-pass",
            "shipped",
            "pack us-russia\nquorum none\n",
            None,
            VALID,
            "Botswana rough under us-russia",
        ),
        (
            "pack-us-rough",
            "merge",
            "pack us-russia\nquorum none\n",
            "2022-03-11",
            rejected("R-SA-1"),
            "rough with RU judged on the US ban date",
        ),
        (
            "pack-us-before",
            "merge",
            "pack us-russia\nquorum none\n",
            "2022-03-10",
            VALID,
            "judged the day before the US ban",
        ),
        (
            "pack-us-custody",
            "via-moscow",
            "pack us-russia\nquorum none\n",
            None,
            rejected("R-SA-2"),
            "rough exported from Russia",
        ),
        (
            "pack-us-custody-early",
            "via-moscow",
            "pack us-russia\nquorum none\n",
            "2024-02-29",
            VALID,
            "the US custody rule starts 2024-03-01",
        ),
        (
            "pack-both",
            "merge",
            "pack us-russia\npack eu-russia\nquorum none\n",
            None,
            rejected("R-SA-2"),
            "both packs",
        ),
        (
            "grandfather-pass",
            "grandfathered",
            f"{witnesses}pack eu-russia\ngrandfather-before 2025-05-01\nquorum w1\n",
            None,
            VALID,
            "Russian rough proven outside Russia by a cosigned checkpoint before the date",
        ),
        (
            "grandfather-too-late",
            "grandfathered",
            f"{witnesses}pack eu-russia\ngrandfather-before 2025-03-01\nquorum w1\n",
            None,
            rejected("R-SA-2"),
            "the cosignature is after the grandfather date",
        ),
        (
            "grandfather-quorum",
            "grandfathered",
            f"{witnesses}pack eu-russia\ngrandfather-before 2025-05-01\ngroup g all w1 w2 w3\n"
            "quorum g\n",
            None,
            rejected("R-CH-2"),
            "the evidence lacks the policy quorum",
        ),
        (
            "grandfather-no-evidence",
            "merge",
            f"{witnesses}pack eu-russia\ngrandfather-before 2025-05-01\nquorum none\n",
            None,
            rejected("R-SA-2"),
            "still in a mix with RU: nothing to grandfather",
        ),
        (
            "grandfather-origin-not-lifted",
            "grandfathered",
            f"{witnesses}deny-origin RU\ngrandfather-before 2025-05-01\nquorum w1\n",
            None,
            rejected("R-SA-1"),
            "deny-origin is never lifted",
        ),
        (
            "grandfather-custody-lifted",
            "grandfathered",
            f"{witnesses}deny-custody RU\ngrandfather-before 2025-05-01\nquorum w1\n",
            None,
            VALID,
            "deny-custody RU is lifted by grandfathering",
        ),
        ("quarantine-any-policy", "mine", "quorum none\n", None, VALID, "control"),
        ("named-eu-pass", "shipped", "eu-russia", None, VALID, "the named policy eu-russia"),
        (
            "named-eu-fail",
            "merge",
            "eu-russia",
            None,
            rejected("R-SA-2"),
            "the named policy eu-russia",
        ),
        (
            "named-eu-custody",
            "via-moscow",
            "eu-russia",
            None,
            rejected("R-SA-2"),
            "the named policy eu-russia, custody",
        ),
        ("named-us-pass", "shipped", "us-russia", None, VALID, "the named policy us-russia"),
        (
            "named-us-fail",
            "merge",
            "us-russia",
            None,
            rejected("R-SA-2"),
            "the named policy us-russia",
        ),
        (
            "named-us-polished-custody",
            "sold",
            "us-russia",
            "2025-06-01",
            rejected("R-SA-1"),
            "us-russia: a polished stone is judged by origin",
        ),
        (
            "order-first-failure",
            "sanctioned-party",
            f"{witnesses}deny-listed EU-CONSOLIDATED\nrequire import-confirmed\nquorum w1\n",
            None,
            rejected("R-CH-2"),
            "several failures: the quorum is reported first",
        ),
        (
            "order-listed-before-pack",
            "via-moscow",
            "pack eu-russia\ndeny-custody AE\nquorum none\n",
            None,
            rejected("R-SA-2"),
            "a non-Russian custody failure before the pack's",
        ),
    ]
    for name, bundle, text, as_of, expect, description in cases:
        data, vkey = j[bundle]
        c.add(
            f"policy/{name}",
            "policy",
            f"{description} ({bundle})",
            data,
            vkey,
            expect,
            policy_text=text,
            as_of=as_of,
        )
    # Every valid journey judged against every named policy and common policy lines.
    sweep = {
        "eu-russia": "eu-russia",
        "us-russia": "us-russia",
        "deny-ru": "deny-origin RU\nquorum none\n",
        "deny-bw": "deny-origin BW\nquorum none\n",
        "custody-ru": "deny-custody RU\nquorum none\n",
        "custody-in": "deny-custody IN\nquorum none\n",
        "warranty": "require warranty\nquorum none\n",
        "natural": "require natural\nquorum none\n",
        "confirmed": "require import-confirmed\nquorum none\n",
        "listed": "deny-listed EU-CONSOLIDATED\nquorum none\n",
        "quorum-w1": f"{witnesses}quorum w1\n",
        "all": f"{witnesses}pack eu-russia\npack us-russia\ndeny-origin RU,CF\n"
        "deny-custody RU\ndeny-listed EU-CONSOLIDATED\nrequire warranty\nrequire natural\n"
        "require import-confirmed\nrequire kp-certified\ngrandfather-before 2025-05-01\n"
        "quorum none\n",
    }
    for bundle in sorted(j):
        data, vkey = j[bundle]
        for pname, text in sweep.items():
            expect = python_verdict(data, vkey, text, "2025-06-01")
            c.add(
                f"sweep/{bundle}/{pname}",
                "policy",
                f"{bundle} under {pname} on 2025-06-01",
                data,
                vkey,
                expect,
                policy_text=text,
                as_of="2025-06-01",
            )


# ---------------------------------------------------------------------------


def build() -> list[Vector]:
    c = Corpus()
    j = journeys(c)
    simulated(c)
    data, vkey = j["cut-stone"]
    log = base()
    structure(c, log.bundle("ST-1"), log.vkey(), log)
    del data, vkey
    later_checks(c)
    rule_vectors(c)
    policies(c, j)
    if c.wrong:
        raise SystemExit("\n".join(c.wrong))
    return c.vectors


def files(vectors: list[Vector]) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for v in vectors:
        out[f"bundles/{digest(v.bundle)}.kpproof"] = v.bundle
    doc = {"version": 1, "count": len(vectors), "vectors": [v.to_json() for v in vectors]}
    out["vectors.json"] = (json.dumps(doc, indent=1, ensure_ascii=False) + "\n").encode()
    return out


def existing() -> Iterator[tuple[str, bytes]]:
    if OUT.exists():
        for path in sorted(OUT.rglob("*")):
            if path.is_file() and path.name != "README.md":
                yield path.relative_to(OUT).as_posix(), path.read_bytes()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the corpus is stale")
    args = parser.parse_args(argv)
    want = files(build())
    have = dict(existing())
    if args.check:
        stale = sorted(k for k in set(want) | set(have) if want.get(k) != have.get(k))
        if stale:
            print(
                f"bundle corpus is stale ({len(stale)} files differ, e.g. {stale[0]}); run "
                "tools/gen_bundle_corpus.py",
                file=sys.stderr,
            )
            return 1
        return 0
    for name in set(have) - set(want):
        (OUT / name).unlink()
    for name, data in want.items():
        path = OUT / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if have.get(name) != data:
            path.write_bytes(data)
    total = sum(len(d) for d in want.values())
    print(f"wrote {len(want) - 1} bundles and vectors.json ({total:,} bytes) to {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
