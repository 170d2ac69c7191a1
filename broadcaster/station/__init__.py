"""The station side of the device protocol (docs/device-protocol.md): enrollment, device credentials, signed
manifests, audio grants, heartbeats and alerts, proof of play, and "sync now" nudges over SSE and MQTT.

Server side only: the village agent never imports this package."""
