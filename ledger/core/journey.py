"""The journey of an item, told once: who did what, where, when, under which certificate.

``trace`` (a ledger file or a node), ``verify-proof`` (a bundle, offline) and the buyer's
HTML report all show an item's ancestry as a list of :class:`Step`. This module is the
one place that turns entries into steps: each step carries the plain-words ``summary``
every view prints and the structured facts (parcels moved and made, counterparty,
certificate, warranty) a view needs to draw more than text.

Pure: entries and a state reader in, steps out. It does not decide which entries belong
to an ancestry (``ledger.core.proofs.ancestry`` and the ledger's trace do) and does not
check anything (the rules engine did, before any entry reached here).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ledger.core.model import Record, SignedEntry

__all__ = ["StateReader", "Step", "carats_text", "narrate", "step_from_json", "step_to_json"]

#: ``read(kind, key)``: a state value (``kid``, ``party``, ``transfer``) or None.
StateReader = Callable[[str, str], Any]


def carats_text(points: int) -> str:
    """``1,250.00 ct`` from integer points (1/100 ct)."""
    return f"{points // 100:,}.{points % 100:02d} ct"


@dataclass(frozen=True)
class Step:
    """One entry of an item's ancestry, as every view tells it."""

    index: int
    #: The signer's claimed time and the log's append time (ms since the epoch, UTC).
    time: int
    appended: int
    type: str
    actor: str
    country: str
    entry_id: str
    summary: str
    #: Parcels or stones the entry consumed, offered or settled.
    inputs: tuple[str, ...] = ()
    #: Parcels or stones it made, with their weights in points.
    outputs: tuple[tuple[str, int], ...] = ()
    #: By-products of a cut, with their weights in points.
    byproducts: tuple[tuple[str, int], ...] = ()
    #: The receiver of an offer; the sender of an offer that was answered.
    counterparty: str | None = None
    #: The KP certificate a transfer travels under (or an issuance's number).
    certificate: str | None = None
    #: The System of Warranties statement version a transfer carries.
    warranty: str | None = None
    #: Hex id of the offer an accept, reject or cancel answers.
    offer: str | None = None
    mine: str | None = None
    report: str | None = None


def _name(read: StateReader, kid: bytes) -> str:
    info = read("kid", kid.hex())
    return str(info["name"]) if info else kid.hex()[:16]


def _country(read: StateReader, name: str) -> str:
    party = read("party", name)
    return str(party["country"]) if party else "--"


def _outs(items: Iterable[Mapping[str, Any]]) -> tuple[tuple[str, int], ...]:
    return tuple((str(o["parcel"]), int(o["carats"])) for o in items)


def _listed(outs: Iterable[tuple[str, int]]) -> str:
    return ", ".join(f"{p} ({carats_text(c)})" for p, c in outs)


def narrate_entry(record: Record, entry: SignedEntry, read: StateReader) -> Step:
    """The step of one entry (``read`` answers with the state after the whole log)."""
    f = entry.fields
    t = entry.type
    actor = _name(read, entry.body.signer)
    base: dict[str, Any] = {
        "index": record.index,
        "time": entry.body.time,
        "appended": record.time,
        "type": t,
        "actor": actor,
        "country": _country(read, actor),
        "entry_id": entry.id.hex(),
    }
    if t == "origin":
        return Step(
            **base,
            summary=(
                f"mined {f['parcel']} at {f['mine']}: {carats_text(f['carats'])}, "
                f"{f['stones']:,} stones"
            ),
            outputs=((f["parcel"], f["carats"]),),
            mine=f["mine"],
        )
    if t == "grow":
        return Step(
            **base,
            summary=(
                f"grew {f['parcel']} (laboratory-grown) at {f['facility']}: "
                f"{carats_text(f['carats'])}, {f['stones']:,} stones"
            ),
            outputs=((f["parcel"], f["carats"]),),
            mine=f["facility"],
        )
    if t == "certificate.issue":
        return Step(
            **base,
            summary=(
                f"KP certificate {f['number']}: {f['exporter']} ({f['exporter_country']}) -> "
                f"{f['importer']} ({f['importer_country']}), {carats_text(f['carats'])}"
            ),
            inputs=tuple(f["parcels"]),
            certificate=f["number"],
        )
    if t == "transfer":
        parcels = tuple(i["parcel"] for i in f["inputs"])
        number = f.get("certificate")
        extra = f" under KP certificate {number}" if number else ""
        sow = f" with SoW warranty ({f['warranty']} text)" if "warranty" in f else ""
        sow += f", WDC {f['wdc']}" if "wdc" in f else ""
        return Step(
            **base,
            summary=f"offered {', '.join(parcels)} to {f['to']}{extra}{sow}",
            inputs=parcels,
            counterparty=f["to"],
            certificate=number,
            warranty=f.get("warranty"),
        )
    if t in ("accept", "reject", "cancel"):
        offer = read("transfer", f["transfer"].hex()) or {}
        parcels = tuple(offer.get("parcels", ()))
        sender = offer.get("from")
        return Step(
            **base,
            summary=f"{t}ed transfer from {sender or '?'} of {', '.join(parcels)}",
            inputs=parcels,
            counterparty=sender,
            certificate=offer.get("certificate"),
            offer=f["transfer"].hex(),
        )
    if t == "split":
        outs = _outs(f["outputs"])
        return Step(
            **base,
            summary=f"split {f['input']['parcel']} into {_listed(outs)}",
            inputs=(f["input"]["parcel"],),
            outputs=outs,
        )
    if t == "merge":
        ins = tuple(i["parcel"] for i in f["inputs"])
        out = _outs([f["output"]])
        return Step(
            **base,
            summary=f"merged {', '.join(ins)} into {_listed(out)}",
            inputs=ins,
            outputs=out,
        )
    if t == "cut":
        ins = tuple(i["parcel"] for i in f["inputs"])
        stones = _outs(f["stones"])
        return Step(
            **base,
            summary=f"cut {', '.join(ins)} into {_listed(stones)}",
            inputs=ins,
            outputs=stones,
            byproducts=_outs(f.get("byproducts", ())),
        )
    if t == "grade":
        stone = f["input"]["parcel"]
        weight = f" at {carats_text(f['carats'])}" if "carats" in f else ""
        return Step(
            **base,
            summary=f"graded {stone}{weight}, report {f['report']}",
            inputs=(stone,),
            report=f["report"],
        )
    if t == "sell":
        stone = f["input"]["parcel"]
        return Step(**base, summary=f"sold {stone} to a consumer", inputs=(stone,))
    return Step(**base, summary=t.replace(".", " "))


def narrate(records: Iterable[tuple[Record, SignedEntry]], read: StateReader) -> list[Step]:
    """The steps of ``records`` in log order."""
    steps = [narrate_entry(r, e, read) for r, e in records]
    steps.sort(key=lambda s: s.index)
    return steps


def step_to_json(step: Step) -> dict[str, Any]:
    """A JSON-ready view of a step (snake_case keys; tuples as lists)."""
    return {
        "index": step.index,
        "time": step.time,
        "appended": step.appended,
        "type": step.type,
        "actor": step.actor,
        "country": step.country,
        "entry_id": step.entry_id,
        "summary": step.summary,
        "inputs": list(step.inputs),
        "outputs": [list(o) for o in step.outputs],
        "byproducts": [list(o) for o in step.byproducts],
        "counterparty": step.counterparty,
        "certificate": step.certificate,
        "warranty": step.warranty,
        "offer": step.offer,
        "mine": step.mine,
        "report": step.report,
    }


def step_from_json(value: Mapping[str, Any]) -> Step:
    """The inverse of :func:`step_to_json` (what a node's trace answer carries)."""
    return Step(
        index=int(value["index"]),
        time=int(value["time"]),
        appended=int(value["appended"]),
        type=str(value["type"]),
        actor=str(value["actor"]),
        country=str(value["country"]),
        entry_id=str(value["entry_id"]),
        summary=str(value["summary"]),
        inputs=tuple(value["inputs"]),
        outputs=tuple((str(p), int(c)) for p, c in value["outputs"]),
        byproducts=tuple((str(p), int(c)) for p, c in value["byproducts"]),
        counterparty=value["counterparty"],
        certificate=value["certificate"],
        warranty=value["warranty"],
        offer=value["offer"],
        mine=value["mine"],
        report=value["report"],
    )
