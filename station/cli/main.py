"""The `loa` command. Each group lives in its own module and imports its domain lazily, so
`loa agent` on a village box never loads the server side."""
from __future__ import annotations

import sys
from typing import Any

if __name__ == "__main__" and sys.argv[1:2] == ["agent"]:
    # `python -m station.cli.main agent …` (how `loa demo` starts its nine agents): straight to the agent's own
    # argparse command, before Typer and every command group are imported (~0.1 CPU-s per agent started).
    from broadcaster.agent.cli import main as _agent_main

    _agent_main(sys.argv[2:], prog="loa agent")

import typer  # noqa: E402


class _Loa(typer.Typer):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # `loa agent …` goes straight to the agent's own argparse command (what agent_cmds hands it to anyway):
        # building Typer's click command for every group costs ~0.1 CPU-s, paid by each village agent started.
        if not args and not kwargs and sys.argv[1:2] == ["agent"]:
            from broadcaster.agent.cli import main

            main(sys.argv[2:], prog="loa agent")
        return super().__call__(*args, **kwargs)


app = _Loa(
    name="loa",
    help="Loa — phần mềm đài truyền thanh xã / the commune loudspeaker station.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

from station.cli import content_cmds  # noqa: E402  (registers its commands on `app`)

content_cmds.register(app)

from station.cli import server_cmds  # noqa: E402

server_cmds.register(app)

from station.cli import scheduler_cmds  # noqa: E402

scheduler_cmds.register(app)
from station.cli import ops_cmds  # noqa: E402  (backup, restore, worker, broker-files, keys: docs/operations.md)

ops_cmds.register(app)
from station.cli import demo_cmds  # noqa: E402  (`loa demo`: the demo commune, python3 dev.py run)

demo_cmds.register(app)
from station.cli import agent_cmds  # noqa: E402  (`loa agent`: the argparse command of broadcaster/agent/cli.py)

agent_cmds.register(app)
from station.cli import interchange_cmds  # noqa: E402  (`loa interchange …`: peers, identity, outbox)

interchange_cmds.register(app)

if __name__ == "__main__":
    app()
