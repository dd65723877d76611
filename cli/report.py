"""``kpledger report``: a self-contained HTML provenance report a buyer can read.

The page is made from a *verified* bundle only: ``ledger.verify_bundle`` runs first
and any proof error stops the command before anything is written. Everything on the
page comes from the verified report and from the entries inside the verified bundle.

The page is one file: inline CSS and inline SVG (journey graph, origin chart, yield
gauge, QR code), no scripts, no fonts, no external requests (a Content-Security-Policy
forbids them too). Python computes every piece of geometry; the Jinja2 template
(``cli/templates/report.html.j2``, autoescaped) only prints values, so every text
taken from the ledger is escaped. The one piece of markup made outside the template
is the QR code's SVG, produced by segno (path data only) and printed with ``|safe``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import os
import shlex
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import jinja2
import segno

import ledger as lg
from cli import parse
from ledger.core.journey import Step
from ledger.core.model import Record, SignedEntry
from ledger.core.proofs import MAX_BUNDLE_SIZE, Bundle

if TYPE_CHECKING:
    from cli.main import Ctx
    from ledger.core.policy import Policy

__all__ = [
    "WARN_EXPLANATIONS",
    "Graph",
    "explain_warning",
    "qr_payload",
    "render_report",
    "report",
]

# ---------------------------------------------------------------------------
# Plain-language texts

#: One paragraph per WARN rule of specs/rules.md, for a buyer who has never read it.
WARN_EXPLANATIONS: dict[str, tuple[str, str]] = {
    "R-SW-1": (
        "A polished stone changed hands without a System of Warranties statement",
        "Under the World Diamond Council's System of Warranties, every seller of diamonds "
        "declares on the invoice that the goods come from legitimate sources, not involved "
        "in funding conflict, and comply with the Kimberley Process. The ledger accepted "
        "this transfer but records that the seller made no such declaration. It does not "
        "mean the stone is a conflict diamond; ask the seller why the statement is missing. "
        "A buyer policy with 'require warranty' rejects such stones.",
    ),
    "R-MB-5": (
        "The cutting yield is unusual",
        "Cutting normally keeps between 15% and 70% of the rough's weight as polished "
        "diamond. A yield outside that range is allowed but may mean that a weight was "
        "declared wrongly, or that rough from elsewhere was mixed in or swapped. Ask the "
        "cutter for the planning and weighing records of this cut.",
    ),
}

#: Names of the countries a buyer is likely to meet (KP participants and trading hubs).
COUNTRY_NAMES: dict[str, str] = {
    "AE": "United Arab Emirates",
    "AM": "Armenia",
    "AO": "Angola",
    "AT": "Austria",
    "AU": "Australia",
    "BD": "Bangladesh",
    "BE": "Belgium",
    "BR": "Brazil",
    "BW": "Botswana",
    "BY": "Belarus",
    "CA": "Canada",
    "CD": "DR Congo",
    "CF": "Central African Republic",
    "CG": "Republic of the Congo",
    "CH": "Switzerland",
    "CI": "Côte d'Ivoire",
    "CM": "Cameroon",
    "CN": "China",
    "CZ": "Czechia",
    "DE": "Germany",
    "ES": "Spain",
    "FR": "France",
    "GA": "Gabon",
    "GB": "United Kingdom",
    "GH": "Ghana",
    "GN": "Guinea",
    "GY": "Guyana",
    "HK": "Hong Kong",
    "ID": "Indonesia",
    "IL": "Israel",
    "IN": "India",
    "IT": "Italy",
    "JP": "Japan",
    "KR": "South Korea",
    "KZ": "Kazakhstan",
    "LA": "Laos",
    "LB": "Lebanon",
    "LK": "Sri Lanka",
    "LR": "Liberia",
    "LS": "Lesotho",
    "MU": "Mauritius",
    "MX": "Mexico",
    "MY": "Malaysia",
    "NA": "Namibia",
    "NL": "Netherlands",
    "NO": "Norway",
    "NZ": "New Zealand",
    "PA": "Panama",
    "PT": "Portugal",
    "RU": "Russia",
    "SG": "Singapore",
    "SL": "Sierra Leone",
    "SZ": "Eswatini",
    "TG": "Togo",
    "TH": "Thailand",
    "TR": "Türkiye",
    "TW": "Taiwan",
    "TZ": "Tanzania",
    "UA": "Ukraine",
    "US": "United States",
    "VE": "Venezuela",
    "VN": "Vietnam",
    "ZA": "South Africa",
    "ZW": "Zimbabwe",
}

ROLE_LABELS = {
    "mine": "Mine",
    "trader": "Trader",
    "cutter": "Cutter",
    "grader": "Grader",
    "retailer": "Retailer",
    "participant": "Participant",
    "cert": "KP certificate",
}


def country_name(cc: str) -> str:
    """``Botswana`` for ``BW``; the code itself when the name is not known."""
    return COUNTRY_NAMES.get(cc, cc)


def explain_warning(rule: str, message: str) -> tuple[str, str]:
    """A heading and a plain-language paragraph for a WARN finding."""
    if rule in WARN_EXPLANATIONS:
        return WARN_EXPLANATIONS[rule]
    return (
        f"The rules engine flagged this entry ({rule})",
        f"The ledger accepted the entry but noted: {message}. A warning does not make the "
        "proof invalid; ask the participant about it.",
    )


def carats(points: int) -> str:
    return f"{points / 100:,.2f} ct"


def _date(ms: int) -> str:
    return lg.date_of(ms)


def _datetime(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


# ---------------------------------------------------------------------------
# The journey as a graph of custody stays and KP certificates


@dataclass
class _Node:
    key: int
    kind: str  # "party" or "cert"
    name: str
    country: str
    events: list[tuple[int, str, str]] = field(default_factory=list)  # (time, what, text)
    cert: Mapping[str, Any] | None = None
    headline: str = ""


@dataclass
class _Edge:
    src: int
    dst: int
    tooltip: str
    warn: bool = False
    label: str | None = None


@dataclass(frozen=True)
class Cut:
    """One cut of the ancestry: who cut what into which stones, weights in points."""

    node: int
    inputs: tuple[str, ...]
    stones: tuple[str, ...]
    polished: int
    rough: int
    byproduct: int

    @property
    def yield_text(self) -> str:
        return f"{self.polished * 1000 // self.rough / 10:.1f}%" if self.rough else "?"


@dataclass(frozen=True)
class TextLine:
    x: float
    y: float
    text: str
    cls: str


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float
    kind: str
    lines: tuple[TextLine, ...]
    tooltip: str


@dataclass(frozen=True)
class Curve:
    d: str
    cls: str
    tooltip: str
    label: TextLine | None


@dataclass(frozen=True)
class Graph:
    width: int
    height: int
    boxes: tuple[Box, ...]
    curves: tuple[Curve, ...]
    summary: str
    description: str
    mines: int
    warned: bool  # some arrow or box carries a warning
    denied: bool  # some mine is in a denied country


class JourneyBuilder:
    """Turns the verified journey into custody stays (one node per participant visit)
    joined by transfers, with a node for the KP certificate of each border crossing."""

    def __init__(
        self,
        rep: lg.BundleReport,
        entries: Mapping[str, SignedEntry],
        roles: Mapping[str, Sequence[str]],
    ) -> None:
        self.rep = rep
        self.entries = entries
        self.roles = roles
        self.nodes: list[_Node] = []
        self.edges: list[_Edge] = []
        self.by_party: dict[str, list[int]] = defaultdict(list)
        self.where: dict[str, int] = {}  # parcel id -> node now holding it
        self.weight: dict[str, int] = {}  # parcel id -> points
        self.offers: dict[str, dict[str, Any]] = {}
        self.cert_nodes: dict[str, int] = {}
        self.certs = {str(c["number"]): c for c in rep.certificates}
        self.cuts: list[Cut] = []
        self.warned = {index for index, _, _ in rep.warnings}
        self.flagged: set[int] = set()  # nodes holding an entry with a WARN

    # -- graph helpers ----------------------------------------------------------

    def _new(self, kind: str, name: str, country: str) -> int:
        node = _Node(len(self.nodes), kind, name, country)
        self.nodes.append(node)
        if kind == "party":
            self.by_party[name].append(node.key)
        return node.key

    def _reaches(self, a: int, b: int) -> bool:
        """Whether node ``b`` is ``a`` or descends from it."""
        todo, seen = [a], set()
        while todo:
            n = todo.pop()
            if n == b:
                return True
            if n in seen:
                continue
            seen.add(n)
            todo.extend(e.dst for e in self.edges if e.src == n)
        return False

    def _edge(self, src: int, dst: int, tooltip: str, **kw: Any) -> None:
        if src == dst or self._reaches(dst, src):
            return
        if any(e.src == src and e.dst == dst for e in self.edges):
            return
        self.edges.append(_Edge(src, dst, tooltip, **kw))

    def _stay(self, name: str, country: str, sources: Iterable[int] = ()) -> int:
        """The node of ``name`` receiving goods from ``sources``: its latest stay unless
        that stay is upstream of a source (goods came back), then a new stay."""
        sources = list(sources)
        stays = self.by_party.get(name)
        if stays:
            last = stays[-1]
            if not any(self._reaches(last, s) for s in sources):
                return last
        return self._new("party", name, country)

    def _holder(self, parcels: Sequence[str], actor: str, country: str) -> int:
        """The node where ``parcels`` are combined (the latest stay among theirs)."""
        held = [self.where[p] for p in parcels if p in self.where]
        if not held:
            return self._stay(actor, country)
        target = max(held)
        for n in held:
            if n != target:
                self._edge(n, target, f"{actor} kept goods in stock")
        return target

    # -- entries ------------------------------------------------------------------

    def build(self) -> JourneyBuilder:
        for step in self.rep.journey:
            entry = self.entries.get(step.entry_id)
            if entry is not None:
                self._apply(step, entry)
        for node in self.nodes:
            node.headline = self._headline(node)
        return self

    def _event(self, n: int, step: Step, what: str, text: str) -> None:
        self.nodes[n].events.append((step.time, what, text))
        if step.index in self.warned and what != "offer":  # a flagged offer flags its arrow
            self.flagged.add(n)

    def _apply(self, step: Step, entry: SignedEntry) -> None:
        f = entry.fields
        t = entry.type
        who, cc, when = step.actor, step.country, step.time
        if t == "origin":
            n = self._stay(who, cc)
            self.where[f["parcel"]] = n
            self.weight[f["parcel"]] = f["carats"]
            self._event(
                n,
                step,
                "origin",
                f"mined {f['parcel']} at {f['mine']}: {carats(f['carats'])}, "
                f"{f['stones']:,} stones",
            )
        elif t == "transfer":
            parcels = [i["parcel"] for i in f["inputs"]]
            self.offers[entry.id.hex()] = {
                "sender": who,
                "country": cc,
                "parcels": parcels,
                "certificate": f.get("certificate"),
                "warranty": f.get("warranty"),
                "time": when,
                "index": step.index,
            }
            cert = f" under KP certificate {f['certificate']}" if "certificate" in f else ""
            for n in {self.where[p] for p in parcels if p in self.where}:
                self._event(n, step, "offer", f"offered {', '.join(parcels)} to {f['to']}{cert}")
        elif t == "accept":
            self._accept(step, self.offers.get(f["transfer"].hex()))
        elif t in ("reject", "cancel"):
            offer = self.offers.get(f["transfer"].hex())
            if offer:
                for n in {self.where[p] for p in offer["parcels"] if p in self.where}:
                    self._event(n, step, t, f"offer of {', '.join(offer['parcels'])} {t}ed")
        elif t == "split":
            src = f["input"]["parcel"]
            n = self._holder([src], who, cc)
            for o in f["outputs"]:
                self.where[o["parcel"]] = n
                self.weight[o["parcel"]] = o["carats"]
            outs = ", ".join(f"{o['parcel']} ({carats(o['carats'])})" for o in f["outputs"])
            self._event(n, step, "split", f"split {src} into {outs}")
        elif t == "merge":
            ins = [i["parcel"] for i in f["inputs"]]
            n = self._holder(ins, who, cc)
            out = f["output"]
            self.where[out["parcel"]] = n
            self.weight[out["parcel"]] = out["carats"]
            self._event(
                n,
                step,
                "merge",
                f"merged {', '.join(ins)} into {out['parcel']} ({carats(out['carats'])})",
            )
        elif t == "cut":
            ins = [i["parcel"] for i in f["inputs"]]
            n = self._holder(ins, who, cc)
            rough = sum(self.weight.get(p, 0) for p in ins)
            polished = sum(s["carats"] for s in f["stones"])
            by = sum(b["carats"] for b in f.get("byproducts", []))
            for o in [*f["stones"], *f.get("byproducts", [])]:
                self.where[o["parcel"]] = n
                self.weight[o["parcel"]] = o["carats"]
            cut = Cut(n, tuple(ins), tuple(s["parcel"] for s in f["stones"]), polished, rough, by)
            self.cuts.append(cut)
            stones = ", ".join(cut.stones)
            self._event(
                n,
                step,
                "cut",
                f"cut {', '.join(ins)} into {stones} ({carats(polished)}), yield {cut.yield_text}",
            )
        elif t == "grade":
            stone = f["input"]["parcel"]
            n = self._holder([stone], who, cc)
            if "carats" in f:
                self.weight[stone] = f["carats"]
            self._event(n, step, "grade", f"graded {stone}: report {f['report']}")
        elif t == "sell":
            stone = f["input"]["parcel"]
            n = self._holder([stone], who, cc)
            self._event(n, step, "sell", f"sold {stone} to a consumer")

    def _accept(self, step: Step, offer: Mapping[str, Any] | None) -> None:
        if offer is None:
            return
        who, cc, when = step.actor, step.country, step.time
        parcels = offer["parcels"]
        sources = list(dict.fromkeys(self.where[p] for p in parcels if p in self.where))
        target = self._stay(who, cc, sources)
        moved = ", ".join(parcels)
        number = offer["certificate"]
        if number:
            cert = self.certs.get(number, {})
            c = self.cert_nodes.get(number)
            if c is None:
                c = self._new("cert", str(number), str(cert.get("exporter_country", "")))
                self.cert_nodes[number] = c
                self.nodes[c].cert = cert
                self.nodes[c].events.append(
                    (offer["time"], "cert", f"KP certificate {number} covers {moved}")
                )
            for s in sources:
                self._edge(
                    s,
                    c,
                    f"{moved} exported by {offer['sender']} ({offer['country']}) "
                    f"under KP certificate {number}, {_date(offer['time'])}",
                )
            self._edge(c, target, f"{moved} imported by {who} ({cc}), {_date(when)}")
        else:
            warranty = offer["warranty"]
            sow = f"System of Warranties statement {warranty}" if warranty else None
            for s in sources:
                self._edge(
                    s,
                    target,
                    f"{moved}: {offer['sender']} to {who}, {_date(when)}, "
                    + (sow or "no System of Warranties statement"),
                    warn=offer["index"] in self.warned,
                    label="with SoW statement" if warranty else "no SoW statement",
                )
        for p in parcels:
            self.where[p] = target
        self._event(target, step, "receive", f"received {moved} from {offer['sender']}")

    # -- labels -------------------------------------------------------------------

    def kind(self, node: _Node) -> str:
        if node.kind == "cert":
            return "cert"
        did = {what for _, what, _ in node.events}
        for what, role in (
            ("origin", "mine"),
            ("cut", "cutter"),
            ("grade", "grader"),
            ("sell", "retailer"),
        ):
            if what in did:
                return role
        registered = self.roles.get(node.name, ())
        for role in ("trader", "cutter", "grader", "retailer", "mine"):
            if role in registered:
                return role
        return "participant"

    def _headline(self, node: _Node) -> str:
        if node.kind == "cert":
            return str((node.cert or {}).get("authority", ""))
        texts: dict[str, list[str]] = defaultdict(list)
        for _, what, text in node.events:
            texts[what].append(text)
        if texts["origin"]:
            entries = [
                e
                for e in self.rep.journey
                if e.type == "origin" and e.actor == node.name and e.entry_id in self.entries
            ]
            mines = {self.entries[e.entry_id].fields["mine"] for e in entries}
            total = sum(self.entries[e.entry_id].fields["carats"] for e in entries)
            site = next(iter(mines)) if len(mines) == 1 else f"{len(entries)} parcels"
            return f"{site} · {carats(total)}"
        if texts["cut"]:
            mine = [c for c in self.cuts if c.node == node.key]
            stones = ", ".join(s for c in mine for s in c.stones)
            pct = f" · yield {mine[-1].yield_text}" if len(mine) == 1 else ""
            return f"cut {stones}{pct}"
        if texts["grade"]:
            return texts["grade"][-1].split(": ", 1)[-1]
        if texts["sell"]:
            return texts["sell"][-1].removesuffix(" to a consumer")
        if texts["merge"]:
            output = texts["merge"][-1].split(" into ", 1)[1]  # "ID (W ct)"
            return "merged → " + output.replace(" (", ", ").removesuffix(")")
        if texts["split"]:
            return texts["split"][-1].split(" into ", 1)[0]
        if texts["receive"]:
            return texts["receive"][-1].split(" from ", 1)[0]
        return ""


# Geometry of the graph (CSS pixels of the SVG user space).
BOX_W = 256
BOX_H = 92
CERT_H = 80
PAD_X = 14
GAP_X = 26
ROW_GAP = 48
MARGIN = 14
DUMMY_W = 12
#: Font size (px), bold, letter spacing (em) of each text class of the graph (see the CSS).
_FONTS = {
    "role": (11.5, True, 0.04),
    "name": (15.0, True, 0.0),
    "line": (12.5, False, 0.0),
    "date": (12.0, False, 0.0),
    "edge-label": (11.5, False, 0.0),
    "bar": (14.0, False, 0.0),
}
_NARROW = set("iljtfr.,:;'|!()[] ·-")
_WIDE = set("mwMW@%&")


def text_width(text: str, cls: str) -> float:
    """A generous estimate of the rendered width of ``text`` (calibrated on DejaVu Sans,
    one of the widest sans-serif fonts), so that labels fit whatever font the reader has."""
    size, bold, spacing = _FONTS[cls]
    em = 0.0
    for ch in text:
        if ch in _NARROW:
            em += 0.38
        elif ch in _WIDE:
            em += 0.98
        elif ch.isdigit():
            em += 0.66
        elif ch.isupper() or ch in "→–—…":
            em += 0.72
        else:
            em += 0.63
        em += spacing
    return em * size * (1.08 if bold else 1.0)


def _fit(text: str, cls: str, width: float = BOX_W - 2 * PAD_X) -> str:
    """``text``, shortened with an ellipsis until it fits ``width`` pixels."""
    if text_width(text, cls) <= width:
        return text
    while text and text_width(text + "…", cls) > width:
        text = text[:-1]
    return text.rstrip() + "…"


def _first_fit(cls: str, *options: str) -> str:
    """The first of ``options`` that fits a box line, else the last one shortened."""
    for text in options:
        if text_width(text, cls) <= BOX_W - 2 * PAD_X:
            return text
    return _fit(options[-1], cls)


def box_height(kind: str) -> float:
    return CERT_H if kind == "cert" else BOX_H


def layers(n: int, edges: Sequence[tuple[int, int]]) -> list[int]:
    """Layer of each node: longest path from a source, then sources pulled down next to
    their first successor so a late-joining origin does not span the whole page."""
    succ: dict[int, list[int]] = defaultdict(list)
    indeg = [0] * n
    for a, b in edges:
        succ[a].append(b)
        indeg[b] += 1
    order = [v for v in range(n) if indeg[v] == 0]
    i = 0
    while i < len(order):
        for w in succ[order[i]]:
            indeg[w] -= 1
            if indeg[w] == 0:
                order.append(w)
        i += 1
    if len(order) != n:
        raise ValueError("the journey graph has a cycle")
    layer = [0] * n
    for v in order:
        for w in succ[v]:
            layer[w] = max(layer[w], layer[v] + 1)
    for v in reversed(order):
        if succ[v]:
            layer[v] = max(layer[v], min(layer[w] for w in succ[v]) - 1)
    return layer


def layout(
    nodes: Sequence[_Node], edges: Sequence[_Edge], kind_of: Mapping[int, str]
) -> tuple[dict[int, tuple[float, float]], dict[int, list[tuple[float, float]]], int, int]:
    """Layered (top-to-bottom) placement: returns node centres, edge bend points (by
    edge index), width and height. Long edges run through dummy positions."""
    n = len(nodes)
    layer = layers(n, [(e.src, e.dst) for e in edges])
    # Dummy vertices split edges spanning several layers.
    width: dict[int, float] = {v: BOX_W for v in range(n)}
    lay: dict[int, int] = dict(enumerate(layer))
    chains: dict[int, list[int]] = {}
    pred: dict[int, list[int]] = defaultdict(list)
    succ: dict[int, list[int]] = defaultdict(list)
    nxt = n
    for k, e in enumerate(edges):
        path = [e.src]
        for lv in range(layer[e.src] + 1, layer[e.dst]):
            width[nxt] = DUMMY_W
            lay[nxt] = lv
            path.append(nxt)
            nxt += 1
        path.append(e.dst)
        chains[k] = path
        for a, b in itertools.pairwise(path):
            succ[a].append(b)
            pred[b].append(a)
    depth = max(lay.values(), default=0) + 1
    rows: list[list[int]] = [[] for _ in range(depth)]
    for v in sorted(lay):
        rows[lay[v]].append(v)
    # Barycentre ordering, a few sweeps down and up.
    pos = {v: float(i) for row in rows for i, v in enumerate(row)}
    for sweep in range(6):
        rng = range(1, depth) if sweep % 2 == 0 else range(depth - 2, -1, -1)
        for r in rng:
            near = pred if sweep % 2 == 0 else succ

            def key(v: int, near: Mapping[int, list[int]] = near) -> float:
                ns = near.get(v, [])
                return sum(pos[u] for u in ns) / len(ns) if ns else pos[v]

            rows[r].sort(key=key)
            for i, v in enumerate(rows[r]):
                pos[v] = float(i)
    # x coordinates: start packed, then pull towards neighbours and resolve overlaps.
    x: dict[int, float] = {}
    for row in rows:
        cur = 0.0
        for v in row:
            x[v] = cur + width[v] / 2
            cur += width[v] + GAP_X
        shift = cur / 2
        for v in row:
            x[v] -= shift
    for sweep in range(8):
        rng = range(1, depth) if sweep % 2 == 0 else range(depth - 2, -1, -1)
        near = pred if sweep % 2 == 0 else succ
        for r in rng:
            row = rows[r]
            want = {
                v: (sum(x[u] for u in near[v]) / len(near[v]) if near.get(v) else x[v]) for v in row
            }
            placed: list[float] = []
            for i, v in enumerate(row):
                lo = placed[-1] + (width[row[i - 1]] + width[v]) / 2 + GAP_X if i else -1e9
                placed.append(max(want[v], lo))
            drift = sum(p - want[v] for p, v in zip(placed, row, strict=True)) / len(row)
            for p, v in zip(placed, row, strict=True):
                x[v] = p - drift
    left = min(x[v] - width[v] / 2 for v in x)
    right = max(x[v] + width[v] / 2 for v in x)
    for v in x:
        x[v] += MARGIN - left
    total_w = int(right - left + 2 * MARGIN + 0.999)
    total_h = int(MARGIN * 2 + depth * BOX_H + (depth - 1) * ROW_GAP)

    def y(v: int) -> float:
        return MARGIN + lay[v] * (BOX_H + ROW_GAP) + BOX_H / 2

    centres = {v: (x[v], y(v)) for v in range(n)}
    bends: dict[int, list[tuple[float, float]]] = {}
    for k, path in chains.items():
        first, last = path[0], path[-1]
        pts = [(x[first], y(first) + box_height(kind_of[first]) / 2)]
        pts.extend((x[d], y(d)) for d in path[1:-1])
        pts.append((x[last], y(last) - box_height(kind_of[last]) / 2 - 2))  # room for the arrow
        bends[k] = pts
    return centres, bends, total_w, total_h


def _curve(points: Sequence[tuple[float, float]]) -> str:
    """An SVG path through ``points`` with vertical tangents at each point."""
    (x0, y0), rest = points[0], points[1:]
    d = [f"M{x0:.1f},{y0:.1f}"]
    for x1, y1 in rest:
        my = (y0 + y1) / 2
        d.append(f"C{x0:.1f},{my:.1f} {x1:.1f},{my:.1f} {x1:.1f},{y1:.1f}")
        x0, y0 = x1, y1
    return " ".join(d)


def journey_graph(
    rep: lg.BundleReport,
    entries: Mapping[str, SignedEntry],
    roles: Mapping[str, Sequence[str]],
    denied: Iterable[str] = (),
) -> tuple[Graph, JourneyBuilder]:
    """The journey graph of a verified report, laid out top to bottom."""
    denied = set(denied)
    b = JourneyBuilder(rep, entries, roles).build()
    kinds = {node.key: b.kind(node) for node in b.nodes}
    centres, bends, width, height = layout(b.nodes, b.edges, kinds)
    boxes = []
    for node in b.nodes:
        cx, cy = centres[node.key]
        kind = kinds[node.key]
        h = box_height(kind)
        x0, y0 = cx - BOX_W / 2, cy - h / 2
        tx = x0 + PAD_X
        denied_here = node.kind == "party" and kind == "mine" and node.country in denied
        flag = " · DENIED" if denied_here else ""
        times = [t for t, _, _ in node.events]
        if node.kind == "cert":
            c = node.cert or {}
            role = "KP certificate"
            sub = f"{c.get('exporter_country', '?')} → {c.get('importer_country', '?')}"
            when = f"{sub} · issued {c.get('issued', '?')}"
            title = (
                f"KP certificate {node.name}, issued {c.get('issued', '?')} by "
                f"{c.get('authority', '?')}: {c.get('exporter', '?')} "
                f"({c.get('exporter_country', '?')}) to {c.get('importer', '?')} "
                f"({c.get('importer_country', '?')}), {carats(int(c.get('carats', 0)))}, "
                f"expires {c.get('expires', '?')}"
            )
            lines = (
                TextLine(tx, y0 + 18, _fit(role.upper(), "role"), "role"),
                TextLine(tx, y0 + 38, _fit(node.name, "name"), "name"),
                TextLine(tx, y0 + 55, _fit(node.headline, "line"), "line"),
                TextLine(tx, y0 + 71, _fit(when, "date"), "date"),
            )
        else:
            title = f"{node.name} ({kind}, {country_name(node.country)}): " + "; ".join(
                f"{_date(t)} {text}" for t, _, text in node.events
            )
            role = ROLE_LABELS[kind]
            first, last = (_date(min(times)), _date(max(times))) if times else ("", "")
            when = first if first == last else f"{first} – {last}"
            if node.key in b.flagged:
                when += " · WARNING"
                title += " (an entry here has a warning)"
            lines = (
                TextLine(
                    tx,
                    y0 + 20,
                    _first_fit(
                        "role",
                        f"{role.upper()} · {node.country} {country_name(node.country)}{flag}",
                        f"{role.upper()} · {node.country}{flag}",
                    ),
                    "role",
                ),
                TextLine(tx, y0 + 41, _fit(node.name, "name"), "name"),
                TextLine(tx, y0 + 60, _fit(node.headline, "line"), "line"),
                TextLine(tx, y0 + 78, _fit(when, "date"), "date"),
            )
        if denied_here:
            title += f" (origin {node.country} is denied by the policy)"
        classes = (
            kind
            + (" denied" if denied_here else "")
            + (" flagged" if node.key in b.flagged else "")
        )
        boxes.append(Box(x0, y0, BOX_W, h, classes, lines, title))
    curves = []
    for k, e in enumerate(b.edges):
        pts = bends[k]
        label = None
        if e.label:
            (xa, ya), (xb, yb) = pts[-2], pts[-1]
            label = TextLine((xa + xb) / 2 + 8, (ya + yb) / 2 + 4, e.label, "edge-label")
        curves.append(Curve(_curve(pts), "edge warn" if e.warn else "edge", e.tooltip, label))
    summary = (
        f"Journey of {rep.item}: {len([n for n in b.nodes if n.kind == 'party'])} custody "
        f"stays and {len(b.cert_nodes)} KP certificates"
    )
    description = _describe(b, kinds)
    mines = sum(1 for k in kinds.values() if k == "mine")
    graph = Graph(
        width,
        height,
        tuple(boxes),
        tuple(curves),
        summary,
        description,
        mines,
        warned=bool(b.flagged) or any(e.warn for e in b.edges),
        denied=any("denied" in box.kind for box in boxes),
    )
    return graph, b


def _describe(b: JourneyBuilder, kinds: Mapping[int, str]) -> str:
    """A sentence per hop, for screen readers."""

    def who(n: _Node) -> str:
        return f"{n.name} ({kinds[n.key]}, {country_name(n.country)})"

    parts = []
    for node in b.nodes:
        if node.kind == "party" and kinds[node.key] == "mine":
            parts.append(f"{who(node)}: {node.headline}.")
    for e in b.edges:
        src, dst = b.nodes[e.src], b.nodes[e.dst]
        if src.kind == "cert":
            continue
        if dst.kind == "cert":
            c = dst.cert or {}
            for e2 in b.edges:
                if e2.src == dst.key:
                    parts.append(
                        f"{who(src)} to {who(b.nodes[e2.dst])} under KP certificate "
                        f"{dst.name} issued by {c.get('authority', '?')} on "
                        f"{c.get('issued', '?')}."
                    )
        else:
            parts.append(f"{who(src)} to {who(dst)}: {e.tooltip}.")
    for node in b.nodes:
        if node.kind == "party" and kinds[node.key] in ("cutter", "grader", "retailer"):
            parts.append(f"{who(node)}: {node.headline}.")
    return " ".join(parts)


# ---------------------------------------------------------------------------
# Composition, yield and QR


@dataclass(frozen=True)
class Share:
    country: str
    name: str
    hundredths: int  # of a percent
    ppm: int
    may_contain: bool
    denied: bool

    @property
    def percent(self) -> str:
        return f"{self.hundredths // 100}.{self.hundredths % 100:02d}%"


def shares(comp: Mapping[str, int], may: Sequence[str], denied: Iterable[str] = ()) -> list[Share]:
    """Shares rounded to 0.01% by largest remainder (they add up to 100.00%), largest first;
    may-contain countries without an attributed share follow at 0%."""
    deny = set(denied)
    total = sum(comp.values())
    scaled = {c: s * 10000 // total for c, s in comp.items()} if total > 0 else {}
    rest = 10000 - sum(scaled.values()) if total > 0 else 0
    for c in sorted(comp, key=lambda c: (-(comp[c] * 10000 % total), c))[:rest]:
        scaled[c] += 1
    out = [
        Share(c, country_name(c), s, comp[c], c in may, c in deny)
        for c, s in sorted(scaled.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    out += [Share(c, country_name(c), 0, 0, True, c in deny) for c in sorted(set(may) - set(comp))]
    return out


#: Horizontal bar chart of the composition (SVG user units of a 460-wide view box).
BAR_X = 158
BAR_W = 226
BAR_ROW = 32
#: The yield gauge: 0-100% drawn from x=10 to x=410; the usual window of rules R-MB-5.
GAUGE_X0 = 10
GAUGE_SCALE = 0.4
YIELD_USUAL = (150, 700)


def qr_payload(digest_hex: str, origin: str) -> str:
    """What the QR code carries: the bundle's SHA-256 and the ledger origin."""
    return f"kpledger:sha256={digest_hex};origin={origin}"


def qr_svg(payload: str) -> str:
    """The QR code as inline SVG: only segno's path data, no text (the template prints it
    unescaped, the one exception to autoescaping; the payload is in the modules only)."""
    qr = segno.make(payload, error="m", micro=False)
    svg = qr.svg_inline(
        scale=1, border=4, dark="#000", light="#fff", omitsize=True, svgclass="qr-code"
    )
    return svg.replace("<svg ", '<svg aria-hidden="true" focusable="false" ', 1)


# ---------------------------------------------------------------------------
# Rendering


def _entries(data: bytes) -> tuple[dict[str, SignedEntry], dict[str, list[str]]]:
    """Entries of an already verified bundle by hex id, and each participant's roles."""
    entries: dict[str, SignedEntry] = {}
    roles: dict[str, list[str]] = {}
    for r in Bundle.decode(data).records:
        entry = Record.from_wire(r.record).entry()
        entries[entry.id.hex()] = entry
        if entry.type == "participant.add":
            roles[entry.fields["name"]] = list(entry.fields["roles"])
    return entries, roles


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("cli", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _policy_lines(policy: Policy | None, policy_name: str | None, deny: Sequence[str]) -> list[str]:
    lines = []
    if deny:
        names = ", ".join(f"{c} ({country_name(c)})" for c in deny)
        lines.append(f"Deny list (--deny-origin): {names}.")
    if policy is not None:
        rules = []
        if policy.deny_origins:
            rules.append("deny-origin " + ", ".join(sorted(policy.deny_origins)))
        if policy.require_warranty:
            rules.append("require warranty")
        if policy.require_kp:
            rules.append("require kp-certified")
        if policy.quorum != "none":
            rules.append(f"witness quorum {policy.quorum}")
        lines.append(
            f"Policy file {policy_name}: " + ("; ".join(rules) or "no kpledger rules") + "."
        )
    return lines


def render_report(
    rep: lg.BundleReport,
    bundle: bytes,
    *,
    verifier: lg.Verifier,
    deny_origins: Sequence[str] = (),
    policy: Policy | None = None,
    policy_name: str | None = None,
    bundle_name: str | None = None,
    trust_name: str = "operator.vkey",
    now: dt.datetime | None = None,
) -> str:
    """The HTML page of a verified report. ``bundle`` is the verified bundle's bytes;
    ``bundle_name`` is the file a buyer holds (None: the report was made from the ledger)."""
    entries, roles = _entries(bundle)
    denied = set(deny_origins) | (set(policy.deny_origins) if policy else set())
    graph, journey = journey_graph(rep, entries, roles, denied)
    digest = hashlib.sha256(bundle).hexdigest()
    payload = qr_payload(digest, rep.origin)
    file_name = bundle_name or f"{rep.item}.kpproof"
    command = ["kpledger", "verify-proof", file_name, "--trust", trust_name]
    if deny_origins:
        command += ["--deny-origin", ",".join(deny_origins)]
    if policy_name:
        command += ["--policy", policy_name]
    steps = {s.index: s for s in rep.journey}
    warnings = []
    for index, rule, message in rep.warnings:
        heading, text = explain_warning(rule, message)
        s = steps.get(index)
        where = f"{_date(s.time)}, {s.actor} ({s.country}): {s.summary}" if s else ""
        warnings.append(
            {
                "rule": rule,
                "index": index,
                "heading": heading,
                "text": text,
                "where": where,
                "message": message,
            }
        )
    cut = next((c for c in journey.cuts if rep.item in c.stones), None)
    gauge = None
    if rep.yield_permille is not None:
        gauge = {
            "permille": rep.yield_permille,
            "percent": f"{rep.yield_permille / 10:.1f}%",
            "x": GAUGE_X0 + min(rep.yield_permille, 1000) * GAUGE_SCALE,
            "x0": GAUGE_X0,
            "lo": GAUGE_X0 + YIELD_USUAL[0] * GAUGE_SCALE,
            "hi": GAUGE_X0 + YIELD_USUAL[1] * GAUGE_SCALE,
            "end": GAUGE_X0 + 1000 * GAUGE_SCALE,
            "unusual": not YIELD_USUAL[0] <= rep.yield_permille <= YIELD_USUAL[1],
        }
    share_rows = shares(rep.composition, rep.may_contain, denied)
    now = now or dt.datetime.now(dt.UTC)
    context = {
        "r": rep,
        "ct": carats(rep.carats),
        "kind_label": {
            "polished": "polished diamond",
            "rough": "rough parcel",
            "byproduct": "by-product parcel",
        }.get(rep.kind, rep.kind),
        "graph": graph,
        "steps": [
            {
                "when": _datetime(s.time),
                "date": _date(s.time),
                "actor": s.actor,
                "country": s.country,
                "country_name": country_name(s.country),
                "summary": s.summary,
                "index": s.index,
                "warn": any(w[0] == s.index for w in rep.warnings),
            }
            for s in rep.journey
        ],
        "certs": [
            {
                **c,
                "ct": carats(c["carats"]),
                "value": f"{c['value_usd_cents'] / 100:,.2f}",
                "from_name": country_name(c["exporter_country"]),
                "to_name": country_name(c["importer_country"]),
            }
            for c in rep.certificates
        ],
        "shares": share_rows,
        "bar_rows": [
            {
                "s": s,
                "y": 4 + i * BAR_ROW,
                "w": s.hundredths * BAR_W / 10000,
                "label": _fit(f"{s.country} · {s.name}", "bar", BAR_X - 10),
            }
            for i, s in enumerate(share_rows)
        ],
        "bar_height": 8 + BAR_ROW * len(share_rows),
        "may": [{"cc": c, "name": country_name(c), "denied": c in denied} for c in rep.may_contain],
        "gauge": gauge,
        "cut": None
        if cut is None
        else {
            "cutter": journey.nodes[cut.node].name,
            "country": country_name(journey.nodes[cut.node].country),
            "inputs": ", ".join(cut.inputs),
            "stones": ", ".join(cut.stones),
            "rough": carats(cut.rough),
            "polished": carats(cut.polished),
            "byproduct": carats(cut.byproduct) if cut.byproduct else None,
        },
        "warnings": warnings,
        "policy_lines": _policy_lines(policy, policy_name, deny_origins),
        "policy_given": bool(deny_origins) or policy is not None,
        "denied": sorted(denied),
        "digest": digest,
        "payload": payload,
        "qr": qr_svg(payload),
        "command": " ".join(shlex.quote(a) for a in command),
        "prove_command": None
        if bundle_name
        else " ".join(shlex.quote(a) for a in ["kpledger", "prove", rep.item, "-o", file_name]),
        "vkey": lg.format_vkey(verifier.name, verifier.public),
        "key_id": f"{verifier.key_id:08x}",
        "generated": now.strftime("%Y-%m-%d %H:%M UTC"),
        "version": lg.__version__,
    }
    return _environment().get_template("report.html.j2").render(context)


# ---------------------------------------------------------------------------
# The command


@click.command("report")
@click.argument("item")
@click.option(
    "-o", "--output", required=True, type=click.Path(dir_okay=False), help="HTML file to write."
)
@click.option(
    "--bundle",
    "bundle_file",
    type=click.Path(dir_okay=False),
    help="Report on this bundle file instead of the ledger (needs --trust).",
)
@click.option(
    "--trust",
    help="Operator verifier key (vkey) or a file with it (default: the ledger's own key).",
)
@click.option("--deny-origin", help="Comma-separated countries the item must not contain.")
@click.option("--policy", "policy_file", type=click.Path(dir_okay=False), help="Policy file.")
@click.pass_obj
def report(
    ctx: Ctx,
    item: str,
    output: str,
    bundle_file: str | None,
    trust: str | None,
    deny_origin: str | None,
    policy_file: str | None,
) -> None:
    """Write a self-contained HTML provenance report of a verified stone or parcel.

    The bundle is verified first (as verify-proof does); nothing is written if it
    fails. The page shows the verdict and policy, the journey graph with every KP
    certificate, the origin composition, the cutting yield, every warning in plain
    words, and a QR code of the bundle's SHA-256 with the command that re-checks it.
    If the policy fails, the page is written and the exit code is 1.

    \b
    Example:
      kpledger report ST-0001 -o ST-0001.html
      kpledger report ST-0001 -o ST-0001.html --bundle ST-0001.kpproof \\
          --trust operator.vkey --deny-origin RU
    """
    from cli.main import _country, _read_text, _trust
    from cli.render import echo_json
    from ledger.core.policy import parse_policy

    pol = parse_policy(_read_text(policy_file, "--policy")) if policy_file else None
    deny = (
        [_country(c, "--deny-origin") for c in parse.id_list(deny_origin, "--deny-origin")]
        if deny_origin
        else []
    )
    if bundle_file is not None:
        if trust is None:
            raise lg.UsageError("--bundle needs --trust (the operator's verifier key)")
        verifier = _trust(trust)
        data = parse.read_limited(bundle_file, MAX_BUNDLE_SIZE, "--bundle")
    else:
        led = ctx.ledger()
        verifier = _trust(trust) if trust is not None else led.verifier()
        data = led.prove(item)
    rep = lg.inspect_bundle(data, verifier, buyer_policy=pol, deny_origins=deny)
    if rep.item != item:
        raise lg.UsageError(f"the bundle is the proof of {rep.item}, not of {item}")
    trust_name = "operator.vkey"
    if trust is not None and os.path.exists(trust):
        trust_name = Path(trust).name
    html = render_report(
        rep,
        data,
        verifier=verifier,
        deny_origins=deny,
        policy=pol,
        policy_name=Path(policy_file).name if policy_file else None,
        bundle_name=Path(bundle_file).name if bundle_file else None,
        trust_name=trust_name,
    )
    try:
        Path(output).write_text(html, encoding="utf-8")
    except OSError as exc:
        raise lg.UsageError(f"cannot write {output}: {exc.strerror}") from exc
    digest = hashlib.sha256(data).hexdigest()
    if ctx.json:
        echo_json(
            {
                "item": rep.item,
                "file": output,
                "bytes": len(html.encode()),
                "sha256": digest,
                "policy_ok": rep.ok,
                "policy_failures": rep.policy_failures,
                "warnings": len(rep.warnings),
            }
        )
    else:
        verdict = "valid" if rep.ok else "REJECTED BY POLICY"
        click.echo(f"wrote {output} ({verdict}; bundle sha256 {digest[:16]}…)")
    if not rep.ok:
        raise lg.PolicyError("; ".join(rep.policy_failures), rule="R-SA-1")
