"""Who the client is (issue 13, Low): X-Forwarded-For only from LOA_TRUSTED_PROXIES, so the login lockout and the
other per-address limits cannot be dodged by sending the header. The process tests run the real `loa serve`
(uvicorn, which used to believe the header from 127.0.0.1 on its own)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from api.limits import client_address, trusted_networks
from tests.station.ops.proc import stop, wait_port
from tests.ports import free_port

LOA = str(Path(sys.executable).with_name("loa"))


def scope(peer: str, forwarded: str | None = None) -> dict:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded is not None else []
    return {"type": "http", "client": (peer, 50000), "headers": headers}


def test_the_header_counts_only_from_a_configured_proxy():
    assert client_address(scope("203.0.113.9", "1.2.3.4"), "") == "203.0.113.9"
    assert client_address(scope("127.0.0.1", "1.2.3.4"), "") == "127.0.0.1"  # trust none by default
    assert client_address(scope("203.0.113.9", "1.2.3.4"), "10.0.0.5") == "203.0.113.9"
    # through our proxy: the address it saw, whatever the client wrote to the left of it
    assert client_address(scope("10.0.0.5", "1.2.3.4, 198.51.100.7"), "10.0.0.5") == "198.51.100.7"
    assert client_address(scope("10.0.0.5", "198.51.100.7"), "10.0.0.0/24, 127.0.0.1") == "198.51.100.7"
    # two of our proxies in a row are skipped; all ours (an internal caller): the leftmost of them
    assert client_address(scope("10.0.0.5", "198.51.100.7, 10.0.0.6"), "10.0.0.0/24") == "198.51.100.7"
    assert client_address(scope("10.0.0.5", "10.0.0.9"), "10.0.0.0/24") == "10.0.0.9"
    assert client_address(scope("10.0.0.5"), "10.0.0.5") == "10.0.0.5"  # no header: the proxy itself
    assert client_address(scope("::ffff:10.0.0.5", "198.51.100.7"), "10.0.0.5") == "198.51.100.7"
    assert client_address({"type": "http", "headers": []}, "") == "unknown"
    with pytest.raises(ValueError):
        trusted_networks("10.0.0.300")


def test_a_typo_in_the_setting_stops_the_server(tmp_path):
    from loa.settings import Settings

    with pytest.raises(ValueError):
        Settings(data_dir=tmp_path, trusted_proxies="caddy")
    assert Settings(data_dir=tmp_path, trusted_proxies=" 172.31.240.10, fd00::/8").trusted_proxies


@pytest.fixture
def serve(tmp_path):
    procs = []

    def start(trusted: str = "") -> str:
        port = free_port()
        env = {**os.environ, "LOA_DATA_DIR": str(tmp_path / f"data-{port}"), "LOA_TRUSTED_PROXIES": trusted,
               "LOA_PRINT_SETUP_TOKEN": "false", "LOA_WORKER_ENABLED": "false", "LOA_SCHEDULER_ENABLED": "false"}
        env.pop("LOA_DATABASE_URL", None)
        env.pop("FORWARDED_ALLOW_IPS", None)
        proc = subprocess.Popen([LOA, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                                stderr=(tmp_path / f"serve-{port}.log").open("wb"))
        procs.append(proc)
        wait_port(port, 60, proc)
        return f"http://127.0.0.1:{port}"

    yield start
    for p in procs:
        stop(p)


def _wrong_login(http: httpx.Client, forwarded: str) -> int:
    return http.post("/api/v1/auth/login", json={"username": "canbo", "password": "sai-mat-khau"},
                     headers={"X-Forwarded-For": forwarded}).status_code


def test_a_new_forwarded_address_per_attempt_does_not_dodge_the_lockout(serve):
    with httpx.Client(base_url=serve(), timeout=30) as http:
        codes = [_wrong_login(http, f"198.51.100.{i}") for i in range(1, 8)]
    assert codes[:5] == [401] * 5 and codes[5:] == [429, 429], codes


def test_behind_a_trusted_proxy_each_client_has_its_own_lockout(serve):
    with httpx.Client(base_url=serve("127.0.0.1"), timeout=30) as http:
        codes = [_wrong_login(http, "6.6.6.6, 198.51.100.1") for _ in range(6)]
        assert codes == [401] * 5 + [429], codes
        # the attacker's own left-hand entries change nothing; another client behind the proxy is not blocked
        assert _wrong_login(http, "7.7.7.7, 198.51.100.1") == 429
        assert _wrong_login(http, "198.51.100.2") == 401


def test_compose_trusts_exactly_its_proxy():
    import yaml

    compose = yaml.safe_load((Path(__file__).resolve().parents[2] / "docker-compose.yml").read_text())
    proxy_ip = compose["services"]["proxy"]["networks"]["default"]["ipv4_address"]
    for name in ("api-1", "api-2"):
        env = compose["services"][name]["environment"]
        assert env["LOA_TRUSTED_PROXIES"] == proxy_ip and "FORWARDED_ALLOW_IPS" not in env
    subnet = compose["networks"]["default"]["ipam"]["config"][0]["subnet"]
    assert client_address(scope(proxy_ip, "1.2.3.4, 198.51.100.7"), proxy_ip) == "198.51.100.7"
    assert trusted_networks(subnet)[0].overlaps(trusted_networks(proxy_ip)[0])
