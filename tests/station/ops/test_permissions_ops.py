"""GET /metrics in the permission matrix: no account grants it. Without LOA_METRICS_TOKEN only loopback clients
get it (the test client is not loopback: 403); with it, only that bearer token (every account's token: 401)."""
from __future__ import annotations

import pytest
from starlette.testclient import TestClient

ROLES = ["anon", "admin", "cadre", "secretary", "village_head", "outsider"]
NOT_A_METRICS_TOKEN = {role: 401 for role in ROLES}
MATRIX = {("GET", "/metrics"): (None, NOT_A_METRICS_TOKEN)}


@pytest.mark.parametrize("role", ROLES)
def test_metrics_matrix(role, settings, clock, world, client):
    from api.app import create_app

    assert client.get("/metrics", headers=world.h(None if role == "anon" else role)).status_code == 403
    guarded = settings.model_copy(update={"metrics_token": "so-lieu-bi-mat-0123456789"})
    with TestClient(create_app(guarded, clock=clock)) as c:
        r = c.get("/metrics", headers=world.h(None if role == "anon" else role))
        assert r.status_code == MATRIX[("GET", "/metrics")][1][role]
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["code"] == "metrics_token_required"
        assert c.get("/metrics", headers={"Authorization": "Bearer so-lieu-bi-mat-0123456789"}).status_code == 200
