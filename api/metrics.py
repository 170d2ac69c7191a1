"""GET /metrics: Prometheus text (station/ops/metrics.py). Not for the public.

Access: with LOA_METRICS_TOKEN set, only `Authorization: Bearer <that token>` (any other caller: 401); without
it, only clients on the loopback interface (anyone else: 403). Behind the reverse proxy every request comes
from the proxy, so set the token (the Caddyfile in deploy/ also refuses /metrics from outside)."""
from __future__ import annotations

import hmac
import ipaddress

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from api.deps import client_ip
from api.errors import responses
from loa.errors import PermissionDenied, Unauthenticated
from station.ops import metrics

router = APIRouter(tags=["system"])
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def authorize(request: Request, token: str | None) -> None:
    if token:
        given = request.headers.get("authorization", "")
        scheme, _, secret = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(secret.strip().encode(), token.encode()):
            raise Unauthenticated("metrics_token_required", "Cần mã truy cập số liệu (LOA_METRICS_TOKEN)",
                                  "The metrics token is required (LOA_METRICS_TOKEN)")
        return
    if not _loopback(client_ip(request)):  # behind a trusted proxy: the real client, not the proxy
        raise PermissionDenied("metrics_local_only", "Số liệu chỉ xem được từ máy chủ (hoặc đặt LOA_METRICS_TOKEN)",
                               "Metrics are served to localhost only (or set LOA_METRICS_TOKEN)")


@router.get("/metrics", response_class=PlainTextResponse, responses={
    200: {"content": {"text/plain": {}}, "description": "Prometheus text exposition format 0.0.4"},
    **responses(401, 403)})
def prometheus_metrics(request: Request) -> PlainTextResponse:
    """Số liệu Prometheus / Prometheus metrics: devices online/offline, plays, failures, job queue, scheduler."""
    st = request.app.state
    authorize(request, st.settings.metrics_token)
    counter = getattr(st, "play_counter", None)
    if counter is None:
        counter = st.play_counter = metrics.PlayCounter()
    samples = metrics.collect(st.engine, st.clock(), st.settings.device_offline_after_s, counter)
    return PlainTextResponse(metrics.render(samples), media_type=CONTENT_TYPE)
