"""Known-answer vectors: kpledger's own and public ones copied from upstream projects.

``entries/`` holds the ledger's own entry vectors (``tools/gen_vectors.py`` writes them).
``tlog/``, ``ed25519/`` and ``epcis/`` hold public vector files copied unchanged from their
upstream projects, with the upstream licences beside them; ``README.md`` here names the
source, commit and licence of each file and the tests that use it. Tests and tools find
them through the paths below, so the suite reads nothing outside the repository.
"""

from pathlib import Path

VECTORS = Path(__file__).resolve().parent
TLOG = VECTORS / "tlog"
ED25519 = VECTORS / "ed25519"
EPCIS = VECTORS / "epcis"
