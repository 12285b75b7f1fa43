"""Alembic's command line with Chatdeck's configuration: ``python -m storage.migrations <command>``.

Examples (against ``$CHATDECK_DATABASE_URL``, default ``data/chatdeck.db``)::

    python -m storage.migrations current
    python -m storage.migrations history
    python -m storage.migrations revision --autogenerate --rev-id 0002 -m "add message pins"
    python -m storage.migrations upgrade head
    python -m storage.migrations downgrade -1
"""

from __future__ import annotations

import sys

from alembic.config import CommandLine

from storage.db import alembic_config


def main(argv: list[str] | None = None) -> None:
    cli = CommandLine(prog="python -m storage.migrations")
    options = cli.parser.parse_args(argv)
    if not hasattr(options, "cmd"):
        cli.parser.error("too few arguments")
    cli.run_cmd(alembic_config(), options)


if __name__ == "__main__":
    main(sys.argv[1:])
