"""The buyer's HTML page of a verified report: ``render_report``.

Gathers what the template prints: the verdict and the policy in words, the journey
graph (``cli.report.layout``), the journey table, the KP certificates, the origin shares
(rounded to add up to 100.00%), the cutting-yield gauge, each warning explained, and a QR
code of the bundle's SHA-256 (or of a hosted verifier page with it) with the command that
re-checks it, and the bundle itself with the browser verifier (``verifier.js``, built from
``web/src`` by ``node web/build.mjs``), so that opening the page re-checks the proof in the
buyer's browser. The Jinja2 template
(``cli/report/templates/report.html.j2``, autoescaped) only prints these values, so every
text from the ledger is escaped; the QR code's SVG (segno's path data only) is the one
piece of markup made outside it. The verifier script is the one script of the page, allowed
by the hash in its Content-Security-Policy.

It verifies nothing: the caller passes a report the library has verified and the bytes
of that bundle. It writes no file and reads no ledger.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import importlib.resources
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import jinja2
import segno

import ledger as lg
from cli.report.layout import fit, journey_graph
from cli.report.text import carats, country_name, explain_warning, format_date, format_datetime


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


def qr_payload(digest_hex: str, origin: str, verify_url: str | None = None) -> str:
    """What the QR code carries: the bundle's SHA-256 and the ledger origin, or with
    ``verify_url`` (a hosted copy of verify.html) that page with the SHA-256 in its fragment."""
    if verify_url is not None:
        return f"{verify_url}#sha256={digest_hex}"
    return f"kpledger:sha256={digest_hex};origin={origin}"


def verifier_script() -> str:
    """The browser verifier the page embeds: ``cli/report/verifier.js``, a committed copy of
    ``web/dist/report-verifier.js`` (``make verify-page``)."""
    try:
        return (importlib.resources.files("cli.report") / "verifier.js").read_text("utf-8")
    except FileNotFoundError:  # pragma: no cover - a broken install
        raise lg.UsageError(
            "cli/report/verifier.js is missing from this installation: run `make verify-page`"
        ) from None


def browser_policy(
    policy_text: str | None, policy_name: str | None, deny: Sequence[str]
) -> str | None:
    """The buyer's policy as the text the browser verifier reads (specs/policy.md): the
    policy file, or the rule pack, with the --deny-origin countries added."""
    lines = []
    if policy_text is not None:
        lines.append(policy_text.rstrip("\n"))
    elif policy_name is not None:
        lines += [f"pack {policy_name}", "quorum none"]
    if deny:
        if not lines:
            lines.append("quorum none")
        lines.append("deny-origin " + ",".join(deny))
    return "\n".join(lines) + "\n" if lines else None


def qr_svg(payload: str) -> str:
    """The QR code as inline SVG: only segno's path data, no text (the template prints it
    unescaped, the one exception to autoescaping; the payload is in the modules only)."""
    qr = segno.make(payload, error="m", micro=False)
    svg = qr.svg_inline(
        scale=1, border=4, dark="#000", light="#fff", omitsize=True, svgclass="qr-code"
    )
    return svg.replace("<svg ", '<svg aria-hidden="true" focusable="false" ', 1)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("cli.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["timestamp"] = lambda seconds: format_datetime(int(seconds) * 1000)
    return env


def _policy_lines(
    policy: lg.Policy | None, policy_name: str | None, deny: Sequence[str]
) -> list[str]:
    lines = []
    if deny:
        names = ", ".join(f"{c} ({country_name(c)})" for c in deny)
        lines.append(f"Deny list (--deny-origin): {names}.")
    if policy is not None:
        rules = policy.summary()
        what = "Rule pack" if policy_name in lg.PACKS else "Policy file"
        lines.append(f"{what} {policy_name}: " + ("; ".join(rules) or "no kpledger rules") + ".")
    return lines


def render_report(
    rep: lg.BundleReport,
    bundle: bytes,
    *,
    verifier: lg.Verifier,
    deny_origins: Sequence[str] = (),
    policy: lg.Policy | None = None,
    policy_name: str | None = None,
    bundle_name: str | None = None,
    trust_name: str = "operator.vkey",
    policy_text: str | None = None,
    as_of: str | None = None,
    verify_url: str | None = None,
    now: dt.datetime | None = None,
) -> str:
    """The HTML page of a verified report (``lg.inspect_bundle``) of the bytes ``bundle``.
    ``bundle_name`` is the file a buyer holds (None: the report was made from the ledger);
    ``policy_text`` the policy file's text (for the check in the browser); ``as_of`` the
    date the policy was judged on; ``verify_url`` a hosted verify.html for the QR code."""
    denied = set(deny_origins) | (set(policy.deny_origins) if policy else set())
    graph, journey = journey_graph(rep, denied)
    digest = lg.bundle_digest(bundle)
    payload = qr_payload(digest, rep.origin, verify_url)
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
        where = f"{format_date(s.time)}, {s.actor} ({s.country}): {s.summary}" if s else ""
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
    script = verifier_script()
    issuer = "stale" if rep.stale else "valid" if rep.ok else "rejected"
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
                "when": format_datetime(s.time),
                "date": format_date(s.time),
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
                "value": "committed, not disclosed"
                if c["value_usd_cents"] is None
                else f"{c['value_usd_cents'] / 100:,.2f}",
                "from_name": country_name(c["exporter_country"]),
                "to_name": country_name(c["importer_country"]),
            }
            for c in rep.certificates
        ],
        "commercial": [
            {
                "field": d.field,
                "entry": d.entry.hex()[:16],
                "value": "committed, not disclosed"
                if d.value is None
                else f"{d.value['amount'] / 100:,.2f} {d.value['currency']} (disclosed, verified)",
            }
            for d in rep.disclosures
        ],
        "shares": share_rows,
        "bar_rows": [
            {
                "s": s,
                "y": 4 + i * BAR_ROW,
                "w": s.hundredths * BAR_W / 10000,
                "label": fit(f"{s.country} · {s.name}", "bar", BAR_X - 10),
            }
            for i, s in enumerate(share_rows)
        ],
        "bar_height": 8 + BAR_ROW * len(share_rows),
        "may": [{"cc": c, "name": country_name(c), "denied": c in denied} for c in rep.may_contain],
        "path": [
            {"cc": cc, "name": country_name(cc), "first": span[0], "last": span[1]}
            for cc, span in sorted(rep.path.items(), key=lambda kv: (kv[1][0], kv[0]))
        ],
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
        "verify_url": verify_url,
        "script": script,
        "script_hash": base64.b64encode(hashlib.sha256(script.encode()).digest()).decode(),
        "proof": {
            "bundle": base64.b64encode(bundle).decode(),
            "vkey": lg.format_vkey(verifier.name, verifier.public),
            "policy": browser_policy(policy_text, policy_name, deny_origins) or "",
            "as_of": as_of or "",
            "issuer": issuer,
        },
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
