"""CLI commands of the node (specs/node.md): serve, publish, sync and witness.

``cli.main`` registers them with :func:`register`. They reach ``cli.main`` (the ``Ctx``,
key loading) only when they run, so importing this module first is harmless.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import click

import ledger as lg

if TYPE_CHECKING:
    from cli.main import Ctx
    from ledger.core.policy import Witness as PolicyWitness


def is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


def _split_listen(listen: str) -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535 or not host:
        raise lg.UsageError(f"--listen: expected HOST:PORT, got {listen!r}")
    return host.strip("[]"), int(port)


def _local_path(ctx: Ctx, command: str) -> str:
    if is_url(ctx.ledger_path):
        raise lg.UsageError(f"{command} needs a ledger file (--ledger FILE), not a node URL")
    return ctx.ledger_path


def _file_ledger(ctx: Ctx) -> lg.Ledger:
    led = ctx.ledger()
    if not isinstance(led, lg.Ledger):
        raise lg.UsageError("this command needs a ledger file (--ledger FILE), not a node URL")
    return led


def _key(ctx: Ctx, path: str) -> lg.PrivateKey:
    from cli.main import load_key

    return load_key(ctx, path)


def _vkeys(values: tuple[str, ...]) -> list[lg.Verifier]:
    from cli.main import _trust

    return [_trust(v) for v in values]


def _read(path: str, what: str) -> str:
    from cli.main import _read_text

    return _read_text(path, what)


def _echo_json(value: object) -> None:
    from cli.render import echo_json

    echo_json(value)


# ---------------------------------------------------------------------------
# serve / publish / sync


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
@click.option(
    "--rate",
    default=50.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Requests per second per client IP (0: unlimited).",
)
@click.option(
    "--burst",
    default=100,
    show_default=True,
    type=click.IntRange(min=1),
    help="Requests a client IP may make at once before --rate applies.",
)
@click.option(
    "--max-body",
    default=1 << 20,
    show_default=True,
    type=click.IntRange(min=1024),
    help="Largest request body in bytes.",
)
@click.pass_obj
def serve(
    ctx: Ctx,
    key_file: str | None,
    listen: str,
    policy_file: str | None,
    rate: float,
    burst: int,
    max_body: int,
) -> None:
    """Serve the ledger over HTTP: append signed entries, read, prove, tlog-tiles.

    Writes need no password: each entry is authorised by the signatures it carries.
    The node signs a checkpoint after every append. OpenAPI at /openapi.json, docs at
    /docs. Stop it with Ctrl-C (or SIGTERM).

    \b
    Example:
      kpledger --ledger kp.db serve --key keys/operator.key --listen 127.0.0.1:8080
      kpledger --ledger http://127.0.0.1:8080 history JW-1
    """
    from ledger.core.policy import parse_policy
    from ledger.net import node

    path = _local_path(ctx, "serve")
    host, port = _split_listen(listen)
    key = _key(ctx, key_file) if key_file else None
    witnesses: tuple[PolicyWitness, ...] = ()
    if policy_file:
        witnesses = parse_policy(_read(policy_file, "--policy")).witnesses
    n = node.Node(path, key, limits=node.Limits(max_body, rate, burst), witnesses=witnesses)
    mode = "read-only mirror" if key is None else "operator node"
    try:
        node.serve(
            n,
            host,
            port,
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
@click.pass_obj
def publish(ctx: Ctx, directory: str, key_file: str | None) -> None:
    """Write the log as C2SP tlog-tiles (checkpoint, tiles, entry bundles) to a directory.

    Any static web server can then host DIR; 'kpledger sync' mirrors it like a node.
    The log is published at its latest checkpoint; full tiles already there are kept.

    \b
    Example:
      kpledger --ledger kp.db publish --to /var/www/kp --key keys/operator.key
    """
    from ledger.net.mirror import publish as do_publish

    _local_path(ctx, "publish")
    led = _file_ledger(ctx)
    if key_file:
        led.checkpoint(_key(ctx, key_file))
    report = do_publish(led, directory)
    if ctx.json:
        _echo_json(
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
    "--trust", help="Operator vkey to pin on the first sync (default: trust on first use)."
)
@click.pass_obj
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
    from ledger.net.mirror import sync as do_sync

    path = _local_path(ctx, "sync")
    if not is_url(url):
        raise lg.UsageError(f"URL: expected http(s)://..., got {url!r}")
    pinned = _vkeys((trust,))[0] if trust else None
    report = do_sync(path, url, trust=pinned)
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
        _echo_json(
            {
                "url": url,
                "size": report.size,
                "added": added,
                "checkpoint": report.checkpoint,
                "trusted": report.trusted.vkey() if report.trusted else None,
            }
        )
    else:
        click.echo(
            f"synced {added} new record{'s' if added != 1 else ''} from {url}: "
            f"size {report.size}, checkpoint of size {cp.size} verified and consistent"
        )


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
@click.pass_obj
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
    from ledger.core import note
    from ledger.net.witness import Witness, parse_proof_text

    w = Witness(_key(ctx, key_file), state, _vkeys(trusted), name=name)
    text = _read(checkpoint_file, "CHECKPOINT_FILE")
    body = note.parse_checkpoint(note.parse_note(text).text)
    old = w.size(body.origin)
    proof = parse_proof_text(_read(proof_file, "--proof")) if proof_file else []
    if 0 < old < body.size and not proof:
        raise lg.UsageError(
            f"this witness last cosigned size {old} of {body.origin}: give --proof with the "
            f"output of 'kpledger proof consistency {old} {body.size}'"
        )
    line = w.add_checkpoint(old, proof, text)
    signed = note.add_signature(text, line)
    if ctx.json:
        _echo_json({"origin": body.origin, "size": body.size, "cosignature": line, "note": signed})
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
@click.pass_obj
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
    from ledger.net.witness import Witness, create_app, run_app

    host, port = _split_listen(listen)
    w = Witness(_key(ctx, key_file), state, _vkeys(trusted), name=name)
    run_app(
        create_app(w),
        host,
        port,
        ready=lambda url: click.echo(
            f"kpledger witness {w.name} ({w.verifier.vkey()}) listening on {url}", err=True
        ),
    )


@witness.command("vkey")
@click.argument("pubfile", type=click.Path(dir_okay=False))
@_name_option
@click.pass_obj
def witness_vkey(ctx: Ctx, pubfile: str, name: str | None) -> None:
    """Print a witness's cosigner verifier key (type 0x04) for policy files.

    \b
    Example:
      kpledger witness vkey keys/w1.pub --name witness.example/w1
    """
    from ledger.core.note import SIG_TYPE_COSIGNATURE_V1

    key_name, public = lg.load_public(pubfile)
    vkey = lg.format_vkey(name or key_name, public, sig_type=SIG_TYPE_COSIGNATURE_V1)
    if ctx.json:
        _echo_json({"vkey": vkey})
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
@click.pass_obj
def witness_submit(ctx: Ctx, file: str, vkeys: tuple[str, ...]) -> None:
    """Attach a witness's cosignatures to the ledger's stored checkpoint.

    \b
    Example:
      kpledger --ledger http://127.0.0.1:8080 witness submit cosigned.txt
    """
    from ledger.net.witness import attach_cosignatures

    text = _read(file, "FILE")
    if is_url(ctx.ledger_path):
        from ledger.net.client import NodeClient

        client = NodeClient(ctx.ledger_path)
        try:
            stored = client.request(
                "POST",
                "/add-cosignature",
                content=text.encode(),
                content_type="text/plain; charset=utf-8",
                accept="text/plain",
            ).text
        finally:
            client.close()
    else:
        if not vkeys:
            raise lg.UsageError("give the witness's --vkey to attach to a ledger file")
        led = _file_ledger(ctx)
        _, _, stored = attach_cosignatures(led.store, text, led.verifier(), _vkeys(vkeys))
    if ctx.json:
        _echo_json({"note": stored})
    else:
        click.echo(stored, nl=False)


def start_node_process(db: str, key_file: str) -> tuple[str, Callable[[], None]]:
    """Start ``kpledger --ledger DB serve`` on a free local port in a child process.

    Returns the node's URL (once it answers) and a function that stops it. The key's
    passphrase comes from ``KPLEDGER_PASSPHRASE`` (inherited).

    Raises:
        StoreError: the node did not start.
    """
    import re
    import subprocess
    import sys
    import time

    import httpx

    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and entry point
        [
            sys.executable,
            "-c",
            "from cli.main import run; run()",
            "--ledger",
            db,
            "serve",
            "--key",
            key_file,
            "--listen",
            "127.0.0.1:0",
            "--rate",
            "0",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )

    def stop() -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover - a hung node
                proc.kill()
                proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()

    line = proc.stderr.readline() if proc.stderr is not None else ""
    found = re.search(r"http://[0-9.]+:[0-9]+", line)
    deadline = time.monotonic() + 30
    while found is not None and proc.poll() is None and time.monotonic() < deadline:
        try:
            httpx.get(found.group(0) + "/api/info", timeout=2)
            return found.group(0), stop
        except httpx.HTTPError:
            time.sleep(0.05)
    stop()
    raise lg.StoreError(f"the node did not start: {line.strip()}")


def register(main: click.Group) -> None:
    """Add the node commands to the ``kpledger`` group."""
    for command in (serve, publish, sync, witness):
        main.add_command(command)
