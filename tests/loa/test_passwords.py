"""The timing equaliser: an unknown user's login is verified against a hash of the hasher in use, made when the API
starts serving (not when the station is imported, which every `loa` command does)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import argon2
from argon2 import PasswordHasher

from loa.accounts import passwords

ROOT = Path(__file__).resolve().parents[2]


def test_importing_the_station_hashes_nothing():
    code = ("import loa.accounts.passwords as p, api.app\n"
            "assert p._dummy_hashes == {}, p._dummy_hashes\n"
            "assert p.verify_password(None, 'anything') is False\n"
            "assert len(p._dummy_hashes) == 1\n")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_an_unknown_user_is_checked_against_a_hash_as_costly_as_the_hasher_makes(monkeypatch):
    for hasher in (PasswordHasher(time_cost=1, memory_cost=64, parallelism=1),
                   PasswordHasher(time_cost=2, memory_cost=128, parallelism=1)):
        monkeypatch.setattr(passwords, "_hasher", hasher)
        assert passwords.verify_password(None, "loa-timing-equaliser") is False  # even the equaliser's own text
        params = argon2.extract_parameters(passwords._dummy_hash())
        assert (params.time_cost, params.memory_cost, params.parallelism) == (
            hasher.time_cost, hasher.memory_cost, hasher.parallelism)
    real = passwords.hash_password("ga-gay-o-bo-suoi-2026")
    assert passwords.verify_password(real, "ga-gay-o-bo-suoi-2026") is True
    assert passwords.verify_password(real, "wrong") is False


def test_the_api_makes_it_before_the_first_login(settings, clock, monkeypatch):
    from starlette.testclient import TestClient

    from api.app import create_app

    monkeypatch.setattr(passwords, "_dummy_hashes", {})
    with TestClient(create_app(settings, clock=clock)):
        assert len(passwords._dummy_hashes) == 1  # made at start-up: the first unknown login is not the slow one
        params = argon2.extract_parameters(next(iter(passwords._dummy_hashes.values())))
        assert params.time_cost == passwords._hasher.time_cost
