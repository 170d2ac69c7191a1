"""The loa-agent wheel on a Raspberry Pi-class box: Debian bookworm's aarch64 Python 3.11 (Raspberry Pi OS
bookworm's) under qemu-user, from the arm64 root `.ci/arm64-root` unpacks (LOA_ARM64_ROOT, default
/opt/loa-arm64). The same end-to-end check as test_agent_pythons.py: installs alone (pip runs emulated and
takes the aarch64 `cryptography` wheel), `loa-agent --help`, enrolls with the real station, plays on time,
restarts, reports the play. A file of its own so pytest-xdist runs this slow one beside the others.
Emulated, not real hardware: same binaries and Python, not the same sound card or timing.
"""
from __future__ import annotations

import pytest

from tests.broadcaster.station.agentbox import check_box, clock, db_url, station, wheel  # noqa: F401  (fixtures)

pytestmark = pytest.mark.slow


def test_the_wheel_installs_alone_and_plays_on_aarch64(wheel, tmp_path, station, world, facts, clock, engine):
    check_box("3.11-aarch64", wheel, tmp_path, station, world, facts, clock, engine)
