"""The village agent (`loa agent`): enrolls, syncs a signed manifest, caches audio, plays on time, logs plays.

It imports nothing from the server side: only the standard library (HTTP included), `cryptography` (and optionally
`paho-mqtt`), and the shared wire format in `broadcaster.protocol`.
"""
AGENT_VERSION = "0.1.0"
