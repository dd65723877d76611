"""Build of kpledger: the pure core compiled with mypyc when it can be, pure Python otherwise.

The project's metadata is in ``pyproject.toml``; this file only adds the extension modules.
mypyc (shipped with mypy) compiles the modules in ``COMPILED`` to C extensions, which
Python loads in place of their ``.py`` files. Nothing is compiled, and pure Python is
installed, when

* the environment variable ``KPLEDGER_PURE`` is ``1``;
* no working C compiler (with Python's headers) is found;
* mypyc or the C compiler fails: the install goes on, pure, with a warning.

The results are the same either way (the whole suite runs against both builds: ``make test``
and ``make test-pure``); ``kpledger --version`` says which one is installed. In an editable
install (``pip install -e .``) the extensions are built next to their sources: rebuild after
editing a compiled module (``make`` does), otherwise the stale build is ignored and the
sources run pure, with a warning (``ledger/_build.py``).
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

from setuptools import setup
from setuptools.command.build_ext import build_ext

#: The compiled modules: the pure core (no I/O), where a ledger's checks spend their time.
#: ``tests/unit/test_build.py`` checks that these, and only these, load as extensions.
COMPILED = [
    "ledger/core/disclosure.py",
    "ledger/core/ed25519.py",
    "ledger/core/encoding.py",
    "ledger/core/epcis.py",
    "ledger/core/journey.py",
    "ledger/core/keys.py",
    "ledger/core/merkle.py",
    "ledger/core/model.py",
    "ledger/core/note.py",
    "ledger/core/policy.py",
    "ledger/core/proofs.py",
    "ledger/core/replay.py",
    "ledger/core/rules/act.py",
    "ledger/core/rules/calendar.py",
    "ledger/core/rules/composition.py",
    "ledger/core/rules/custody.py",
    "ledger/core/rules/engine.py",
    "ledger/core/rules/governance.py",
    "ledger/core/rules/kp.py",
    "ledger/core/rules/params.py",
    "ledger/core/rules/parcels.py",
    "ledger/core/rules/quarantine.py",
    "ledger/core/rules/registry.py",
    "ledger/core/rules/signers.py",
    "ledger/core/rules/state.py",
    "ledger/core/rules/transform.py",
    "ledger/core/sanctions.py",
    "ledger/core/statemap.py",
    "ledger/core/tiles.py",
    "ledger/core/wire.py",
]

#: The compiled modules share one library, the top-level module ``kpledger_core__mypyc``
#: (mypyc derives each compiled module's ``__file__`` from it being at the top level).
GROUP = "kpledger_core"

#: The commands that build extensions; the others (metadata, egg_info) need no compilation.
BUILD_COMMANDS = {"build", "build_ext", "bdist_wheel", "editable_wheel", "develop", "install"}

#: mypy options beyond pyproject.toml's: the modules the compiled ones import but that are
#: not compiled (the façade, storage, network) are type-checked silently, as the build
#: environment has only what type-checking the compiled modules needs.
MYPY_OPTIONS = ["--follow-imports=silent"]


def _warn(message: str) -> None:
    print(f"WARNING: kpledger: {message}; installing pure Python.", file=sys.stderr)


def _compiler_works() -> bool:
    """Whether a C compiler builds a Python extension source here."""
    from setuptools._distutils.ccompiler import new_compiler
    from setuptools._distutils.sysconfig import customize_compiler

    folder = tempfile.mkdtemp(prefix="kpledger-cc-")
    try:
        source = Path(folder, "probe.c")
        source.write_text("#include <Python.h>\nint kpledger_probe(void) { return 0; }\n")
        compiler = new_compiler()
        customize_compiler(compiler)
        compiler.compile(
            [str(source)],
            output_dir=folder,
            include_dirs=[sysconfig.get_paths()["include"]],
        )
        return True
    except Exception:
        return False
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _remove_built(keep: frozenset[str] = frozenset()) -> None:
    """Remove extensions an earlier in-place build left (but those of ``keep``, sources
    about to be rebuilt): they would shadow the sources."""
    root = Path(__file__).resolve().parent
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    for path in root.joinpath("ledger").rglob("*" + suffix):
        source = path.relative_to(root).as_posix()[: -len(suffix)] + ".py"
        if source not in keep:
            path.unlink()
    if not keep:
        for lib in root.glob(f"{GROUP}__mypyc*{suffix}"):
            lib.unlink()


def extensions() -> list[Any]:
    """The extension modules to build: the compiled core, or none (pure Python)."""
    if not BUILD_COMMANDS.intersection(sys.argv[1:]):
        return []
    found = _compiled()
    _remove_built(frozenset(COMPILED) if found else frozenset())
    return found


def _compiled() -> list[Any]:
    if os.environ.get("KPLEDGER_PURE") == "1":
        return []
    if not _compiler_works():
        _warn("no working C compiler (with Python's headers) was found")
        return []
    try:
        from mypyc.build import mypycify
    except ImportError as exc:
        _warn(f"mypyc is not available ({exc})")
        return []
    try:
        return list(mypycify(MYPY_OPTIONS + COMPILED, group_name=GROUP))
    except (Exception, SystemExit) as exc:  # mypyc exits on a type error
        _warn(f"mypyc could not compile the core ({exc!r})")
        return []


class BuildExt(build_ext):
    """build_ext that falls back to pure Python when a C compilation fails."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:
            _warn(f"compiling the core failed ({exc})")
            for ext in self.extensions:
                Path(self.get_ext_fullpath(ext.name)).unlink(missing_ok=True)
            _remove_built()
            self.extensions = []
            self.distribution.ext_modules = []


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildExt})
