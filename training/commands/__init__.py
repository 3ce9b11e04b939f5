"""The subcommands of ``python -m training``: fit, eval, render, info."""
