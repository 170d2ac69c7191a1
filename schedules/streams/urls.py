"""Which stream addresses the station will fetch. The station itself opens the URL (to relay it to the
browser for a listen, and the loudspeakers open it to air it), so an address must be a public http(s) radio
stream: never a file, never a machine of the station's own network (a "listen" must not become a way to read
the station's internal services). `allowed_hosts` (LOA_RELAY_ALLOWED_HOSTS) names exceptions, e.g. a stream
server on the station's own LAN."""
from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from loa.errors import Invalid

_INTERNAL_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa", ".intranet", ".corp")


def _bad(vi: str, en: str) -> Invalid:
    return Invalid("stream_url_invalid", vi, en)


def host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return (parts.hostname or "").lower(), parts.port or (443 if parts.scheme == "https" else 80)


def allowed(url: str, allowed_hosts: Iterable[str]) -> bool:
    host, port = host_port(url)
    names = {h.strip().lower() for h in allowed_hosts if h.strip()}
    return host in names or f"{host}:{port}" in names


def _internal_ip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def check_url(url: str, allowed_hosts: Iterable[str] = ()) -> str:
    """The URL, trimmed, if it may be a relay stream; otherwise a 422 a cadre understands. No DNS here."""
    url = (url or "").strip()
    if not url:
        raise _bad("Hãy nhập địa chỉ luồng (bắt đầu bằng http:// hoặc https://)",
                   "Type the stream address (starting with http:// or https://)")
    if len(url) > 2000 or any(c.isspace() for c in url):
        raise _bad("Địa chỉ luồng không hợp lệ", "Not a valid stream address")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _bad("Địa chỉ luồng không hợp lệ", "Not a valid stream address") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise _bad("Chỉ nhận địa chỉ bắt đầu bằng http:// hoặc https://",
                   "Only addresses starting with http:// or https:// are accepted")
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        raise _bad("Địa chỉ luồng thiếu tên máy chủ", "The stream address has no server name")
    if parts.username or parts.password:
        raise _bad("Không ghi tên đăng nhập hoặc mật khẩu trong địa chỉ luồng",
                   "Do not put a user name or password in the stream address")
    if port == 0:
        raise _bad("Địa chỉ luồng không hợp lệ", "Not a valid stream address")
    if allowed(url, allowed_hosts):
        return url
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        ip = None
    if ip is not None:
        if _internal_ip(ip):
            raise _internal()
    elif host == "localhost" or host.endswith(_INTERNAL_SUFFIXES) or "." not in host or _numeric_tld(host):
        raise _internal()
    return url


def _numeric_tld(host: str) -> bool:
    """"2130706433", "0x7f.1", "127.1": shorthand IP forms resolvers accept; no real name ends in digits."""
    last = host.rsplit(".", 1)[-1]
    return last.isdigit() or last.startswith("0x")


def _internal() -> Invalid:
    return _bad("Địa chỉ này là máy trong mạng nội bộ, không phải đài phát thanh công cộng",
                "That address is a machine of a local network, not a public radio station")


def check_resolved(url: str, allowed_hosts: Iterable[str] = ()) -> None:
    """Before the station opens the URL: every address the name resolves to must be public (a public name may
    point inside). An unknown name is left to the fetch, which reports it as unreachable."""
    if allowed(url, allowed_hosts):
        return
    host, port = host_port(url)
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return
    for info in infos:
        if _internal_ip(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])):
            raise _internal()
