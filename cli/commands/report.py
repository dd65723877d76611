"""``kpledger report``: write the buyer's HTML provenance page of a stone or parcel.

The bundle (a file, or made by the ledger) is verified first by the library
(``lg.inspect_bundle``); nothing is written if it fails. The page itself is
``cli.report.render_report``'s; this module reads the options and files, writes the page
and prints the verdict.
"""

from __future__ import annotations

import os
import urllib.parse
from pathlib import Path

import click

import ledger as lg
from cli import parse
from cli.context import (
    Ctx,
    load_policy,
    now_ms,
    output_option,
    pass_ctx,
    policy_option,
    write_output,
)
from cli.context import trust as trusted
from cli.render import failure_json
from cli.report import render_report


@click.command("report")
@click.argument("item")
@output_option("HTML file")
@click.option(
    "--bundle",
    "bundle_file",
    type=click.Path(dir_okay=False),
    help="Report on this bundle file instead of the ledger (needs --trust).",
)
@click.option(
    "--trust",
    help="Operator verifier key (vkey) or a file with it (default: the ledger's own key).",
)
@click.option("--deny-origin", help="Comma-separated countries the item must not contain.")
@click.option(
    "--latest",
    is_flag=True,
    help="With --bundle: also ask --ledger (a mirror or a node) whether the item changed since.",
)
@click.option(
    "--verify-url",
    help="URL of a hosted verify.html: the QR code opens it with the bundle's SHA-256.",
)
@policy_option
@pass_ctx
def report(
    ctx: Ctx,
    item: str,
    output: str,
    bundle_file: str | None,
    trust: str | None,
    deny_origin: str | None,
    latest: bool,
    verify_url: str | None,
    policy_file: str | None,
    as_of: str | None,
) -> None:
    """Write a self-contained HTML provenance report of a verified stone or parcel.

    The bundle is verified first (as verify-proof does); nothing is written if it
    fails. The page shows the verdict and policy, the journey graph with every KP
    certificate, the origin composition, the cutting yield, every warning in plain
    words, the checkpoint the latest state is proven at (its time, if a witness cosigned
    it), and a QR code of the bundle's SHA-256 with the command that re-checks it. The
    page embeds the bundle and the browser verifier: opening it re-checks the proof in
    the browser (with the operator key and policy of this run) and says so apart from
    this run's verdict. With --verify-url, the QR code opens that hosted verify.html with
    the bundle's SHA-256 (URL#sha256=...).
    With --latest, a bundle whose item changed after its checkpoint is shown STALE.
    If the policy fails or the bundle is stale, the page is written and the exit code is 1.

    \b
    Example:
      kpledger report ST-0001 -o ST-0001.html
      kpledger report ST-0001 -o ST-0001.html --bundle ST-0001.kpproof \\
          --trust operator.vkey --deny-origin RU
    """
    pol = load_policy(policy_file)
    if verify_url is not None and not _web_url(verify_url):
        raise lg.UsageError("--verify-url must be an http(s) URL without a #fragment")
    deny = parse.countries(deny_origin, "--deny-origin") if deny_origin else []
    day = parse.date(as_of, "--as-of") if as_of else lg.date_of(now_ms())
    if bundle_file is not None:
        if trust is None:
            raise lg.UsageError("--bundle needs --trust (the operator's verifier key)")
        verifier = trusted(trust)
        data = parse.read_limited(bundle_file, lg.MAX_BUNDLE_SIZE, "--bundle")
    else:
        led = ctx.ledger()
        verifier = trusted(trust) if trust is not None else led.verifier()
        data = led.prove(item)
    rep = lg.inspect_bundle(data, verifier, buyer_policy=pol, deny_origins=deny, as_of=day)
    if rep.item != item:
        raise lg.UsageError(f"the bundle is the proof of {rep.item}, not of {item}")
    if latest:
        stale = lg.latest_failure(ctx.ledger(), rep)
        if stale is not None:
            rep.stale = stale
            rep.fail("R-PF-1", stale)
    trust_name = "operator.vkey"
    if trust is not None and os.path.exists(trust):
        trust_name = Path(trust).name
    policy_text = None  # the browser re-check reads the policy file's text (or the pack)
    if policy_file is not None and (policy_file not in lg.PACKS or os.path.exists(policy_file)):
        policy_text = Path(policy_file).read_text(encoding="utf-8")
    html = render_report(
        rep,
        data,
        verifier=verifier,
        deny_origins=deny,
        policy=pol,
        policy_name=Path(policy_file).name if policy_file else None,
        bundle_name=Path(bundle_file).name if bundle_file else None,
        trust_name=trust_name,
        policy_text=policy_text,
        as_of=day,
        verify_url=verify_url,
    )
    digest = lg.bundle_digest(data)
    summary = {
        "item": rep.item,
        "bytes": len(html.encode()),
        "sha256": digest,
        "policy_ok": rep.ok,
        "policy_failures": [failure_json(f) for f in rep.policy_failures],
        "warnings": len(rep.warnings),
        "stale": rep.stale,
    }
    verdict = "STALE" if rep.stale else "valid" if rep.ok else "REJECTED BY POLICY"
    note = f"{verdict}; bundle sha256 {digest[:16]}…"
    write_output(ctx, output, html.encode(), summary, note)
    rep.raise_if_failed()


def _web_url(url: str) -> bool:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and "#" not in url


COMMANDS: tuple[click.Command, ...] = (report,)
