"""Where everything of the journey graph goes: layers, positions, text widths, curves.

Takes the graph of ``cli.report.graph`` and places it top to bottom: each node on a layer
(longest path from an origin), rows ordered to cut few crossings, boxes packed without
overlap, long edges routed through dummy points and drawn as SVG curves, and every label
shortened to fit its box whatever sans-serif font the reader has. The result
(:class:`Graph`) holds numbers and strings only; the template prints them. No HTML here,
and nothing about what the journey means (``cli.report.graph`` decides that).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import ledger as lg
from cli.report.graph import Edge, JourneyBuilder, Node, describe
from cli.report.text import ROLE_LABELS, carats, country_name, format_date


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


def fit(text: str, cls: str, width: float = BOX_W - 2 * PAD_X) -> str:
    """``text``, shortened with an ellipsis until it fits ``width`` pixels."""
    if text_width(text, cls) <= width:
        return text
    while text and text_width(text + "…", cls) > width:
        text = text[:-1]
    return text.rstrip() + "…"


def first_fit(cls: str, *options: str) -> str:
    """The first of ``options`` that fits a box line, else the last one shortened."""
    for text in options:
        if text_width(text, cls) <= BOX_W - 2 * PAD_X:
            return text
    return fit(options[-1], cls)


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
    nodes: Sequence[Node], edges: Sequence[Edge], kind_of: Mapping[int, str]
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


def curve(points: Sequence[tuple[float, float]]) -> str:
    """An SVG path through ``points`` with vertical tangents at each point."""
    (x0, y0), rest = points[0], points[1:]
    d = [f"M{x0:.1f},{y0:.1f}"]
    for x1, y1 in rest:
        my = (y0 + y1) / 2
        d.append(f"C{x0:.1f},{my:.1f} {x1:.1f},{my:.1f} {x1:.1f},{y1:.1f}")
        x0, y0 = x1, y1
    return " ".join(d)


def journey_graph(rep: lg.BundleReport, denied: Iterable[str] = ()) -> tuple[Graph, JourneyBuilder]:
    """The journey graph of a verified report, laid out top to bottom."""
    denied = set(denied)
    b = JourneyBuilder(rep).build()
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
                TextLine(tx, y0 + 18, fit(role.upper(), "role"), "role"),
                TextLine(tx, y0 + 38, fit(node.name, "name"), "name"),
                TextLine(tx, y0 + 55, fit(node.headline, "line"), "line"),
                TextLine(tx, y0 + 71, fit(when, "date"), "date"),
            )
        else:
            title = f"{node.name} ({kind}, {country_name(node.country)}): " + "; ".join(
                f"{format_date(t)} {text}" for t, _, text in node.events
            )
            role = ROLE_LABELS[kind]
            first, last = (format_date(min(times)), format_date(max(times))) if times else ("", "")
            when = first if first == last else f"{first} – {last}"
            if node.key in b.flagged:
                when += " · WARNING"
                title += " (an entry here has a warning)"
            lines = (
                TextLine(
                    tx,
                    y0 + 20,
                    first_fit(
                        "role",
                        f"{role.upper()} · {node.country} {country_name(node.country)}{flag}",
                        f"{role.upper()} · {node.country}{flag}",
                    ),
                    "role",
                ),
                TextLine(tx, y0 + 41, fit(node.name, "name"), "name"),
                TextLine(tx, y0 + 60, fit(node.headline, "line"), "line"),
                TextLine(tx, y0 + 78, fit(when, "date"), "date"),
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
        curves.append(Curve(curve(pts), "edge warn" if e.warn else "edge", e.tooltip, label))
    summary = (
        f"Journey of {rep.item}: {len([n for n in b.nodes if n.kind == 'party'])} custody "
        f"stays and {len(b.cert_nodes)} KP certificates"
    )
    description = describe(b, kinds)
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
