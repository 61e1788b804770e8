"""The ``kstock`` command and its subcommands (laptop only)."""
