"""Test-only: every app of a test run shares FastAPI's per-route analysis instead of redoing it.

FastAPI (0.16x) builds an included router's route state lazily, per app, on the first request that reaches it:
for every route it analyses the endpoint's signature (`_build_dependant_with_parameterless_dependencies`) and
builds pydantic TypeAdapters for the response model (`create_model_field`) and the request body
(`_get_body_field`). A station builds that once per
process. The suite builds a fresh app for almost every test, and that analysis was a quarter of the suite's CPU
(0.2–0.4 CPU-seconds per app, measured with py-spy on a 2-core machine).

These steps are pure functions of module-level objects (the endpoint function, its route's `Depends` objects,
the response model class), the same objects in every app of one process, so their results are memoized here,
keyed by those objects (held by the cache, so an `id` is never reused). What stays per app is everything that
refers to the app: the request handlers, the dependency-overrides provider, the route table itself.

These are FastAPI internals, so pyproject pins FastAPI below the next minor version and
tests/test_fastapi_routes_hook.py fails if the hook no longer engages or if an app built with it differs from
one built without it."""
from __future__ import annotations

import threading
from typing import Any, Callable

_lock = threading.Lock()
_installed: dict[str, Any] = {}
stats = {"hits": 0, "misses": 0}


def _memo(fn: Callable[..., Any], key_of: Callable[..., tuple[Any, ...] | None]) -> Callable[..., Any]:
    cache: dict[tuple[Any, ...], tuple[Any, Any]] = {}

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            key = key_of(*args, **kwargs)
            hit = cache.get(key) if key is not None else None
        except TypeError:  # an unhashable argument: not memoized
            key, hit = None, None
        if hit is not None:
            stats["hits"] += 1
            return hit[0]
        value = fn(*args, **kwargs)
        if key is not None:
            stats["misses"] += 1
            cache[key] = (value, (args, kwargs))  # the arguments are kept: the ids in the key stay theirs
        return value

    wrapper.__wrapped__ = fn  # type: ignore[attr-defined]
    wrapper.loa_memo = True  # type: ignore[attr-defined]
    return wrapper


def _dependant_key(*, path: str, call: Any, dependencies: Any) -> tuple[Any, ...]:
    return (path, call, tuple(id(d) for d in dependencies))


def _response_field_key(*args: Any, **kwargs: Any) -> tuple[Any, ...] | None:
    # FastAPI's routing calls it for response models only, by keyword: (name, type_, mode)
    if args or set(kwargs) - {"name", "type_", "mode"}:
        return None
    return (kwargs.get("name"), kwargs.get("type_"), kwargs.get("mode", "validation"))


def _body_field_key(*, body_params: Any, name: str, embed_body_fields: bool) -> tuple[Any, ...]:
    return (tuple(id(p) for p in body_params), name, embed_body_fields)  # body_params: the memoized dependant's


_STEPS = {  # fastapi.routing's name → the key its result is memoized under
    "_build_dependant_with_parameterless_dependencies": _dependant_key,
    "create_model_field": _response_field_key,
    "_get_body_field": _body_field_key,
}


def install() -> bool:
    """Memoize the steps in fastapi.routing. True when the hook is (now) in place."""
    import fastapi.routing as routing

    with _lock:
        if _installed:
            return True
        found = {name: getattr(routing, name, None) for name in _STEPS}
        if any(fn is None for fn in found.values()):
            return False  # FastAPI changed: tests/test_fastapi_routes_hook.py says so
        _installed.update(found)
        for name, key_of in _STEPS.items():
            setattr(routing, name, _memo(found[name], key_of))
        return True


def uninstall() -> None:
    import fastapi.routing as routing

    with _lock:
        if not _installed:
            return
        for name, fn in _installed.items():
            setattr(routing, name, fn)
        _installed.clear()
