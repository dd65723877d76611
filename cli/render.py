"""Text and JSON formatting for the CLI: entries, parcels, bundle reports, times.

Turns what the library returns into the lines and JSON objects commands print. It
decides nothing and reads no ledger: no hashing, rules or proof logic here.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import click

import ledger as lg


def carats_text(points: int) -> str:
    """A weight in points (1/100 ct, as signed) as the decimal string of carats: ``"1.05"``."""
    sign = "-" if points < 0 else ""
    whole, frac = divmod(abs(points), 100)
    return f"{sign}{whole}.{frac:02d}"


def json_units(value: Any, key: str = "") -> Any:
    """Every weight under a key ``carats`` or ``*_carats`` as a decimal string of carats
    (docs/cli.md, "JSON output"): one unit and one shape wherever a command prints one."""
    if isinstance(value, dict):
        return {k: json_units(v, k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_units(v, key) for v in value]
    if (key == "carats" or key.endswith("_carats")) and type(value) is int:
        return carats_text(value)
    return value


def echo_json(value: Any) -> None:
    """Print ``value`` as JSON on stdout: snake_case keys, weights as decimal strings of
    carats, ids and hashes as hex, tree roots and proofs as base64, times in milliseconds
    since the epoch (UTC)."""
    click.echo(json.dumps(json_units(value), indent=2, sort_keys=False, default=_default))


def _default(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def b64(data: bytes) -> str:
    """Standard base64, as hashes and roots are shown (C2SP, RFC 9162 tooling)."""
    return base64.b64encode(data).decode()


def format_time(ms: int) -> str:
    """``YYYY-MM-DD HH:MM:SSZ``; a time no calendar holds (a damaged record) as its number."""
    try:
        return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    except (ValueError, OverflowError, OSError):
        return f"{ms} ms (not a date)"


def format_entry(data: dict[str, Any]) -> str:
    lines = [
        f"entry    {data['id']}",
        f"index    {data['index']}",
        f"type     {data['type']}",
        f"signer   {data['signer_name']} ({data['signer'][:16]})",
        f"time     {format_time(data['time'])} (appended {format_time(data['appended'])})",
        "fields:",
    ]
    for k, v in data["fields"].items():
        lines.append(f"  {k}: {json.dumps(v)}")
    lines.append(f"signatures: {len(data['sigs'])}")
    for w in data["warnings"]:
        lines.append(f"warning  {w['rule']}: {w['message']}")
    return "\n".join(lines)


def parcel_line(p: dict[str, Any]) -> str:
    stones = f"{p['stones']} stones" if p.get("stones") is not None else "stones n/a"
    return (
        f"{p['id']:<16} {p['kind']:<9} {p['carats'] / 100:>10.2f} ct  {stones:<12} "
        f"{p['status']:<8} {p['holder']:<20} {lg.format_composition(p['comp'])}"
    )


def parcel_json(p: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": p["id"],
        "kind": p["kind"],
        "carats": p["carats"],
        "stones": p["stones"],
        "holder": p["holder"],
        "status": p["status"],
        "composition_ppm": p["comp"],
        "composition": lg.format_composition(p["comp"]),
        "may_contain": p["may"],
        "nature": "laboratory-grown" if p.get("grown") else "natural",
        "custody_path": p.get("path", {}),
        "head": p["head"].hex(),
    }


def failure_json(f: lg.Failure) -> dict[str, str]:
    return {"rule": f.rule, "message": f.message}


def report_to_json(r: lg.BundleReport) -> dict[str, Any]:
    return {
        "valid": True,
        "policy_ok": r.ok,
        "policy_failures": [failure_json(f) for f in r.policy_failures],
        "quarantine": [lg.void_to_json(v) for v in r.quarantine],
        "item": r.item,
        "kind": r.kind,
        "carats": r.carats,
        "status": r.status,
        "holder": r.holder,
        "composition_ppm": r.composition,
        "composition": lg.format_composition(r.composition),
        "may_contain": r.may_contain,
        "yield_percent": None if r.yield_permille is None else r.yield_permille / 10,
        "grading_report": r.report,
        "origin": r.origin,
        "checkpoint_size": r.checkpoint_size,
        "head": r.head,
        "latest_attested": r.latest_attested,
        "latest_state": {
            "proven": r.latest_index >= 0,
            "checkpoint": r.checkpoint_size,
            "record": r.latest_index,
            "time": r.checkpoint_time,
            "witnessed": bool(r.cosigners),
            "stale": r.stale,
        },
        "journey": [
            {
                "index": s.index,
                "time": s.time,
                "type": s.type,
                "actor": s.actor,
                "country": s.country,
                "summary": s.summary,
                "entry": s.entry_id,
            }
            for s in r.journey
        ],
        "certificates": r.certificates,
        "warnings": [{"index": i, "rule": rule, "message": m} for i, rule, m in r.warnings],
        "cosigners": r.cosigners,
        "nature": "laboratory-grown" if r.grown else "natural",
        "custody_path": r.path,
        "unwarranted": r.unwarranted,
        "judged_on": r.as_of,
        "time_evidence": [
            {"size": t.size, "witness": t.witness, "timestamp": t.timestamp}
            for t in r.time_evidence
        ],
        "grandfathered": r.grandfathered,
        "commercial": [d.to_json() for d in r.disclosures],
    }


def money_text(value: Any) -> str:
    """``7,400.00 USD`` for a money map (amounts in the minor unit, 2 decimals shown)."""
    return f"{value['amount'] / 100:,.2f} {value['currency']}"


def disclosure_lines(r: lg.BundleReport) -> list[str]:
    """The committed money values of the journey: disclosed ones with their value (checked
    against the commitment), the others as committed, not disclosed."""
    if not r.disclosures:
        return ["Commercial values: none committed"]
    lines = ["Commercial values (salted commitments; shown only where the bundle discloses):"]
    for d in r.disclosures:
        shown = (
            "committed, not disclosed"
            if d.value is None
            else f"{money_text(d.value)} (disclosed, opening verified)"
        )
        lines.append(f"  {d.field} of entry {d.entry.hex()[:16]}: {shown}")
    return lines


def nature(grown: bool) -> str:
    return "LABORATORY-GROWN (synthetic)" if grown else "natural (mined)"


def custody_path(path: dict[str, list[str]]) -> str:
    """Countries the goods (or an ancestor's) were held in or exported from, with dates."""
    if not path:
        return "none recorded"
    return ", ".join(
        f"{cc} {span[0]}" + (f" to {span[1]}" if span[1] != span[0] else "")
        for cc, span in sorted(path.items(), key=lambda kv: (kv[1][0], kv[0]))
    )


def latest_state_lines(r: lg.BundleReport) -> list[str]:
    """What the state map proves: the latest state as of which checkpoint, and when."""
    lines = [
        f"Latest state as of checkpoint {r.checkpoint_size}: proven by the ledger's state map "
        f"(last changed by record {r.latest_index})."
    ]
    if r.checkpoint_time is not None:
        lines.append(
            f"Checkpoint time: {format_time(r.checkpoint_time * 1000)}, cosigned by "
            + ", ".join(sorted(r.cosigners))
        )
    else:
        lines.append("Checkpoint time: not attested (no known witness cosigned the checkpoint)")
    if r.latest_attested:
        lines.append("The operator also attests it is the item's latest state.")
    if r.stale:
        lines.append(f"STALE: {r.stale}")
    return lines


def format_report(r: lg.BundleReport) -> str:
    lines = [
        f"Provenance of {r.item} ({r.kind}, {r.carats / 100:.2f} ct, {r.status}, "
        f"held by {r.holder})",
        f"Log {r.origin}, checkpoint of {r.checkpoint_size} records: signature and every "
        "inclusion proof verified; every entry re-checked by the rules engine.",
        "",
        "Journey:",
    ]
    for s in r.journey:
        lines.append(f"  {format_time(s.time)[:10]}  {s.actor} ({s.country}): {s.summary}")
    lines.append("")
    lines.append("KP certificates:")
    if not r.certificates:
        lines.append("  none (no rough crossed a border)")
    for c in r.certificates:
        lines.append(
            f"  {c['number']}: {c['exporter']} ({c['exporter_country']}) -> {c['importer']} "
            f"({c['importer_country']}), issued {c['issued']} by {c['authority']}, "
            f"expires {c['expires']}, origins {', '.join(c['origins'])}, value "
            + (
                "committed, not disclosed"
                if c["value_usd_cents"] is None
                else f"{c['value_usd_cents'] / 100:,.2f} USD"
            )
        )
    lines.append("")
    lines.extend(disclosure_lines(r))
    lines.append("")
    lines.extend(latest_state_lines(r))
    lines.append("")
    lines.append(f"Origin composition: {lg.format_composition(r.composition)}")
    lines.append(f"May contain diamonds from: {', '.join(r.may_contain)}")
    lines.append(f"Nature: {nature(r.grown)}")
    lines.append(f"Custody path (held in or exported from): {custody_path(r.path)}")
    if r.unwarranted:
        lines.append("Warranties: some B2B transfer of the ancestry carried no SoW statement")
    if r.yield_permille is not None:
        lines.append(f"Cutting yield: {r.yield_permille / 10:.1f}%")
    if r.report:
        lines.append(f"Grading report: {r.report}")
    if r.cosigners:
        lines.append("Witnessed by: " + ", ".join(sorted(r.cosigners)))
    for t in r.time_evidence:
        lines.append(
            f"Time evidence: {t.witness} cosigned the log at {t.size} records by "
            f"{format_time(t.timestamp * 1000)}"
        )
    if r.grandfathered:
        lines.append(f"Grandfathered (R-SA-3): {r.grandfathered}")
    lines.append(f"Policy judged on: {r.as_of}")
    lines.append("")
    if r.warnings:
        lines.append("Warnings:")
        for i, rule, m in r.warnings:
            lines.append(f"  record {i}: {rule}: {m}")
    else:
        lines.append("Warnings: none")
    if r.quarantine:
        lines.append(
            "QUARANTINED (R-ID-2): the ancestry holds entries signed with a compromised key:"
        )
        for v in r.quarantine:
            lines.append(f"  {v.describe()}")
    if r.stale:
        lines.append(f"VERDICT: STALE - the proof verifies, but the item changed since: {r.stale}")
    elif r.ok:
        lines.append("VERDICT: VALID - the proof verifies and the policy holds.")
    elif r.quarantine:
        lines.append("VERDICT: QUARANTINED - the proof verifies, but:")
        for f in r.policy_failures:
            lines.append(f"  - {f.rule}: {f.message}")
    else:
        lines.append("VERDICT: REJECTED BY POLICY - the proof verifies, but:")
        for f in r.policy_failures:
            lines.append(f"  - {f.rule}: {f.message}")
    return "\n".join(lines)
