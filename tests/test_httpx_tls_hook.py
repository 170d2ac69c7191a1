"""tests/hooks/httpx_tls.py: the suite's httpx clients share one TLS context, which still verifies."""
from __future__ import annotations

import ssl

import httpx
import httpx._transports.default as transports

from tests.hooks import httpx_tls


def test_the_hook_is_installed_and_clients_share_one_verifying_context():
    assert getattr(transports.create_ssl_context, "loa_shared", False)
    before = dict(httpx_tls.stats)
    with httpx.Client() as a, httpx.Client() as b:
        ctx_a = a._transport._pool._ssl_context
        ctx_b = b._transport._pool._ssl_context
    assert ctx_a is ctx_b
    assert httpx_tls.stats["shared"] + httpx_tls.stats["built"] >= before["shared"] + before["built"] + 2
    # what httpx builds by default: certificates and host names checked, against certifi's bundle
    assert ctx_a.verify_mode == ssl.CERT_REQUIRED and ctx_a.check_hostname
    assert ctx_a.cert_store_stats()["x509_ca"] > 50


def test_what_a_test_asks_for_itself_is_not_shared():
    own = ssl.create_default_context()
    with httpx.Client(verify=own) as a, httpx.Client(verify=False) as b, httpx.Client() as c:
        assert a._transport._pool._ssl_context is own
        off = b._transport._pool._ssl_context
        assert off.verify_mode == ssl.CERT_NONE and not off.check_hostname
        assert c._transport._pool._ssl_context.verify_mode == ssl.CERT_REQUIRED


def test_a_different_ca_bundle_in_the_environment_gets_its_own_context(monkeypatch, tmp_path):
    import certifi

    with httpx.Client() as default:
        shared = default._transport._pool._ssl_context
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(open(certifi.where(), "rb").read())
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    with httpx.Client() as other:
        assert other._transport._pool._ssl_context is not shared
