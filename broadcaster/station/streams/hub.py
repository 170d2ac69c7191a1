"""The station's mounts, by name. One hub per station process (`app.state.streams`)."""
from __future__ import annotations

import re
import threading

from broadcaster.station.streams.chain import IcecastTarget
from broadcaster.station.streams.mount import Mount

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
DEVICE_ROUTE = "/api/device/v1/streams/{name}"


class MountExists(Exception):
    pass


class StreamHub:
    def __init__(self, *, ffmpeg: str, icecast: IcecastTarget | None = None) -> None:
        self.ffmpeg = ffmpeg
        self.icecast = icecast
        self._mounts: dict[str, Mount] = {}
        self._lock = threading.Lock()

    def open(self, name: str, *, source: str | None, level: bool = True, input_format: str | None = None,
             commune_id: int | None = None) -> Mount:
        """Start a mount: `source` an upstream URL the hub pulls once, or None for bytes fed with mount.feed().
        `commune_id`: only that commune's devices may listen on the device route (None: any enrolled device)."""
        if not NAME.match(name):
            raise ValueError(f"mount name {name!r}: a-z, 0-9, - and _ only")
        with self._lock:
            old = self._mounts.get(name)
            if old is not None and old.alive:
                raise MountExists(name)
            push = self.icecast.push_url(name) if self.icecast else None
            mount = Mount(name, ffmpeg=self.ffmpeg, source=source, level=level, input_format=input_format,
                          icecast_push=push, on_exit=self._forget)
            mount.commune_id = commune_id
            self._mounts[name] = mount
            return mount

    def _forget(self, mount: Mount) -> None:
        with self._lock:
            if self._mounts.get(mount.name) is mount:
                del self._mounts[mount.name]

    def get(self, name: str) -> Mount | None:
        mount = self._mounts.get(name)
        return mount if mount is not None and mount.alive else None

    def url_for(self, name: str) -> str:
        """What agents are told to play: at scale the Icecast mount (absolute URL, no device token), embedded the
        station's own device route (a path: the agent joins it to its station URL and sends its token)."""
        if self.icecast is not None:
            return self.icecast.listen_url(name)
        return DEVICE_ROUTE.format(name=name)

    def names(self) -> list[str]:
        return [n for n, m in list(self._mounts.items()) if m.alive]

    def close(self, name: str) -> None:
        mount = self._mounts.get(name)
        if mount is not None:
            mount.close()

    def close_all(self) -> None:
        for mount in list(self._mounts.values()):
            mount.close()
