"""CLI subcommands: each module exposes ``register(subparsers)``; see costtune/cli.py."""
