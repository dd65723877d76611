"""Parcels and stones as UTXO-like states (R-CU-*): inputs, creation, consumption, ancestry."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ledger.core.model import SignedEntry
from ledger.core.rules.params import MAX_SKEW_MS
from ledger.core.rules.signers import Signer
from ledger.core.rules.state import State, fail


def entry_parents(entry: SignedEntry) -> list[bytes]:
    """Ids of the entries whose states this entry consumes (the edges of the ancestry DAG)."""
    f = entry.fields
    if "inputs" in f:
        return [i["head"] for i in f["inputs"]]
    if "input" in f:
        return [f["input"]["head"]]
    if entry.type in ("accept", "reject", "cancel"):
        return [f["transfer"]]
    return []


def live_input(
    state: State, signer: Signer, inp: Mapping[str, Any], entry_time: int
) -> dict[str, Any]:
    pid = inp["parcel"]
    parcel = state.get("parcel", pid)
    if parcel is None:
        raise fail("R-CU-6", f"unknown parcel {pid!r}")
    if parcel["status"] == "consumed":
        raise fail("R-CU-3", f"parcel {pid!r} was already consumed (double spend)")
    if parcel["status"] == "sold":
        raise fail("R-CU-3", f"stone {pid!r} was sold; it cannot be used again")
    if parcel["head"] != inp["head"]:
        raise fail(
            "R-CU-3",
            f"parcel {pid!r} is at state {parcel['head'].hex()[:16]}, "
            f"not {inp['head'].hex()[:16]} (stale or double spend)",
        )
    if parcel["holder"] != signer.name:
        raise fail("R-CU-1", f"{signer.name!r} is not the custodian of {pid!r}")
    if parcel["status"] == "locked":
        raise fail("R-CU-2", f"parcel {pid!r} is locked in a pending transfer")
    if entry_time + MAX_SKEW_MS < parcel["time"]:
        raise fail(
            "R-TM-2",
            f"entry time is earlier than the last event of {pid!r} beyond the allowed skew",
        )
    return dict(parcel)


def new_id(state: State, pid: str) -> None:
    if state.get("parcel", pid) is not None:
        raise fail("R-CU-7", f"parcel or stone id {pid!r} is already in use")


def consume(state: State, parcel: dict[str, Any], entry: SignedEntry) -> None:
    parcel = dict(parcel)
    parcel["status"] = "consumed"
    parcel["head"] = entry.id
    state.put("parcel", parcel["id"], parcel)


def create(
    state: State,
    entry: SignedEntry,
    *,
    pid: str,
    kind: str,
    carats: int,
    stones: int | None,
    holder: str,
    comp: Mapping[str, int],
    may: Iterable[str],
    hs: str | None,
    yield_permille: int | None = None,
) -> None:
    state.put(
        "parcel",
        pid,
        {
            "id": pid,
            "kind": kind,
            "carats": carats,
            "stones": stones,
            "holder": holder,
            "head": entry.id,
            "status": "live",
            "transfer": None,
            "comp": dict(comp),
            "may": sorted(set(may)),
            "hs": hs,
            "time": entry.body.time,
            "created": entry.id,
            "yield": yield_permille,
            "report": None,
        },
    )
