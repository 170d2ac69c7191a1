"""`loa agent`: the village agent on a station's install, the very command of the `loa-agent` wheel.

The agent's command line is argparse (broadcaster/agent/cli.py), so a village box needs no Typer. Here Typer
only passes everything after `agent` through, `--help` included, so both commands have one set of options and
one help text. Nothing of the server side is imported.
"""
from __future__ import annotations

import typer

from broadcaster.agent.cli import DESCRIPTION

PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}


def register(app: typer.Typer) -> None:
    @app.command("agent", context_settings=PASS_THROUGH, add_help_option=False, help=DESCRIPTION)
    def agent(ctx: typer.Context) -> None:
        from broadcaster.agent.cli import main

        main(ctx.args, prog="loa agent")
