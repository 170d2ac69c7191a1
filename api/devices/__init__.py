"""The device protocol (/api/device/v1, device auth) and the cadre's device management (/api/v1)."""
