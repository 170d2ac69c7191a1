"""The process's manifest cache (broadcaster/station/manifests.py): bounded by bytes as well as by count (an
emergency repeated until cancelled of a short clip makes manifests of megabytes), and never back in seq, even
after it evicted a device's entry."""
from __future__ import annotations

from broadcaster.station.manifest_cache import CachedManifest, ManifestCache


def _entry(seq: int, size: int, key: str = "k") -> CachedManifest:
    return CachedManifest(key, f"m-{seq}", False, b"x" * size, seq=seq)


def test_bounded_by_bytes_the_oldest_go_first():
    cache = ManifestCache(max_bytes=10_000)
    for device in range(1, 6):
        cache.put(device, _entry(device, 3_000))
    assert cache.size_bytes <= 10_000
    assert [d for d in range(1, 6) if cache.get(d, "k")] == [3, 4, 5]  # 1 and 2 were evicted, oldest first
    cache.put(4, _entry(9, 1_000))  # replacing an entry counts its new size only
    assert cache.size_bytes == 3_000 + 1_000 + 3_000 and cache.get(4, "k").seq == 9
    cache.put(7, _entry(10, 20_000))  # larger than the whole budget: not kept, the stored row answers
    assert cache.get(7, "k") is None and cache.size_bytes <= 10_000


def test_bounded_by_count():
    cache = ManifestCache(limit=2)
    for device in (1, 2, 3):
        cache.put(device, _entry(device, 10))
    assert cache.get(1, "k") is None and cache.get(2, "k") and cache.get(3, "k")


def test_never_back_in_seq_even_after_an_eviction():
    cache = ManifestCache(max_bytes=5_000)
    cache.put(1, _entry(20, 3_000))
    cache.put(2, _entry(21, 3_000))  # evicts device 1's entry
    assert cache.get(1, "k") is None
    cache.put(1, _entry(19, 100))  # signed before the one evicted: refused
    assert cache.get(1, "k") is None
    cache.put(1, _entry(20, 100))  # the same one again (read back from its stored row): taken
    assert cache.get(1, "k").seq == 20
    cache.drop(1)  # revoked: the next manifest starts afresh
    cache.put(1, _entry(5, 100))
    assert cache.get(1, "k").seq == 5
