"""What happens to goods (R-MB-*, R-OR-*): mining, splitting, merging, cutting, grading,
selling."""

from __future__ import annotations

from ledger.core.model import SignedEntry
from ledger.core.rules.calendar import date_of
from ledger.core.rules.composition import PPM, mix_compositions
from ledger.core.rules.kp import require_good_standing
from ledger.core.rules.params import STONES_PER_ROUGH, YIELD_MAX_PERMILLE, YIELD_MIN_PERMILLE
from ledger.core.rules.parcels import consume, create, live_input, new_id
from ledger.core.rules.signers import Signer, require_role
from ledger.core.rules.state import Finding, Outcome, State, fail


def origin(
    state: State, entry: SignedEntry, signer: Signer, index: int, now: int, out: Outcome
) -> None:
    require_role(signer, "mine", "register an origin")
    f = entry.fields
    require_good_standing(
        state, "R-KP-1", signer.country, date_of(entry.body.time), "mining country"
    )
    # ... and on the day it is appended, so back-dating cannot escape a suspension.
    require_good_standing(state, "R-KP-1", signer.country, date_of(now), "mining country")
    new_id(state, f["parcel"])
    create(
        state,
        entry,
        pid=f["parcel"],
        kind="rough",
        carats=f["carats"],
        stones=f["stones"],
        holder=signer.name,
        comp={signer.country: PPM},
        may=[signer.country],
        hs=f["hs"],
    )
    state.put("mine", f["parcel"], {"mine": f["mine"], "by": signer.name})
    out.touched.append(f["parcel"])


def split(
    state: State, entry: SignedEntry, signer: Signer, index: int, now: int, out: Outcome
) -> None:
    f = entry.fields
    parcel = live_input(state, signer, f["input"], entry.body.time)
    if parcel["kind"] == "polished":
        raise fail("R-MB-4", f"{parcel['id']!r} is a polished stone; it cannot be split")
    outputs = f["outputs"]
    total = sum(o["carats"] for o in outputs)
    if total > parcel["carats"]:
        raise fail(
            "R-MB-1",
            f"split outputs weigh {total} points, more than the {parcel['carats']} of "
            f"{parcel['id']!r} (mass inflation)",
        )
    # Outputs that state no count still cannot make the stated ones exceed the input.
    known = parcel["stones"] is not None
    if known and sum(o.get("stones", 0) for o in outputs) > parcel["stones"]:
        raise fail("R-MB-3", f"split outputs hold more stones than {parcel['id']!r}")
    consume(state, parcel, entry)
    out.touched.append(parcel["id"])
    for o in outputs:
        new_id(state, o["parcel"])
        create(
            state,
            entry,
            pid=o["parcel"],
            kind=parcel["kind"],
            carats=o["carats"],
            stones=o.get("stones"),
            holder=signer.name,
            comp=parcel["comp"],
            may=parcel["may"],
            hs=parcel["hs"],
        )
        out.touched.append(o["parcel"])


def merge(
    state: State, entry: SignedEntry, signer: Signer, index: int, now: int, out: Outcome
) -> None:
    f = entry.fields
    if len(f["inputs"]) < 2:
        raise fail("R-MB-1", "a merge needs at least two parcels")
    parcels = [live_input(state, signer, i, entry.body.time) for i in f["inputs"]]
    if any(p["kind"] == "polished" for p in parcels):
        raise fail("R-MB-4", "polished stones cannot be merged into a parcel")
    total = sum(p["carats"] for p in parcels)
    o = f["output"]
    if o["carats"] > total:
        raise fail("R-MB-1", f"merge output weighs {o['carats']} points, inputs only {total}")
    stones: int | None = None
    if all(p["stones"] is not None for p in parcels):
        stones = sum(p["stones"] for p in parcels)
        if "stones" in o and o["stones"] > stones:
            raise fail("R-MB-3", "merge output holds more stones than its inputs")
        stones = o.get("stones", stones)
    comp = mix_compositions([(p["carats"], p["comp"]) for p in parcels])
    may = set().union(*(p["may"] for p in parcels))
    hs_codes = {p["hs"] for p in parcels}
    for p in parcels:
        consume(state, p, entry)
        out.touched.append(p["id"])
    new_id(state, o["parcel"])
    create(
        state,
        entry,
        pid=o["parcel"],
        kind="byproduct" if all(p["kind"] == "byproduct" for p in parcels) else "rough",
        carats=o["carats"],
        stones=stones,
        holder=signer.name,
        comp=comp,
        may=may,
        hs=hs_codes.pop() if len(hs_codes) == 1 else "7102.10",
    )
    out.touched.append(o["parcel"])


def cut(
    state: State, entry: SignedEntry, signer: Signer, index: int, now: int, out: Outcome
) -> None:
    require_role(signer, "cutter", "cut rough into polished stones")
    f = entry.fields
    parcels = [live_input(state, signer, i, entry.body.time) for i in f["inputs"]]
    if any(p["kind"] != "rough" for p in parcels):
        raise fail("R-MB-4", "only rough parcels can be cut")
    total_in = sum(p["carats"] for p in parcels)
    stones = f["stones"]
    byproducts = f.get("byproducts", [])
    polished = sum(s["carats"] for s in stones)
    total_out = polished + sum(b["carats"] for b in byproducts)
    if total_out > total_in:
        raise fail(
            "R-MB-2",
            f"cut outputs weigh {total_out} points, more than the {total_in} of rough cut",
        )
    rough_stones = [p["stones"] for p in parcels]
    if all(n is not None for n in rough_stones):
        limit = STONES_PER_ROUGH * sum(n for n in rough_stones if n is not None)
        if len(stones) > limit:
            raise fail("R-MB-3", f"{len(stones)} polished stones from at most {limit // 3} rough")
    permille = polished * 1000 // total_in
    if not YIELD_MIN_PERMILLE <= permille <= YIELD_MAX_PERMILLE:
        out.warnings.append(
            Finding(
                "R-MB-5",
                f"polished yield {permille / 10:.1f}% is outside the usual 15-70% "
                "(check the declared weights)",
            )
        )
    comp = mix_compositions([(p["carats"], p["comp"]) for p in parcels])
    may = set().union(*(p["may"] for p in parcels))
    for p in parcels:
        consume(state, p, entry)
        out.touched.append(p["id"])
    for s in stones:
        new_id(state, s["parcel"])
        if s.get("stones", 1) != 1:
            raise fail("R-MB-3", f"polished stone {s['parcel']!r} must be a single stone")
        create(
            state,
            entry,
            pid=s["parcel"],
            kind="polished",
            carats=s["carats"],
            stones=1,
            holder=signer.name,
            comp=comp,
            may=may,
            hs=None,
            yield_permille=permille,
        )
        out.touched.append(s["parcel"])
    for b in byproducts:
        new_id(state, b["parcel"])
        create(
            state,
            entry,
            pid=b["parcel"],
            kind="byproduct",
            carats=b["carats"],
            stones=b.get("stones"),
            holder=signer.name,
            comp=comp,
            may=may,
            hs="7102.21",
        )
        out.touched.append(b["parcel"])


def grade(
    state: State, entry: SignedEntry, signer: Signer, index: int, now: int, out: Outcome
) -> None:
    require_role(signer, "grader", "grade stones")
    f = entry.fields
    stone = live_input(state, signer, f["input"], entry.body.time)
    if stone["kind"] != "polished":
        raise fail("R-GR-1", f"{stone['id']!r} is not a polished stone")
    if "carats" in f and f["carats"] > stone["carats"]:
        raise fail("R-MB-1", f"graded weight {f['carats']} exceeds the recorded {stone['carats']}")
    stone.update({"head": entry.id, "time": entry.body.time, "report": f["report"]})
    if "carats" in f:
        stone["carats"] = f["carats"]
    state.put("parcel", stone["id"], stone)
    out.touched.append(stone["id"])


def sell(
    state: State, entry: SignedEntry, signer: Signer, index: int, now: int, out: Outcome
) -> None:
    require_role(signer, "retailer", "sell to consumers")
    stone = live_input(state, signer, entry.fields["input"], entry.body.time)
    if stone["kind"] != "polished":
        raise fail("R-SL-1", f"{stone['id']!r} is not a polished stone; retail sales are of stones")
    stone.update({"status": "sold", "head": entry.id, "time": entry.body.time})
    state.put("parcel", stone["id"], stone)
    out.touched.append(stone["id"])
