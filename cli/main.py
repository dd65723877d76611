"""The ``kpledger`` command line (docs/cli.md is generated from this file's --help).

Thin by design: each command parses its input, makes one library call and formats
the result. Every ``LedgerError`` becomes one readable line on stderr in exactly one
place (``KpGroup.invoke``); ``--debug`` shows the traceback instead.

Exit codes: 0 ok, 1 rejected or invalid (any ledger error), 2 usage error.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

import ledger as lg
from cli import parse
from cli.render import (
    echo_json,
    format_entry,
    format_report,
    format_time,
    parcel_line,
    report_to_json,
)

if TYPE_CHECKING:
    from ledger.net.client import RemoteLedger

F = TypeVar("F", bound=Callable[..., Any])

#: Largest bundle ``verify-proof`` reads (ledger.proofs.MAX_BUNDLE_SIZE).
MAX_BUNDLE_FILE = 16 << 20

EXIT_INVALID = 1
EXIT_USAGE = 2


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class Ctx:
    """Global options, shared by every command."""

    def __init__(self, ledger_path: str, as_json: bool, quiet: bool, debug: bool) -> None:
        self.ledger_path = ledger_path
        self.json = as_json
        self.quiet = quiet
        self.debug = debug
        self._ledger: lg.Ledger | RemoteLedger | None = None

    def ledger(self) -> lg.Ledger | RemoteLedger:
        """The ledger file, or a node when --ledger is an http(s) URL (specs/node.md)."""
        if self._ledger is None:
            if self.ledger_path.startswith(("http://", "https://")):
                from ledger.net.client import RemoteLedger

                self._ledger = RemoteLedger(self.ledger_path)
            else:
                self._ledger = lg.Ledger.open(self.ledger_path)
        return self._ledger

    def close(self) -> None:
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None

    def info(self, message: str) -> None:
        """A diagnostic line on stderr (silenced by --quiet)."""
        if not self.quiet:
            click.echo(message, err=True)


def fail_usage(message: str) -> NoReturn:
    raise lg.UsageError(message)


class KpGroup(click.Group):
    """A group that turns every LedgerError into one line and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except lg.LedgerError as exc:
            obj = ctx.obj if isinstance(ctx.obj, Ctx) else None
            if obj is not None and obj.debug:
                raise
            code = EXIT_USAGE if isinstance(exc, lg.UsageError) else EXIT_INVALID
            if obj is not None and obj.json:
                click.echo(
                    json.dumps({"error": exc.code, "rule": exc.rule, "message": exc.message}),
                    err=True,
                )
            else:
                click.echo(f"error: {exc}", err=True)
            ctx.exit(code)
        except click.UsageError as exc:
            # One line, like every other error (click's default prints three).
            where = exc.ctx.command_path if exc.ctx is not None else "kpledger"
            click.echo(f"error: {exc.format_message()} (see '{where} --help')", err=True)
            ctx.exit(EXIT_USAGE)
        except KeyboardInterrupt:
            click.echo("interrupted; nothing was written", err=True)
            ctx.exit(130)


@click.group(cls=KpGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--ledger",
    "ledger_path",
    envvar="KPLEDGER_LEDGER",
    default="kpledger.db",
    show_default=True,
    help="Ledger file, or the http(s):// URL of a node (env KPLEDGER_LEDGER).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON on stdout.")
@click.option("--quiet", "-q", is_flag=True, help="No diagnostics on stderr.")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.version_option(lg.__version__, prog_name="kpledger")
@click.pass_context
def main(ctx: click.Context, ledger_path: str, as_json: bool, quiet: bool, debug: bool) -> None:
    """kpledger: a verifiable provenance ledger for rough diamonds.

    Participants sign custody transfers of rough parcels; anyone can replay the
    chain; buyers verify provenance proofs offline.

    \b
    Example:
      kpledger --ledger kp.db init --key operator.key --origin kp.example.org/ledger
      kpledger --ledger kp.db --json log

    Exit codes: 0 ok, 1 rejected or invalid, 2 usage error.
    """
    ctx.obj = Ctx(ledger_path, as_json, quiet, debug)
    ctx.call_on_close(ctx.obj.close)


pass_ctx = click.make_pass_decorator(Ctx)


# ---------------------------------------------------------------------------
# Keys


def passphrase_source(ctx: Ctx, path: str) -> Callable[[], str]:
    def get() -> str:
        env = os.environ.get("KPLEDGER_PASSPHRASE")
        if env is not None:
            return env
        if not sys.stdin.isatty():
            raise lg.KeyFileError(
                f"{path} is encrypted: set KPLEDGER_PASSPHRASE or run in a terminal"
            )
        return str(click.prompt(f"Passphrase for {path}", hide_input=True, err=True))

    return get


_KEY_CACHE: dict[tuple[str, bytes], lg.PrivateKey] | None = None


def enable_key_cache() -> None:
    """Keep unlocked keys for the rest of this process (the demo signs ~100 entries).

    Off by default: a normal invocation unlocks its key once and exits.
    """
    global _KEY_CACHE
    _KEY_CACHE = {}


def load_key(ctx: Ctx, path: str) -> lg.PrivateKey:
    if _KEY_CACHE is None:
        return lg.load_private(path, passphrase_source(ctx, path))
    import hashlib

    try:
        digest = hashlib.sha256(Path(path).read_bytes()).digest()
    except OSError:
        return lg.load_private(path, passphrase_source(ctx, path))
    cache_key = (os.path.abspath(path), digest)
    if cache_key not in _KEY_CACHE:
        _KEY_CACHE[cache_key] = lg.load_private(path, passphrase_source(ctx, path))
    return _KEY_CACHE[cache_key]


@main.group()
def key() -> None:
    """Create and inspect Ed25519 keys.

    \b
    Example:
      KPLEDGER_PASSPHRASE=... kpledger key new jwaneng --dir keys
      kpledger key show keys/jwaneng.pub
    """


@key.command("new")
@click.argument("name")
@click.option("--dir", "directory", default=".", show_default=True, help="Where to write keys.")
@click.option("--no-passphrase", is_flag=True, help="Store the key unencrypted (not advised).")
@pass_ctx
def key_new(ctx: Ctx, name: str, directory: str, no_passphrase: bool) -> None:
    """Create NAME.key (encrypted, mode 0600) and NAME.pub.

    The passphrase comes from KPLEDGER_PASSPHRASE or a prompt.

    \b
    Example:
      kpledger key new bw-authority --dir keys
    """
    if not all(c.isalnum() or c in "-_." for c in name) or not name:
        fail_usage("key name: use letters, digits, '-', '_' and '.' only")
    passphrase: str | None
    if no_passphrase:
        click.echo(
            "WARNING: the private key is stored UNENCRYPTED; anyone who can read the file can "
            "sign as this participant.",
            err=True,
        )
        passphrase = None
    else:
        passphrase = os.environ.get("KPLEDGER_PASSPHRASE")
        if passphrase is None:
            if not sys.stdin.isatty():
                fail_usage("set KPLEDGER_PASSPHRASE, run in a terminal, or pass --no-passphrase")
            passphrase = click.prompt(
                "New passphrase", hide_input=True, confirmation_prompt=True, err=True
            )
        if not passphrase:
            fail_usage("the passphrase must not be empty (or pass --no-passphrase)")
    priv, pub, k = lg.write_keypair(directory, name, passphrase)
    if ctx.json:
        echo_json({"name": name, "key_id": k.kid.hex(), "private": str(priv), "public": str(pub)})
    else:
        click.echo(k.kid.hex())
        ctx.info(f"wrote {priv} (private, mode 600) and {pub}")


@key.command("show")
@click.argument("file", type=click.Path(dir_okay=False))
@pass_ctx
def key_show(ctx: Ctx, file: str) -> None:
    """Print the key id and public key of a .pub or .key file.

    \b
    Example:
      kpledger key show keys/jwaneng.pub
    """
    if file.endswith(".pub"):
        name, public = lg.load_public(file)
    else:
        k = load_key(ctx, file)
        name, public = k.name, k.public
    kid = lg.key_id(public)
    if ctx.json:
        echo_json({"name": name, "key_id": kid.hex(), "public": base64.b64encode(public).decode()})
    else:
        click.echo(f"name:    {name}")
        click.echo(f"key id:  {kid.hex()}")
        click.echo(f"public:  {base64.b64encode(public).decode()}")


@key.command("vkey")
@click.argument("pubfile", type=click.Path(dir_okay=False))
@click.option("--name", "origin", required=True, help="The ledger origin (the key name).")
@pass_ctx
def key_vkey(ctx: Ctx, pubfile: str, origin: str) -> None:
    """Print the signed-note verifier key (name+hash+base64) buyers trust.

    \b
    Example:
      kpledger key vkey keys/operator.pub --name kp.example.org/ledger > operator.vkey
    """
    _, public = lg.load_public(pubfile)
    vkey = lg.format_vkey(origin, public)
    if ctx.json:
        echo_json({"vkey": vkey})
    else:
        click.echo(vkey)


# ---------------------------------------------------------------------------
# Ledger set-up and reading


@main.command()
@click.option("--key", "key_file", required=True, help="The operator's private key.")
@click.option("--origin", required=True, help="Log origin, e.g. kp.example.org/ledger.")
@pass_ctx
def init(ctx: Ctx, key_file: str, origin: str) -> None:
    """Create a ledger whose genesis entry names the operator key and origin.

    \b
    Example:
      kpledger --ledger kp.db init --key keys/operator.key --origin kp.example.org/ledger
    """
    if ctx.ledger_path.startswith(("http://", "https://")):
        fail_usage("init creates a local ledger file; a node serves one (kpledger serve)")
    k = load_key(ctx, key_file)
    led = lg.Ledger.create(ctx.ledger_path, k, origin, now=now_ms())
    if ctx.json:
        echo_json({"ledger": ctx.ledger_path, "origin": origin, "operator": k.kid.hex()})
    else:
        click.echo(f"created {ctx.ledger_path} for {origin}")
    led.close()


@main.command("log")
@click.option("--from", "start", default=0, type=click.IntRange(min=0), help="First index.")
@click.option("--limit", default=0, type=click.IntRange(min=0), help="At most N records (0: all).")
@pass_ctx
def log_cmd(ctx: Ctx, start: int, limit: int) -> None:
    """List records: index, time, type, signer, entry id.

    \b
    Example:
      kpledger --json log --from 10 --limit 5
    """
    led = ctx.ledger()
    end = start + limit if limit else None
    rows = []
    for record in led.records(start, end):
        entry = record.entry()
        rows.append((record, entry, led.signer_name(entry.body.signer)))
    if ctx.json:
        echo_json(
            [
                {
                    "index": r.index,
                    "id": e.id.hex(),
                    "type": e.type,
                    "signer": s,
                    "time": e.body.time,
                    "appended": r.time,
                }
                for r, e, s in rows
            ]
        )
        return
    for r, e, s in rows:
        click.echo(f"{r.index:>6}  {format_time(r.time)}  {e.type:<18} {s:<22} {e.id.hex()[:16]}")


@main.command()
@click.argument("entry_id")
@pass_ctx
def show(ctx: Ctx, entry_id: str) -> None:
    """Show one entry, decoded (ENTRY_ID may be a unique hex prefix).

    \b
    Example:
      kpledger show 3fa2c1d0
    """
    led = ctx.ledger()
    record, entry = led.entry(led.resolve_entry(entry_id))
    data = lg.entry_to_json(entry)
    data["index"] = record.index
    data["appended"] = record.time
    data["signer_name"] = led.signer_name(entry.body.signer)
    data["warnings"] = [{"rule": r, "message": m} for _, r, m in led.findings(record.index)]
    if ctx.json:
        echo_json(data)
    else:
        click.echo(format_entry(data))


# ---------------------------------------------------------------------------
# Entry-producing commands: shared options and the one place that appends


def entry_options(f: F) -> F:
    f = click.option(
        "--out",
        type=click.Path(dir_okay=False),
        help="Write the signed entry to FILE instead of appending (offline signing).",
    )(f)
    f = click.option(
        "--checkpoint-key",
        type=click.Path(dir_okay=False),
        help="Operator key: also sign a checkpoint that includes this entry.",
    )(f)
    f = click.option("--key", "key_file", required=True, help="The signer's private key.")(f)
    return f


def emit(
    ctx: Ctx,
    entries: Sequence[lg.SignedEntry],
    out: str | None,
    checkpoint_key: str | None = None,
) -> None:
    """Append (or write to --out) signed entries and report ids and warnings."""
    if out is not None:
        lg.write_entry_file(out, entries)
        if ctx.json:
            echo_json([{"id": e.id.hex(), "type": e.type, "file": out} for e in entries])
        else:
            for e in entries:
                click.echo(e.id.hex())
            ctx.info(
                f"wrote {len(entries)} signed entr{'y' if len(entries) == 1 else 'ies'} to {out}"
            )
        return
    led = ctx.ledger()
    # Unlock the checkpoint key first: a wrong passphrase must not leave a half-done job.
    operator = load_key(ctx, checkpoint_key) if checkpoint_key is not None else None
    cp = None
    if operator is not None and isinstance(led, lg.Ledger):
        done, cp = led.append_checkpointed(entries, operator, now=now_ms())
    elif len(entries) >= 100 and sys.stderr.isatty() and not ctx.quiet and not ctx.json:
        with click.progressbar(length=len(entries), label="appending", file=sys.stderr) as bar:
            done = led.append(entries, now=now_ms(), progress=bar.update)
    else:
        done = led.append(entries, now=now_ms())
    if operator is not None and cp is None:
        cp = led.checkpoint(operator)
    if ctx.json:
        rows = [
            {
                "id": a.entry.id.hex(),
                "index": a.index,
                "type": a.entry.type,
                "warnings": [{"rule": w.rule, "message": w.message} for w in a.warnings],
            }
            for a in done
        ]
        result: Any = rows[0] if len(rows) == 1 else rows
        if cp is not None:
            result = {"entries": rows, "checkpoint": cp}
        echo_json(result)
        return
    for a in done:
        click.echo(a.entry.id.hex())
        for w in a.warnings:
            ctx.info(f"warning: {w}")
    if cp is not None:
        click.echo(cp, nl=False)


def sign(
    ctx: Ctx, key_file: str, entry_type: str, fields: dict[str, Any], **kw: Any
) -> lg.SignedEntry:
    k = load_key(ctx, key_file)
    return ctx.ledger().sign(entry_type, fields, k, now=now_ms(), **kw)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--checkpoint-key", type=click.Path(dir_okay=False), help="Also sign a checkpoint.")
@pass_ctx
def submit(ctx: Ctx, files: tuple[str, ...], checkpoint_key: str | None) -> None:
    """Append entries signed offline with --out (all in one transaction).

    \b
    Example:
      kpledger transfer --key offline/trader.key --parcels P1 --to Surat --out t.kpe
      kpledger submit t.kpe
    """
    entries = [e for f in files for e in lg.read_entry_file(f)]
    emit(ctx, entries, None, checkpoint_key)


# ---------------------------------------------------------------------------
# Registry


@main.group()
def participant() -> None:
    """Register, revoke, rotate and list participants (operator only for changes).

    \b
    Example:
      kpledger participant add --key operator.key --pub jwaneng.pub --name Jwaneng \\
          --role mine --country BW
    """


def _roles(text: str) -> list[str]:
    roles = parse.id_list(text, "--role")
    for r in roles:
        if r not in lg.ROLES:
            fail_usage(f"--role: {r!r} is not one of {', '.join(lg.ROLES)}")
    return roles


def _country(text: str, what: str = "--country") -> str:
    cc = text.upper()
    if len(cc) != 2 or not cc.isalpha() or not cc.isascii():
        fail_usage(f"{what}: expected an ISO 3166-1 alpha-2 code like BW, got {text!r}")
    return cc


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
    fields = {"name": name, "pub": public, "roles": _roles(roles), "country": _country(country)}
    emit(ctx, [sign(ctx, key_file, "participant.add", fields)], out, checkpoint_key)


@participant.command("revoke")
@entry_options
@click.argument("name")
@click.option("--reason", help="Why (kept in the entry).")
@pass_ctx
def participant_revoke(
    ctx: Ctx,
    key_file: str,
    out: str | None,
    checkpoint_key: str | None,
    name: str,
    reason: str | None,
) -> None:
    """Revoke a participant's key: its later entries are rejected.

    \b
    Example:
      kpledger participant revoke --key operator.key "Shady Trading" --reason "key lost"
    """
    fields: dict[str, Any] = {"name": ctx.ledger().party(name)["name"]}
    if reason:
        fields["reason"] = reason
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


@participant.command("list")
@pass_ctx
def participant_list(ctx: Ctx) -> None:
    """List participants with roles, country and key id.

    \b
    Example:
      kpledger --json participant list
    """
    parties = ctx.ledger().participants()
    if ctx.json:
        echo_json(
            [
                {
                    "name": p["name"],
                    "roles": p["roles"],
                    "country": p["country"],
                    "key_id": p["kid"].hex(),
                    "revoked_at": p["revoked"],
                }
                for p in parties
            ]
        )
        return
    for p in parties:
        state = f"  REVOKED at record {p['revoked']}" if p["revoked"] is not None else ""
        click.echo(
            f"{p['name']:<24} {p['country']:<3} {','.join(p['roles']):<20} "
            f"{p['kid'].hex()[:16]}{state}"
        )


@main.group("kp-status")
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
    fields = {"country": _country(country), "status": status, "from": parse.date(start, "--from")}
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


# ---------------------------------------------------------------------------
# Custody


@main.command()
@entry_options
@click.option("--parcel", required=True, help="New parcel id.")
@click.option("--carats", required=True, help="Weight in carats (2 decimals).")
@click.option("--stones", required=True, help="Number of stones.")
@click.option("--mine", "site", required=True, help="Mine or site name.")
@click.option("--hs", default="7102.10", type=click.Choice(["7102.10", "7102.21", "7102.31"]))
@pass_ctx
def origin(
    ctx: Ctx,
    key_file: str,
    out: str | None,
    checkpoint_key: str | None,
    parcel: str,
    carats: str,
    stones: str,
    site: str,
    hs: str,
) -> None:
    """Register a new rough parcel at its mine (mine role; KP participant country).

    \b
    Example:
      kpledger origin --key jwaneng.key --parcel JW-2026-001 --carats 1250.00 --stones 3400 \\
          --mine "Jwaneng pit 3"
    """
    fields = {
        "parcel": parcel,
        "carats": parse.carats(carats, "--carats"),
        "stones": parse.positive_int(stones, "--stones"),
        "mine": site,
        "hs": hs,
    }
    emit(ctx, [sign(ctx, key_file, "origin", fields)], out, checkpoint_key)


@main.group()
def certificate() -> None:
    """Issue KP certificates (an authority of the exporter's country).

    \b
    Example:
      kpledger certificate issue --key bw-kp.key --number BW-2026-0001 --parcels JW-1 \\
          --exporter Jwaneng --importer "Antwerp Rough" --value-usd 1640000 --expires 2026-12-31
    """


@certificate.command("issue")
@entry_options
@click.option("--number", required=True, help="Unique number starting with the country code.")
@click.option("--parcels", required=True, help="Comma-separated parcel ids of the shipment.")
@click.option("--exporter", required=True, help="Exporting participant (name or key-id prefix).")
@click.option("--importer", required=True, help="Importing participant (name or key-id prefix).")
@click.option("--value-usd", required=True, help="Declared value in US dollars.")
@click.option("--expires", required=True, help="Expiry date YYYY-MM-DD.")
@pass_ctx
def certificate_issue(
    ctx: Ctx,
    key_file: str,
    out: str | None,
    checkpoint_key: str | None,
    number: str,
    parcels: str,
    exporter: str,
    importer: str,
    value_usd: str,
    expires: str,
) -> None:
    """Issue a KP certificate for one shipment; carats, count, HS codes and origins are computed.

    \b
    Example:
      kpledger certificate issue --key bw-kp.key --number BW-2026-0001 --parcels JW-1,JW-2 \\
          --exporter Jwaneng --importer "Antwerp Rough" --value-usd 1640000 --expires 2026-12-31
    """
    fields = ctx.ledger().certificate_fields(
        number=number,
        parcels=parse.id_list(parcels, "--parcels"),
        exporter=exporter,
        importer=importer,
        value_usd_cents=parse.money(value_usd, "USD", "--value-usd")["amount"],
        expires=parse.date(expires, "--expires"),
    )
    emit(ctx, [sign(ctx, key_file, "certificate.issue", fields)], out, checkpoint_key)


@main.command()
@entry_options
@click.option("--parcels", required=True, help="Comma-separated parcel or stone ids.")
@click.option("--to", "receiver", required=True, help="Receiver (name or key-id prefix).")
@click.option("--certificate", "number", help="KP certificate number (rough across a border).")
@click.option("--price", nargs=2, metavar="AMOUNT CUR", help="Price, e.g. --price 1250.00 USD.")
@click.option("--warranty", is_flag=True, help="Attach the System of Warranties statement (2021).")
@pass_ctx
def transfer(
    ctx: Ctx,
    key_file: str,
    out: str | None,
    checkpoint_key: str | None,
    parcels: str,
    receiver: str,
    number: str | None,
    price: tuple[str, str] | None,
    warranty: bool,
) -> None:
    """Offer parcels to a receiver; they stay locked until accepted, rejected or cancelled.

    \b
    Example:
      kpledger transfer --key jwaneng.key --parcels JW-1 --to "Antwerp Rough" \\
          --certificate BW-2026-0001 --price 1640000 USD --warranty
    """
    led = ctx.ledger()
    fields: dict[str, Any] = {
        "to": led.party(receiver)["name"],
        "inputs": [led.input_ref(p) for p in parse.id_list(parcels, "--parcels")],
    }
    if number:
        fields["certificate"] = number
    if price:
        fields["price"] = parse.money(price[0], price[1])
    if warranty:
        fields["warranty"] = "2021"
    emit(ctx, [sign(ctx, key_file, "transfer", fields)], out, checkpoint_key)


def _answer(entry_type: str, doc: str) -> click.Command:
    @entry_options
    @click.argument("transfer_id")
    @pass_ctx
    def command(
        ctx: Ctx, key_file: str, out: str | None, checkpoint_key: str | None, transfer_id: str
    ) -> None:
        tid = ctx.ledger().resolve_entry(transfer_id)
        emit(ctx, [sign(ctx, key_file, entry_type, {"transfer": tid})], out, checkpoint_key)

    command.__doc__ = doc
    return click.command(entry_type)(command)


main.add_command(
    _answer(
        "accept",
        """Accept a transfer offered to you: custody moves to you.

    \b
    Example:
      kpledger accept --key antwerp.key 3fa2c1d0
    """,
    )
)
main.add_command(
    _answer(
        "reject",
        """Reject a transfer offered to you: the parcels unlock at the sender.

    \b
    Example:
      kpledger reject --key antwerp.key 3fa2c1d0
    """,
    )
)
main.add_command(
    _answer(
        "cancel",
        """Cancel your own pending transfer offer.

    \b
    Example:
      kpledger cancel --key jwaneng.key 3fa2c1d0
    """,
    )
)


@main.command()
@entry_options
@click.option("--parcel", required=True, help="The parcel to split.")
@click.option("--into", required=True, help="Outputs ID:CARATS[:STONES],...")
@pass_ctx
def split(
    ctx: Ctx, key_file: str, out: str | None, checkpoint_key: str | None, parcel: str, into: str
) -> None:
    """Split a parcel; outputs never weigh more than the input.

    \b
    Example:
      kpledger split --key antwerp.key --parcel JW-1 --into JW-1a:600:1700,JW-1b:649.5:1700
    """
    fields = {
        "input": ctx.ledger().input_ref(parcel),
        "outputs": parse.outputs(into, "--into"),
    }
    emit(ctx, [sign(ctx, key_file, "split", fields)], out, checkpoint_key)


@main.command()
@entry_options
@click.option("--parcels", required=True, help="Parcels to merge.")
@click.option("--into", required=True, help="New parcel id (or ID:CARATS to declare a loss).")
@pass_ctx
def merge(
    ctx: Ctx, key_file: str, out: str | None, checkpoint_key: str | None, parcels: str, into: str
) -> None:
    """Merge parcels into one; origin shares are mass-weighted, may-contain is the union.

    \b
    Example:
      kpledger merge --key dubai.key --parcels JW-1a,DV-7 --into DXB-MIX-1
    """
    led = ctx.ledger()
    ids = parse.id_list(parcels, "--parcels")
    inputs = [led.input_ref(p) for p in ids]
    if ":" in into:
        output = parse.outputs(into, "--into")[0]
    else:
        output = {"parcel": into, "carats": sum(led.parcel(p)["carats"] for p in ids)}
    emit(
        ctx,
        [sign(ctx, key_file, "merge", {"inputs": inputs, "output": output})],
        out,
        checkpoint_key,
    )


@main.command()
@entry_options
@click.option("--parcels", required=True, help="Rough parcels to cut.")
@click.option("--into", required=True, help="Polished stones STONE:CARATS,...")
@click.option("--byproduct", help="By-products ID:CARATS,...")
@pass_ctx
def cut(
    ctx: Ctx,
    key_file: str,
    out: str | None,
    checkpoint_key: str | None,
    parcels: str,
    into: str,
    byproduct: str | None,
) -> None:
    """Cut rough into polished stones (cutter role); a yield outside 15-70% is flagged.

    \b
    Example:
      kpledger cut --key surat.key --parcels SUR-1 --into ST-001:1.02,ST-002:0.71 \\
          --byproduct SUR-1-chips:0.30
    """
    led = ctx.ledger()
    fields: dict[str, Any] = {
        "inputs": [led.input_ref(p) for p in parse.id_list(parcels, "--parcels")],
        "stones": parse.outputs(into, "--into", stones=False),
    }
    if byproduct:
        fields["byproducts"] = parse.outputs(byproduct, "--byproduct")
    emit(ctx, [sign(ctx, key_file, "cut", fields)], out, checkpoint_key)


@main.command()
@entry_options
@click.option("--stone", required=True, help="The polished stone.")
@click.option("--report", required=True, help="Grading report number.")
@click.option("--carats", help="Graded weight, if re-weighed.")
@pass_ctx
def grade(
    ctx: Ctx,
    key_file: str,
    out: str | None,
    checkpoint_key: str | None,
    stone: str,
    report: str,
    carats: str | None,
) -> None:
    """Record a grading report for a stone you hold (grader role).

    \b
    Example:
      kpledger grade --key lab.key --stone ST-001 --report GIA-2231457
    """
    fields: dict[str, Any] = {"input": ctx.ledger().input_ref(stone), "report": report}
    if carats:
        fields["carats"] = parse.carats(carats, "--carats")
    emit(ctx, [sign(ctx, key_file, "grade", fields)], out, checkpoint_key)


@main.command()
@entry_options
@click.option("--stone", required=True, help="The polished stone sold.")
@click.option("--price", nargs=2, metavar="AMOUNT CUR", help="Sale price.")
@pass_ctx
def sell(
    ctx: Ctx,
    key_file: str,
    out: str | None,
    checkpoint_key: str | None,
    stone: str,
    price: tuple[str, str] | None,
) -> None:
    """Record a retail sale (retailer role); the stone's custody chain ends here.

    \b
    Example:
      kpledger sell --key ny-retail.key --stone ST-001 --price 6400.00 USD
    """
    fields: dict[str, Any] = {"input": ctx.ledger().input_ref(stone)}
    if price:
        fields["price"] = parse.money(price[0], price[1])
    emit(ctx, [sign(ctx, key_file, "sell", fields)], out, checkpoint_key)


# ---------------------------------------------------------------------------
# Queries


@main.command()
@click.argument("item")
@pass_ctx
def history(ctx: Ctx, item: str) -> None:
    """Every entry that touched a parcel or stone, in log order.

    \b
    Example:
      kpledger history JW-1
    """
    led = ctx.ledger()
    rows = led.history(item)
    if ctx.json:
        echo_json(
            [
                {
                    "index": r.index,
                    "id": e.id.hex(),
                    "type": e.type,
                    "signer": led.signer_name(e.body.signer),
                    "time": e.body.time,
                }
                for r, e in rows
            ]
        )
        return
    for r, e in rows:
        click.echo(
            f"{r.index:>6}  {format_time(e.body.time)}  {e.type:<18} "
            f"{led.signer_name(e.body.signer):<22} {e.id.hex()[:16]}"
        )


@main.command()
@click.argument("item")
@pass_ctx
def trace(ctx: Ctx, item: str) -> None:
    """The ancestry of a parcel or stone back to every origin, with KP certificates.

    \b
    Example:
      kpledger trace ST-001
    """
    led = ctx.ledger()
    t = led.trace(item)
    comp = lg.format_composition(t.item["comp"])
    if ctx.json:
        echo_json(
            {
                "item": parcel_json(t.item),
                "composition": comp,
                "origins": t.origins,
                "certificates": t.certificates,
                "entries": [
                    {
                        "index": s.index,
                        "id": s.entry_id,
                        "type": s.type,
                        "signer": s.actor,
                        "country": s.country,
                        "time": s.time,
                    }
                    for s in t.steps
                ],
            }
        )
        return
    click.echo(parcel_line(t.item))
    click.echo(f"composition: {comp}")
    click.echo(f"may contain: {', '.join(t.item['may'])}")
    click.echo("origins:")
    for o in t.origins:
        click.echo(f"  {o['parcel']}: {o['mine']} ({o['country']}), {o['carats'] / 100:.2f} ct")
    click.echo("KP certificates:")
    for c in t.certificates:
        click.echo(
            f"  {c['number']}: {c['exporter']} ({c['exporter_country']}) -> {c['importer']} "
            f"({c['importer_country']}), issued {c['issued']} by {c['authority']}"
        )
    click.echo("entries:")
    for s in t.steps:
        click.echo(f"  {s.index:>6}  {format_time(s.time)}  {s.type:<18} {s.actor} ({s.country})")


def parcel_json(p: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": p["id"],
        "kind": p["kind"],
        "carats": p["carats"] / 100,
        "points": p["carats"],
        "stones": p["stones"],
        "holder": p["holder"],
        "status": p["status"],
        "composition_ppm": p["comp"],
        "composition": lg.format_composition(p["comp"]),
        "may_contain": p["may"],
        "head": p["head"].hex(),
    }


@main.command()
@click.argument("name")
@pass_ctx
def inventory(ctx: Ctx, name: str) -> None:
    """What a participant holds now (live and locked parcels and stones).

    \b
    Example:
      kpledger inventory "Antwerp Rough"
    """
    items = ctx.ledger().inventory(name)
    if ctx.json:
        echo_json([parcel_json(p) for p in items])
        return
    for p in items:
        click.echo(parcel_line(p))


@main.command()
@click.option(
    "--jobs",
    default=None,
    type=click.IntRange(1, 64),
    help=(
        "With N > 1, N worker processes check encodings, cached columns and signatures "
        "while this one replays the rules. Default: the number of CPUs (at most 8); "
        "logs of up to 8192 records are always checked in one process."
    ),
)
@pass_ctx
def verify(ctx: Ctx, jobs: int | None) -> None:
    """Replay the whole log: chain links, encoding, signatures, every rule, tree and checkpoints.

    \b
    Example:
      kpledger --ledger kp.db verify
    """
    if jobs is None:
        jobs = min(os.cpu_count() or 1, 8)
    led = ctx.ledger()
    total = led.size()
    show_bar = sys.stderr.isatty() and not ctx.quiet and not ctx.json
    if show_bar:
        with click.progressbar(length=total, label="verifying", file=sys.stderr) as bar:
            report = led.verify(progress=bar.update, jobs=jobs)
    else:
        report = led.verify(jobs=jobs)
    if ctx.json:
        echo_json(
            {
                "valid": True,
                "size": report.size,
                "root": base64.b64encode(report.root).decode(),
                "warnings": dict(report.warnings),
                "checkpoints": report.checkpoints,
            }
        )
        return
    warns = ", ".join(f"{r} x{n}" for r, n in sorted(report.warnings.items())) or "none"
    click.echo(
        f"valid: {report.size} records, root {base64.b64encode(report.root).decode()}, "
        f"{report.checkpoints} checkpoints consistent; warnings: {warns}"
    )


# ---------------------------------------------------------------------------
# Checkpoints and proofs


@main.command()
@click.option("--key", "key_file", help="Operator key: sign the current tree head.")
@click.option("--show", "show_latest", is_flag=True, help="Print the latest checkpoint.")
@pass_ctx
def checkpoint(ctx: Ctx, key_file: str | None, show_latest: bool) -> None:
    """Sign (or show) a C2SP checkpoint of the current tree head.

    \b
    Example:
      kpledger checkpoint --key operator.key > checkpoint.txt
      kpledger checkpoint --show
    """
    led = ctx.ledger()
    if key_file is None and not show_latest:
        fail_usage("give --key OPERATOR_KEY to sign, or --show to print the latest")
    text = led.checkpoint(load_key(ctx, key_file)) if key_file else led.latest_checkpoint()
    if ctx.json:
        cp = lg.parse_checkpoint(lg.parse_note(text).text)
        echo_json(
            {
                "origin": cp.origin,
                "size": cp.size,
                "root": base64.b64encode(cp.root).decode(),
                "note": text,
            }
        )
    else:
        click.echo(text, nl=False)


def _b64(h: bytes) -> str:
    return base64.b64encode(h).decode()


@main.group()
def proof() -> None:
    """Print RFC 9162 inclusion and consistency proofs.

    \b
    Example:
      kpledger --json proof inclusion 12 --size 40
    """


@proof.command("inclusion")
@click.argument("index", type=click.IntRange(min=0))
@click.option("--size", type=click.IntRange(min=1), help="Tree size (default: current).")
@pass_ctx
def proof_inclusion(ctx: Ctx, index: int, size: int | None) -> None:
    """Inclusion proof of record INDEX in the tree of SIZE leaves.

    \b
    Example:
      kpledger proof inclusion 3 --size 8
    """
    p = ctx.ledger().inclusion_proof(index, size)
    data = {
        "leafIdx": p["leafIdx"],
        "treeSize": p["treeSize"],
        "leafHash": _b64(p["leafHash"]),
        "root": _b64(p["root"]),
        "proof": [_b64(h) for h in p["proof"]],
    }
    if ctx.json:
        echo_json(data)
    else:
        click.echo(f"index {data['leafIdx']}\nsize {data['treeSize']}\nleaf {data['leafHash']}")
        click.echo(f"root {data['root']}")
        for h in data["proof"]:
            click.echo(h)


@proof.command("consistency")
@click.argument("old", type=click.IntRange(min=0))
@click.argument("new", type=click.IntRange(min=0))
@pass_ctx
def proof_consistency(ctx: Ctx, old: int, new: int) -> None:
    """Consistency proof between tree sizes OLD and NEW.

    \b
    Example:
      kpledger proof consistency 10 40
    """
    p = ctx.ledger().consistency_proof(old, new)
    data = {
        "size1": p["size1"],
        "size2": p["size2"],
        "root1": _b64(p["root1"]),
        "root2": _b64(p["root2"]),
        "proof": [_b64(h) for h in p["proof"]],
    }
    if ctx.json:
        echo_json(data)
    else:
        click.echo(f"old {old} {data['root1']}\nnew {new} {data['root2']}")
        for h in data["proof"]:
            click.echo(h)


def _trust(value: str) -> lg.Verifier:
    """A verifier key given inline or as a file holding one."""
    text = value
    if "+" not in value or os.path.exists(value):
        try:
            text = Path(value).read_text().strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise lg.UsageError(f"--trust: cannot read verifier key file {value}") from exc
    return lg.parse_vkey(text)


def _read_text(path: str, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise lg.ProofError(f"{what}: {path} is not UTF-8 text") from exc
    except OSError as exc:
        raise lg.UsageError(f"{what}: cannot read {path}: {exc.strerror}") from exc


@main.command("verify-consistency")
@click.argument("old_file", type=click.Path(dir_okay=False))
@click.argument("new_file", type=click.Path(dir_okay=False))
@click.option("--trust", required=True, help="Operator verifier key (vkey) or a file with it.")
@pass_ctx
def verify_consistency(ctx: Ctx, old_file: str, new_file: str, trust: str) -> None:
    """Check that the log only grew between two signed checkpoints (needs the ledger).

    \b
    Example:
      kpledger verify-consistency cp-old.txt cp-new.txt --trust operator.vkey
    """
    verifier = _trust(trust)
    old, _ = lg.open_checkpoint(_read_text(old_file, "OLD_CHECKPOINT"), verifier)
    new, _ = lg.open_checkpoint(_read_text(new_file, "NEW_CHECKPOINT"), verifier)
    from ledger.core import merkle

    if old.origin != new.origin:
        raise lg.ProofError(f"checkpoints are of different logs: {old.origin} and {new.origin}")
    if old.size > new.size:
        raise lg.ProofError(f"the old checkpoint ({old.size}) is larger than the new ({new.size})")
    p = ctx.ledger().consistency_proof(old.size, new.size)
    merkle.verify_consistency(old.size, new.size, old.root, new.root, p["proof"])
    if ctx.json:
        echo_json({"consistent": True, "old": old.size, "new": new.size})
    else:
        click.echo(f"consistent: size {old.size} -> {new.size}, the log only grew")


@main.command()
@click.argument("item")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Bundle file.")
@click.option(
    "--key",
    "key_file",
    help="Operator key: also attest that the item's state in the bundle is its latest.",
)
@pass_ctx
def prove(ctx: Ctx, item: str, output: str, key_file: str | None) -> None:
    """Write the self-contained provenance bundle of a parcel or stone.

    A node, or --key OPERATOR_KEY, adds a signed attestation that the bundle shows the
    item's latest state (so a bundle cut short fails verify-proof).

    \b
    Example:
      kpledger prove ST-001 -o ST-001.kpproof
    """
    key = load_key(ctx, key_file) if key_file else None
    data = ctx.ledger().prove(item, key)
    Path(output).write_bytes(data)
    if ctx.json:
        echo_json({"item": item, "file": output, "bytes": len(data)})
    else:
        click.echo(f"wrote {output} ({len(data)} bytes)")


@main.command("verify-proof")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--trust", required=True, help="Operator verifier key (vkey) or a file with it.")
@click.option("--policy", "policy_file", type=click.Path(dir_okay=False), help="Policy file.")
@click.option("--deny-origin", help="Comma-separated countries the item must not contain.")
@click.option(
    "--latest",
    is_flag=True,
    help="Also ask --ledger (a mirror file or a node URL) whether the item has later events.",
)
@click.option(
    "--require-latest",
    is_flag=True,
    help="Fail unless the operator attests in the bundle that it shows the latest state.",
)
@pass_ctx
def verify_proof(
    ctx: Ctx,
    file: str,
    trust: str,
    policy_file: str | None,
    deny_origin: str | None,
    latest: bool,
    require_latest: bool,
) -> None:
    """Verify a provenance bundle offline: no ledger, no network, only the trusted key.

    A bundle proves the item's history up to its last event in the bundle. That this is
    the item's latest state (no later sale, say) is proven only by the operator's
    attestation in the bundle (checked when present; --require-latest demands it) or,
    online, by --latest.

    \b
    Example:
      kpledger verify-proof ST-001.kpproof --trust operator.vkey --deny-origin RU
      kpledger --ledger https://kp.example.org verify-proof ST-001.kpproof \\
          --trust operator.vkey --latest
    """
    verifier = _trust(trust)
    from ledger.core.policy import parse_policy

    pol = parse_policy(_read_text(policy_file, "--policy")) if policy_file else None
    deny = (
        [_country(c, "--deny-origin") for c in parse.id_list(deny_origin, "--deny-origin")]
        if deny_origin
        else []
    )
    data = parse.read_limited(file, MAX_BUNDLE_FILE, "FILE")
    report = lg.inspect_bundle(data, verifier, buyer_policy=pol, deny_origins=deny)
    if require_latest and not report.latest_attested:
        report.policy_failures.append(
            "the bundle carries no operator attestation that it shows the item's latest state "
            "(make it with 'prove --key OPERATOR_KEY' or from a node, or check with --latest)"
        )
    if latest:
        led = ctx.ledger()
        if led.origin != report.origin:
            raise lg.ProofError(f"--ledger is {led.origin!r}, the bundle is of {report.origin!r}")
        head = led.parcel(report.item)["head"]
        if head.hex() != report.head:
            record, entry = led.entry(head)
            report.policy_failures.append(
                f"the ledger has later events of {report.item} than the bundle shows "
                f"(latest: record {record.index}, {entry.type}); the bundle is stale or truncated"
            )
    if ctx.json:
        echo_json(report_to_json(report))
    else:
        click.echo(format_report(report))
    if not report.ok:
        raise lg.PolicyError("; ".join(report.policy_failures), rule="R-SA-1")


def run() -> None:  # pragma: no cover - console entry point
    main(prog_name="kpledger")


# Commands defined in other modules register themselves on import.
from cli import demo as _demo  # noqa: E402

main.add_command(_demo.demo)
from cli import simulate_cmd as _sim  # noqa: E402

main.add_command(_sim.simulate)
from cli import node_cmds as _node  # noqa: E402

_node.register(main)
from cli import report as _report  # noqa: E402

main.add_command(_report.report)
