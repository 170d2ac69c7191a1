"""All web pages in one router, included by api/app.py. None of them is in the OpenAPI document: they are
HTML for people (the JSON API stays /api/v1)."""
from __future__ import annotations

from fastapi import APIRouter

from api.web import (pages_audit, pages_auth, pages_compose, pages_devices, pages_emergency, pages_library,
                     pages_org, pages_public, pages_reports, pages_schedule, pages_streams)

from api.web import pages_account  # /app/account, /app/admin (issue 14)
from api.web import pages_live  # /app/c/{id}/live (issue 15)

router = APIRouter(include_in_schema=False)
router.include_router(pages_account.router)
for module in (pages_auth, pages_compose, pages_library, pages_schedule, pages_emergency, pages_devices,
               pages_reports, pages_streams, pages_org, pages_audit, pages_public):
    router.include_router(module.router)
router.include_router(pages_compose.json_router)
from api.web import pages_bulletins  # noqa: E402  (issue 16: bulletins down, reports up)

router.include_router(pages_bulletins.router)
router.include_router(pages_live.router)
from api.web import pages_areas, pages_interchange  # noqa: E402  (issue 16: the admin's levels and peers)

router.include_router(pages_areas.router)
router.include_router(pages_interchange.router)
