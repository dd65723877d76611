"""The fraud scenes of the KP scheme and the G7/EU measures, staged once at setup (the same
at every fault rate).

Some frauds need history before they can be tried: a certificate issued before a
suspension, a certificate about to expire, a stolen authority key, an offer from a
participant since revoked. :func:`stage` writes that history with participants who take
no part in the simulated trade (``world.SCENE_ACTORS``), and returns the :class:`Scenes`
the fault builders of ``ledger.sim.faults`` read:

* **VE** is suspended from ``VE_SUSPENDED_DAYS`` after the start; its mine holds rough
  under certificates issued before that (crossing after a suspension, R-KP-5);
* **LS**'s mine holds rough under certificates that expire after 20 days (an offer
  signed "on" the last valid day and submitted later, R-KP-2);
* **ZW**'s authority key was stolen: it certified two shipments before the theft was
  found; one crossed (those goods are quarantined, R-ID-2) and the other certificate can
  no longer be used (R-ID-2);
* **SL**'s artisanal mine offered rough to a Freetown dealer, then lost its licence: the
  offer can no longer be accepted (R-ID-2);
* the **EU list** designates a Dubai front company from the first day, and the **OFAC
  list** the Moscow dealer (R-SA-4); goods either of them acts on fail a buyer's
  ``deny-listed`` policy, and the lists are owned by their publishers from then on;
* an **Antwerp broker** bought rough of a Botswana mine without a System of Warranties
  statement: those goods can never be warranted again (R-SW-2).

The Botswana mine, the Moscow dealer and the Dubai front company are also the cast of the
policy faults (``ledger.sim.faults``): Botswana rough re-exported through Moscow, or sold
through the sanctioned company, which the ledger accepts and a buyer's policy must fail.

It writes only valid entries and draws no randomness.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ledger.core.rules import date_of
from ledger.sim.engine import Engine
from ledger.sim.world import (
    DAY,
    HOUR,
    MINUTE,
    SANCTIONS_LISTS,
    START_MS,
    VE_SUSPENDED_DAYS,
    Actor,
    Cast,
)

__all__ = ["EU_LIST", "Held", "Scenes", "stage"]

#: The sanctions list a buyer in the EU denies (``deny-listed EU``).
EU_LIST = "EU"


@dataclass(frozen=True)
class Held:
    """A scene parcel: who holds it, its head, the certificate it would travel under (none
    for a sale at home)."""

    pid: str
    holder: Actor
    head: bytes
    certificate: str | None
    importer: Actor


@dataclass
class Scenes:
    """What the fault builders need from the staged scenes."""

    ve_suspended_ms: int
    ve_stock: list[Held] = field(default_factory=list)
    ls_stock: list[Held] = field(default_factory=list)
    ls_expires_ms: int = 0
    zw_stock: list[Held] = field(default_factory=list)
    sl_offer: bytes = b""
    sl_buyer: Actor | None = None
    #: The G7/EU scenes: the mine of the fraudulent routes, the Moscow dealer, the Dubai
    #: front company designated on ``EU_LIST`` (from ``designated``), the publishers.
    g7_mine: Actor | None = None
    moscow: Actor | None = None
    sanctioned: Actor | None = None
    designated: str = ""
    publishers: dict[str, Actor] = field(default_factory=dict)
    #: Rough an Antwerp broker accepted without a warranty (R-SW-2 if warranted again).
    unwarranted: list[Held] = field(default_factory=list)
    #: Items the scenes leave quarantined (their ancestry holds a void entry).
    quarantined: list[str] = field(default_factory=list)


def _origin(engine: Engine, mine: Actor, pid: str, carats: int) -> bytes:
    """A scene origin of ``carats`` points (one stone per 40 points)."""
    fields = {
        "parcel": pid,
        "carats": carats,
        "stones": carats // 40,
        "mine": mine.name,
        "hs": "7102.10",
    }
    return engine.emit("origin", fields, mine.key, time=engine.stamp(MINUTE))


def _certify(
    engine: Engine,
    authority: Actor,
    exporter: Actor,
    importer: Actor,
    pid: str,
    carats: int,
    number: str,
    expires_ms: int,
) -> str:
    fields: dict[str, Any] = {
        "number": number,
        "parcels": [pid],
        "exporter": exporter.name,
        "importer": importer.name,
        "exporter_country": exporter.country,
        "importer_country": importer.country,
        "value": {"amount": carats * 12_000, "currency": "USD"},
        "expires": date_of(expires_ms),
        "carats": carats,
        "count": 1,
        "hs": ["7102.10"],
        "origins": [exporter.country],
    }
    engine.emit("certificate.issue", fields, authority.key, time=engine.stamp(MINUTE))
    return number


def stage(engine: Engine, cast: Cast) -> Scenes:
    """Write the scenes (after the registrations) and return what the faults need."""
    s = cast.scene
    antwerp = cast.traders[0]
    start = engine.stamp(MINUTE)
    scenes = Scenes(ve_suspended_ms=START_MS + VE_SUSPENDED_DAYS * DAY)
    # VE: rough certified before the suspension.
    ve_mine, ve_kp = s["Guaniamo Mine"], s["VE KP Authority"]
    for i in range(1, 4):
        pid = f"VE-SCENE-{i}"
        head = _origin(engine, ve_mine, pid, 2_000 * i)
        number = _certify(
            engine,
            ve_kp,
            ve_mine,
            antwerp,
            pid,
            2_000 * i,
            f"VE-SCENE-{i:04d}",
            start + 50 * DAY,
        )
        scenes.ve_stock.append(Held(pid, ve_mine, head, number, antwerp))
    # LS: rough under certificates valid 20 days.
    ls_mine, ls_kp = s["Letseng Mine"], s["LS KP Authority"]
    scenes.ls_expires_ms = start + 20 * DAY
    for i in range(1, 4):
        pid = f"LS-SCENE-{i}"
        head = _origin(engine, ls_mine, pid, 1_000 * i)
        number = _certify(
            engine,
            ls_kp,
            ls_mine,
            antwerp,
            pid,
            1_000 * i,
            f"LS-SCENE-{i:04d}",
            scenes.ls_expires_ms,
        )
        scenes.ls_stock.append(Held(pid, ls_mine, head, number, antwerp))
    # ZW: the authority's key is stolen an hour before it certifies two shipments.
    zw_mine, zw_kp = s["Marange Fields"], s["ZW KP Authority"]
    stolen = engine.stamp(HOUR)
    held = []
    for i in range(1, 3):
        pid = f"ZW-SCENE-{i}"
        head = _origin(engine, zw_mine, pid, 5_000)
        number = _certify(
            engine, zw_kp, zw_mine, antwerp, pid, 5_000, f"ZW-SCENE-{i:04d}", start + 40 * DAY
        )
        held.append(Held(pid, zw_mine, head, number, antwerp))
    first = held[0]
    offer = engine.emit(
        "transfer",
        {
            "to": antwerp.name,
            "inputs": [{"parcel": first.pid, "head": first.head}],
            "certificate": first.certificate,
        },
        zw_mine.key,
        time=engine.stamp(MINUTE),
    )
    engine.emit("accept", {"transfer": offer}, antwerp.key, time=engine.stamp(HOUR))
    engine.emit(
        "participant.revoke",
        {"name": zw_kp.name, "reason": "signing key stolen", "compromised_since": stolen},
        cast.proposer,
        time=engine.stamp(DAY),
        cosigners=cast.cosigners,
    )
    scenes.zw_stock.append(held[1])
    scenes.quarantined.append(first.pid)
    # SL: an offer made by a mine that then loses its licence.
    kono, freetown = s["Kono Artisanal Mine"], s["Freetown Rough Traders"]
    head = _origin(engine, kono, "SL-SCENE-1", 800)
    scenes.sl_offer = engine.emit(
        "transfer",
        {"to": freetown.name, "inputs": [{"parcel": "SL-SCENE-1", "head": head}]},
        kono.key,
        time=engine.stamp(MINUTE),
    )
    scenes.sl_buyer = freetown
    engine.emit(
        "participant.revoke",
        {"name": kono.name, "reason": "mining licence withdrawn"},
        cast.proposer,
        time=engine.stamp(HOUR),
        cosigners=cast.cosigners,
    )
    _stage_g7(engine, cast, scenes)
    engine.flush()
    return scenes


def _stage_g7(engine: Engine, cast: Cast, scenes: Scenes) -> None:
    """The G7/EU scenes: sanctions designations, and rough that lost its warranty."""
    s = cast.scene
    scenes.g7_mine = mine = s["Letlhakane Mine"]
    scenes.moscow = moscow = s["Moscow Rough Trading"]
    scenes.sanctioned = front = s["Gulf Star Gems FZE"]
    scenes.publishers = {list_id: s[name] for list_id, name in SANCTIONS_LISTS.items()}
    scenes.designated = date_of(engine.stamp(MINUTE))
    for list_id, party, reason in (
        (EU_LIST, front, "circumvention of Art. 3p of Reg. 833/2014 (Russian diamonds)"),
        ("OFAC-SDN", moscow, "operating in the jewelry sector of the Russian economy"),
    ):
        fields = {"list": list_id, "party": party.name, "from": scenes.designated}
        fields["reason"] = reason
        publisher = scenes.publishers[list_id]
        engine.emit("sanction.designate", fields, publisher.key, time=engine.stamp(MINUTE))
    # Antwerp: Botswana rough imported under a KP certificate but without a warranty.
    broker = s["Pelikaanstraat Brokers"]
    antwerp = cast.traders[0]
    bw_kp = cast.authorities[mine.country]
    start = engine.stamp(MINUTE)
    for i in range(1, 4):
        pid = f"W-SCENE-{i}"
        head = _origin(engine, mine, pid, 1_500 * i)
        number = _certify(
            engine, bw_kp, mine, broker, pid, 1_500 * i, f"BW-SCENE-{i:04d}", start + 30 * DAY
        )
        offer = engine.emit(
            "transfer",
            {"to": broker.name, "inputs": [{"parcel": pid, "head": head}], "certificate": number},
            mine.key,
            time=engine.stamp(MINUTE),
        )
        head = engine.emit("accept", {"transfer": offer}, broker.key, time=engine.stamp(HOUR))
        scenes.unwarranted.append(Held(pid, broker, head, None, antwerp))
