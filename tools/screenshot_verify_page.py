"""Write docs/verify-page-screenshot.png: web/dist/verify.html in headless Chromium, opened
from disk with the network off, as a buyer uses it: a report's QR code opened it with the
bundle's SHA-256 (#sha256=...), the buyer chose the bundle file, gave the operator's vkey
and the eu-russia rule pack, and the page gave its verdict.

    python -m tools.screenshot_verify_page [--out docs/verify-page-screenshot.png]

Needs node (to build the page) and chromium. The bundle is tools/browser_speed.py's
10-hop stone.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tools.browser_speed import PAGE, ROOT, ten_hop_bundle
from tools.chromium import Chromium, Page, find_chromium


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "verify-page-screenshot.png"))
    args = parser.parse_args(argv)
    exe, node = find_chromium(), shutil.which("node")
    if exe is None or node is None:
        print("needs chromium and node", file=sys.stderr)
        return 1
    build = [node, str(ROOT / "web" / "build.mjs")]
    subprocess.run(build, check=True, capture_output=True)
    bundle, vkey, item = ten_hop_bundle()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{item}.kpproof"
        path.write_bytes(bundle)
        browser = Chromium(exe, Path(tmp) / "profile")
        try:
            page = Page(browser)
            page.call(
                "Network.emulateNetworkConditions",
                {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
            )
            url = f"{PAGE.resolve().as_uri()}#sha256={hashlib.sha256(bundle).hexdigest()}"
            page.open(url, 900, 700)
            page.eval(
                f"document.getElementById('vkey').value = {json.dumps(vkey)};"
                "document.getElementById('policy').value = 'eu-russia';"
            )
            doc = page.call("DOM.getDocument")["root"]["nodeId"]
            node_id = page.call("DOM.querySelector", {"nodeId": doc, "selector": "#file"})
            page.call("DOM.setFileInputFiles", {"files": [str(path)], **node_id})
            for _ in range(100):
                if page.eval("document.getElementById('verdict').dataset.verdict"):
                    break
                time.sleep(0.05)
            verdict = page.eval("document.getElementById('verdict').textContent")
            if not verdict.startswith("VALID"):
                raise RuntimeError(f"the page says: {verdict}")
            page.screenshot(Path(args.out))
        finally:
            browser.close()
    print(f"wrote {args.out}: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
