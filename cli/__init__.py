"""The ``kpledger`` command line: ``cli.app`` (the group and its error hook), the commands
in ``cli.commands``, the shared ``cli.context``, ``cli.parse`` and ``cli.render``, and the
buyer's HTML page in ``cli.report``. Everything it does to a ledger is a library call."""
