"""A witness's state file (specs/node.md §6.1): the last checkpoint it cosigned per log.

The file is JSON, ``{"version": 1, "logs": {origin: {"size", "root", "checkpoint"}}}``
with the root in base64. :meth:`WitnessState.save` replaces it atomically (temporary
file, fsync, rename, fsync of the directory) and :meth:`WitnessState.locked` holds an
exclusive ``flock`` on a ``.lock`` file beside it, so that two witness processes sharing
a state file check and cosign one after the other.

What it deliberately does not do: decide what to cosign. ``ledger.net.witness`` checks a
checkpoint against the state loaded here, under the lock, and saves the new state before
it answers.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from ledger.errors import StoreError
from ledger.storage.files import write_atomic

__all__ = ["Cosigned", "WitnessState"]


@dataclass(frozen=True)
class Cosigned:
    """The last checkpoint a witness cosigned for one log origin."""

    size: int
    root: bytes
    checkpoint: str


class WitnessState:
    """The witness's JSON state file at ``path``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the exclusive lock of the state file (blocks until it is free).

        Raises:
            StoreError: the lock file cannot be opened.
        """
        lock = self.path.with_name(self.path.name + ".lock")
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StoreError(f"cannot lock witness state {self.path}: {exc.strerror}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def load(self) -> dict[str, Cosigned]:
        """Origin -> last cosigned checkpoint; empty if there is no state file yet.

        Raises:
            StoreError: the file cannot be read or is not JSON.
        """
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise StoreError(f"cannot read witness state {self.path}: {exc}") from exc
        out = {}
        for origin, v in data.get("logs", {}).items():
            out[origin] = Cosigned(int(v["size"]), base64.b64decode(v["root"]), v["checkpoint"])
        return out

    def save(self, logs: Mapping[str, Cosigned]) -> None:
        """Replace the state file with ``logs``, durably, before anyone is answered.

        Raises:
            StoreError: the file cannot be written; the old state is left as it was.
        """
        data = {
            "version": 1,
            "logs": {
                o: {
                    "size": v.size,
                    "root": base64.b64encode(v.root).decode(),
                    "checkpoint": v.checkpoint,
                }
                for o, v in sorted(logs.items())
            },
        }
        try:
            write_atomic(
                self.path,
                json.dumps(data, indent=1).encode("utf-8"),
                prefix=f".{self.path.name}.",
                sync_directory=True,
            )
        except OSError as exc:
            raise StoreError(f"cannot write witness state {self.path}: {exc}") from exc
