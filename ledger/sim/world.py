"""The simulated world: who takes part, where, with which keys, and how time and chance run.

This module holds the cast (KP participant countries and the one suspended country,
mines, producers of laboratory-grown rough, hub dealers, cutters, grading labs, retailers,
and the participants of the staged fraud scenes), how every key is derived from the
seed, the synthetic clock's units and starting instant, and the seeded random helpers the
flows draw from (:class:`Rng`, :func:`apportion`, :class:`Bag`).

It deliberately does no I/O and emits nothing: :meth:`Cast.registrations` only lists the
entries that put the cast on a ledger; :mod:`ledger.sim.run` signs and appends them.
What happens to parcels is in :mod:`ledger.sim.flows`, invalid operations are in
:mod:`ledger.sim.faults`.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import math
import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ledger.core.keys import PrivateKey
from ledger.core.rules import date_of

__all__ = [
    "COUNTRY_WEIGHTS",
    "CUTTERS",
    "DAY",
    "GOVERNORS",
    "GRADERS",
    "HOUR",
    "MINES",
    "MINUTE",
    "OPERATOR",
    "ORIGIN",
    "PARTICIPANTS",
    "PRODUCERS",
    "RETAILERS",
    "REVOKED",
    "SANCTIONS_LISTS",
    "SCENE_ACTORS",
    "SCENE_COUNTRIES",
    "SECOND",
    "START_MS",
    "SUSPENDED",
    "SUSPENDED_MINE",
    "THRESHOLD",
    "TRADERS",
    "VE_SUSPENDED_DAYS",
    "Actor",
    "Bag",
    "Cast",
    "Rng",
    "apportion",
    "derive_key",
    "rotated_key",
]

# ---------------------------------------------------------------------------
# The synthetic clock (integer milliseconds, UTC)

SECOND = 1_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR

#: 2025-01-01T00:00:00Z, the first instant of every simulation.
START_MS = int(_dt.datetime(2025, 1, 1, tzinfo=_dt.UTC).timestamp()) * SECOND

# ---------------------------------------------------------------------------
# The cast

ORIGIN = "kp.example.org/simulation"
OPERATOR = "KP Ledger Operator"
#: The registry's governors (specs/rules.md §3.9): every registry change needs THRESHOLD
#: of their signatures; the operator only sequences the log.
GOVERNORS = (
    "KP Chair",
    "Producing Participants",
    "Trading Participants",
    "Consuming Participants",
    "Civil Society Coalition",
)
THRESHOLD = 3
#: A participant admitted and revoked during setup; its key signs the revoked-key fault.
REVOKED = "Defunct Trading BVBA"

#: KP participants (all since 2003-01-01) and the one suspended country.
PARTICIPANTS = ("AE", "AO", "BE", "BW", "CA", "HK", "IL", "IN", "NA", "RU", "US", "ZA")
SUSPENDED = ("CF", "2013-05-23")

#: Mines: (name, site, average stone in ct). Kimberlite 0.1-1 ct; alluvial/marine larger.
MINES: dict[str, tuple[tuple[str, str, float], ...]] = {
    "RU": (
        ("Mir Mine", "Mir pipe", 0.2),
        ("Udachny Mine", "Udachny pipe", 0.25),
        ("Jubilee Mine", "Jubilee pipe", 0.2),
        ("Nyurba Mine", "Nyurba pipe", 0.3),
    ),
    "BW": (
        ("Jwaneng Mine", "Jwaneng pit", 0.3),
        ("Orapa Mine", "Orapa AK1", 0.25),
        ("Karowe Mine", "Karowe AK6", 0.8),
    ),
    "CA": (
        ("Diavik Mine", "Diavik A154N", 0.35),
        ("Ekati Mine", "Ekati Misery pipe", 0.3),
        ("Gahcho Kue Mine", "Gahcho Kue 5034", 0.25),
    ),
    "AO": (("Catoca Mine", "Catoca kimberlite", 0.2), ("Lulo Mine", "Lulo alluvial", 2.5)),
    "ZA": (
        ("Venetia Mine", "Venetia K01", 0.3),
        ("Cullinan Mine", "Cullinan pipe", 0.5),
        ("Finsch Mine", "Finsch pipe", 0.2),
    ),
    "NA": (("Namdeb Mine", "Namdeb beaches", 1.2), ("Debmarine Namibia", "Atlantic 1", 0.9)),
}
#: Share of lots by producing country (roughly the 2020s carat output ranking).
COUNTRY_WEIGHTS = {"RU": 34, "BW": 22, "CA": 13, "AO": 11, "ZA": 12, "NA": 8}
SUSPENDED_MINE = ("Carnot Alluvial Mine", "Carnot river gravels", 0.6)

#: The KP-scheme fraud scenes staged at setup (``ledger/sim/scenes.py``): their countries
#: (each with an authority) and participants, none of whom takes part in the simulated
#: trade. VE is suspended from ``VE_SUSPENDED_DAYS`` after the start.
SCENE_COUNTRIES = ("VE", "LS", "ZW", "SL")
SCENE_ACTORS: tuple[tuple[str, str, str], ...] = (
    ("Guaniamo Mine", "mine", "VE"),
    ("Letseng Mine", "mine", "LS"),
    ("Marange Fields", "mine", "ZW"),
    ("Kono Artisanal Mine", "mine", "SL"),
    ("Freetown Rough Traders", "trader", "SL"),
    # The G7/EU scenes: a Botswana mine whose rough takes the fraudulent routes, a Moscow
    # dealer (transit through Russia), a Dubai front company on the EU list, an Antwerp
    # broker holding rough bought without a warranty, and two sanctions-list publishers.
    ("Letlhakane Mine", "mine", "BW"),
    ("Moscow Rough Trading", "trader", "RU"),
    ("Gulf Star Gems FZE", "trader", "AE"),
    ("Pelikaanstraat Brokers", "trader", "BE"),
    ("EU Consolidated List", "publisher", "BE"),
    ("OFAC SDN List", "publisher", "US"),
)
VE_SUSPENDED_DAYS = 31
#: The sanctions lists of the scenes: list id -> its publisher (``SCENE_ACTORS``).
SANCTIONS_LISTS = {"EU": "EU Consolidated List", "OFAC-SDN": "OFAC SDN List"}

TRADERS: dict[str, tuple[str, ...]] = {
    "BE": ("Antwerp Rough Dealers", "Hoveniersstraat Trading", "Schupstraat Diamonds"),
    "AE": ("Dubai Rough Exchange", "Almas Tower Traders"),
    "IL": ("Ramat Gan Rough", "Bursa Diamond Trading"),
    "HK": ("Kowloon Rough Traders", "Hong Kong Diamond Dealers"),
}
CUTTERS = ("Surat Cutting Works", "Surat Star Polishing", "Mumbai Manufacturing", "Navsari Gems")
GRADERS = ("New York Gem Lab", "Carlsbad Gem Lab")
#: Producers of laboratory-grown rough (outside the KP): (name, country, facility). Their
#: goods go straight to the cutters and are never mixed with natural goods.
PRODUCERS = (
    ("Surat CVD Growers", "IN", "Sachin CVD plant"),
    ("Oregon Crystal Labs", "US", "Portland CVD reactors"),
)
RETAILERS = (
    "Fifth Avenue Jewels",
    "Chicago Fine Jewelry",
    "Los Angeles Diamond Co",
    "Dallas Bridal",
)


def derive_key(seed: int, name: str) -> PrivateKey:
    """The key of ``name`` in the simulation seeded with ``seed``."""
    return PrivateKey(name, hashlib.sha256(f"{seed}/{name}".encode()).digest())


def rotated_key(seed: int, name: str, n: int) -> PrivateKey:
    """The key ``name`` rotates to the ``n``-th time (n from 1)."""
    return PrivateKey(name, derive_key(seed, f"{name}/rotation-{n}").seed)


@dataclass(eq=False)
class Actor:
    """A participant; ``key`` changes when the participant rotates it."""

    name: str
    role: str
    country: str
    key: PrivateKey
    code: str
    site: str = ""
    stone_ct: float = 0.0


@dataclass
class Cast:
    """Everyone in the simulation, with keys derived from the seed."""

    operator: PrivateKey
    #: Every participant by name, in the order they are admitted.
    actors: dict[str, Actor]
    authorities: dict[str, Actor]
    mines: dict[str, list[Actor]]
    suspended_mine: Actor
    traders: list[Actor]
    cutters: list[Actor]
    graders: list[Actor]
    retailers: list[Actor]
    #: Producers of laboratory-grown rough.
    producers: list[Actor]
    #: Admitted, then revoked during setup.
    revoked: Actor
    #: Producing countries and their share of lots (for ``random.choices``).
    producing: list[str]
    country_weights: list[int]
    #: The participants of the fraud scenes by name, authorities included.
    scene: dict[str, Actor]
    #: The registry's governors (GOVERNORS), of whom THRESHOLD sign each registry change.
    governors: list[PrivateKey]

    @property
    def proposer(self) -> PrivateKey:
        """The governor who proposes the simulation's registry changes."""
        return self.governors[0]

    @property
    def cosigners(self) -> list[PrivateKey]:
        """The governors who co-sign each registry change with the proposer."""
        return self.governors[1:THRESHOLD]

    def key_files(self, participants: bool = False) -> list[PrivateKey]:
        """The keys a user needs to go on with a simulated ledger, named for their files:
        ``operator``, the governors (``governor-1`` ...), and with ``participants`` every
        participant's current key under a file-safe form of its name."""
        out = [PrivateKey("operator", self.operator.seed)]
        out += [PrivateKey(f"governor-{i}", k.seed) for i, k in enumerate(self.governors, 1)]
        if participants:
            for actor in self.actors.values():
                slug = re.sub(r"[^a-z0-9]+", "-", actor.name.lower()).strip("-")
                out.append(PrivateKey(slug, actor.key.seed))
        return out

    @classmethod
    def build(cls, seed: int) -> Cast:
        """The cast of the simulation seeded with ``seed`` (nothing is signed yet)."""
        actors: dict[str, Actor] = {}

        def add(name: str, role: str, country: str, code: str, **extra: Any) -> Actor:
            actor = Actor(name, role, country, derive_key(seed, name), code, **extra)
            actors[name] = actor
            return actor

        cf = SUSPENDED[0]
        authorities = {
            cc: add(f"{cc} KP Authority", "authority", cc, f"KP{cc}") for cc in (*PARTICIPANTS, cf)
        }
        mines = {
            cc: [
                add(name, "mine", cc, f"{cc}{i + 1}", site=site, stone_ct=avg)
                for i, (name, site, avg) in enumerate(rows)
            ]
            for cc, rows in MINES.items()
        }
        name, site, avg = SUSPENDED_MINE
        suspended_mine = add(name, "mine", cf, f"{cf}1", site=site, stone_ct=avg)
        traders = [
            add(name, "trader", cc, f"{cc}T{i + 1}")
            for cc, names in TRADERS.items()
            for i, name in enumerate(names)
        ]
        cutters = [add(n, "cutter", "IN", f"INC{i + 1}") for i, n in enumerate(CUTTERS)]
        graders = [add(n, "grader", "US", f"USG{i + 1}") for i, n in enumerate(GRADERS)]
        retailers = [add(n, "retailer", "US", f"USR{i + 1}") for i, n in enumerate(RETAILERS)]
        producers = [
            add(n, "producer", cc, f"{cc}P{i + 1}", site=site)
            for i, (n, cc, site) in enumerate(PRODUCERS)
        ]
        revoked = add(REVOKED, "trader", "BE", "BEX")
        scene = {
            **{
                f"{cc} KP Authority": add(f"{cc} KP Authority", "authority", cc, f"KP{cc}")
                for cc in SCENE_COUNTRIES
            },
            **{
                name: add(name, role, cc, f"{cc}S{i + 1}")
                for i, (name, role, cc) in enumerate(SCENE_ACTORS)
            },
        }
        return cls(
            operator=derive_key(seed, OPERATOR),
            actors=actors,
            authorities=authorities,
            mines=mines,
            suspended_mine=suspended_mine,
            traders=traders,
            cutters=cutters,
            graders=graders,
            retailers=retailers,
            producers=producers,
            revoked=revoked,
            producing=list(COUNTRY_WEIGHTS),
            country_weights=list(COUNTRY_WEIGHTS.values()),
            scene=scene,
            governors=[derive_key(seed, name) for name in GOVERNORS],
        )

    def registrations(self) -> Iterator[tuple[str, dict[str, Any], PrivateKey]]:
        """The setup entries, in order, as (type, fields, proposing key); all proposed by
        :attr:`proposer` and co-signed by :attr:`cosigners`: every country's KP status,
        every participant, then the one revocation."""
        op = self.proposer
        fields: dict[str, Any]
        for cc in PARTICIPANTS:
            fields = {"country": cc, "status": "participant", "from": "2003-01-01"}
            yield "kp-status.set", fields, op
        cf, since = SUSPENDED
        for status, start in (("participant", "2003-01-01"), ("suspended", since)):
            yield "kp-status.set", {"country": cf, "status": status, "from": start}, op
        for cc in SCENE_COUNTRIES:
            fields = {"country": cc, "status": "participant", "from": "2003-01-01"}
            yield "kp-status.set", fields, op
        ve_suspended = date_of(START_MS + VE_SUSPENDED_DAYS * DAY)
        yield "kp-status.set", {"country": "VE", "status": "suspended", "from": ve_suspended}, op
        for a in self.actors.values():
            fields = {"name": a.name, "pub": a.key.public, "roles": [a.role], "country": a.country}
            yield "participant.add", fields, op
        yield "participant.revoke", {"name": REVOKED, "reason": "trading licence withdrawn"}, op


# ---------------------------------------------------------------------------
# Chance


class Rng(random.Random):
    """``random.Random`` (the same stream for the same seed) with the simulation's draws."""

    def lognormal(self, median: float, sigma: float, lo: float, hi: float) -> float:
        """A log-normal draw around ``median``, clipped to ``lo``-``hi``."""
        return min(hi, max(lo, median * math.exp(self.gauss(0.0, sigma))))

    def hours(self, lo: float, hi: float) -> int:
        """A uniform wait of ``lo``-``hi`` hours, in milliseconds."""
        return int(self.uniform(lo, hi) * HOUR)

    def days(self, lo: float, hi: float) -> int:
        """A uniform wait of ``lo``-``hi`` days, in milliseconds."""
        return int(self.uniform(lo, hi) * DAY)


def apportion(total: int, weights: Sequence[float]) -> list[int]:
    """Split ``total`` into ``len(weights)`` positive integers proportional to the weights.

    Each part gets at least 1 (``total >= len(weights)`` is required); the rest goes by
    largest remainder, ties to the earlier part, so the parts always sum to ``total``.

    Raises:
        ValueError: ``total`` is smaller than the number of parts.
    """
    n = len(weights)
    if total < n:
        raise ValueError("cannot give every part at least one unit")
    rest = total - n
    wsum = sum(weights)
    exact = [rest * w / wsum for w in weights]
    parts = [int(x) for x in exact]
    left = rest - sum(parts)
    order = sorted(range(n), key=lambda i: (-(exact[i] - parts[i]), i))
    for i in order[:left]:
        parts[i] += 1
    return [p + 1 for p in parts]


class Bag:
    """An insertion-ordered set with O(1) removal and seeded random choice."""

    def __init__(self) -> None:
        self._items: list[str] = []
        self._pos: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, item: object) -> bool:
        return item in self._pos

    def add(self, item: str) -> None:
        if item not in self._pos:
            self._pos[item] = len(self._items)
            self._items.append(item)

    def discard(self, item: str) -> None:
        i = self._pos.pop(item, None)
        if i is None:
            return
        last = self._items.pop()
        if i < len(self._items):
            self._items[i] = last
            self._pos[last] = i

    def choice(self, rng: random.Random) -> str:
        return self._items[rng.randrange(len(self._items))]
