"""The G7/EU measures on Russian diamonds, judged on an item (specs/policy.md §5).

An item's facts (kind, weight, HS code, the mining countries it may contain, its custody
path, whether it was laboratory-grown, its journey) and a judgement date go in; the
failures come out, each with its rule ID:

* **rule packs** (R-SA-1, R-SA-2): ``eu-russia`` (EU Reg. 833/2014 Art. 3p as amended)
  and ``us-russia`` (EO 14068 and the OFAC determinations), each with its dates and
  thresholds;
* **custody** (R-SA-2): ``deny-custody`` countries of the buyer's policy;
* **sanctioned parties** (R-SA-4): a party of the journey acting on a date it was
  designated on a list the policy names.

Pure: values in, values out; no clock (the judgement date is an argument). It does not
verify anything (the bundle's replay did) and decides nothing about grandfathering
evidence (``ledger.core.proofs`` checks the witness-timestamped checkpoint and passes the
result in).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from ledger.core.journey import Step
from ledger.core.rules import date_of

__all__ = [
    "PACKS",
    "Facts",
    "Judgement",
    "Pack",
    "judge",
    "leaves_russia_at",
]

RUSSIA = "RU"
#: HS code of industrial rough (unworked, simply sawn, cleaved or bruted): outside the
#: G7 measures.
INDUSTRIAL_HS = "7102.21"


@dataclass(frozen=True)
class Pack:
    """A jurisdiction's rules on Russian diamonds: the dates and thresholds of §3 of the
    domain research (EU Reg. 833/2014 Art. 3p; US EO 14068 and OFAC determinations)."""

    name: str
    #: From this date: goods of Russian origin (rough mined there, stones cut there) and
    #: goods in custody in, or exported from, Russia on or after it are denied.
    direct: str
    #: From this date the custody rule applies (custody in, or export from, Russia).
    custody: str
    #: ``(date, points)``: from ``date``, a stone of at least ``points`` with Russian-mined
    #: content processed in a third country is denied.
    thresholds: tuple[tuple[str, int], ...]
    #: Whether the custody rule covers every kind of goods or only rough (the US covers
    #: "unsorted diamonds exported from Russia").
    custody_rough_only: bool = False


PACKS: dict[str, Pack] = {
    "eu-russia": Pack(
        "eu-russia",
        direct="2024-01-01",
        custody="2024-01-01",
        thresholds=(("2024-03-01", 100), ("2024-09-01", 50)),
    ),
    "us-russia": Pack(
        "us-russia",
        direct="2022-03-11",
        custody="2024-03-01",
        thresholds=(("2024-03-01", 100), ("2024-09-01", 50)),
        custody_rough_only=True,
    ),
}


@dataclass(frozen=True)
class Facts:
    """What the judgement reads off an item, after its ancestry was verified."""

    item: str
    kind: str
    carats: int
    hs: str | None
    may: Sequence[str]
    #: Country -> ``[first, last]`` append dates of custody (the parcel's ``path``).
    path: Mapping[str, Sequence[str]]
    grown: bool
    journey: Sequence[Step]


@dataclass
class Judgement:
    """Failures ``(rule, message)``; ``russian`` those a grandfathering can lift."""

    failures: list[tuple[str, str]] = field(default_factory=list)
    russian: list[tuple[str, str]] = field(default_factory=list)

    def fail(self, rule: str, message: str, *, russian: bool = False) -> None:
        (self.russian if russian else self.failures).append((rule, message))


def _cut_in_russia(facts: Facts) -> bool:
    return any(s.type == "cut" and s.country == RUSSIA for s in facts.journey)


def _judge_pack(pack: Pack, facts: Facts, as_of: str, out: Judgement) -> None:
    if facts.hs == INDUSTRIAL_HS:
        return  # industrial goods are outside the measures
    custody = facts.path.get(RUSSIA)
    covered = not pack.custody_rough_only or facts.kind != "polished"
    if custody is not None and covered and as_of >= pack.custody and custody[1] >= pack.custody:
        out.fail(
            "R-SA-2",
            f"{pack.name}: held in or exported from Russia until {custody[1]} (custody on or "
            f"after {pack.custody} is denied whatever the size)",
            russian=True,
        )
        return
    if RUSSIA not in facts.may or as_of < pack.direct:
        return
    if facts.kind != "polished" or _cut_in_russia(facts):
        what = "rough of Russian origin" if facts.kind != "polished" else "a stone cut in Russia"
        out.fail("R-SA-1", f"{pack.name}: {what} is denied from {pack.direct}", russian=True)
        return
    for start, points in sorted(pack.thresholds, key=lambda t: t[1]):
        if as_of >= start and facts.carats >= points:
            out.fail(
                "R-SA-1",
                f"{pack.name}: a stone of {facts.carats / 100:.2f} ct that may contain "
                f"Russian-mined diamonds (no de minimis) is denied from {start} at "
                f"{points / 100:.2f} ct or more",
                russian=True,
            )
            return


def judge(
    facts: Facts,
    *,
    as_of: str,
    packs: Sequence[str] = (),
    deny_custody: Sequence[str] = (),
    deny_listed: Sequence[str] = (),
    listed: Callable[[str, str, str], bool] | None = None,
) -> Judgement:
    """Judge ``facts`` on ``as_of`` (``YYYY-MM-DD``).

    ``listed(party, list, day)`` answers whether a party was designated on a list on a day
    (from the replayed registry).
    """
    out = Judgement()
    for name in packs:
        _judge_pack(PACKS[name], facts, as_of, out)
    for cc in sorted(set(deny_custody)):
        span = facts.path.get(cc)
        if span is not None:
            out.fail(
                "R-SA-2",
                f"held in or exported from {cc} ({span[0]} to {span[1]}), a denied country "
                "of custody",
                russian=cc == RUSSIA,
            )
    if deny_listed and listed is not None:
        for step in facts.journey:
            day = date_of(step.appended)
            for list_id in deny_listed:
                if listed(step.actor, list_id, day):
                    out.fail(
                        "R-SA-4",
                        f"{step.actor!r} acted on the goods on {day} (record {step.index}, "
                        f"{step.type}) while designated on sanctions list {list_id}",
                    )
    return out


def leaves_russia_at(journey: Sequence[Step]) -> int | None:
    """The record index from which the goods of a journey are outside Russia for good: the
    first step after the last one taken in Russia that is taken elsewhere. None when the
    journey never touched Russia, or when its last step is still there."""
    last = max((s.index for s in journey if s.country == RUSSIA), default=None)
    if last is None:
        return None
    after = [s.index for s in journey if s.index > last and s.country != RUSSIA]
    return min(after) if after else None
