"""``kpledger report``: the self-contained HTML provenance page.

A small supply chain (two mines, a merge, three KP certificates, a cut with an unusual
yield, a grading, a polished transfer without warranty, a sale) is built once with the
``World`` helper; the tests render its stone through the CLI and check the HTML, then
load it in headless Chromium over the DevTools protocol (``--remote-debugging-pipe``,
standard library only): no console errors, no request but the file itself, the key
texts in the DOM, no overflow on a phone, an A4 PDF, and the QR code decoded by
``zbarimg`` from a screenshot. ``tools/install-test-deps.sh`` installs chromium and
zbar-tools; the browser tests skip (saying so) only where chromium is not installed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import segno
from click.testing import CliRunner, Result

import ledger as lg
from cli.app import main
from cli.report import layout as report_layout
from cli.report import page as report_page
from cli.report import text as report_text
from tests.conftest import OPERATOR, OPERATOR_SEED, ORIGIN, World, fixed_key
from tools.chromium import Chromium, Page, find_chromium

ROOT = Path(__file__).resolve().parents[2]
SITE = 'Pit <3> & "A"'  # markup in ledger text must come out escaped


@dataclass(frozen=True)
class Chain:
    db: Path
    bundle: Path
    vkey: Path
    certs: tuple[str, ...]
    digest: str

    @property
    def payload(self) -> str:
        return f"kpledger:sha256={self.digest};origin={ORIGIN}"


def _ship(w: World, sender: str, receiver: str, parcel: str) -> str:
    """Certificate, offer with warranty, acceptance; returns the certificate number."""
    number = str(w.certify(sender, receiver, [parcel]).entry.fields["number"])
    w.accept(receiver, w.transfer(sender, receiver, [parcel], certificate=number, warranty="2021"))
    return number


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    d = tmp_path_factory.mktemp("report")
    w = World.create(d / "kp.db")
    try:
        w.origin("Jwaneng", "JW-1", carats=10_000, stones=40, site=SITE)
        w.origin("Diavik", "DV-1", carats=6_000, stones=20)
        w.origin("Mir", "MIR-1", carats=5_000, stones=10)  # not in the stone's ancestry
        certs = [_ship(w, "Jwaneng", "Antwerp Trader", "JW-1")]
        certs.append(_ship(w, "Diavik", "Antwerp Trader", "DV-1"))
        w.merge("Antwerp Trader", ["JW-1", "DV-1"], "MIX-1")
        w.split("Antwerp Trader", "MIX-1", [("MIX-1A", 300, 2), ("MIX-1B", 15_700, 58)])
        certs.append(_ship(w, "Antwerp Trader", "Surat Cutter", "MIX-1A"))
        # 0.40 ct from 3.00 ct: a 13.3% yield, below the usual window (R-MB-5).
        w.cut("Surat Cutter", ["MIX-1A"], [("ST-1", 40)], byproducts=[("MIX-1A-CHIPS", 60)])
        w.accept(
            "New York Lab", w.transfer("Surat Cutter", "New York Lab", ["ST-1"], warranty="2021")
        )
        w.grade("New York Lab", "ST-1", report="GIA-7777")
        # No System of Warranties statement on this one (R-SW-1).
        w.accept(
            "New York Retailer",
            w.transfer("New York Lab", "New York Retailer", ["ST-1"], warranty=None),
        )
        w.sell("New York Retailer", "ST-1", price_usd_cents=250_000)
        operator = fixed_key(OPERATOR, OPERATOR_SEED)
        w.ledger.checkpoint(operator)
        data = w.ledger.prove("ST-1")
    finally:
        w.close()
    bundle = d / "ST-1.kpproof"
    bundle.write_bytes(data)
    vkey = d / "operator.vkey"
    vkey.write_text(lg.format_vkey(ORIGIN, operator.public) + "\n")
    yield Chain(d / "kp.db", bundle, vkey, tuple(certs), hashlib.sha256(data).hexdigest())


def run(chain: Chain, *args: str) -> Result:
    return CliRunner().invoke(main, ["--ledger", str(chain.db), *args])


def render(chain: Chain, out: Path, *extra: str, code: int = 0) -> str:
    result = run(
        chain,
        "report",
        "ST-1",
        "-o",
        str(out),
        "--bundle",
        str(chain.bundle),
        "--trust",
        str(chain.vkey),
        *extra,
    )
    assert result.exit_code == code, result.output
    return out.read_text(encoding="utf-8")


# ---------------------------------------------------------------------------
# The HTML itself


def test_report_is_self_contained_and_complete(chain: Chain, tmp_path: Path) -> None:
    page = render(chain, tmp_path / "st1.html", "--deny-origin", "RU")
    assert page.startswith("<!DOCTYPE html>")
    # One script, inline, the committed browser verifier, allowed by its hash alone.
    assert page.lower().count("<script") == 1
    html, script = page.split('<script type="module">')
    script, tail = script.split("</script>")
    assert tail.strip() == "</body>\n</html>"
    assert script == report_page.verifier_script()
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}';" in html
    assert "script-src 'unsafe" not in html
    # The bundle itself, in base64 (left out of the text checks below).
    bundle = re.search(r' data-bundle="([A-Za-z0-9+/=]+)"', html)
    assert bundle is not None and base64.b64decode(bundle[1]) == chain.bundle.read_bytes()
    html = html.replace(bundle[0], "")
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:|//)""", html, re.I)
    assert not re.search(r"""url\(\s*["']?\s*(?:https?:|//)""", html, re.I)
    assert "http://" not in html and "https://" not in html
    assert "@import" not in html and "@font-face" not in html
    # Accessible and printable structure.
    assert '<html lang="en">' in html
    assert '<meta name="viewport"' in html
    assert "<title>Provenance report: ST-1 (valid)</title>" in html
    assert "<header" in html and "<main>" in html and '<th scope="col">' in html
    assert html.count('role="img"') >= 4  # journey, composition, yield, QR
    assert "@page { size: A4" in html and "@media print" in html
    # Key facts.
    for text in (
        "ST-1",
        "Verdict: VALID",
        "Botswana",
        "Canada",
        "GIA-7777",
        "Yield 13.3%",
        "Surat Cutter (India) cut 3.00 ct of rough (MIX-1A) into 0.40 ct of polished diamond",
        "Antwerp Trader",
        "Surat Cutter",
        "New York Retailer",
        "Deny list (--deny-origin): RU (Russia).",
        chain.digest,
        chain.payload,
        "kpledger verify-proof ST-1.kpproof --trust operator.vkey --deny-origin RU",
        lg.format_vkey(ORIGIN, fixed_key(OPERATOR, OPERATOR_SEED).public),
    ):
        assert text in html, text
    for number in chain.certs:
        assert html.count(number) >= 3, number  # graph, step table, certificate table
    # Both warnings, explained.
    assert "Goods changed hands without a System of Warranties statement" in html
    assert "The cutting yield is unusual" in html
    assert "Rule R-SW-1" in html and "Rule R-MB-5" in html
    # Only the stone's ancestry: the Russian parcel is elsewhere in the ledger.
    assert "MIR-1" not in html and "Mir" not in html


def test_ledger_text_is_escaped(chain: Chain, tmp_path: Path) -> None:
    html = render(chain, tmp_path / "st1.html")
    assert "Pit &lt;3&gt; &amp; &#34;A&#34;" in html
    assert SITE not in html and "<3>" not in html


def test_report_from_the_ledger_has_the_digest_of_prove(chain: Chain, tmp_path: Path) -> None:
    out = tmp_path / "ledger.html"
    result = run(chain, "report", "ST-1", "-o", str(out))
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert chain.payload in html  # the same checkpoint: prove gives the same bytes
    assert "kpledger prove ST-1 -o ST-1.kpproof" in html
    assert "No buyer policy was given" in html


def test_policy_rejection_writes_the_page_and_exits_1(chain: Chain, tmp_path: Path) -> None:
    html = render(chain, tmp_path / "st1.html", "--deny-origin", "CA,RU", code=1)
    assert "Verdict: REJECTED BY POLICY" in html
    assert "may contain diamonds from denied origin CA" in html
    assert "Canada (CA): denied" in html
    assert "MINE · CA Canada · DENIED" in html


def test_policy_file_is_named(chain: Chain, tmp_path: Path) -> None:
    policy = tmp_path / "buyer.policy"
    policy.write_text("quorum none\ndeny-origin RU\nrequire warranty\n")
    html = render(chain, tmp_path / "st1.html", "--policy", str(policy), code=1)
    assert "Policy file buyer.policy: deny-origin RU; require warranty." in html
    assert "carry no System of Warranties statement" in html
    assert "--policy buyer.policy" in html


def test_json_output(chain: Chain, tmp_path: Path) -> None:
    out = tmp_path / "st1.html"
    result = run(
        chain,
        "--json",
        "report",
        "ST-1",
        "-o",
        str(out),
        "--bundle",
        str(chain.bundle),
        "--trust",
        str(chain.vkey),
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["sha256"] == chain.digest
    assert data["policy_ok"] is True and data["warnings"] == 2
    assert data["file"] == str(out)


def test_invalid_bundle_writes_nothing(chain: Chain, tmp_path: Path) -> None:
    bad = tmp_path / "bad.kpproof"
    data = bytearray(chain.bundle.read_bytes())
    data[len(data) // 2] ^= 0x01
    bad.write_bytes(bytes(data))
    out = tmp_path / "bad.html"
    result = run(
        chain, "report", "ST-1", "-o", str(out), "--bundle", str(bad), "--trust", str(chain.vkey)
    )
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: ")
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bundle", "B"], "--bundle needs --trust"),
        (["--bundle", "B", "--trust", "V", "--deny-origin", "RUS"], "--deny-origin"),
    ],
)
def test_usage_errors(chain: Chain, tmp_path: Path, args: list[str], message: str) -> None:
    args = [{"B": str(chain.bundle), "V": str(chain.vkey)}.get(a, a) for a in args]
    result = run(chain, "report", "ST-1", "-o", str(tmp_path / "x.html"), *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr


def test_bundle_of_another_item_is_refused(chain: Chain, tmp_path: Path) -> None:
    result = run(
        chain,
        "report",
        "ST-2",
        "-o",
        str(tmp_path / "x.html"),
        "--bundle",
        str(chain.bundle),
        "--trust",
        str(chain.vkey),
    )
    assert result.exit_code == 2
    assert "the bundle is the proof of ST-1, not of ST-2" in result.stderr


# ---------------------------------------------------------------------------
# Pieces


def test_every_warn_rule_of_the_spec_is_explained() -> None:
    spec = (ROOT / "specs" / "rules.md").read_text()
    warn_rules = set(re.findall(r"^\| (R-[A-Z]+-\d+) \|[^|]*\| \*\*WARN\*\* \|", spec, re.M))
    assert warn_rules, "no WARN rule found in specs/rules.md"
    assert warn_rules <= set(report_text.WARN_EXPLANATIONS)
    heading, words = report_text.explain_warning("R-XX-9", "something odd")
    assert "R-XX-9" in heading and "something odd" in words


def test_shares_add_up_and_list_may_contain() -> None:
    rows = report_page.shares({"BW": 1, "CA": 1, "AO": 1}, ["AO", "BW", "CA", "RU"], ["RU"])
    assert sum(r.hundredths for r in rows) == 10_000
    assert [r.percent for r in rows] == ["33.34%", "33.33%", "33.33%", "0.00%"]
    assert rows[-1].country == "RU" and rows[-1].denied and rows[-1].may_contain


def test_layers_pull_late_origins_down() -> None:
    # 0 -> 1 -> 2 -> 3 -> 4 and a second origin 5 -> 6 -> 4 (a merge at 4).
    edges = [(0, 1), (1, 2), (2, 3), (3, 4), (5, 6), (6, 4)]
    assert report_layout.layers(7, edges) == [0, 1, 2, 3, 4, 2, 3]
    with pytest.raises(ValueError, match="cycle"):
        report_layout.layers(2, [(0, 1), (1, 0)])


def test_graph_of_the_chain(chain: Chain) -> None:
    data = chain.bundle.read_bytes()
    rep = lg.verify_bundle(data, lg.parse_vkey(chain.vkey.read_text().strip()))
    graph, journey = report_layout.journey_graph(rep)
    kinds = sorted(b.kind.split()[0] for b in graph.boxes)
    expected = ["mine", "mine", "cert", "cert", "cert", "trader", "cutter", "grader", "retailer"]
    assert kinds == sorted(expected)
    assert graph.mines == 2
    assert [b.kind for b in graph.boxes if "flagged" in b.kind] == ["cutter flagged"]  # R-MB-5
    assert len(graph.curves) == 8
    assert sum(c.cls == "edge warn" for c in graph.curves) == 1  # the R-SW-1 transfer
    # Boxes of one row never overlap and all lie inside the picture.
    for a in graph.boxes:
        assert 0 <= a.x and a.x + a.w <= graph.width and 0 <= a.y and a.y + a.h <= graph.height
        for b in graph.boxes:
            if a is not b and abs(a.y - b.y) < a.h:
                assert a.x + a.w <= b.x or b.x + b.w <= a.x
    assert "under KP certificate" in graph.description
    assert [(c.stones, c.polished, c.rough, c.byproduct) for c in journey.cuts] == [
        (("ST-1",), 40, 300, 60)
    ]


def test_text_is_shortened_to_fit() -> None:
    long = "Very Long Participant Name Trading Company (Pty) Ltd"
    fitted = report_layout.fit(long, "name")
    assert fitted.endswith("…")
    assert report_layout.text_width(fitted, "name") <= report_layout.BOX_W - 2 * report_layout.PAD_X
    assert report_layout.fit("Short", "name") == "Short"


# ---------------------------------------------------------------------------
# QR code


def _zbarimg() -> str:
    exe = shutil.which("zbarimg")
    if exe is None:
        pytest.skip("zbarimg is not installed (tools/install-test-deps.sh installs zbar-tools)")
    return exe


def decode_qr(png: Path) -> str:
    out = subprocess.run(
        [_zbarimg(), "--raw", "-q", "-Sdisable", "-Sqrcode.enable", str(png)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, f"no QR code found in {png}: {out.stderr}"
    return out.stdout.strip()


def test_qr_code_carries_the_digest(chain: Chain, tmp_path: Path) -> None:
    html = render(chain, tmp_path / "st1.html")
    svg = re.search(r'<svg aria-hidden="true" focusable="false"[^>]*class="qr-code".*?</svg>', html)
    assert svg is not None
    # The inline SVG is segno's rendering of the payload; decode a PNG of the same code.
    png = tmp_path / "qr.png"
    segno.make(chain.payload, error="m", micro=False).save(str(png), scale=6, border=4)
    assert decode_qr(png) == chain.payload


# ---------------------------------------------------------------------------
# Headless Chromium over the DevTools protocol (a pipe: no extra dependency)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    exe = find_chromium()
    if exe is None:
        pytest.skip("chromium is not installed (tools/install-test-deps.sh installs it)")
    b = Chromium(exe, tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield b
    finally:
        b.close()


# Every text of a journey box must end inside its box.
_OVERFLOW_JS = """
[...document.querySelectorAll('.graph g.node')].flatMap(g => {
  const box = g.querySelector('rect').getBBox();
  return [...g.querySelectorAll('text')]
    .filter(t => t.getBBox().x + t.getComputedTextLength() > box.x + box.width - 3)
    .map(t => t.textContent);
})
"""


def test_page_in_headless_chromium(chain: Chain, browser: Chromium, tmp_path: Path) -> None:
    html = tmp_path / "st1.html"
    render(chain, html, "--deny-origin", "RU")
    url = html.resolve().as_uri()
    page = Page(browser)
    page.open(url, 1200)
    # Loaded, without errors, and nothing fetched but the file itself.
    assert page.eval("document.readyState") == "complete"
    assert page.eval("document.title") == "Provenance report: ST-1 (valid)"
    errors = page.events("Runtime.exceptionThrown", "Runtime.consoleAPICalled")
    assert errors == [], errors
    logged = [e["entry"] for e in page.events("Log.entryAdded")]
    assert [e for e in logged if e["level"] in ("error", "warning")] == [], logged
    requests = [e["request"]["url"] for e in page.events("Network.requestWillBeSent")]
    assert requests == [url], requests
    assert page.eval("document.scripts.length") == 1
    assert browser_check(page)["state"] == "valid"
    # Key texts in the DOM.
    text = page.eval("document.body.innerText")
    for needle in ("ST-1", "Verdict: VALID", "Botswana", "Canada", "GIA-7777", *chain.certs):
        assert needle in text, needle
    assert page.eval("document.querySelectorAll('svg[role=img]').length") >= 3
    assert page.eval(_OVERFLOW_JS) == []
    # Screenshot; the QR code in it decodes to the bundle digest.
    png = tmp_path / "report.png"
    page.screenshot(png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert decode_qr(png) == chain.payload
    # A phone: nothing wider than the screen.
    page.open(url, 390, 844, mobile=True)
    assert page.eval("document.documentElement.scrollWidth") <= 390
    assert page.eval(_OVERFLOW_JS) == []
    # Print: A4 pages.
    pdf = base64.b64decode(
        page.call("Page.printToPDF", {"preferCSSPageSize": True, "printBackground": True})["data"]
    )
    assert pdf.startswith(b"%PDF")
    assert re.search(rb"/MediaBox \[0 0 59[45](?:\.\d+)? 84[12](?:\.\d+)?\]", pdf)


# ---------------------------------------------------------------------------
# The report re-checks itself in the browser


def browser_check(page: Page) -> dict[str, Any]:
    """Wait for the page's own check; its outcome as #browser-check shows it."""
    r = page.call(
        "Runtime.evaluate",
        {"expression": "globalThis.kpRecheckDone", "awaitPromise": True, "returnByValue": True},
    )
    assert "exceptionDetails" not in r, r
    got: dict[str, Any] = page.eval(
        "(b => ({state: b.dataset.state, verdict: b.dataset.verdict ?? null,"
        " failure: b.dataset.failure ?? null, ms: b.dataset.ms ?? null,"
        " text: b.innerText}))(document.getElementById('browser-check'))"
    )
    return got


def offline_page(browser: Chromium) -> Page:
    page = Page(browser)
    page.call(
        "Network.emulateNetworkConditions",
        {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    return page


def test_report_checks_itself_offline(chain: Chain, browser: Chromium, tmp_path: Path) -> None:
    html = tmp_path / "st1.html"
    render(chain, html, "--deny-origin", "RU")
    url = html.resolve().as_uri()
    page = offline_page(browser)
    page.open(url, 1200)
    check = browser_check(page)
    assert check["state"] == "valid" and check["verdict"] == "valid", check
    assert check["text"].startswith("Checked in this browser just now: VALID."), check
    assert "the fingerprint printed below" in check["text"]
    assert "judged on" in check["text"] and "differs" not in check["text"]
    assert float(check["ms"]) > 0
    body = page.eval("document.body.innerText")
    assert "Checked by the issuer:" in body and "Verdict: VALID" in body
    assert page.events("Runtime.exceptionThrown") == []
    requests = [e["request"]["url"] for e in page.events("Network.requestWillBeSent")]
    assert requests == [url], requests


def test_report_rechecks_the_policy(chain: Chain, browser: Chromium, tmp_path: Path) -> None:
    html = tmp_path / "st1.html"
    policy = tmp_path / "no-canada.policy"
    policy.write_text("# no Canadian rough\ndeny-origin CA\nquorum none\n")
    render(chain, html, "--policy", str(policy), "--deny-origin", "RU", code=1)
    page = offline_page(browser)
    page.open(html.resolve().as_uri(), 1200)
    check = browser_check(page)
    assert (check["state"], check["failure"]) == ("rejected", "R-SA-1"), check
    assert check["text"].startswith(
        "Checked in this browser just now: REJECTED BY POLICY (R-SA-1)."
    )
    assert "differs" not in check["text"]


def test_a_tampered_embedded_bundle_fails_in_the_browser(
    chain: Chain, browser: Chromium, tmp_path: Path
) -> None:
    html = tmp_path / "st1.html"
    text = render(chain, html)
    found = re.search(r' data-bundle="([A-Za-z0-9+/=]+)"', text)
    assert found is not None
    data = base64.b64decode(found[1])
    assert data.count(b"GIA-7777") >= 1
    forged = base64.b64encode(data.replace(b"GIA-7777", b"GIA-7778")).decode()
    html.write_text(text.replace(found[1], forged), encoding="utf-8")
    page = offline_page(browser)
    page.open(html.resolve().as_uri(), 1200)
    check = browser_check(page)
    assert (check["state"], check["failure"]) == ("invalid", "inclusion"), check
    assert check["text"].startswith("Checked in this browser just now: INVALID (inclusion).")
    assert "NOT the fingerprint printed below" in check["text"]
    assert "differs from the issuer's verdict above" in check["text"]


_CHECK_TEXT_JS = "document.getElementById('browser-check').textContent"


def test_without_scripts_the_report_says_it_was_not_rechecked(
    chain: Chain, browser: Chromium, tmp_path: Path
) -> None:
    html = tmp_path / "st1.html"
    text = render(chain, html)
    page = offline_page(browser)
    page.call("Emulation.setScriptExecutionDisabled", {"value": True})
    page.open(html.resolve().as_uri(), 1200)
    doc = page.call("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
    node = page.call("DOM.querySelector", {"nodeId": doc, "selector": "#browser-check"})
    outer = page.call("DOM.getOuterHTML", {"nodeId": node["nodeId"]})["outerHTML"]
    assert 'data-state="not-checked"' in outer
    assert "Not re-checked in this browser." in outer
    main = page.call("DOM.querySelector", {"nodeId": doc, "selector": "main"})
    static = page.call("DOM.getOuterHTML", {"nodeId": main["nodeId"]})["outerHTML"]
    assert "Verdict: VALID" in static and "Checked by the issuer:" in static
    page.call("Emulation.setScriptExecutionDisabled", {"value": False})
    # A script the page's Content-Security-Policy does not allow (its hash differs) is
    # blocked the same way: the page still shows its static content, not re-checked.
    blocked = tmp_path / "blocked.html"
    blocked.write_text(text.replace("globalThis.kpRecheckDone = recheck();", "recheck();"))
    page.open(blocked.resolve().as_uri(), 1200)
    assert page.eval("typeof globalThis.kpRecheckDone") == "undefined"
    assert page.eval(_CHECK_TEXT_JS).strip().startswith("Not re-checked in this browser.")
    assert "Verdict: VALID" in page.eval("document.body.innerText")


def test_verify_url_goes_into_the_qr_code(chain: Chain, browser: Chromium, tmp_path: Path) -> None:
    html = tmp_path / "st1.html"
    hosted = "https://verify.example.org/kp/verify.html"
    text = render(chain, html, "--verify-url", hosted)
    want = f"{hosted}#sha256={chain.digest}"
    assert want in text and chain.payload not in text
    page = offline_page(browser)
    page.open(html.resolve().as_uri(), 1200)
    png = tmp_path / "report.png"
    page.screenshot(png)
    assert decode_qr(png) == want
    for bad in ("ftp://x.org/verify.html", "verify.html", "https://x.org/v.html#a"):
        result = run(chain, "report", "ST-1", "-o", str(tmp_path / "x.html"), "--verify-url", bad)
        assert result.exit_code == 2, result.output
        assert "--verify-url must be an http(s) URL" in result.output
