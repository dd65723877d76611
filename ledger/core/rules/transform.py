"""What happens to goods (R-MB-*, R-OR-*): mining, splitting, merging, cutting, grading,
selling.

Weights are integer points (1/100 ct). Every comparison of masses allows the weighing
tolerance τ of R-MB-1 (rule parameters ``mass-tolerance-points`` per weighed output and
``mass-tolerance-ppm`` of the input): outputs heavier than their inputs by more than τ are
refused; the outputs of a split or merge lighter by more than τ (mass lost without
explanation) raise a WARN. A cut loses most of its mass by nature (its yield is judged
instead, R-MB-5) and a grading lab's weight replaces the cutter's.
"""

from __future__ import annotations

from ledger.core.rules.act import Act
from ledger.core.rules.composition import PPM, mix_compositions
from ledger.core.rules.kp import require_standing
from ledger.core.rules.params import (
    STONES_PER_ROUGH,
    YIELD_MAX_PERMILLE,
    YIELD_MIN_PERMILLE,
    tolerance,
)
from ledger.core.rules.parcels import consume, create, held, live_input, new_id
from ledger.core.rules.signers import require_role
from ledger.core.rules.state import Parcel, fail


def _ct(points: int) -> str:
    return f"{points // 100}.{points % 100:02d} ct"


def _mass_balance(
    a: Act, rule: str, weighs: str, mass_in: int, mass_out: int, n: int, *, loss: bool
) -> None:
    """``mass_out`` at most τ above ``mass_in`` (``rule``); with ``loss``, a shortfall beyond
    τ is a WARN (R-MB-1). ``weighs`` reads "split outputs weigh", "the merged parcel
    weighs" ..."""
    tau = tolerance(a.state, a.day, mass_in, n)
    if mass_out > mass_in + tau:
        raise fail(
            rule,
            f"{weighs} {mass_out} points, more than the {mass_in} they come from beyond "
            f"the weighing tolerance of {tau} (mass inflation)",
        )
    if loss and mass_in - mass_out > tau:
        a.warn(
            "R-MB-1",
            f"{weighs} {_ct(mass_out)}, {_ct(mass_in - mass_out)} less than the "
            f"{_ct(mass_in)} they come from, beyond the weighing tolerance of {tau} points "
            "(mass lost without explanation)",
        )


def _no_polished(parcels: list[Parcel], action: str) -> None:
    for p in parcels:
        if p["kind"] == "polished":
            raise fail("R-MB-6", f"{p['id']!r} is a polished stone; it cannot be {action}")


def _one_nature(parcels: list[Parcel], action: str) -> bool:
    """R-SW-3: natural and laboratory-grown goods never mix; True when all are grown."""
    grown = [bool(p.get("grown")) for p in parcels]
    if any(grown) and not all(grown):
        names = ", ".join(p["id"] for p in parcels if p.get("grown"))
        raise fail(
            "R-SW-3",
            f"laboratory-grown {names} cannot be {action} with natural goods: the outputs "
            "would be declared natural",
        )
    return all(grown)


def _new_rough(a: Act, site: str, hs: str, *, grown: bool = False) -> None:
    """A new rough parcel of the signer's country, made where it was mined or grown."""
    f = a.fields
    create(
        a,
        pid=f["parcel"],
        kind="rough",
        carats=f["carats"],
        stones=f["stones"],
        comp={a.signer.country: PPM},
        may=[a.signer.country],
        hs=hs,
        grown=grown,
    )
    a.state.put("mine", f["parcel"], {"mine": site, "by": a.signer.name})


def origin(a: Act) -> None:
    require_role(a.signer, "mine", "register an origin")
    # On the claimed date and on the append date: back-dating cannot escape a suspension.
    require_standing(a.state, "R-KP-1", ((a.signer.country, "mining country"),), a.days)
    _new_rough(a, a.fields["mine"], a.fields["hs"])


#: HS code of laboratory-grown (synthetic) diamonds, unworked: outside the KP.
GROWN_HS = "7104.21"


def grow(a: Act) -> None:
    """Laboratory-grown rough made by a producer (R-SW-3): no mine, no KP certificate."""
    require_role(a.signer, "producer", "register laboratory-grown goods")
    _new_rough(a, a.fields["facility"], GROWN_HS, grown=True)


def split(a: Act) -> None:
    f = a.fields
    parcel = live_input(a, f["input"])
    _no_polished([parcel], "split")
    outputs = f["outputs"]
    total = sum(o["carats"] for o in outputs)
    _mass_balance(
        a, "R-MB-1", "split outputs weigh", parcel["carats"], total, len(outputs), loss=True
    )
    # Outputs that state no count still cannot make the stated ones exceed the input.
    known = parcel["stones"]
    if known is not None and sum(o.get("stones", 0) for o in outputs) > known:
        raise fail("R-MB-3", f"split outputs hold more stones than {parcel['id']!r}")
    consume(a, parcel)
    for o in outputs:
        create(
            a,
            pid=o["parcel"],
            kind=parcel["kind"],
            carats=o["carats"],
            stones=o.get("stones"),
            comp=parcel["comp"],
            may=parcel["may"],
            hs=parcel["hs"],
            inputs=[parcel],
            grown=bool(parcel.get("grown")),
        )


def merge(a: Act) -> None:
    f = a.fields
    if len(f["inputs"]) < 2:
        raise fail("R-MB-1", "a merge needs at least two parcels")
    parcels = [live_input(a, i) for i in f["inputs"]]
    _no_polished(parcels, "merged into a parcel")
    grown = _one_nature(parcels, "merged")
    total = sum(p["carats"] for p in parcels)
    o = f["output"]
    _mass_balance(a, "R-MB-1", "the merged parcel weighs", total, o["carats"], 1, loss=True)
    stones: int | None = None
    counts = [p["stones"] for p in parcels]
    if all(n is not None for n in counts):
        stones = sum(n for n in counts if n is not None)
        if "stones" in o and o["stones"] > stones:
            raise fail("R-MB-3", "merge output holds more stones than its inputs")
        stones = o.get("stones", stones)
    comp = mix_compositions([(p["carats"], p["comp"]) for p in parcels])
    may = set().union(*(p["may"] for p in parcels))
    hs_codes = {p["hs"] for p in parcels}
    for p in parcels:
        consume(a, p)
    create(
        a,
        pid=o["parcel"],
        kind="byproduct" if all(p["kind"] == "byproduct" for p in parcels) else "rough",
        carats=o["carats"],
        stones=stones,
        comp=comp,
        may=may,
        hs=hs_codes.pop() if len(hs_codes) == 1 else "7102.10",
        inputs=parcels,
        grown=grown,
    )


def cut(a: Act) -> None:
    require_role(a.signer, "cutter", "cut rough into polished stones")
    f = a.fields
    parcels = [live_input(a, i) for i in f["inputs"]]
    for p in parcels:
        if p["kind"] != "rough":
            raise fail("R-MB-6", f"only rough parcels can be cut; {p['id']!r} is {p['kind']}")
    grown = _one_nature(parcels, "cut together")
    total_in = sum(p["carats"] for p in parcels)
    stones = f["stones"]
    byproducts = f.get("byproducts", [])
    polished = sum(s["carats"] for s in stones)
    total_out = polished + sum(b["carats"] for b in byproducts)
    n_out = len(stones) + len(byproducts)
    _mass_balance(a, "R-MB-2", "cut outputs weigh", total_in, total_out, n_out, loss=False)
    counts = [p["stones"] for p in parcels]
    if all(n is not None for n in counts):
        limit = STONES_PER_ROUGH * sum(n for n in counts if n is not None)
        if len(stones) > limit:
            raise fail("R-MB-3", f"{len(stones)} polished stones from at most {limit // 3} rough")
    permille = polished * 1000 // total_in
    if not YIELD_MIN_PERMILLE <= permille <= YIELD_MAX_PERMILLE:
        a.warn(
            "R-MB-5",
            f"polished yield {permille / 10:.1f}% is outside the usual 15-70% "
            "(check the declared weights)",
        )
    comp = mix_compositions([(p["carats"], p["comp"]) for p in parcels])
    may = set().union(*(p["may"] for p in parcels))
    for p in parcels:
        consume(a, p)
    for s in stones:
        new_id(a.state, s["parcel"])
        if s.get("stones", 1) != 1:
            raise fail("R-MB-3", f"polished stone {s['parcel']!r} must be a single stone")
        create(
            a,
            pid=s["parcel"],
            kind="polished",
            carats=s["carats"],
            stones=1,
            comp=comp,
            may=may,
            hs=None,
            inputs=parcels,
            yield_permille=permille,
            grown=grown,
        )
    for b in byproducts:
        create(
            a,
            pid=b["parcel"],
            kind="byproduct",
            carats=b["carats"],
            stones=b.get("stones"),
            comp=comp,
            may=may,
            hs=GROWN_HS if grown else "7102.21",
            inputs=parcels,
            grown=grown,
        )


def grade(a: Act) -> None:
    require_role(a.signer, "grader", "grade stones")
    f = a.fields
    stone = live_input(a, f["input"])
    if stone["kind"] != "polished":
        raise fail("R-GR-1", f"{stone['id']!r} is not a polished stone")
    if "carats" in f:
        _mass_balance(
            a, "R-MB-1", "the graded stone weighs", stone["carats"], f["carats"], 1, loss=False
        )
        stone["carats"] = f["carats"]
    stone.update({"head": a.entry.id, "time": a.time, "report": f["report"]})
    held(stone, a.signer.country, a.day)
    a.state.put_parcel(stone)
    a.affect(stone["id"])


def sell(a: Act) -> None:
    require_role(a.signer, "retailer", "sell to consumers")
    stone = live_input(a, a.fields["input"])
    if stone["kind"] != "polished":
        raise fail("R-SL-1", f"{stone['id']!r} is not a polished stone; retail sales are of stones")
    stone.update({"status": "sold", "head": a.entry.id, "time": a.time})
    held(stone, a.signer.country, a.day)
    a.state.put_parcel(stone)
    a.affect(stone["id"])
