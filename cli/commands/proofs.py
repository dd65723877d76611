"""Checkpoints and proofs: ``checkpoint``, ``proof``, ``verify-consistency``, ``prove``,
``verify-proof``.

The operator signs checkpoints; anyone prints RFC 9162 proofs, checks that the log only
grew, writes an item's provenance bundle, and verifies one offline with only the
operator's verifier key. Every check is a library call (``lg.verify_consistency``,
``lg.inspect_bundle``, ``lg.latest_failure``); this module reads the files named on the
command line and prints the verdict, and does no hashing or proof arithmetic itself.
"""

from __future__ import annotations

from typing import Any

import click

import ledger as lg
from cli import parse
from cli.context import (
    Ctx,
    fail_usage,
    index_range,
    load_key,
    load_policy,
    now_ms,
    output_option,
    pass_ctx,
    policy_option,
    read_text,
    write_output,
)
from cli.context import trust as trusted
from cli.render import b64, echo_json, format_report, report_to_json


@click.command()
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
        echo_json({"origin": cp.origin, "size": cp.size, "root": b64(cp.root), "note": text})
    else:
        click.echo(text, nl=False)


@click.group()
def proof() -> None:
    """Print RFC 9162 inclusion and consistency proofs.

    \b
    Example:
      kpledger --json proof inclusion 12 --size 40
    """


@proof.command("inclusion")
@click.argument("index", type=index_range())
@click.option("--size", type=index_range(1), help="Tree size (default: current).")
@pass_ctx
def proof_inclusion(ctx: Ctx, index: int, size: int | None) -> None:
    """Inclusion proof of record INDEX in the tree of SIZE leaves.

    \b
    Example:
      kpledger proof inclusion 3 --size 8
    """
    p = ctx.ledger().inclusion_proof(index, size)
    data = {
        "leaf_index": p["leaf_index"],
        "tree_size": p["tree_size"],
        "leaf_hash": b64(p["leaf_hash"]),
        "root": b64(p["root"]),
        "proof": [b64(h) for h in p["proof"]],
    }
    if ctx.json:
        echo_json(data)
    else:
        click.echo(
            f"index {data['leaf_index']}\nsize {data['tree_size']}\nleaf {data['leaf_hash']}"
        )
        click.echo(f"root {data['root']}")
        for h in data["proof"]:
            click.echo(h)


@proof.command("consistency")
@click.argument("old", type=index_range())
@click.argument("new", type=index_range())
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
        "root1": b64(p["root1"]),
        "root2": b64(p["root2"]),
        "proof": [b64(h) for h in p["proof"]],
    }
    if ctx.json:
        echo_json(data)
    else:
        click.echo(f"old {old} {data['root1']}\nnew {new} {data['root2']}")
        for h in data["proof"]:
            click.echo(h)


@click.command("verify-consistency")
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
    verifier = trusted(trust)
    old_note = read_text(old_file, "OLD_CHECKPOINT")
    new_note = read_text(new_file, "NEW_CHECKPOINT")
    old, new = lg.verify_consistency(ctx.ledger(), old_note, new_note, verifier)
    if ctx.json:
        echo_json({"consistent": True, "old": old, "new": new})
    else:
        click.echo(f"consistent: size {old} -> {new}, the log only grew")


@click.command()
@click.argument("item")
@output_option("Bundle file")
@click.option(
    "--key",
    "key_file",
    help="Operator key: also attest that the item's state in the bundle is its latest.",
)
@click.option(
    "--disclose",
    metavar="FIELDS",
    help="Comma-separated committed fields to disclose from the openings you hold: price, "
    "value (certificate values), all, or transfer.price, sell.price, certificate.issue.value.",
)
@pass_ctx
def prove(ctx: Ctx, item: str, output: str, key_file: str | None, disclose: str | None) -> None:
    """Write the self-contained provenance bundle of a parcel or stone.

    The bundle proves the item's latest state as of the latest checkpoint (state-map
    proofs). A node, or --key OPERATOR_KEY, also adds the operator's signed attestation.
    Prices and declared values are in it only as commitments; --disclose adds the
    openings you hold of the fields named, which any verifier checks.

    \b
    Example:
      kpledger prove ST-001 -o ST-001.kpproof
      kpledger prove ST-001 -o ST-001.kpproof --disclose price
      kpledger prove ST-001 -o - | sha256sum
    """
    labels = lg.fields_named(disclose.split(",")) if disclose else set()
    key = load_key(ctx, key_file) if key_file else None
    data = ctx.ledger().prove(item, key)
    summary: dict[str, Any] = {"item": item, "bytes": len(data)}
    if labels:
        chosen = [c for label, c in lg.bundle_commitments(data) if label in labels]
        keeper = ctx.openings()
        held = keeper.get(chosen) if keeper is not None else []
        if held:
            data = lg.add_disclosures(data, held)
        summary.update(bytes=len(data), disclosed=len(held), not_held=len(set(chosen)) - len(held))
        ctx.info(
            f"disclosed {len(held)} of {len(set(chosen))} committed "
            f"{'/'.join(sorted(labels))} value(s) of the bundle"
            + ("" if len(held) == len(set(chosen)) else " (the others' openings are not yours)")
        )
    write_output(ctx, output, data, summary, f"{len(data)} bytes")


@click.command("verify-proof")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--trust", required=True, help="Operator verifier key (vkey) or a file with it.")
@policy_option
@click.option("--deny-origin", help="Comma-separated countries the item must not contain.")
@click.option(
    "--latest",
    is_flag=True,
    help="Also ask --ledger (a mirror file or a node URL) whether the item has later events.",
)
@click.option(
    "--require-latest",
    is_flag=True,
    help="Kept for old scripts: every bundle proves the latest state (state map).",
)
@pass_ctx
def verify_proof(
    ctx: Ctx,
    file: str,
    trust: str,
    policy_file: str | None,
    as_of: str | None,
    deny_origin: str | None,
    latest: bool,
    require_latest: bool,
) -> None:
    """Verify a provenance bundle offline: no ledger, no network, only the trusted key.

    A bundle proves the item's history and, through the ledger's state map, that this
    is the item's latest state as of the bundle's checkpoint (no later sale, say): a
    bundle cut short or relabelled fails. Whether the item changed after the checkpoint
    is checked online with --latest (a stale bundle fails).

    \b
    Example:
      kpledger verify-proof ST-001.kpproof --trust operator.vkey --deny-origin RU
      kpledger verify-proof ST-001.kpproof --trust operator.vkey --policy eu-russia
      kpledger --ledger https://kp.example.org verify-proof ST-001.kpproof \\
          --trust operator.vkey --latest
    """
    verifier = trusted(trust)
    pol = load_policy(policy_file)
    deny = parse.countries(deny_origin, "--deny-origin") if deny_origin else []
    day = parse.date(as_of, "--as-of") if as_of else lg.date_of(now_ms())
    data = parse.read_limited(file, lg.MAX_BUNDLE_SIZE, "FILE")
    report = lg.inspect_bundle(
        data,
        verifier,
        buyer_policy=pol,
        deny_origins=deny,
        require_latest=require_latest,
        as_of=day,
    )
    if latest:
        stale = lg.latest_failure(ctx.ledger(), report)
        if stale is not None:
            report.stale = stale
            report.fail("R-PF-1", stale)
    if ctx.json:
        echo_json(report_to_json(report))
    else:
        click.echo(format_report(report))
    report.raise_if_failed()


COMMANDS: tuple[click.Command, ...] = (
    checkpoint,
    proof,
    verify_consistency,
    prove,
    verify_proof,
)
