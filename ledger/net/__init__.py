"""kpledger over the network: the node, its client, mirrors and witnesses (specs/node.md).

The façade of the network layer; the CLI's node commands import only these names.

* :class:`RemoteLedger` (``ledger.net.client``): a node as a :class:`ledger.api.LedgerAPI`;
* :func:`serve` (``ledger.net.node``): one ledger file served over HTTP;
* :func:`publish` and :func:`sync` (``ledger.net.mirror``): static tlog-tiles and
  verifying mirrors;
* :class:`Witness`, the witness service and :func:`submit_cosignatures`
  (``ledger.net.witness``);
* :func:`run_app`, :class:`ServerLimits` and :class:`TlsFiles` (``ledger.net.server``):
  serving the node or a witness to hostile clients, over TLS if need be.

Imported on first use (PEP 562): ``import ledger.net`` loads neither httpx nor FastAPI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ledger.net.client import NodeClient, RemoteLedger, check_genesis, fetch_genesis, is_url
    from ledger.net.mirror import PublishReport, SyncReport, publish, sync
    from ledger.net.node import Limits, Node, serve
    from ledger.net.server import ServerLimits, TlsFiles, run_app
    from ledger.net.witness import (
        Witness,
        attach_cosignatures,
        format_request,
        parse_proof_text,
        submit_cosignatures,
    )
    from ledger.net.witness import create_app as create_witness_app

_LAZY = {
    "NodeClient": ("ledger.net.client", "NodeClient"),
    "RemoteLedger": ("ledger.net.client", "RemoteLedger"),
    "is_url": ("ledger.net.client", "is_url"),
    "check_genesis": ("ledger.net.client", "check_genesis"),
    "fetch_genesis": ("ledger.net.client", "fetch_genesis"),
    "PublishReport": ("ledger.net.mirror", "PublishReport"),
    "SyncReport": ("ledger.net.mirror", "SyncReport"),
    "publish": ("ledger.net.mirror", "publish"),
    "sync": ("ledger.net.mirror", "sync"),
    "Limits": ("ledger.net.node", "Limits"),
    "Node": ("ledger.net.node", "Node"),
    "serve": ("ledger.net.node", "serve"),
    "Witness": ("ledger.net.witness", "Witness"),
    "attach_cosignatures": ("ledger.net.witness", "attach_cosignatures"),
    "create_witness_app": ("ledger.net.witness", "create_app"),
    "format_request": ("ledger.net.witness", "format_request"),
    "parse_proof_text": ("ledger.net.witness", "parse_proof_text"),
    "run_app": ("ledger.net.server", "run_app"),
    "ServerLimits": ("ledger.net.server", "ServerLimits"),
    "TlsFiles": ("ledger.net.server", "TlsFiles"),
    "submit_cosignatures": ("ledger.net.witness", "submit_cosignatures"),
}


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'ledger.net' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(target[0]), target[1])


__all__ = [
    "Limits",
    "Node",
    "NodeClient",
    "PublishReport",
    "RemoteLedger",
    "ServerLimits",
    "SyncReport",
    "TlsFiles",
    "Witness",
    "attach_cosignatures",
    "check_genesis",
    "create_witness_app",
    "fetch_genesis",
    "format_request",
    "is_url",
    "parse_proof_text",
    "publish",
    "run_app",
    "serve",
    "submit_cosignatures",
    "sync",
]
