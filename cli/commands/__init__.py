"""The ``kpledger`` commands, one module per role or area.

Each module defines click commands and lists them in ``COMMANDS``; ``cli.app`` is the
only module that imports them and adds them to the top group. A command module imports
``cli.context``, ``cli.parse``, ``cli.render`` (and ``cli.report`` for the HTML page) and
the library's façades ``ledger``, ``ledger.net`` and ``ledger.sim``, never another
command module, ``cli.app`` or an internal library module (``tests/cli/test_layout.py``).
"""
