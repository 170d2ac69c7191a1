"""Interchange between stations (issue 16 point 4): a commune station hanging under an upper-level station.

Versioned JSON messages (`loa.interchange.<kind>/<n>`), each signed by the sending station's Ed25519 key over
its canonical JSON (the same key and bytes rules as device manifests), sent over HTTP(S) from a persistent
outbox, received idempotently by (sender, kind, object id, version). Audio travels by content hash: the receiver
fetches it from the sender and checks sha256 and size before anything is stored. `adapter.py` is the one place
this package meets the bulletins domain (schedules.bulletins); see docs/interchange.md.
"""
