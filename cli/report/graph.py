"""The journey as a graph: custody stays and KP certificates, joined by transfers.

Built from the verified report alone (``BundleReport.journey``, the library's
:class:`ledger.Step` list, with ``certificates``, ``warnings`` and ``roles``): one node
per stay of goods with a participant (a participant whose goods come back gets a new
stay), one node per KP certificate a border crossing travelled under, an edge per move,
and the cuts with their yields. It does not decode bundle entries, check anything (the
library verified the bundle) or place anything on the page (``cli.report.layout`` does).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import ledger as lg
from cli.report.text import carats, country_name, format_date


@dataclass
class Node:
    key: int
    kind: str  # "party" or "cert"
    name: str
    country: str
    events: list[tuple[int, str, str]] = field(default_factory=list)  # (time, what, text)
    cert: Mapping[str, Any] | None = None
    headline: str = ""


@dataclass
class Edge:
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


class JourneyBuilder:
    """Turns the verified journey into custody stays (one node per participant visit)
    joined by transfers, with a node for the KP certificate of each border crossing."""

    def __init__(self, rep: lg.BundleReport) -> None:
        self.rep = rep
        self.roles: Mapping[str, Sequence[str]] = rep.roles
        self.nodes: list[Node] = []
        self.edges: list[Edge] = []
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
        node = Node(len(self.nodes), kind, name, country)
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
        self.edges.append(Edge(src, dst, tooltip, **kw))

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

    # -- steps --------------------------------------------------------------------

    def build(self) -> JourneyBuilder:
        for step in self.rep.journey:
            self._apply(step)
        for node in self.nodes:
            node.headline = self._headline(node)
        return self

    def _event(self, n: int, step: lg.Step, what: str, text: str) -> None:
        self.nodes[n].events.append((step.time, what, text))
        if step.index in self.warned and what != "offer":  # a flagged offer flags its arrow
            self.flagged.add(n)

    def _made(self, n: int, outputs: Iterable[tuple[str, int]]) -> None:
        """Parcels or stones made at node ``n``, with their weights."""
        for parcel, points in outputs:
            self.where[parcel] = n
            self.weight[parcel] = points

    def _apply(self, step: lg.Step) -> None:
        t = step.type
        who, cc, when = step.actor, step.country, step.time
        if t in ("origin", "grow"):
            n = self._stay(who, cc)
            self._made(n, step.outputs)
            self._event(n, step, t, step.summary)
        elif t == "transfer":
            parcels = list(step.inputs)
            self.offers[step.entry_id] = {
                "sender": who,
                "country": cc,
                "parcels": parcels,
                "certificate": step.certificate,
                "warranty": step.warranty,
                "time": when,
                "index": step.index,
            }
            cert = f" under KP certificate {step.certificate}" if step.certificate else ""
            for n in {self.where[p] for p in parcels if p in self.where}:
                self._event(
                    n, step, "offer", f"offered {', '.join(parcels)} to {step.counterparty}{cert}"
                )
        elif t == "accept":
            self._accept(step, self.offers.get(step.offer or ""))
        elif t in ("reject", "cancel"):
            offer = self.offers.get(step.offer or "")
            if offer:
                for n in {self.where[p] for p in offer["parcels"] if p in self.where}:
                    self._event(n, step, t, f"offer of {', '.join(offer['parcels'])} {t}ed")
        elif t == "split":
            src = step.inputs[0]
            n = self._holder([src], who, cc)
            self._made(n, step.outputs)
            outs = ", ".join(f"{p} ({carats(c)})" for p, c in step.outputs)
            self._event(n, step, "split", f"split {src} into {outs}")
        elif t == "merge":
            ins = list(step.inputs)
            n = self._holder(ins, who, cc)
            self._made(n, step.outputs)
            out, points = step.outputs[0]
            self._event(n, step, "merge", f"merged {', '.join(ins)} into {out} ({carats(points)})")
        elif t == "cut":
            ins = list(step.inputs)
            n = self._holder(ins, who, cc)
            rough = sum(self.weight.get(p, 0) for p in ins)
            polished = sum(c for _, c in step.outputs)
            by = sum(c for _, c in step.byproducts)
            self._made(n, [*step.outputs, *step.byproducts])
            cut = Cut(n, tuple(ins), tuple(p for p, _ in step.outputs), polished, rough, by)
            self.cuts.append(cut)
            stones = ", ".join(cut.stones)
            self._event(
                n,
                step,
                "cut",
                f"cut {', '.join(ins)} into {stones} ({carats(polished)}), yield {cut.yield_text}",
            )
        elif t == "grade":
            stone = step.inputs[0]
            n = self._holder([stone], who, cc)
            self._event(n, step, "grade", f"graded {stone}: report {step.report}")
        elif t == "sell":
            stone = step.inputs[0]
            n = self._holder([stone], who, cc)
            self._event(n, step, "sell", f"sold {stone} to a consumer")

    def _accept(self, step: lg.Step, offer: Mapping[str, Any] | None) -> None:
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
                    f"under KP certificate {number}, {format_date(offer['time'])}",
                )
            self._edge(c, target, f"{moved} imported by {who} ({cc}), {format_date(when)}")
        else:
            warranty = offer["warranty"]
            sow = f"System of Warranties statement {warranty}" if warranty else None
            for s in sources:
                self._edge(
                    s,
                    target,
                    f"{moved}: {offer['sender']} to {who}, {format_date(when)}, "
                    + (sow or "no System of Warranties statement"),
                    warn=offer["index"] in self.warned,
                    label="with SoW statement" if warranty else "no SoW statement",
                )
        for p in parcels:
            self.where[p] = target
        self._event(target, step, "receive", f"received {moved} from {offer['sender']}")

    # -- labels -------------------------------------------------------------------

    def kind(self, node: Node) -> str:
        if node.kind == "cert":
            return "cert"
        did = {what for _, what, _ in node.events}
        for what, role in (
            ("origin", "mine"),
            ("grow", "producer"),
            ("cut", "cutter"),
            ("grade", "grader"),
            ("sell", "retailer"),
        ):
            if what in did:
                return role
        registered = self.roles.get(node.name, ())
        for role in ("trader", "cutter", "grader", "retailer", "mine", "producer"):
            if role in registered:
                return role
        return "participant"

    def _headline(self, node: Node) -> str:
        if node.kind == "cert":
            return str((node.cert or {}).get("authority", ""))
        texts: dict[str, list[str]] = defaultdict(list)
        for _, what, text in node.events:
            texts[what].append(text)
        if texts["origin"] or texts["grow"]:
            origins = [
                s for s in self.rep.journey if s.type in ("origin", "grow") and s.actor == node.name
            ]
            mines = {s.mine for s in origins}
            total = sum(points for s in origins for _, points in s.outputs)
            site = next(iter(mines)) if len(mines) == 1 else f"{len(origins)} parcels"
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


def describe(b: JourneyBuilder, kinds: Mapping[int, str]) -> str:
    """A sentence per hop, for screen readers."""

    def who(n: Node) -> str:
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
