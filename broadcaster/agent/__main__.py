"""`python -m broadcaster.agent [options]`: `loa-agent` without its console script (for example under an
emulator, or a venv whose bin/ is not on PATH)."""
from broadcaster.agent.cli import main

if __name__ == "__main__":  # imported (not run) by tests that import every module of the wheel
    main(prog="python -m broadcaster.agent")
