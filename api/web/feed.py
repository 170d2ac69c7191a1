"""A podcast-style RSS 2.0 feed of a village's (or a commune's) public announcements.

Enclosures carry absolute URLs, the byte length of the stored file and its MIME type, so podcast apps and
feed readers on residents' phones can download them."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime
from email.utils import format_datetime

from loa.languages import display_name
from content.library.models import ContentItem
from api.web.public import FORMATS, audio_ext

ITUNES = "http://www.itunes.com/dtds/podcast-1.0.dtd"
ATOM = "http://www.w3.org/2005/Atom"
ET.register_namespace("itunes", ITUNES)
ET.register_namespace("atom", ATOM)


def public_base_url(scope: dict, configured: str | None) -> str:
    """Where residents reach the station, for the feed's absolute links: LOA_PUBLIC_URL when set.

    Unset, the address this connection actually reached (the server socket, `scope["server"]`): right for a
    station reached directly on its LAN or public address, wrong behind a proxy (set LOA_PUBLIC_URL there; the
    compose file does). Never the Host header: a client can write anything there, and a feed is cached
    (public, 5 minutes) and copied into podcast apps, so a forged Host would send residents elsewhere."""
    if configured:
        return configured.rstrip("/")
    host, port = scope.get("server") or ("127.0.0.1", 80)
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}" if port in (80, None) else f"http://{host}:{port}"


def _duration(seconds: float | None) -> str:
    total = int(round(seconds or 0))
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


def build_feed(title: str, description: str, page_url: str, feed_url: str, base_url: str,
               items: list[ContentItem], now: datetime, language: str = "vi") -> bytes:
    rss = ET.Element("rss", {"version": "2.0"})
    channel = ET.SubElement(rss, "channel")
    ET.SubElement(channel, "title").text = title
    ET.SubElement(channel, "link").text = page_url
    ET.SubElement(channel, "description").text = description
    ET.SubElement(channel, "language").text = language
    ET.SubElement(channel, "lastBuildDate").text = format_datetime(now)
    ET.SubElement(channel, "generator").text = "Loa"
    ET.SubElement(channel, f"{{{ATOM}}}link", {"href": feed_url, "rel": "self", "type": "application/rss+xml"})
    ET.SubElement(channel, f"{{{ITUNES}}}author").text = title
    ET.SubElement(channel, f"{{{ITUNES}}}explicit").text = "false"
    for item in items:
        entry = ET.SubElement(channel, "item")
        ET.SubElement(entry, "title").text = f"{item.title} ({display_name(item.language, 'vi')})"
        ET.SubElement(entry, "link").text = f"{page_url}#item-{item.id}"
        words = item.transcript if item.transcript else item.text
        ET.SubElement(entry, "description").text = words or item.title
        ET.SubElement(entry, "guid", {"isPermaLink": "false"}).text = f"loa-item-{item.id}-{item.audio_sha256}"
        ET.SubElement(entry, "pubDate").text = format_datetime(item.reviewed_at or item.updated_at)
        ext = audio_ext(item)
        ET.SubElement(entry, "enclosure", {"url": f"{base_url}/r/audio/{item.audio_sha256}.{ext}",
                                           "length": str(item.size_bytes or 0), "type": FORMATS[ext]})
        ET.SubElement(entry, f"{{{ITUNES}}}duration").text = _duration(item.duration_s)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(rss, encoding="utf-8")
