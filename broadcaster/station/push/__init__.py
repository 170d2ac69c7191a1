"""Nudge channels: Server-Sent Events inside the API process, MQTT through Mosquitto at scale."""
