"""Governance by k of n governors (specs/rules.md §3.9): R-GV-1 … R-GV-5, migration,
governor rotation, bundles checked offline, and the CLI ceremony (offline proposals)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli.app import main
from ledger.core import merkle, note, proofs, replay, rules, statemap
from ledger.core.keys import PrivateKey
from ledger.core.model import ZERO_HASH, Body, Record, SignedEntry, add_signature, sign_body
from ledger.errors import ChainError, ProofError, RuleError, UsageError
from ledger.ledger import Ledger
from tests.conftest import BASE_TIME, DAY, OPERATOR, World, fixed_key

GOVERNORS = ("KP Chair", "Producers", "Traders", "Consumers", "Civil Society")


def gov_keys() -> list[PrivateKey]:
    return [fixed_key(name, 200 + i) for i, name in enumerate(GOVERNORS)]


def members(keys: Sequence[PrivateKey]) -> list[dict[str, Any]]:
    return [{"name": k.name, "pub": k.public} for k in keys]


@pytest.fixture
def governed(world: World) -> World:
    """The shared world, moved to governance by 3 of 5 (the operator's last lone act)."""
    keys = gov_keys()
    for k in keys:
        world.keys[k.name] = k
    world.act("governance.set", {"governors": members(keys), "threshold": 3}, OPERATOR)
    return world


NEW = fixed_key("Fake BW Authority", 220)
ADD = {"name": "Fake BW Authority", "pub": NEW.public, "roles": ["authority"], "country": "BW"}
SUSPEND = {"country": "BE", "status": "suspended", "from": "2030-01-01"}
PARAM = {"name": "confirm-days", "value": 45, "from": "2030-01-01"}


def registry_changes(world: World) -> list[tuple[str, dict[str, Any], list[str]]]:
    """One change of each registry type, and the extra co-signers it needs."""
    rotated = fixed_key("Antwerp Trader", 221)
    return [
        ("participant.add", ADD, []),
        ("participant.revoke", {"name": "Antwerp Trader", "reason": "licence lost"}, []),
        ("participant.rotate", {"name": "Jwaneng", "pub": rotated.public}, ["Jwaneng"]),
        ("kp-status.set", SUSPEND, []),
        ("param.set", PARAM, []),
        (
            "governance.set",
            {"governors": members(gov_keys()[:4]), "threshold": 2},
            [],
        ),
    ]


def test_operator_alone_or_one_governor_changes_nothing(governed: World) -> None:
    w = governed
    for entry_type, fields, extra in registry_changes(w):
        with w.rejected("R-GV-1") as info:
            w.act(entry_type, fields, OPERATOR, cosigners=extra)
        assert "3 of the 5 governors" in info.value.message
        with w.rejected("R-GV-1"):
            w.act(entry_type, fields, GOVERNORS[0], cosigners=extra)
        with w.rejected("R-GV-1"):
            w.act(entry_type, fields, GOVERNORS[0], cosigners=[GOVERNORS[1], *extra])
    assert w.ledger.governance() is not None


def test_k_governors_change_each_registry_type(governed: World) -> None:
    w = governed
    for entry_type, fields, extra in registry_changes(w):
        w.act(entry_type, fields, GOVERNORS[0], cosigners=[GOVERNORS[1], GOVERNORS[4], *extra])
    assert w.ledger.party("Fake BW Authority")["roles"] == ["authority"]
    assert w.ledger.party("Antwerp Trader")["revoked"] is not None
    gov = w.ledger.governance()
    assert gov is not None and gov["threshold"] == 2 and len(gov["governors"]) == 4
    assert w.ledger.party("Civil Society")["revoked"] is not None  # left the set
    w.verify()


def test_strangers_do_not_sign_registry_changes(governed: World) -> None:
    w = governed
    with w.rejected("R-GV-2"):
        w.act("kp-status.set", SUSPEND, "Jwaneng", cosigners=list(GOVERNORS[:3]))
    with w.rejected("R-GV-2"):
        w.act("kp-status.set", SUSPEND, GOVERNORS[0], cosigners=[*GOVERNORS[1:3], "Jwaneng"])
    with w.rejected("R-GV-2"):
        w.act("kp-status.set", SUSPEND, GOVERNORS[0], cosigners=[*GOVERNORS[1:3], OPERATOR])
    # A governor signs nothing but registry changes (it holds no trade role).
    with w.rejected("R-ID-1"):
        w.act(
            "origin",
            {"parcel": "G1", "carats": 1, "stones": 1, "mine": "x", "hs": "7102.10"},
            GOVERNORS[0],
        )


def test_governance_sets_are_checked(governed: World) -> None:
    w = governed
    signers = {"signer": GOVERNORS[0], "cosigners": list(GOVERNORS[1:3])}
    keys = gov_keys()
    with w.rejected("R-GV-3"):
        w.act("governance.set", {"governors": members(keys), "threshold": 6}, **signers)
    eight = [*keys, *(fixed_key(f"G{i}", 222 + i) for i in range(3))]
    with w.rejected("R-GV-3") as info:
        w.act("governance.set", {"governors": members(eight), "threshold": 8}, **signers)
    assert "above 7" in info.value.message
    op = w.keys[OPERATOR]
    with w.rejected("R-GV-3"):  # the operator's key cannot be a governor's
        w.act(
            "governance.set",
            {"governors": [*members(keys), {"name": "Op", "pub": op.public}], "threshold": 3},
            **signers,
        )
    jw = w.keys["Jwaneng"]
    with w.rejected("R-GV-3"):  # nor a participant's
        w.act(
            "governance.set",
            {"governors": [*members(keys), {"name": "J", "pub": jw.public}], "threshold": 3},
            **signers,
        )
    fresh = fixed_key("x", 225)
    with w.rejected("R-GV-3"):  # a participant's name is not a governor's
        w.act(
            "governance.set",
            {
                "governors": [*members(keys), {"name": "Jwaneng", "pub": fresh.public}],
                "threshold": 3,
            },
            **signers,
        )
    with w.rejected("R-GV-3"):
        w.act("participant.revoke", {"name": GOVERNORS[4]}, **signers)
    with w.rejected("R-GV-3"):
        w.act(
            "participant.rotate",
            {"name": GOVERNORS[4], "pub": fresh.public},
            GOVERNORS[0],
            cosigners=[
                *GOVERNORS[1:],
            ],
        )


def test_expired_and_replayed_proposals(governed: World) -> None:
    w = governed
    with w.rejected("R-GV-4") as info:
        w.act(
            "kp-status.set",
            SUSPEND,
            GOVERNORS[0],
            cosigners=list(GOVERNORS[1:3]),
            time=w.now - rules.PROPOSAL_TTL_MS - 1,
        )
    assert "expired" in info.value.message
    entry = w.sign("kp-status.set", SUSPEND, GOVERNORS[0], cosigners=list(GOVERNORS[1:3]))
    w.append(entry)
    again = add_signature(
        SignedEntry.build(entry.body_bytes, entry.sigs[:1]), w.keys[GOVERNORS[3]].seed
    )
    again = add_signature(again, w.keys[GOVERNORS[4]].seed)
    assert again.id != entry.id
    with w.rejected("R-GV-5"):
        w.append(again)
    with w.rejected("R-CH-3", ChainError):
        w.append(entry)


def test_migration_is_the_operators_last_lone_act(world: World) -> None:
    keys = gov_keys()
    for k in keys:
        world.keys[k.name] = k
    fields = {"governors": members(keys), "threshold": 3}
    with world.rejected("R-ID-3"):
        world.act("governance.set", fields, "Jwaneng")
    world.act("kp-status.set", SUSPEND, OPERATOR)  # before: the operator governs
    world.act("governance.set", fields, OPERATOR)
    with world.rejected("R-GV-1"):
        world.act("governance.set", {"governors": members(keys[:1]), "threshold": 1}, OPERATOR)
    with world.rejected("R-GV-1"):
        world.act("kp-status.set", {**SUSPEND, "from": "2031-01-01"}, OPERATOR)
    world.verify()


def test_governor_rotation_and_departure(governed: World) -> None:
    w = governed
    keys = gov_keys()
    chair2 = fixed_key("KP Chair", 226)
    new_set = [{"name": "KP Chair", "pub": chair2.public}, *members(keys[1:4])]
    w.act(
        "governance.set",
        {"governors": new_set, "threshold": 3},
        GOVERNORS[1],
        cosigners=[GOVERNORS[0], GOVERNORS[4]],  # the departing governor may sign its exit
    )
    # The old chair key and the departed governor are out of force.
    with w.rejected("R-ID-2"):
        w.act("kp-status.set", SUSPEND, GOVERNORS[0], cosigners=list(GOVERNORS[1:3]))
    with w.rejected("R-ID-2"):
        w.act("kp-status.set", SUSPEND, GOVERNORS[1], cosigners=[GOVERNORS[2], GOVERNORS[4]])
    w.act("kp-status.set", SUSPEND, chair2, cosigners=list(GOVERNORS[1:3]))
    with w.rejected("R-GV-3"):  # a departed governor's name is never reused
        w.act(
            "governance.set",
            {
                "governors": [*new_set, {"name": GOVERNORS[4], "pub": fixed_key("y", 227).public}],
                "threshold": 3,
            },
            chair2,
            cosigners=list(GOVERNORS[1:3]),
        )
    w.verify()


def test_genesis_with_governors(tmp_path: Path) -> None:
    op = fixed_key(OPERATOR, 1)
    keys = gov_keys()
    pairs = [(k.name, k.public) for k in keys]
    with pytest.raises(RuleError) as info:
        Ledger.create(
            str(tmp_path / "a.kpl"), op, "ex.org/a", now=BASE_TIME, governors=pairs, threshold=6
        )
    assert info.value.rule == "R-GV-3"
    assert not (tmp_path / "a.kpl").exists()
    with pytest.raises(UsageError):
        Ledger.create(str(tmp_path / "b.kpl"), op, "ex.org/a", now=BASE_TIME, governors=pairs)
    led = Ledger.create(
        str(tmp_path / "c.kpl"), op, "ex.org/a", now=BASE_TIME, governors=pairs, threshold=3
    )
    gov = led.governance()
    assert gov is not None and [g["name"] for g in gov["governors"]] == list(GOVERNORS)
    entry = led.sign("participant.add", ADD, op, now=BASE_TIME)
    with pytest.raises(RuleError) as info:
        led.append([entry], now=BASE_TIME)
    assert info.value.rule == "R-GV-1"
    entry = led.sign("participant.add", ADD, keys[0], now=BASE_TIME, cosigners=keys[1:3])
    led.append([entry], now=BASE_TIME)
    assert led.verify().size == 2
    led.close()


# ---------------------------------------------------------------------------
# Bundles: an offline verifier checks the governance too


def test_bundle_carries_governance_and_its_cosignatures(governed: World) -> None:
    w = governed
    cosign = {"cosigners": list(GOVERNORS[1:3])}
    mine = fixed_key("Gov Mine", 228)
    w.keys["Gov Mine"] = mine
    fields = {"name": "Gov Mine", "pub": mine.public, "roles": ["mine"], "country": "BW"}
    w.act("participant.add", fields, GOVERNORS[0], **cosign)
    w.act(
        "origin",
        {"parcel": "GV-1", "carats": 1_000, "stones": 3, "mine": "pit", "hs": "7102.10"},
        "Gov Mine",
    )
    w.ledger.checkpoint(w.keys[OPERATOR])
    data = w.ledger.prove("GV-1")
    bundle = proofs.Bundle.decode(data)
    carried = {Record.from_wire(r.record).entry().type for r in bundle.records}
    assert "governance.set" in carried
    add = next(
        Record.from_wire(r.record).entry()
        for r in bundle.records
        if Record.from_wire(r.record).entry().type == "participant.add"
        and Record.from_wire(r.record).entry().fields["name"] == "Gov Mine"
    )
    assert len(add.sigs) == 3
    report = proofs.verify_bundle(data, w.ledger.verifier())
    assert report.item == "GV-1"


def _signed_log(
    op: PrivateKey, entries: Sequence[SignedEntry], origin: str, state_map: statemap.MemoryMap
) -> tuple[list[Record], str, merkle.ListHashReader]:
    """The operator's forged log of ``entries`` and its checkpoint, committing to
    ``state_map`` (the state the operator claims)."""
    records = []
    prev = ZERO_HASH
    for i, e in enumerate(entries):
        r = Record.build(i, prev, e.body.time, e.raw)
        records.append(r)
        prev = r.hash
    reader = merkle.ListHashReader([r.hash for r in records])
    root = merkle.tree_root(len(records), reader)
    cp = note.sign_checkpoint(
        note.kpledger_checkpoint(origin, len(records), root, state_map.root()), origin, op.seed
    )
    return records, cp, reader


@pytest.mark.parametrize("signers", [0, 1, 2, 3])
def test_offline_bundle_refuses_a_registration_without_k_governors(signers: int) -> None:
    """A log the operator forged (it signs checkpoints): a mine registered with fewer than
    k governor signatures. The buyer's offline check refuses it with R-GV-1."""
    origin = "ex.org/forged"
    op = fixed_key(OPERATOR, 1)
    keys = gov_keys()
    mine = fixed_key("Mine", 228)
    t = BASE_TIME

    def sign(entry_type: str, fields: dict[str, Any], by: Sequence[PrivateKey]) -> SignedEntry:
        return sign_body(Body(entry_type, origin, by[0].kid, t, fields), [k.seed for k in by])

    genesis = sign(
        "genesis",
        {"operator": op.public, "name": OPERATOR, "governors": members(keys), "threshold": 3},
        [op],
    )
    by = keys[:signers] if signers else [op]
    add = sign(
        "participant.add",
        {"name": "Mine", "pub": mine.public, "roles": ["mine"], "country": "BW"},
        by,
    )
    status = sign(
        "kp-status.set", {"country": "BW", "status": "participant", "from": "2003-01-01"}, keys[:3]
    )
    origin_entry = sign(
        "origin",
        {"parcel": "P", "carats": 100, "stones": 1, "mine": "pit", "hs": "7102.10"},
        [mine],
    )
    # The state the forger claims: as if the registration had its k signatures.
    honest = [genesis, sign("participant.add", add.fields, keys[:3]), status, origin_entry]
    claimed = statemap.MemoryMap()
    honest_records, _, _ = _signed_log(op, honest, origin, statemap.MemoryMap())
    replay.replay(((r.index, r.raw) for r in honest_records), state_map=claimed)
    records, cp, reader = _signed_log(op, [genesis, add, status, origin_entry], origin, claimed)
    data = proofs.make_bundle(
        origin,
        "P",
        cp,
        len(records),
        records,
        reader,
        map_proofs=proofs.map_proofs_for(honest_records, "P", claimed.prove),
    ).encode()
    verifier = note.Verifier.for_ed25519(origin, op.public)
    if signers >= 3:
        assert proofs.verify_bundle(data, verifier).item == "P"
        return
    with pytest.raises(ProofError, match="R-GV-1"):
        proofs.verify_bundle(data, verifier)


# ---------------------------------------------------------------------------
# The CLI ceremony, offline


def run(args: Sequence[str], *, ok: bool = True) -> Any:
    result = CliRunner().invoke(main, list(args))
    if ok:
        assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def ceremony(tmp_path: Path) -> tuple[Path, list[str]]:
    keys = tmp_path / "keys"
    for name in ("operator", "g1", "g2", "g3", "g4", "g5", "mine"):
        run(["key", "new", name, "--dir", str(keys), "--no-passphrase"])
    (tmp_path / "gov.txt").write_text(
        "# governors\nKP Chair = keys/g1.pub\n" + "".join(f"keys/g{i}.pub\n" for i in range(2, 6))
    )
    db = str(tmp_path / "kp.db")
    run(
        [
            "--ledger",
            db,
            "init",
            "--key",
            str(keys / "operator.key"),
            "--origin",
            "ex.org/kp",
            "--governors",
            str(tmp_path / "gov.txt"),
            "--threshold",
            "3",
        ]
    )
    return tmp_path, ["--ledger", db]


def test_cli_offline_proposal(ceremony: tuple[Path, list[str]]) -> None:
    path, led = ceremony
    keys = path / "keys"
    prop = str(path / "add.kpe")
    add = [
        "participant",
        "add",
        "--pub",
        str(keys / "mine.pub"),
        "--name",
        "Mine",
        "--role",
        "mine",
        "--country",
        "BW",
    ]
    r = run([*led, "--json", *add, "--key", str(keys / "operator.key")], ok=False)
    assert r.exit_code == 1 and json.loads(r.stderr)["rule"] == "R-GV-1"
    run([*led, *add, "--key", str(keys / "g1.key"), "--out", prop])
    r = run([*led, "governance", "submit", prop], ok=False)
    assert r.exit_code == 1 and "R-GV-1" in r.stderr
    run([*led, "governance", "sign", prop, "--key", str(keys / "g2.key")])
    for key, rule in (("g2", "R-GV-2"), ("mine", "R-GV-2"), ("operator", "R-GV-2")):
        r = run([*led, "governance", "sign", prop, "--key", str(keys / f"{key}.key")], ok=False)
        assert r.exit_code == 1 and rule in r.stderr, r.stderr
    shown = json.loads(run([*led, "--json", "governance", "show", prop]).stdout)[0]
    assert (shown["approvals"], shown["threshold"]) == (2, 3)
    assert shown["missing"] == ["g3", "g4", "g5"]
    run([*led, "governance", "sign", prop, "--key", str(keys / "g3.key")])
    run([*led, "governance", "submit", prop])
    r = run([*led, "governance", "submit", prop], ok=False)
    assert r.exit_code == 1 and "R-CH-3" in r.stderr
    rows = json.loads(run([*led, "--json", "participant", "list"]).stdout)
    mine = next(p for p in rows if p["name"] == "Mine")
    assert mine["approved_by"] == ["KP Chair", "g2", "g3"]
    assert "approved by KP Chair, g2, g3" in run([*led, "participant", "list"]).stdout
    shown = json.loads(run([*led, "--json", "governance", "show"]).stdout)
    assert shown["governance"]["threshold"] == 3 and len(shown["governance"]["governors"]) == 5


def test_cli_governance_bad_input(ceremony: tuple[Path, list[str]]) -> None:
    path, led = ceremony
    keys = path / "keys"
    before = run([*led, "log"]).stdout
    for k, message in (("0", "--threshold"), ("6", "R-GV-3"), ("x", "--threshold")):
        r = run(
            [
                *led,
                "governance",
                "propose",
                "--key",
                str(keys / "g1.key"),
                "--governors",
                str(path / "gov.txt"),
                "--threshold",
                k,
                "--out",
                str(path / f"g{k}.kpe"),
            ],
            ok=False,
        )
        assert r.exit_code != 0 and message in r.stderr, r.stderr
        assert not (path / f"g{k}.kpe").exists()
    r = run(
        [
            "--ledger",
            str(path / "new.db"),
            "init",
            "--key",
            str(keys / "operator.key"),
            "--origin",
            "ex.org/x",
            "--governors",
            str(path / "gov.txt"),
        ],
        ok=False,
    )
    assert r.exit_code == 2 and "go together" in r.stderr
    assert not (path / "new.db").exists()
    # A proposal of another ledger, and a file that is not a proposal.
    r = run(
        [*led, "governance", "sign", str(path / "gov.txt"), "--key", str(keys / "g2.key")], ok=False
    )
    assert r.exit_code == 1
    assert run([*led, "log"]).stdout == before


def test_cli_migration(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    for name in ("operator", "g1", "g2", "g3"):
        run(["key", "new", name, "--dir", str(keys), "--no-passphrase"])
    (tmp_path / "gov.txt").write_text("".join(f"keys/g{i}.pub\n" for i in (1, 2, 3)))
    led = ["--ledger", str(tmp_path / "kp.db")]
    op = str(keys / "operator.key")
    run([*led, "init", "--key", op, "--origin", "ex.org/m"])
    assert "no governance set" in run([*led, "governance", "show"]).stdout
    status = [
        "kp-status",
        "set",
        "--country",
        "BW",
        "--status",
        "participant",
        "--from",
        "2003-01-01",
    ]
    run([*led, *status, "--key", op])
    r = run(
        [
            *led,
            "governance",
            "propose",
            "--key",
            str(keys / "g1.key"),
            "--governors",
            str(tmp_path / "gov.txt"),
            "--threshold",
            "2",
        ],
        ok=False,
    )
    assert "R-ID-1" in r.stderr  # g1 is no participant yet, let alone the operator
    run(
        [
            *led,
            "governance",
            "propose",
            "--key",
            op,
            "--governors",
            str(tmp_path / "gov.txt"),
            "--threshold",
            "2",
        ]
    )
    again = ["kp-status", "set", "--country", "BW", "--status", "suspended", "--from", "2030-01-01"]
    r = run([*led, *again, "--key", op], ok=False)
    assert "R-GV-1" in r.stderr
    run([*led, *again, "--key", str(keys / "g1.key"), "--cosign", str(keys / "g3.key")])
    assert "governed by 2 of 3" in run([*led, "governance", "show"]).stdout
    run([*led, "verify"])


def test_day_constant_is_a_day() -> None:
    assert rules.PROPOSAL_TTL_MS == 7 * DAY


def test_simulated_single_key_registry_changes_are_all_refused(tmp_path: Path) -> None:
    from ledger.sim import simulate

    report = simulate(
        str(tmp_path / "sim.db"),
        parcels=4,
        seed=5,
        faults=0.5,
        fault_kinds=["single-key-registry"],
    )
    assert report.faults_by_kind["single-key-registry"] == report.faults_tried > 20
    assert report.faults_accepted == 0 and not report.faults_unexpected
    assert dict(report.faults_rejected) == {"R-GV-1": report.faults_tried}
    led = Ledger.open(str(tmp_path / "sim.db"))
    gov = led.governance()
    assert gov is not None and gov["threshold"] == 3 and len(gov["governors"]) == 5
    led.close()
