"""Parcels and stones as UTXO-like states (R-CU-*): inputs, creation, consumption, ancestry."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ledger.core.model import SignedEntry
from ledger.core.rules.act import Act
from ledger.core.rules.params import MAX_SKEW_MS
from ledger.core.rules.state import Parcel, State, fail


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


def live_input(a: Act, inp: Mapping[str, Any]) -> Parcel:
    """The parcel an input names, usable by the signer now (R-CU-1/2/3/6, R-TM-2).

    Returns a copy the caller may change and put back.
    """
    pid = inp["parcel"]
    parcel = a.state.parcel(pid)
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
    if parcel["holder"] != a.signer.name:
        raise fail("R-CU-1", f"{a.signer.name!r} is not the custodian of {pid!r}")
    if parcel["status"] == "locked":
        raise fail("R-CU-2", f"parcel {pid!r} is locked in a pending transfer")
    if a.time + MAX_SKEW_MS < parcel["time"]:
        raise fail(
            "R-TM-2",
            f"entry time is earlier than the last event of {pid!r} beyond the allowed skew",
        )
    return parcel.copy()


def new_id(state: State, pid: str) -> None:
    """R-CU-7: an id is never used twice."""
    if state.get("parcel", pid) is not None:
        raise fail("R-CU-7", f"parcel or stone id {pid!r} is already in use")


def consume(a: Act, parcel: Parcel) -> None:
    """The parcel's last state: consumed by this entry (R-CU-3)."""
    parcel = parcel.copy()
    parcel["status"] = "consumed"
    parcel["head"] = a.entry.id
    a.state.put_parcel(parcel)
    a.affect(parcel["id"])


def merged_path(parcels: Iterable[Parcel]) -> dict[str, list[str]]:
    """The custody paths of ``parcels`` joined: per country the earliest first and the latest
    last date."""
    out: dict[str, list[str]] = {}
    for p in parcels:
        for cc, (first, last) in p["path"].items():
            have = out.get(cc)
            out[cc] = [first, last] if have is None else [min(have[0], first), max(have[1], last)]
    return out


def held(parcel: Parcel, country: str, day: str) -> None:
    """Record that ``parcel`` is held in (or leaves) ``country`` on ``day`` (R-SA-2)."""
    path = dict(parcel["path"])
    have = path.get(country)
    path[country] = [day, day] if have is None else [min(have[0], day), max(have[1], day)]
    parcel["path"] = path


def create(
    a: Act,
    *,
    pid: str,
    kind: str,
    carats: int,
    stones: int | None,
    comp: Mapping[str, int],
    may: Iterable[str],
    hs: str | None,
    inputs: Sequence[Parcel] = (),
    yield_permille: int | None = None,
    grown: bool = False,
) -> None:
    """A new live parcel or stone, held by the signer (R-CU-7 first). It inherits from its
    ``inputs`` their custody path, nature and warranty chain (R-SA-2, R-SW-2, R-SW-3)."""
    new_id(a.state, pid)
    parcel: Parcel = {
        "id": pid,
        "kind": kind,
        "carats": carats,
        "stones": stones,
        "holder": a.signer.name,
        "head": a.entry.id,
        "status": "live",
        "transfer": None,
        "comp": dict(comp),
        "may": sorted(set(may)),
        "hs": hs,
        "time": a.time,
        "created": a.entry.id,
        "yield": yield_permille,
        "report": None,
        "path": merged_path(inputs),
    }
    held(parcel, a.signer.country, a.day)
    if grown:
        parcel["grown"] = True
    if any(p.get("unwarranted") for p in inputs):
        parcel["unwarranted"] = True
    a.state.put_parcel(parcel)
    a.affect(pid)
