"""The station's stream hub (issue 15): live speech from a phone and relayed radio, levelled and fanned out.

Interface (what the live session and the relays use; nothing else is needed):

    hub = StreamHub(ffmpeg=<path>, icecast=IcecastTarget(...) | None)   # one per process: app.state.streams
    mount = hub.open(name, source=<URL> | None, level=True, input_format=None)
        source=<URL>: the hub's ffmpeg pulls the upstream ONCE (Icecast/Shoutcast MP3/AAC/Ogg, HLS .m3u8)
        source=None:  the caller feeds encoded bytes in order with mount.feed(b) (the browser's WebM/Opus)
        raises MountExists if a live mount of that name runs, ValueError for a bad name
    mount.feed(b: bytes)               # MountClosed once ffmpeg is gone (mount.error says why)
    mount.listen()                     # async iterator of MP3 bytes from "now" (+ a few chunks of head start);
                                       # a listener more than 256 chunks behind is dropped, not buffered
    mount.listen_sync(timeout)         # the same for a thread (recordings, tests)
    mount.close(); mount.alive; mount.started_at; mount.last_input_at; mount.idle_seconds(); mount.error
    hub.get(name) -> Mount | None      # only while alive
    hub.url_for(name) -> str           # embedded: "/api/device/v1/streams/<name>" (device-authenticated route on
                                       # the station, relative: the agent joins it to its station URL);
                                       # at scale: "http://icecast:8000/<name>" (the hub's ffmpeg also pushes
                                       # to icecast://source:<pw>@host:port/<name> as a source client)
    hub.close(name); hub.close_all()

Every mount is one ffmpeg: input → aresample → real-time levelling to −16 LUFS (chain.LEVELLING, measured) →
MP3 64 kb/s mono 44.1 kHz, flushed per frame.
"""
from broadcaster.station.streams.chain import IcecastTarget
from broadcaster.station.streams.hub import DEVICE_ROUTE, MountExists, StreamHub
from broadcaster.station.streams.mount import Mount, MountClosed

__all__ = ["DEVICE_ROUTE", "IcecastTarget", "Mount", "MountClosed", "MountExists", "StreamHub"]
