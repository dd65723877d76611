"""The operator's registry: ``init``, ``participant`` and ``kp-status``.

Creating a ledger, admitting, revoking and rotating participants, and recording each
country's Kimberley Process status. Every change is a signed entry made through
``cli.context.emit``; who may make it (the operator only) is the rules engine's to check,
not this module's.
"""

from __future__ import annotations

from typing import Any

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


@click.command()
@click.option("--key", "key_file", required=True, help="The operator's private key.")
@click.option("--origin", required=True, help="Log origin, e.g. kp.example.org/ledger.")
@pass_ctx
def init(ctx: Ctx, key_file: str, origin: str) -> None:
    """Create a ledger whose genesis entry names the operator key and origin.

    \b
    Example:
      kpledger --ledger kp.db init --key keys/operator.key --origin kp.example.org/ledger
    """
    if is_url(ctx.ledger_path):
        fail_usage("init creates a local ledger file; a node serves one (kpledger serve)")
    k = load_key(ctx, key_file)
    led = lg.Ledger.create(ctx.ledger_path, k, origin, now=now_ms())
    if ctx.json:
        echo_json({"ledger": ctx.ledger_path, "origin": origin, "operator": k.kid.hex()})
    else:
        click.echo(f"created {ctx.ledger_path} for {origin}")
    led.close()


@click.group()
def participant() -> None:
    """Register, revoke, rotate and list participants (operator only for changes).

    \b
    Example:
      kpledger participant add --key operator.key --pub jwaneng.pub --name Jwaneng \\
          --role mine --country BW
    """


@participant.command("add")
@entry_options
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
    emit(ctx, [sign(ctx, key_file, "participant.add", fields)], out, checkpoint_key)


@participant.command("revoke")
@entry_options
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
    emit(ctx, [sign(ctx, key_file, "participant.revoke", fields)], out, checkpoint_key)


@participant.command("rotate")
@entry_options
@click.argument("name")
@click.option("--pub", "pubfile", required=True, help="The new NAME.pub file.")
@click.option("--old-key", required=True, help="The participant's current private key (co-signs).")
@pass_ctx
def participant_rotate(
    ctx: Ctx,
    key_file: str,
    out: str | None,
    checkpoint_key: str | None,
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
    emit(
        ctx,
        [sign(ctx, key_file, "participant.rotate", fields, cosigners=[old])],
        out,
        checkpoint_key,
    )


def _party_json(p: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": p["name"],
        "roles": p["roles"],
        "country": p["country"],
        "key_id": p["kid"].hex(),
        "revoked_at": p["revoked"],
        "compromised_since": p.get("compromised"),
        "designations": {k: [list(x) for x in v] for k, v in sorted(p.get("lists", {}).items())},
        "entries": [e.hex() for e in p["entries"]],
    }


def _listed_now(p: dict[str, Any]) -> list[str]:
    """The lists a participant is designated on by its latest period."""
    return sorted(k for k, periods in p.get("lists", {}).items() if periods[-1][1] == "listed")


@participant.command("list")
@pass_ctx
def participant_list(ctx: Ctx) -> None:
    """List participants with roles, country, key id, revocation and designations.

    \b
    Example:
      kpledger --json participant list
    """
    parties = ctx.ledger().participants()
    if ctx.json:
        echo_json([_party_json(p) for p in parties])
        return
    for p in parties:
        state = f"  REVOKED at record {p['revoked']}" if p["revoked"] is not None else ""
        listed = _listed_now(p)
        if listed:
            state += f"  DESIGNATED on {', '.join(listed)}"
        click.echo(
            f"{p['name']:<24} {p['country']:<3} {','.join(p['roles']):<20} "
            f"{p['kid'].hex()[:16]}{state}"
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
    p = ctx.ledger().party(name)
    if ctx.json:
        echo_json(_party_json(p))
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
    emit(ctx, [sign(ctx, key_file, "kp-status.set", fields)], out, checkpoint_key)


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
@click.argument("name", type=click.Choice(sorted(lg.PARAMETERS)), metavar="NAME")
@click.argument("value")
@click.option("--from", "start", required=True, help="First day the value holds (YYYY-MM-DD).")
@pass_ctx
def param_set(
    ctx: Ctx,
    key_file: str,
    out: str | None,
    checkpoint_key: str | None,
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
    emit(ctx, [sign(ctx, key_file, "param.set", fields)], out, checkpoint_key)


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


COMMANDS: tuple[click.Command, ...] = (init, participant, kp_status, param)
