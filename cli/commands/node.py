"""The network commands (specs/node.md): ``serve``, ``publish``, ``sync``, ``trust`` and
``witness``.

Serving a ledger file over HTTP, publishing it as static tlog-tiles, mirroring a node
into a verified local copy, and cosigning checkpoints as a witness. The work is the
network layer's (``ledger.net``: ``Node``, ``serve``, ``publish``, ``sync``, ``Witness``,
``submit_cosignatures``); this module parses options, unlocks keys and prints. It holds
no HTTP, storage or proof logic of its own.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

import ledger as lg
import ledger.net as lgnet
from cli.context import (
    Ctx,
    FiniteRange,
    is_url,
    load_key,
    pass_ctx,
    read_text,
    trust,
    trust_file,
)
from cli.render import echo_json

F = TypeVar("F", bound=Callable[..., Any])


def _split_listen(listen: str) -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535 or not host:
        raise lg.UsageError(f"--listen: expected HOST:PORT, got {listen!r}")
    return host.strip("[]"), int(port)


def _vkeys(values: tuple[str, ...]) -> list[lg.Verifier]:
    return [trust(v) for v in values]


# ---------------------------------------------------------------------------
# serve / publish / sync


def _limit(flag: str, default: float, kind: click.ParamType[Any], text: str) -> Callable[[F], F]:
    """A bounded numeric option of ``serve`` with its default shown."""
    return click.option(flag, default=default, show_default=True, type=kind, help=text)


@click.command()
@click.option("--key", "key_file", help="Operator key (omit it for a read-only mirror).")
@click.option(
    "--listen", default="127.0.0.1:8080", show_default=True, help="HOST:PORT (port 0: any)."
)
@click.option(
    "--policy",
    "policy_file",
    type=click.Path(dir_okay=False),
    help="Policy file: its witnesses' cosignatures are accepted; those with a URL are sent "
    "every new checkpoint.",
)
@_limit(
    "--rate",
    50.0,
    FiniteRange(0, 1_000_000),
    "Requests (and new connections) per second per client (0: unlimited).",
)
@_limit(
    "--burst",
    100,
    click.IntRange(1, 1_000_000),
    "Requests a client may make at once before --rate applies.",
)
@_limit("--max-body", 1 << 20, click.IntRange(1024, 1 << 30), "Largest request body in bytes.")
@click.option(
    "--tls-cert",
    type=click.Path(dir_okay=False),
    help="Serve HTTPS with this PEM certificate (chain); needs --tls-key.",
)
@click.option("--tls-key", type=click.Path(dir_okay=False), help="The certificate's PEM key.")
@click.option(
    "--trusted-proxy",
    "trusted_proxies",
    multiple=True,
    help="Address or network of a reverse proxy whose X-Forwarded-For is believed "
    "(repeatable; default: none, the header is ignored).",
)
@_limit(
    "--header-timeout",
    10.0,
    FiniteRange(0.1, 3600),
    "Seconds a request's line and headers may take to arrive.",
)
@_limit(
    "--body-timeout",
    30.0,
    FiniteRange(0.1, 3600),
    "Seconds a request's body may take to arrive after its headers.",
)
@_limit(
    "--max-connections",
    512,
    click.IntRange(1, 100_000),
    "Open connections in all (idle ones are closed first to make room).",
)
@_limit(
    "--max-client-connections",
    32,
    click.IntRange(1, 100_000),
    "Open connections one client address (an IPv6 /64) may hold.",
)
@pass_ctx
def serve(
    ctx: Ctx,
    key_file: str | None,
    listen: str,
    policy_file: str | None,
    rate: float,
    burst: int,
    max_body: int,
    tls_cert: str | None,
    tls_key: str | None,
    trusted_proxies: tuple[str, ...],
    header_timeout: float,
    body_timeout: float,
    max_connections: int,
    max_client_connections: int,
) -> None:
    """Serve the ledger over HTTP(S): append signed entries, read, prove, tlog-tiles.

    Writes need no password: each entry is authorised by the signatures it carries.
    The node signs a checkpoint after every append. OpenAPI at /openapi.json, docs at
    /docs. Stop it with Ctrl-C (or SIGTERM). Slow or flooding clients are cut off by
    the timeouts and connection caps; X-Forwarded-For counts only from a
    --trusted-proxy. A service gives the key's passphrase with --passphrase-file.

    \b
    Example:
      kpledger --ledger kp.db serve --key keys/operator.key --listen 127.0.0.1:8080
      kpledger --ledger kp.db --passphrase-file /run/secrets/kp serve --key op.key \\
          --listen 0.0.0.0:8443 --tls-cert node.pem --tls-key node-key.pem
      kpledger --ledger http://127.0.0.1:8080 --trust operator.vkey history JW-1
    """
    path = ctx.local_path("serve")
    host, port = _split_listen(listen)
    if (tls_cert is None) != (tls_key is None):
        raise lg.UsageError("--tls-cert and --tls-key go together")
    if max_client_connections > max_connections:
        raise lg.UsageError("--max-client-connections cannot exceed --max-connections")
    server = lgnet.ServerLimits(
        header_timeout=header_timeout,
        body_timeout=body_timeout,
        max_connections=max_connections,
        max_client_connections=max_client_connections,
        trusted_proxies=trusted_proxies,
    )
    tls = lgnet.TlsFiles(tls_cert, tls_key) if tls_cert and tls_key else None
    key = load_key(ctx, key_file) if key_file else None
    witnesses = lg.parse_policy(read_text(policy_file, "--policy")).witnesses if policy_file else ()
    limits = lgnet.Limits(max_body, rate, burst, server)
    n = lgnet.Node(path, key, limits=limits, witnesses=witnesses)
    mode = "read-only mirror" if key is None else "operator node"
    try:
        lgnet.serve(
            n,
            host,
            port,
            tls=tls,
            ready=lambda url: click.echo(
                f"kpledger {mode} for {n.ledger.origin} listening on {url} (API docs: {url}/docs)",
                err=True,
            ),
        )
    finally:
        n.close()


@click.command()
@click.option("--to", "directory", required=True, type=click.Path(file_okay=False))
@click.option("--key", "key_file", help="Operator key: sign a checkpoint of the current log first.")
@pass_ctx
def publish(ctx: Ctx, directory: str, key_file: str | None) -> None:
    """Write the log as C2SP tlog-tiles (checkpoint, tiles, entry bundles) to a directory.

    Any static web server can then host DIR; 'kpledger sync' mirrors it like a node.
    The log is published at its latest checkpoint; full tiles already there are kept.

    \b
    Example:
      kpledger --ledger kp.db publish --to /var/www/kp --key keys/operator.key
    """
    led = ctx.ledger_file("publish")
    if key_file:
        led.checkpoint(load_key(ctx, key_file))
    report = lgnet.publish(led, directory)
    if ctx.json:
        echo_json(
            {
                "directory": directory,
                "size": report.size,
                "written": report.written,
                "kept": report.kept,
            }
        )
    else:
        click.echo(
            f"published size {report.size} to {directory}: {report.written} files written, "
            f"{report.kept} full tiles kept"
        )


@click.command()
@click.argument("url")
@click.option(
    "--trust",
    help="Operator vkey (or a file) to pin; default: the global --trust, the trust file's "
    "pin for URL, or, on a first sync without either, the node's genesis (trust on first use).",
)
@pass_ctx
def sync(ctx: Ctx, url: str, trust: str | None) -> None:
    """Mirror a node (or a static tlog-tiles host) into the --ledger file, verifying it.

    Each sync checks the node's checkpoint with the mirror's operator key, its
    consistency with every checkpoint seen before, the new records against the signed
    root, and every new record with the rules engine. A node that rewrote its history or
    showed two different trees is refused; all checkpoints seen are kept as evidence.

    \b
    Example:
      kpledger --ledger mirror.db sync https://kp.example.org/ledger
    """
    path = ctx.local_path("sync")
    if not is_url(url):
        raise lg.UsageError(f"URL: expected http(s)://..., got {url!r}")
    pinned = _vkeys((trust,))[0] if trust else ctx.pinned_key(url)
    report = lgnet.sync(path, url, trust=pinned, ca_file=ctx.ca_file)
    if report.trusted is not None:
        kid = lg.key_id(report.trusted.public).hex()
        ctx.info(
            f"first sync: trusting the operator key named by {url}'s genesis on first use: "
            f"{report.trusted.vkey()} (key id {kid[:16]}); compare it with the operator's "
            "published key"
        )
    cp = lg.parse_checkpoint(lg.parse_note(report.checkpoint).text)
    added = report.size - report.old_size
    if ctx.json:
        echo_json(
            {
                "url": url,
                "size": report.size,
                "added": added,
                "checkpoint": report.checkpoint,
                "trusted": report.trusted.vkey() if report.trusted else None,
                "pinned": report.pinned,
            }
        )
    else:
        click.echo(
            f"synced {added} new record{'s' if added != 1 else ''} from {url}: "
            f"size {report.size}, checkpoint of size {cp.size} verified and consistent"
        )


# ---------------------------------------------------------------------------
# trust: the operator key pinned for each node URL


@click.group("trust")
def trust_group() -> None:
    """Pin the operator key of each node URL that remote commands use.

    Every command run with --ledger http(s)://... checks the node's genesis record,
    checkpoints and receipts against the key pinned for that URL (or given with the
    global --trust), and refuses a node that names another. Pins live in the trust
    file: KPLEDGER_TRUST_FILE, or ~/.config/kpledger/trust.

    \b
    Example:
      kpledger trust add https://kp.example.org          # shows the key, asks to confirm
      kpledger trust add https://kp.example.org --vkey operator.vkey
    """


@trust_group.command("add")
@click.argument("url")
@click.option("--vkey", help="The operator vkey (or a file) to pin; the node must match it.")
@click.option("--yes", is_flag=True, help="Pin the key the node shows without asking.")
@pass_ctx
def trust_add(ctx: Ctx, url: str, vkey: str | None, yes: bool) -> None:
    """Pin the operator key of the node at URL, after you confirm it.

    Reads the node's genesis record (record 0: the origin and operator key the whole
    ledger is signed under) and its checkpoint. With --vkey the node must name exactly
    that key, which is pinned. Otherwise the key is shown, with its key id, to compare
    with the one the operator published, and pinned only when you confirm (or --yes).

    \b
    Example:
      kpledger trust add https://kp.example.org
      kpledger trust add http://127.0.0.1:8080 --vkey operator.vkey
    """
    if not is_url(url):
        raise lg.UsageError(f"URL: expected http(s)://..., got {url!r}")
    key = lg.normalise_url(url)
    given = _vkeys((vkey,))[0] if vkey is not None else None
    client = lgnet.NodeClient(key, ca_file=ctx.ca_file)
    try:
        record, verifier, cp_text = lgnet.fetch_genesis(client)
    finally:
        client.close()
    if given is not None:
        lgnet.check_genesis(record.raw, key, given)
    lg.open_checkpoint(cp_text, verifier)  # the node's checkpoint is under that key
    kid = lg.key_id(verifier.public).hex()
    if vkey is None and not yes:
        click.echo(
            f"{key} names operator key:\n"
            f"  origin:  {verifier.name}\n"
            f"  vkey:    {verifier.vkey()}\n"
            f"  key id:  {kid}\n"
            "Compare the key id with the one the operator published (not with anything this "
            "node says).",
            err=True,
        )
        if not sys.stdin.isatty():
            raise lg.UsageError(
                "not pinned: confirm the key by running again with --yes after comparing it, "
                "or give the operator's --vkey"
            )
        if not click.confirm(f"Pin this operator key for {key}?", default=False, err=True):
            raise lg.UsageError("not pinned")
    path = trust_file()
    added = lg.add_pin(path, key, verifier.vkey())
    if ctx.json:
        echo_json(
            {"url": key, "vkey": verifier.vkey(), "key_id": kid, "file": path, "added": added}
        )
    else:
        what = "pinned" if added else "already pinned"
        click.echo(f"{what}: {key} -> {verifier.vkey()} (key id {kid[:16]}) in {path}")


@trust_group.command("list")
@pass_ctx
def trust_list(ctx: Ctx) -> None:
    """List the pinned node URLs and their operator keys.

    \b
    Example:
      kpledger trust list
    """
    pins = lg.read_pins(trust_file())
    if ctx.json:
        echo_json(
            [
                {"url": u, "vkey": v, "key_id": lg.key_id(lg.parse_vkey(v).public).hex()}
                for u, v in sorted(pins.items())
            ]
        )
        return
    for u, v in sorted(pins.items()):
        click.echo(f"{u} {v}")


@trust_group.command("remove")
@click.argument("url")
@pass_ctx
def trust_remove(ctx: Ctx, url: str) -> None:
    """Remove the pin of a node URL (before pinning a key the operator really changed).

    \b
    Example:
      kpledger trust remove https://kp.example.org
    """
    if not lg.remove_pin(trust_file(), url):
        raise lg.NotFoundError(f"no pin for {lg.normalise_url(url)} in {trust_file()}")
    ctx.info(f"removed the pin of {lg.normalise_url(url)}")


# ---------------------------------------------------------------------------
# witness


@click.group()
def witness() -> None:
    """Cosign checkpoints as a C2SP tlog-witness (offline, or as a service).

    \b
    Example:
      kpledger witness vkey keys/w1.pub --name witness.example/w1 > w1.vkey
      kpledger witness serve --key keys/w1.key --state w1.json --trust operator.vkey
    """


_state_option = click.option(
    "--state", required=True, type=click.Path(dir_okay=False), help="Witness state file (JSON)."
)
_trust_option = click.option(
    "--trust",
    "trusted",
    required=True,
    multiple=True,
    help="Log verifier key (vkey, or a file with it); repeatable.",
)
_name_option = click.option("--name", help="Cosigner key name (default: the key's name).")


@witness.command("cosign")
@click.option("--key", "key_file", required=True, help="The witness's private key.")
@_state_option
@_trust_option
@_name_option
@click.option(
    "--proof",
    "proof_file",
    type=click.Path(dir_okay=False),
    help="Consistency proof from the last cosigned size (output of 'kpledger proof consistency').",
)
@click.argument("checkpoint_file", type=click.Path(dir_okay=False))
@pass_ctx
def witness_cosign(
    ctx: Ctx,
    key_file: str,
    state: str,
    trusted: tuple[str, ...],
    name: str | None,
    proof_file: str | None,
    checkpoint_file: str,
) -> None:
    """Cosign a checkpoint if it is consistent with the last one this witness cosigned.

    Prints the checkpoint with the cosignature line added; the state file is updated
    (atomically) before. Attach it with 'kpledger witness submit'.

    \b
    Example:
      kpledger --ledger http://127.0.0.1:8080 proof consistency 40 52 > p.txt
      kpledger witness cosign --key w1.key --state w1.json --trust operator.vkey \\
          --proof p.txt checkpoint.txt > cosigned.txt
    """
    w = lgnet.Witness(load_key(ctx, key_file), state, _vkeys(trusted), name=name)
    text = read_text(checkpoint_file, "CHECKPOINT_FILE")
    body = lg.parse_checkpoint(lg.parse_note(text).text)
    old = w.size(body.origin)
    proof = lgnet.parse_proof_text(read_text(proof_file, "--proof")) if proof_file else []
    if 0 < old < body.size and not proof:
        raise lg.UsageError(
            f"this witness last cosigned size {old} of {body.origin}: give --proof with the "
            f"output of 'kpledger proof consistency {old} {body.size}'"
        )
    line = w.add_checkpoint(old, proof, text)
    signed = lg.add_note_signature(text, line)
    if ctx.json:
        echo_json({"origin": body.origin, "size": body.size, "cosignature": line, "note": signed})
    else:
        click.echo(signed, nl=False)


@witness.command("serve")
@click.option("--key", "key_file", required=True, help="The witness's private key.")
@_state_option
@_trust_option
@_name_option
@click.option(
    "--listen", default="127.0.0.1:8081", show_default=True, help="HOST:PORT (port 0: any)."
)
@pass_ctx
def witness_serve(
    ctx: Ctx, key_file: str, state: str, trusted: tuple[str, ...], name: str | None, listen: str
) -> None:
    """Run a tlog-witness: POST /add-checkpoint, GET /<sha256(origin)>/checkpoint.

    Name its URL in the node's policy file ('witness NAME VKEY URL') and start the node
    with --policy: it sends every new checkpoint here and keeps the cosignatures.

    \b
    Example:
      kpledger witness serve --key keys/w1.key --state w1.json --trust operator.vkey \\
          --listen 127.0.0.1:8081
    """
    host, port = _split_listen(listen)
    w = lgnet.Witness(load_key(ctx, key_file), state, _vkeys(trusted), name=name)
    lgnet.run_app(
        lgnet.create_witness_app(w),
        host,
        port,
        ready=lambda url: click.echo(
            f"kpledger witness {w.name} ({w.verifier.vkey()}) listening on {url}", err=True
        ),
    )


@witness.command("vkey")
@click.argument("pubfile", type=click.Path(dir_okay=False))
@_name_option
@pass_ctx
def witness_vkey(ctx: Ctx, pubfile: str, name: str | None) -> None:
    """Print a witness's cosigner verifier key (type 0x04) for policy files.

    \b
    Example:
      kpledger witness vkey keys/w1.pub --name witness.example/w1
    """
    key_name, public = lg.load_public(pubfile)
    vkey = lg.format_vkey(name or key_name, public, sig_type=lg.SIG_TYPE_COSIGNATURE_V1)
    if ctx.json:
        echo_json({"vkey": vkey})
    else:
        click.echo(vkey)


@witness.command("submit")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--vkey",
    "vkeys",
    multiple=True,
    help="Witness vkey to accept (needed for a ledger file; a node uses its policy).",
)
@pass_ctx
def witness_submit(ctx: Ctx, file: str, vkeys: tuple[str, ...]) -> None:
    """Attach a witness's cosignatures to the ledger's stored checkpoint.

    \b
    Example:
      kpledger --ledger http://127.0.0.1:8080 witness submit cosigned.txt
    """
    text = read_text(file, "FILE")
    if is_url(ctx.ledger_path):
        stored = lgnet.submit_cosignatures(ctx.ledger(), text)
    else:
        if not vkeys:
            raise lg.UsageError("give the witness's --vkey to attach to a ledger file")
        led = ctx.ledger_file()
        stored = lgnet.submit_cosignatures(led, text, _vkeys(vkeys))
    if ctx.json:
        echo_json({"note": stored})
    else:
        click.echo(stored, nl=False)


COMMANDS: tuple[click.Command, ...] = (serve, publish, sync, trust_group, witness)
