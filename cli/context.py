"""What every ``kpledger`` command shares: the global options and the ledger they name.

* :class:`Ctx` holds the global options (``--ledger``, ``--json``, ``--quiet``,
  ``--debug``) and opens the ledger on first use, typed as :class:`ledger.LedgerAPI`: a
  ledger file, or a :class:`ledger.net.RemoteLedger` when ``--ledger`` is an http(s) URL.
* :func:`load_key` unlocks key files (passphrase from ``--passphrase-fd``,
  ``--passphrase-file``, ``KPLEDGER_PASSPHRASE`` or a prompt).
* :meth:`Ctx.ledger` pins a node to one operator key (``--trust``, ``KPLEDGER_TRUST`` or
  the trust file, :func:`trust_file`): a remote command never trusts a node on first use.
* :func:`entry_options`, :func:`sign` and :func:`emit` are the shared path of every
  command that makes an entry: :func:`emit` is the one place that appends or writes
  ``--out``.
* :func:`trust` and :func:`read_text` read a verifier key and a text file given on the
  command line.

It defines no command and does not import ``cli.app`` or any ``cli.commands`` module, so
every command module can import it. What a ledger does on append, checkpoint or verify is
the library's (``ledger``); this module only calls it and prints the outcome.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

import ledger as lg
from cli.render import echo_json, format_entry

if TYPE_CHECKING:
    from ledger.net import RemoteLedger

F = TypeVar("F", bound=Callable[..., Any])


def now_ms() -> int:
    """The wall clock in milliseconds since the epoch (the library takes time as a value)."""
    return time.time_ns() // 1_000_000


def is_url(text: str) -> bool:
    """Whether ``--ledger`` names a node rather than a file."""
    return text.startswith(("http://", "https://"))


def fail_usage(message: str) -> NoReturn:
    raise lg.UsageError(message)


# ---------------------------------------------------------------------------
# Bounded numeric options: every number a command takes has a range (docs/cli.md shows it)

#: The largest record index, tree size or count a ledger can hold (SQLite's INTEGER).
MAX_INDEX = (1 << 63) - 1


def index_range(min_value: int = 0, max_value: int = MAX_INDEX) -> click.IntRange:
    """An integer option or argument between ``min_value`` and ``max_value``."""
    return click.IntRange(min_value, max_value)


class FiniteRange(click.FloatRange):
    """A :class:`click.FloatRange` that also refuses ``nan`` and ``inf`` (which pass any
    ``<``/``>`` bound check of click's own)."""

    name = "finite float range"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(
                f"{value!r} is not a finite number in the range {self._describe_range()}",
                param,
                ctx,
            )
        return number


class Ctx:
    """Global options, shared by every command."""

    def __init__(
        self,
        ledger_path: str,
        as_json: bool,
        quiet: bool,
        debug: bool,
        *,
        trust: str | None = None,
        ca_file: str | None = None,
        passphrase_file: str | None = None,
        passphrase_fd: int | None = None,
        openings_path: str | None = None,
    ) -> None:
        self.ledger_path = ledger_path
        self.openings_path = openings_path
        self._openings: lg.OpeningStore | None = None
        self.json = as_json
        self.quiet = quiet
        self.debug = debug
        self.dry_run = False  # set by --dry-run on the command (see dry_run_option)
        self.trust = trust
        self.ca_file = ca_file
        self.passphrase_file = passphrase_file
        self.passphrase_fd = passphrase_fd
        self._passphrase: str | None = None
        self._file: lg.Ledger | None = None
        self._remote: RemoteLedger | None = None

    def ledger(self) -> lg.LedgerAPI:
        """The ledger file, or a node when --ledger is an http(s) URL (specs/node.md),
        pinned to the operator key of :meth:`pinned_key`."""
        if is_url(self.ledger_path):
            if self._remote is None:
                from ledger.net import RemoteLedger

                self._remote = RemoteLedger(
                    self.ledger_path,
                    trust=self.required_pin(self.ledger_path),
                    ca_file=self.ca_file,
                )
            return self._remote
        return self.ledger_file()

    def pinned_key(self, url: str) -> lg.Verifier | None:
        """The operator key pinned for the node ``url``: ``--trust`` (or
        ``KPLEDGER_TRUST``), else its line in the trust file; None if neither names one."""
        if self.trust:
            return trust(self.trust)
        vkey = lg.read_pins(trust_file()).get(lg.normalise_url(url))
        return None if vkey is None else lg.parse_vkey(vkey)

    def required_pin(self, url: str) -> lg.Verifier:
        """:meth:`pinned_key`, required: remote commands never trust a node on first use.

        Raises:
            UsageError: no key is pinned for ``url``.
        """
        pin = self.pinned_key(url)
        if pin is None:
            raise lg.UsageError(
                f"no operator key is pinned for {url}: run 'kpledger trust add {url}' (it shows "
                "the node's operator key for you to compare and confirm), or pass --trust "
                "OPERATOR_VKEY"
            )
        return pin

    def local_path(self, command: str = "this command") -> str:
        """The --ledger path, for a command that works on a file only.

        Raises:
            UsageError: --ledger is a node URL.
        """
        if is_url(self.ledger_path):
            raise lg.UsageError(f"{command} needs a ledger file (--ledger FILE), not a node URL")
        return self.ledger_path

    def ledger_file(self, command: str = "this command") -> lg.Ledger:
        """The --ledger file, opened (see :meth:`local_path`)."""
        path = self.local_path(command)
        if self._file is None:
            self._file = lg.Ledger.open(path)
        return self._file

    def openings(self, *, required: bool = False) -> lg.OpeningStore | None:
        """Where this party keeps the openings of its committed money fields
        (specs/disclosure.md §4): ``--openings FILE`` if given, else the ledger file's own
        table; None for a node URL without ``--openings`` (a node keeps none).

        Raises:
            UsageError: ``required`` and there is nowhere to keep them.
        """
        if self._openings is None:
            if self.openings_path is not None:
                self._openings = lg.OpeningStore.open_file(self.openings_path)
            elif not is_url(self.ledger_path):
                return self.ledger_file().openings()
            elif required:
                raise lg.UsageError(
                    "this entry commits a money value: with a node URL, keep its opening "
                    "(value and salt) with --openings FILE, or write the entry with --out "
                    "(a node keeps no openings)"
                )
        return self._openings

    def close(self) -> None:
        for led in (self._file, self._remote):
            if led is not None:
                led.close()
        self._file = None
        self._remote = None
        if self._openings is not None:
            self._openings.close()
            self._openings = None

    def info(self, message: str) -> None:
        """A diagnostic line on stderr (silenced by --quiet)."""
        if not self.quiet:
            click.echo(message, err=True)

    def given_passphrase(self) -> str | None:
        """The passphrase from ``--passphrase-fd``, ``--passphrase-file`` or
        ``KPLEDGER_PASSPHRASE``, in that order (read once); None if none is given.

        Raises:
            KeyFileError: the descriptor or file cannot be read, or the file is readable
                by group or others.
        """
        if self._passphrase is None:
            if self.passphrase_fd is not None:
                self._passphrase = lg.read_passphrase_fd(self.passphrase_fd)
            elif self.passphrase_file is not None:
                self._passphrase = lg.read_passphrase_file(self.passphrase_file)
            else:
                return os.environ.get("KPLEDGER_PASSPHRASE")
        return self._passphrase


def trust_file() -> str:
    """Where pins are kept: ``KPLEDGER_TRUST_FILE``, else ``$XDG_CONFIG_HOME/kpledger/trust``
    (``~/.config/kpledger/trust``)."""
    explicit = os.environ.get("KPLEDGER_TRUST_FILE")
    if explicit:
        return explicit
    config = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(config, "kpledger", "trust")


pass_ctx = click.make_pass_decorator(Ctx)


# ---------------------------------------------------------------------------
# Keys


def passphrase_source(ctx: Ctx, path: str) -> Callable[[], str]:
    """Where the passphrase of the key file ``path`` comes from, asked only if encrypted:
    ``--passphrase-fd``, ``--passphrase-file``, ``KPLEDGER_PASSPHRASE``, else a prompt
    when standard input is a terminal (specs/keys.md §5)."""

    def get() -> str:
        given = ctx.given_passphrase()
        if given is not None:
            return given
        if not sys.stdin.isatty():
            raise lg.KeyFileError(
                f"{path} is encrypted: give --passphrase-file or --passphrase-fd, set "
                "KPLEDGER_PASSPHRASE, or run in a terminal"
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
    """Unlock the private key file ``path`` (cached by path and content if enabled)."""
    if _KEY_CACHE is None:
        return lg.load_private(path, passphrase_source(ctx, path))
    try:
        content = Path(path).read_bytes()
    except OSError:
        return lg.load_private(path, passphrase_source(ctx, path))
    cache_key = (os.path.abspath(path), content)
    if cache_key not in _KEY_CACHE:
        _KEY_CACHE[cache_key] = lg.load_private(path, passphrase_source(ctx, path))
    return _KEY_CACHE[cache_key]


# ---------------------------------------------------------------------------
# Readers of command-line files


def trust(value: str) -> lg.Verifier:
    """A verifier key given inline or as a file holding one."""
    text = value
    if "+" not in value or os.path.exists(value):
        try:
            text = Path(value).read_text().strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise lg.UsageError(f"--trust: cannot read verifier key file {value}") from exc
    return lg.parse_vkey(text)


def read_text(path: str, what: str) -> str:
    """The UTF-8 text of ``path``, named ``what`` in errors."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise lg.ProofError(f"{what}: {path} is not UTF-8 text") from exc
    except OSError as exc:
        raise lg.UsageError(f"{what}: cannot read {path}: {exc.strerror}") from exc


def output_option(what: str) -> Callable[[F], F]:
    """``-o/--output FILE`` of the commands that write a file; ``-`` means stdout."""
    option: Callable[[F], F] = click.option(
        "-o",
        "--output",
        required=True,
        type=click.Path(dir_okay=False, allow_dash=True),
        help=f"{what} to write ('-' for stdout).",
    )
    return option


def write_output(ctx: Ctx, output: str, data: bytes, summary: dict[str, Any], note: str) -> None:
    """Write ``data`` to ``output`` (``-``: stdout) and say so.

    The data is the only thing on stdout; what was written is a diagnostic on stderr
    ("wrote FILE (NOTE)", silenced by --quiet), or with --json the ``summary`` object on
    stdout (on stderr when the data itself went to stdout).
    """
    if output == "-":
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        if ctx.json:
            click.echo(json.dumps(summary), err=True)
        else:
            ctx.info(f"wrote {len(data)} bytes to stdout ({note})")
        return
    try:
        Path(output).write_bytes(data)
    except OSError as exc:
        raise lg.UsageError(f"cannot write {output}: {exc.strerror}") from exc
    if ctx.json:
        echo_json({**summary, "file": output})
    else:
        ctx.info(f"wrote {output} ({note})")


def load_policy(value: str | None) -> lg.Policy | None:
    """``--policy``: a policy file, or the name of a jurisdiction rule pack (``eu-russia``,
    ``us-russia``) when no file of that name exists."""
    if value is None:
        return None
    if value in lg.PACKS and not os.path.exists(value):
        return lg.named_policy(value)
    return lg.parse_policy(read_text(value, "--policy"))


def policy_option(f: F) -> F:
    """``--policy`` and ``--as-of`` of the commands that judge an item."""
    f = click.option(
        "--as-of",
        help="Judge the policy on this date (YYYY-MM-DD; default: today).",
    )(f)
    return click.option(
        "--policy",
        "policy_file",
        help="Policy file, or a rule pack: eu-russia, us-russia.",
    )(f)


# ---------------------------------------------------------------------------
# Entry-producing commands: shared options and the one place that appends


def _set_dry_run(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(Ctx).dry_run = True


def dry_run_option(f: F) -> F:
    """``--dry-run``: check every rule as the append would, show the outcome, write nothing."""
    option: Callable[[F], F] = click.option(
        "--dry-run",
        is_flag=True,
        expose_value=False,
        callback=_set_dry_run,
        help="Check every rule and show what would be appended; write nothing.",
    )
    return option(f)


def entry_options(f: F) -> F:
    """``--key``, ``--checkpoint-key``, ``--out`` and ``--dry-run``, the options of every
    signed entry."""
    f = dry_run_option(f)
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


def sign(
    ctx: Ctx, key_file: str, entry_type: str, fields: dict[str, Any], **kw: Any
) -> lg.SignedEntry:
    """Sign an entry of this ledger's origin with the key in ``key_file`` (not appended)."""
    k = load_key(ctx, key_file)
    return ctx.ledger().sign(entry_type, fields, k, now=now_ms(), **kw)


def emit(
    ctx: Ctx,
    entries: Sequence[lg.SignedEntry],
    out: str | None,
    checkpoint_key: str | None = None,
) -> None:
    """Append (or write to --out) signed entries and report ids and warnings.

    With ``--dry-run`` the entries are checked as the append would check them and what
    would be appended is shown; nothing is written, and no checkpoint signed.
    """
    if ctx.dry_run:
        if out is not None or checkpoint_key is not None:
            raise lg.UsageError("--dry-run writes nothing: drop --out and --checkpoint-key")
        checked = ctx.ledger().check(entries, now=now_ms())
        if ctx.json:
            echo_json(
                {
                    "dry_run": True,
                    "entries": [
                        {
                            "id": a.entry.id.hex(),
                            "index": a.index,
                            "type": a.entry.type,
                            "fields": lg.entry_to_json(a.entry)["fields"],
                            "warnings": [
                                {"rule": w.rule, "message": w.message} for w in a.warnings
                            ],
                        }
                        for a in checked
                    ],
                }
            )
            return
        for a in checked:
            data = lg.entry_to_json(a.entry)
            name = ctx.ledger().signer_name(a.entry.body.signer)
            data.update(index=a.index, appended=now_ms(), signer_name=name)
            data["warnings"] = [{"rule": w.rule, "message": w.message} for w in a.warnings]
            click.echo(f"would append record {a.index}:")
            click.echo(format_entry(data))
        ctx.info("dry run: every rule checked; nothing was written")
        return
    led = ctx.ledger()
    openings = led.pending_openings(entries)
    if out is not None:
        # Every rule this ledger (a file, a node or a context file) can check, before the
        # entry leaves the machine: a refused entry is never written. A registry change
        # short of its governors' signatures is a proposal: written, to be co-signed.
        try:
            ctx.ledger().check(entries, now=now_ms())
        except lg.LedgerError as exc:
            if exc.rule != "R-GV-1":
                raise
            ctx.info(
                f"proposal: {exc.message}; co-sign it with 'kpledger governance sign', then "
                "'kpledger governance submit'"
            )
        # The entry file carries the openings: the counterparty's copy (specs/disclosure.md).
        lg.write_entry_file(out, entries, openings)
        if ctx.json:
            echo_json([{"id": e.id.hex(), "type": e.type, "file": out} for e in entries])
        else:
            for e in entries:
                click.echo(e.id.hex())
            ctx.info(
                f"wrote {len(entries)} signed entr{'y' if len(entries) == 1 else 'ies'} to {out}"
            )
        return
    # A ledger file keeps the openings of what it appends; with a node, --openings does.
    separate = is_url(ctx.ledger_path) or ctx.openings_path is not None
    keeper = ctx.openings(required=True) if openings and separate else None
    # Unlock the checkpoint key first: a wrong passphrase must not leave a half-done job.
    operator = load_key(ctx, checkpoint_key) if checkpoint_key is not None else None
    cp = None
    if len(entries) >= 100 and sys.stderr.isatty() and not ctx.quiet and not ctx.json:
        with click.progressbar(length=len(entries), label="appending", file=sys.stderr) as bar:
            done, cp = lg.append_entries(
                led, entries, now=now_ms(), checkpoint_key=operator, progress=bar.update
            )
    else:
        done, cp = lg.append_entries(led, entries, now=now_ms(), checkpoint_key=operator)
    if keeper is not None:
        keeper.add(openings)
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
