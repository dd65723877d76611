"""SQLite failures as :class:`~ledger.errors.StoreError`: one line that names the problem.

Every error the ``sqlite3`` module raises for a ledger file (read-only file or folder,
damaged pages, a text column that is not UTF-8, a locked or full disk) leaves the storage
layer as a ``StoreError`` whose message names the file and says what is wrong and what
to do, so the CLI prints one line and the node answers 503, never a traceback.
:func:`database_error` words the message; :func:`guarded` (a context manager) and
:func:`guard` / :func:`guard_iter` (method decorators of :class:`~ledger.storage.store.Store`)
apply it at the boundary.

What it deliberately does not do: hide anything else. A ``TypeError`` or ``KeyError`` is
a bug and stays one; data that SQLite returns intact but that is not what kpledger wrote
is the checks' business (``verify``, R-ST-2), not this module's.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Concatenate, ParamSpec, Protocol, TypeVar

from ledger.errors import StoreError

__all__ = ["DB_ERRORS", "database_error", "guard", "guard_iter", "guarded"]

#: What reading or writing a SQLite file can raise: sqlite3's errors, and the decode error
#: of a text value or header field that is not UTF-8 (only a damaged file has one).
DB_ERRORS: tuple[type[Exception], ...] = (sqlite3.Error, UnicodeDecodeError)

_DAMAGED = ("malformed", "disk i/o error", "could not decode", "utf-8")


def database_error(path: str, exc: BaseException, doing: str = "read") -> StoreError:
    """The StoreError for ``exc``, raised while ``doing`` (``read``, ``write``, ...) ``path``."""
    text = str(exc).strip() or type(exc).__name__
    low = text.lower()
    if "readonly" in low or "read-only" in low:
        return StoreError(
            f"cannot write ledger {path}: the file or its folder is read-only ({text}); "
            "kpledger needs write access to the file and its folder (for the -wal and -shm "
            "files) to append"
        )
    if "not a database" in low:
        return StoreError(
            f"{path} is not a kpledger ledger: not an SQLite database, or one damaged beyond "
            f"reading ({text})"
        )
    if isinstance(exc, UnicodeDecodeError) or any(w in low for w in _DAMAGED):
        return StoreError(
            f"ledger {path} is damaged ({text[:200]}); restore it from a backup or a mirror "
            "('kpledger sync')"
        )
    if "locked" in low or "busy" in low:
        return StoreError(f"ledger {path} is locked by another process ({text}); try again")
    if "disk is full" in low or "full" in low:
        return StoreError(f"cannot {doing} ledger {path}: the disk is full ({text})")
    if "unable to open" in low:
        return StoreError(f"cannot open ledger {path}: {text} (check the path and permissions)")
    return StoreError(f"cannot {doing} ledger {path}: {text[:200]}")


@contextmanager
def guarded(path: str, doing: str = "read") -> Iterator[None]:
    """Turn the SQLite errors of the block into one :class:`StoreError`."""
    try:
        yield
    except DB_ERRORS as exc:
        raise database_error(path, exc, doing) from exc


class _HasPath(Protocol):
    path: str


S = TypeVar("S", bound=_HasPath)
P = ParamSpec("P")
R = TypeVar("R")


def guard(doing: str) -> Callable[[Callable[Concatenate[S, P], R]], Callable[Concatenate[S, P], R]]:
    """Decorate a method of an object with a ``path``: SQLite errors become StoreError."""

    def wrap(fn: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], R]:
        def call(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return fn(self, *args, **kwargs)
            except DB_ERRORS as exc:
                raise database_error(self.path, exc, doing) from exc

        functools.update_wrapper(call, fn)
        return call

    return wrap


def guard_iter(
    fn: Callable[Concatenate[S, P], Iterator[R]],
) -> Callable[Concatenate[S, P], Iterator[R]]:
    """:func:`guard` for a generator method: errors raised while iterating are turned too."""

    def call(self: S, /, *args: P.args, **kwargs: P.kwargs) -> Iterator[R]:
        try:
            yield from fn(self, *args, **kwargs)
        except DB_ERRORS as exc:
            raise database_error(self.path, exc, "read") from exc

    functools.update_wrapper(call, fn)
    return call
