"""The registry: ``init``, ``participant``, ``kp-status``, ``param`` and ``governance``.

Creating a ledger, admitting, revoking and rotating participants, recording each
country's Kimberley Process status and the rule parameters, and the governance ceremony
(specs/rules.md §3.9): on a governed ledger every registry change needs the signatures of
k of the n governors. A governor makes the change with any registry command (or
``governance propose``, a new governor set or threshold) and either writes it with
``--out`` and passes the file from governor to governor (``governance sign FILE``) until
``governance submit FILE`` appends it, or, against a node, leaves it pending there, where
each governor co-signs it (``governance sign ID``) and the node appends it once k have.
Every change is a signed entry handed to :func:`emit_registry`; who may make it (the
operator, or k governors) is the rules engine's to check, not this module's.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

import ledger as lg
from cli import parse
from cli.context import (
    Ctx,
    emit,
    entry_options,
    fail_usage,
    is_url,
    load_key,
    now_ms,
    pass_ctx,
    sign,
)
from cli.render import echo_json, format_time

F = TypeVar("F", bound=Callable[..., Any])


def cosign_option(f: F) -> F:
    """``--cosign KEY`` (repeatable): governors present at the signing add theirs at once."""
    return click.option(
        "--cosign",
        "cosign",
        multiple=True,
        type=click.Path(dir_okay=False),
        help="Another governor's private key to co-sign with (repeatable).",
    )(f)


def read_governors(path: str) -> list[tuple[str, bytes]]:
    """A governors file: one governor a line, ``PUBFILE`` or ``NAME = PUBFILE`` (the name
    defaults to the key's own name); paths are relative to the file; ``#`` starts a
    comment.

    Raises:
        UsageError: the file cannot be read or names no governor.
        KeyFileError: a public key file is missing or corrupt.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise lg.UsageError(f"--governors: cannot read {path}: {exc}") from exc
    base = Path(path).parent
    out: list[tuple[str, bytes]] = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, _, pubfile = line.rpartition("=")
        key_name, public = lg.load_public(base / pubfile.strip())
        out.append((name.strip() or key_name, public))
    if not out:
        raise lg.UsageError(f"--governors: {path} names no governor")
    return out


def check_threshold(threshold: int, governors: Sequence[Any]) -> None:
    """``--threshold``: 1 ≤ k ≤ n and k ≤ MAX_THRESHOLD, said before anything is signed."""
    n = len(governors)
    if not 1 <= threshold <= n or threshold > lg.MAX_THRESHOLD:
        raise lg.RuleError(
            f"--threshold: k must be from 1 to the number of governors ({n}) and at most "
            f"{lg.MAX_THRESHOLD}, not {threshold}",
            rule="R-GV-3",
        )


def _status_line(st: dict[str, Any]) -> str:
    line = (
        f"proposal {st['proposal'][:16]} ({st['type']}, proposed by {st['proposer']}): "
        f"{st['approvals']} of {st['threshold']} governor signatures"
    )
    if st["missing"] and not st["ready"]:
        line += f"; not yet signed by {', '.join(st['missing'])}"
    if st["expired"]:
        line += f"; EXPIRED {format_time(st['expires'])}"
    else:
        line += f"; expires {format_time(st['expires'])}"
    return line


def _show_status(ctx: Ctx, statuses: list[dict[str, Any]]) -> None:
    if ctx.json:
        echo_json([{k: v for k, v in s.items() if k != "envelope"} for s in statuses])
        return
    for st in statuses:
        click.echo(_status_line(st))


def emit_registry(
    ctx: Ctx,
    entries: Sequence[lg.SignedEntry],
    out: str | None,
    checkpoint_key: str | None = None,
) -> None:
    """Write (``--out``), propose (a node, a governed ledger, a governor's change with fewer
    than k signatures) or append registry entries (anyone else's change is appended, and
    refused by the rules exactly as on a file)."""
    if out is None and is_url(ctx.ledger_path) and len(entries) == 1:
        led = ctx.ledger()
        gov = led.governance()
        status = lg.proposal_status(entries[0], gov, led.signer_name, now=now_ms())
        proposer = entries[0].body.signer
        governors = {bytes(g["kid"]) for g in gov["governors"]} if gov is not None else set()
        if proposer in governors and not status["ready"]:
            _propose(ctx, entries[0])
            return
    emit(ctx, entries, out, checkpoint_key)


def _propose(ctx: Ctx, entry: lg.SignedEntry) -> None:
    answer = ctx.ledger().propose(entry)
    appended = answer.get("appended")
    status = answer["proposal"]
    if ctx.json:
        shown = {k: v for k, v in status.items() if k != "envelope"}
        result: dict[str, Any] = {"proposal": shown, "appended": None}
        if appended is not None:
            result["appended"] = [
                {"id": row["id"].hex(), "index": row["index"], "type": row["type"]}
                for row in appended["entries"]
            ]
        echo_json(result)
        return
    if appended is not None:
        for row in appended["entries"]:
            click.echo(row["id"].hex())
        ctx.info(
            f"{status['approvals']} of {status['threshold']} governors signed: appended as "
            f"record {appended['entries'][0]['index']}"
        )
        return
    click.echo(status["proposal"])
    ctx.info("pending on the node: " + _status_line(status))


@click.command()
@click.option("--key", "key_file", required=True, help="The operator's private key.")
@click.option("--origin", required=True, help="Log origin, e.g. kp.example.org/ledger.")
@click.option(
    "--governors",
    "governors_file",
    type=click.Path(dir_okay=False),
    help="Governors of the registry: one NAME.pub a line ('NAME = FILE.pub' to rename).",
)
@click.option("--threshold", help="k: governor signatures every registry change needs.")
@pass_ctx
def init(
    ctx: Ctx, key_file: str, origin: str, governors_file: str | None, threshold: str | None
) -> None:
    """Create a ledger whose genesis entry names the operator key and origin.

    With --governors and --threshold K the genesis also names the governance set: every
    registry change then needs the signatures of K of those governors (R-GV-1), and the
    operator only sequences the log and signs checkpoints.

    \b
    Example:
      kpledger --ledger kp.db init --key keys/operator.key --origin kp.example.org/ledger
      kpledger --ledger kp.db init --key keys/operator.key --origin kp.example.org/ledger \\
          --governors governors.txt --threshold 3
    """
    if is_url(ctx.ledger_path):
        fail_usage("init creates a local ledger file; a node serves one (kpledger serve)")
    if (governors_file is None) != (threshold is None):
        fail_usage("--governors and --threshold go together")
    members: list[tuple[str, bytes]] = []
    k_value = None
    if governors_file is not None and threshold is not None:
        members = read_governors(governors_file)
        k_value = parse.positive_int(threshold, "--threshold")
        check_threshold(k_value, members)
    k = load_key(ctx, key_file)
    led = lg.Ledger.create(
        ctx.ledger_path, k, origin, now=now_ms(), governors=members, threshold=k_value
    )
    if ctx.json:
        echo_json(
            {
                "ledger": ctx.ledger_path,
                "origin": origin,
                "operator": k.kid.hex(),
                "governors": [n for n, _ in members],
                "threshold": k_value,
            }
        )
    else:
        gov = f", registry governed by {k_value} of {len(members)}" if members else ""
        click.echo(f"created {ctx.ledger_path} for {origin}{gov}")
    led.close()


def _registry(
    ctx: Ctx,
    key_file: str,
    cosign: tuple[str, ...],
    entry_type: str,
    fields: dict[str, Any],
    out: str | None,
    checkpoint_key: str | None,
    *,
    also: list[lg.PrivateKey] | None = None,
) -> None:
    """Sign a registry change with --key, the --cosign keys and ``also`` (a rotated key),
    then write, propose or append it (:func:`emit_registry`)."""
    cosigners = [load_key(ctx, c) for c in cosign] + (also or [])
    entry = sign(ctx, key_file, entry_type, fields, cosigners=cosigners)
    emit_registry(ctx, [entry], out, checkpoint_key)


@click.group()
def participant() -> None:
    """Register, revoke, rotate and list participants (changes: the operator, or k governors).

    \b
    Example:
      kpledger participant add --key operator.key --pub jwaneng.pub --name Jwaneng \\
          --role mine --country BW
    """


@participant.command("add")
@entry_options
@cosign_option
@click.option("--pub", "pubfile", required=True, help="The participant's NAME.pub file.")
@click.option("--name", required=True, help="Unique participant name.")
@click.option("--role", "roles", required=True, help="Comma-separated roles.")
@click.option("--country", required=True, help="ISO 3166-1 alpha-2 country code.")
@pass_ctx
def participant_add(
    ctx: Ctx,
    key_file: str,
    out: str | None,
    checkpoint_key: str | None,
    cosign: tuple[str, ...],
    pubfile: str,
    name: str,
    roles: str,
    country: str,
) -> None:
    """Register a participant with roles and a country.

    Roles: authority, mine, trader, cutter, grader, retailer.

    \b
    Example:
      kpledger participant add --key operator.key --pub bw-kp.pub --name "BW KP Authority" \\
          --role authority --country BW
    """
    _, public = lg.load_public(pubfile)
    fields = {
        "name": name,
        "pub": public,
        "roles": parse.roles(roles),
        "country": parse.country(country),
    }
    _registry(ctx, key_file, cosign, "participant.add", fields, out, checkpoint_key)


@participant.command("revoke")
@entry_options
@cosign_option
@click.argument("name")
@click.option("--reason", help="Why (kept in the entry).")
@click.option(
    "--compromised-since",
    "since",
    help="The key was stolen at this UTC time (YYYY-MM-DD[THH:MM[:SS]]): what it signed "
    "from then on is void and the goods descending from it are quarantined.",
)
@pass_ctx
def participant_revoke(
    ctx: Ctx,
    key_file: str,
    out: str | None,
    checkpoint_key: str | None,
    cosign: tuple[str, ...],
    name: str,
    reason: str | None,
    since: str | None,
) -> None:
    """Revoke a participant's key: its later entries are rejected.

    With --compromised-since T, entries the key signed from T on are void: every item
    descending from one is quarantined (verify lists them, verify-proof fails, R-ID-2),
    and certificates the participant issued can no longer be used.

    \b
    Example:
      kpledger participant revoke --key operator.key "Shady Trading" --reason "key lost"
      kpledger participant revoke --key operator.key "XX KP Authority" \
          --reason "key stolen" --compromised-since 2026-03-01T08:00Z
    """
    fields: dict[str, Any] = {"name": ctx.ledger().party(name)["name"]}
    if reason:
        fields["reason"] = reason
    if since is not None:
        fields["compromised_since"] = parse.instant(since, "--compromised-since")
    _registry(ctx, key_file, cosign, "participant.revoke", fields, out, checkpoint_key)


@participant.command("rotate")
@entry_options
@cosign_option
@click.argument("name")
@click.option("--pub", "pubfile", required=True, help="The new NAME.pub file.")
@click.option("--old-key", required=True, help="The participant's current private key (co-signs).")
@pass_ctx
def participant_rotate(
    ctx: Ctx,
    key_file: str,
    out: str | None,
    checkpoint_key: str | None,
    cosign: tuple[str, ...],
    name: str,
    pubfile: str,
    old_key: str,
) -> None:
    """Replace a participant's key (signed by the operator and the old key).

    \b
    Example:
      kpledger participant rotate --key operator.key Jwaneng --pub jwaneng2.pub \\
          --old-key jwaneng.key
    """
    _, public = lg.load_public(pubfile)
    fields = {"name": ctx.ledger().party(name)["name"], "pub": public}
    old = load_key(ctx, old_key)
    _registry(ctx, key_file, cosign, "participant.rotate", fields, out, checkpoint_key, also=[old])


def _approved_by(led: lg.LedgerAPI, p: dict[str, Any]) -> list[str]:
    """Who signed a participant's registration: the operator, or the governors."""
    _, entry = led.entry(p["entries"][0])
    return [led.signer_name(s.kid) for s in entry.sigs]


def _party_json(p: dict[str, Any], approved: list[str] | None = None) -> dict[str, Any]:
    return {
        "name": p["name"],
        "roles": p["roles"],
        "country": p["country"],
        "key_id": p["kid"].hex(),
        "revoked_at": p["revoked"],
        "compromised_since": p.get("compromised"),
        "designations": {k: [list(x) for x in v] for k, v in sorted(p.get("lists", {}).items())},
        "entries": [e.hex() for e in p["entries"]],
        "approved_by": approved,
    }


def _listed_now(p: dict[str, Any]) -> list[str]:
    """The lists a participant is designated on by its latest period."""
    return sorted(k for k, periods in p.get("lists", {}).items() if periods[-1][1] == "listed")


@participant.command("list")
@pass_ctx
def participant_list(ctx: Ctx) -> None:
    """List participants with roles, country, key id, revocation, designations and who
    approved each registration (the operator, or the governors who signed it).

    \b
    Example:
      kpledger --json participant list
    """
    led = ctx.ledger()
    parties = led.participants()
    approved = [_approved_by(led, p) for p in parties]
    if ctx.json:
        echo_json([_party_json(p, a) for p, a in zip(parties, approved, strict=True)])
        return
    for p, by in zip(parties, approved, strict=True):
        state = f"  REVOKED at record {p['revoked']}" if p["revoked"] is not None else ""
        listed = _listed_now(p)
        if listed:
            state += f"  DESIGNATED on {', '.join(listed)}"
        click.echo(
            f"{p['name']:<24} {p['country']:<3} {','.join(p['roles']):<20} "
            f"{p['kid'].hex()[:16]}{state}  approved by {', '.join(by)}"
        )


@participant.command("show")
@click.argument("name")
@pass_ctx
def participant_show(ctx: Ctx, name: str) -> None:
    """Show one participant: key, roles, revocation, sanctions designations, registry entries.

    \b
    Example:
      kpledger participant show "Antwerp Rough"
    """
    led = ctx.ledger()
    p = led.party(name)
    approved = _approved_by(led, p)
    if ctx.json:
        echo_json(_party_json(p, approved))
        return
    click.echo(f"name         {p['name']}")
    click.echo(f"country      {p['country']}")
    click.echo(f"roles        {', '.join(p['roles'])}")
    click.echo(f"key id       {p['kid'].hex()}")
    if p["revoked"] is not None:
        click.echo(f"revoked      at record {p['revoked']}")
    if p.get("compromised") is not None:
        click.echo(f"compromised  since {format_time(p['compromised'])} (later entries void)")
    lists = p.get("lists", {})
    if not lists:
        click.echo("designations none")
    for list_id, periods in sorted(lists.items()):
        history = ", ".join(f"{status} from {day}" for day, status in periods)
        click.echo(f"designation  {list_id}: {history}")
    click.echo(f"approved by  {', '.join(approved)}")
    click.echo(
        f"entries      {len(p['entries'])} registry entr{'y' if len(p['entries']) == 1 else 'ies'}"
    )


@click.group("kp-status")
def kp_status() -> None:
    """Record and list each country's KP participation over time.

    \b
    Example:
      kpledger kp-status set --key operator.key --country CF --status suspended --from 2013-05-23
    """


@kp_status.command("set")
@entry_options
@cosign_option
@click.option("--country", required=True, help="ISO alpha-2 code.")
@click.option(
    "--status", required=True, type=click.Choice(["participant", "suspended", "withdrawn"])
)
@click.option("--from", "start", required=True, help="First day the status applies (YYYY-MM-DD).")
@pass_ctx
def kp_status_set(
    ctx: Ctx,
    key_file: str,
    out: str | None,
    checkpoint_key: str | None,
    cosign: tuple[str, ...],
    country: str,
    status: str,
    start: str,
) -> None:
    """Set a country's KP status from a date on (operator only).

    \b
    Example:
      kpledger kp-status set --key operator.key --country BW --status participant --from 2003-01-01
    """
    fields = {
        "country": parse.country(country),
        "status": status,
        "from": parse.date(start, "--from"),
    }
    _registry(ctx, key_file, cosign, "kp-status.set", fields, out, checkpoint_key)


@kp_status.command("list")
@pass_ctx
def kp_status_list(ctx: Ctx) -> None:
    """List every country's status periods.

    \b
    Example:
      kpledger kp-status list
    """
    statuses = ctx.ledger().kp_statuses()
    if ctx.json:
        echo_json(statuses)
        return
    for cc, periods in sorted(statuses.items()):
        click.echo(f"{cc}: " + "; ".join(f"{s} from {d}" for d, s in periods))


@click.group()
def param() -> None:
    """Set and list the ledger's rule parameters (operator only for changes).

    Each parameter holds from a date on and never changes retroactively (R-PA-1).

    \b
    Example:
      kpledger param set cert-validity-days 90 --from 2026-06-01 --key operator.key
      kpledger param list
    """


@param.command("set")
@entry_options
@cosign_option
@click.argument("name", type=click.Choice(sorted(lg.PARAMETERS)), metavar="NAME")
@click.argument("value")
@click.option("--from", "start", required=True, help="First day the value holds (YYYY-MM-DD).")
@pass_ctx
def param_set(
    ctx: Ctx,
    key_file: str,
    out: str | None,
    checkpoint_key: str | None,
    cosign: tuple[str, ...],
    name: str,
    value: str,
    start: str,
) -> None:
    """Set a rule parameter from a date on.

    \b
    Example:
      kpledger param set confirm-days 45 --from 2026-06-01 --key operator.key
    """
    fields = {
        "name": name,
        "value": parse.whole(value, "VALUE"),
        "from": parse.date(start, "--from"),
    }
    _registry(ctx, key_file, cosign, "param.set", fields, out, checkpoint_key)


@param.command("list")
@pass_ctx
def param_list(ctx: Ctx) -> None:
    """Every rule parameter: its value today, its default and the changes recorded.

    \b
    Example:
      kpledger param list
    """
    rows = ctx.ledger().parameters(lg.date_of(now_ms()))
    if ctx.json:
        echo_json(rows)
        return
    for row in rows:
        changes = "; ".join(f"{v} from {d}" for d, v in row["changes"]) or "never set"
        click.echo(
            f"{row['name']:<22} {row['value']:>6}  (default {row['default']}; {changes}): "
            f"{row['meaning']}"
        )


@click.group()
def governance() -> None:
    """Registry changes by k of n governors: propose, co-sign, submit, show.

    On a governed ledger (init --governors FILE --threshold K, or a ledger moved to
    governance by 'governance propose' with the operator key), every registry change
    (participant add/revoke/rotate, kp-status set, param set, governance propose) needs
    the signatures of k governors (R-GV-1). Offline: make the change with --out, pass the
    file to each governor (governance sign FILE --key KEY), then governance submit FILE.
    Against a node (--ledger URL) a change with fewer than k signatures waits there; each
    governor runs governance sign ID --key KEY and the node appends it at the k-th.

    \b
    Example:
      kpledger kp-status set --key gov1.key --country CF --status suspended \\
          --from 2026-07-01 --out cf.kpe
      kpledger governance sign cf.kpe --key gov2.key
      kpledger governance sign cf.kpe --key gov3.key
      kpledger governance submit cf.kpe
    """


@governance.command("propose")
@entry_options
@cosign_option
@click.option(
    "--governors",
    "governors_file",
    required=True,
    type=click.Path(dir_okay=False),
    help="The new governors: one NAME.pub a line ('NAME = FILE.pub' to rename).",
)
@click.option("--threshold", required=True, help="k: governor signatures each change needs.")
@pass_ctx
def governance_propose(
    ctx: Ctx,
    key_file: str,
    out: str | None,
    checkpoint_key: str | None,
    cosign: tuple[str, ...],
    governors_file: str,
    threshold: str,
) -> None:
    """Propose a new governance set: its governors and threshold k.

    On a governed ledger it is a registry change like any other (k of the governors in
    force sign it). On a ledger without governance, the operator key alone signs it: it
    moves the registry to governance, the last change the operator makes alone.

    \b
    Example:
      kpledger governance propose --key operator.key --governors governors.txt --threshold 3
      kpledger governance propose --key gov1.key --governors new.txt --threshold 4 --out g.kpe
    """
    members = read_governors(governors_file)
    k = parse.positive_int(threshold, "--threshold")
    check_threshold(k, members)
    fields = {"governors": [{"name": n, "pub": p} for n, p in members], "threshold": k}
    cosigners = [load_key(ctx, c) for c in cosign]
    entry = sign(ctx, key_file, "governance.set", fields, cosigners=cosigners)
    emit_registry(ctx, [entry], out, checkpoint_key)


def _governor_check(ctx: Ctx, entry: lg.SignedEntry, key: lg.PrivateKey) -> dict[str, Any]:
    """What ``governance sign`` checks before it adds a signature (no ledger change)."""
    if entry.type not in lg.REGISTRY_TYPES:
        raise lg.UsageError(f"{entry.type} is not a registry change; only those are proposals")
    led = ctx.ledger()
    if entry.body.ledger != led.origin:
        raise lg.RuleError(
            f"the proposal is for ledger {entry.body.ledger!r}, this is {led.origin!r}",
            rule="R-EN-2",
        )
    gov = led.governance()
    if gov is None:
        raise lg.UsageError(
            "this ledger has no governance set: the operator signs registry changes alone"
        )
    if key.kid not in {bytes(g["kid"]) for g in gov["governors"]}:
        raise lg.RuleError(
            f"{key.name} is not a governor of this ledger; its signature would not count",
            rule="R-GV-2",
        )
    if entry.signed_by(key.kid) is not None:
        raise lg.RuleError(f"{key.name} has already signed this proposal", rule="R-GV-2")
    status = lg.proposal_status(entry, gov, led.signer_name, now=now_ms())
    if status["expired"]:
        raise lg.RuleError(
            f"the proposal expired {format_time(status['expires'])}: propose it again",
            rule="R-GV-4",
        )
    return status


@governance.command("sign")
@click.argument("target")
@click.option("--key", "key_file", required=True, help="The governor's private key.")
@click.option(
    "-o",
    "--out",
    type=click.Path(dir_okay=False),
    help="Write the co-signed proposal here instead of updating FILE.",
)
@pass_ctx
def governance_sign(ctx: Ctx, target: str, key_file: str, out: str | None) -> None:
    """Co-sign a proposal: a file made with --out, or a pending proposal ID on a node.

    Refused (nothing written) when the key is not a governor's, has signed already, or
    the proposal expired. A file is updated in place unless -o is given.

    \b
    Example:
      kpledger governance sign cf.kpe --key gov2.key
      kpledger --ledger http://127.0.0.1:8080 governance sign 1a2b3c4d --key gov2.key
    """
    key = load_key(ctx, key_file)
    if not os.path.exists(target) and is_url(ctx.ledger_path):
        prefix = target.lower()
        pending = [p for p in ctx.ledger().proposals() if p["proposal"].startswith(prefix)]
        if len(prefix) < 8 or len(pending) != 1:
            raise lg.NotFoundError(
                f"no single pending proposal {target!r} on the node (see 'governance show')"
            )
        entry = lg.SignedEntry.from_wire(bytes(pending[0]["envelope"]))
        _governor_check(ctx, entry, key)
        _propose(ctx, ctx.ledger().cosign(entry, key))
        return
    entries = lg.read_entry_file(target)
    if len(entries) != 1:
        fail_usage(f"{target} holds {len(entries)} entries; a proposal file holds one")
    _governor_check(ctx, entries[0], key)
    signed = ctx.ledger().cosign(entries[0], key)
    dest = out if out is not None else target
    if out is None:
        tmp = f"{target}.{os.getpid()}.tmp"
        lg.write_entry_file(tmp, [signed])
        os.replace(tmp, target)
    else:
        lg.write_entry_file(out, [signed])
    status = lg.proposal_status(
        signed, ctx.ledger().governance(), ctx.ledger().signer_name, now=now_ms()
    )
    if ctx.json:
        echo_json({**{k: v for k, v in status.items() if k != "envelope"}, "file": dest})
        return
    click.echo(signed.id.hex())
    ctx.info(f"wrote {dest}: " + _status_line(status))


@governance.command("submit")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--checkpoint-key", type=click.Path(dir_okay=False), help="Also sign a checkpoint.")
@pass_ctx
def governance_submit(ctx: Ctx, files: tuple[str, ...], checkpoint_key: str | None) -> None:
    """Append co-signed proposals (all in one transaction); to a node, one with fewer
    than k signatures is left pending there instead.

    \b
    Example:
      kpledger governance submit cf.kpe
    """
    entries = [e for f in files for e in lg.read_entry_file(f)]
    emit_registry(ctx, entries, None, checkpoint_key)


@governance.command("show")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
@pass_ctx
def governance_show(ctx: Ctx, files: tuple[str, ...]) -> None:
    """The governance set in force and, on a node, the pending proposals; with FILEs,
    where each proposal stands (signatures, who has yet to sign, expiry).

    \b
    Example:
      kpledger governance show
      kpledger governance show cf.kpe
    """
    led = ctx.ledger()
    gov = led.governance()
    if files:
        entries = [e for f in files for e in lg.read_entry_file(f)]
        _show_status(
            ctx, [lg.proposal_status(e, gov, led.signer_name, now=now_ms()) for e in entries]
        )
        return
    pending = led.proposals()
    if ctx.json:
        view = None
        if gov is not None:
            view = {
                "threshold": gov["threshold"],
                "since": gov["since"],
                "governors": [
                    {"name": g["name"], "key_id": bytes(g["kid"]).hex()} for g in gov["governors"]
                ],
                "entries": [bytes(e).hex() for e in gov["entries"]],
            }
        echo_json(
            {
                "governance": view,
                "operator": led.operator_name,
                "pending": [{k: v for k, v in p.items() if k != "envelope"} for p in pending],
            }
        )
        return
    if gov is None:
        click.echo(
            f"no governance set: the operator ({led.operator_name}) signs registry changes "
            "alone; move to governance with 'kpledger governance propose --key OPERATOR_KEY "
            "--governors FILE --threshold K'"
        )
        return
    click.echo(
        f"registry governed by {gov['threshold']} of {len(gov['governors'])} governors "
        f"(since record {gov['since']}); the operator ({led.operator_name}) sequences only"
    )
    for g in gov["governors"]:
        click.echo(f"  {g['name']:<28} {bytes(g['kid']).hex()[:16]}")
    for p in pending:
        click.echo(_status_line(p))


COMMANDS: tuple[click.Command, ...] = (init, participant, kp_status, param, governance)
