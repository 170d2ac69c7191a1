"""The broadcaster's rows of the permission matrix (for tests/api/test_permissions.py's coverage test):
MATRIX = cadre-facing routes × roles; DEVICE_AUTH = routes that take a device token (every user token gets 401);
PUBLIC = enrollment routes a box calls before it has a token."""
from __future__ import annotations

from tests.api.matrix_roles import row


READ_ALL = row(200, 200, 200, 200, 404)
CADRE_ACT = row(200, 200, 403, 403, 404)

MATRIX = {
    ("POST", "/api/v1/communes/{commune_id}/enrollments/confirm"): ("device_code", row(201, 201, 403, 403, 404)),
    ("POST", "/api/v1/communes/{commune_id}/enrollments/reject"): ("device_code_reject", row(204, 204, 403, 403, 404)),
    ("POST", "/api/v1/devices/{device_id}/enrollment-code"): ("device", row(201, 201, 403, 403, 404)),
    ("POST", "/api/v1/devices/{device_id}/revoke"): ("device", CADRE_ACT),
    ("GET", "/api/v1/communes/{commune_id}/device-status"): (None, READ_ALL),
    ("GET", "/api/v1/devices/{device_id}/status"): ("device", READ_ALL),
    ("PUT", "/api/v1/devices/{device_id}/sound"): ("sound", CADRE_ACT),
    ("GET", "/api/v1/communes/{commune_id}/device-alerts"): (None, READ_ALL),
    ("GET", "/api/v1/devices/{device_id}/plays"): ("device", READ_ALL),
    ("GET", "/api/v1/villages/{village_id}/plays"): (None, READ_ALL),
}
DEVICE_AUTH = {("GET", "/api/device/v1/manifest"), ("GET", "/api/device/v1/audio/{sha256}"),
               ("POST", "/api/device/v1/heartbeat"), ("POST", "/api/device/v1/plays"),
               ("GET", "/api/device/v1/events"), ("GET", "/api/device/v1/keys"),
               ("GET", "/api/device/v1/streams/{name}")}  # a relayed radio or live speech (issue 15)
PUBLIC = {("POST", "/api/device/v1/enroll/start"), ("POST", "/api/device/v1/enroll/poll"),
          ("POST", "/api/device/v1/enroll/claim")}
