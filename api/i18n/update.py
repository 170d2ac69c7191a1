"""Refresh the catalogs from the sources: `python -m api.i18n.update` extracts every message id from the web
templates (`_("…")`) and Python (`_`, `N_`), adds new ones to each .po (untranslated), drops obsolete ones and
keeps existing translations. Translators then fill the empty msgstr lines."""
from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from api.i18n import DOMAIN, LANGUAGES, po_path

WEB = Path(__file__).resolve().parent.parent / "web"
METHODS = [("**/templates/**.html", "jinja2.ext:babel_extract"), ("**.py", "python")]
OPTIONS = {"**/templates/**.html": {"trim_blocks": "true", "lstrip_blocks": "true"}}


def extract() -> Catalog:
    template = Catalog(domain=DOMAIN, project="Loa")
    for filename, lineno, message, comments, context in extract_from_dir(
            WEB, METHODS, options_map=OPTIONS, keywords={"_": None, "N_": None, "gettext": None}):
        template.add(message, locations=[(filename, lineno)], auto_comments=comments, context=context)
    return template


def update() -> dict[str, int]:
    template = extract()
    counts: dict[str, int] = {}
    for lang in LANGUAGES[:1]:  # English is the message ids themselves
        path = po_path(lang)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            with path.open("rb") as fh:
                catalog = read_po(fh, locale=lang, domain=DOMAIN)
        else:
            catalog = Catalog(locale=lang, domain=DOMAIN, project="Loa")
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        catalog.fuzzy = False  # the header: a fuzzy header would make tools skip the catalog
        with path.open("wb") as fh:
            write_po(fh, catalog, width=120, omit_header=False, sort_output=True, include_previous=False)
        counts[lang] = sum(1 for m in catalog if m.id and not m.string)
    return counts


if __name__ == "__main__":
    print(update())
