"""Words of the bulletin pages, API CSV and charts (issue 16) that live in Python: here, under api/web, so the
catalog update (api/i18n/update.py) finds them."""
from __future__ import annotations

from api.web.choices import N_

CSV_HEADERS = (N_("District"), N_("Commune"), N_("Period"), N_("Minutes aired"), N_("Plays"),
               N_("Interrupted plays"), N_("Failed plays"), N_("Uptime (%)"))
NO_DISTRICT = N_("No district")
LEVEL_LABELS = {"normal": N_("Normal"), "priority": N_("Priority"), "emergency": N_("Emergency"),
                "fallback": N_("Filler")}
