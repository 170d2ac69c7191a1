"""The `loa` command. Each group lives in its own module and imports its domain lazily, so
`loa agent` on a village box never loads the server side."""
from __future__ import annotations

import typer

app = typer.Typer(
    name="loa",
    help="Loa — phần mềm đài truyền thanh xã / the commune loudspeaker station.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

from loa.cli import content_cmds  # noqa: E402  (registers its commands on `app`)

content_cmds.register(app)


if __name__ == "__main__":
    app()
