"""The buyer's self-contained HTML provenance page (``kpledger report``).

The page is made from a *verified* report only (``lg.inspect_bundle``): everything on it
comes from that report, whose journey is the library's list of :class:`ledger.Step`.
It is one file: inline CSS and inline SVG (journey graph, origin chart, yield gauge, QR
code), no scripts, no fonts, no external requests (a Content-Security-Policy forbids
them too).

* ``cli.report.text``: plain words (warnings explained, country names, role labels);
* ``cli.report.graph``: the journey as custody stays and KP certificates;
* ``cli.report.layout``: layers, positions, text widths and curves of that graph;
* ``cli.report.page``: :func:`render_report`, the values the template prints.

Nothing here verifies, reads a ledger or writes a file: the command
(``cli.commands.report``) does that, through the library.
"""

from __future__ import annotations

from cli.report.page import render_report

__all__ = ["render_report"]
