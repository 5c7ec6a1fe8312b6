"""The watched list: /intelfeed."""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from emulator import views
from emulator.params import InputError, Request, bool_param, int_param, str_param


# ---------------------------------------------------------------------- /intelfeed
def get_intelfeed(request: Request) -> list[Any]:
    """guide 2.26: names (strings), or `fulldetails` objects, of one source; `sources=true` lists the sources.
    Without `source`, the `intelfeed_default_source` switch plays the "default" source only (guide: "with no source
    given, the source is default") or every source."""
    entries = sorted(request.dataset.watched.values(), key=lambda entry: entry.name)
    if bool_param(request, 'sources'):
        return sorted({source for entry in entries for source in entry.sources})
    source = str_param(request, 'source')
    if not source and request.settings.intelfeed_default_source == 'default_only':
        source = 'default'
    if source:
        entries = [entry for entry in entries if source in entry.sources]
    if bool_param(request, 'fulldetails'):
        return [views.watched_entry(entry) for entry in entries]
    return [entry.name for entry in entries]


def _remove_watched(request: Request, names: list[str], source: str | None) -> dict[str, Any]:
    """guide 2.26: `source` must be given with removeentry when several sources exist; with it, the entry leaves
    that source only."""
    dataset = request.dataset
    if not source and len({s for entry in dataset.watched.values() for s in entry.sources}) > 1:
        raise InputError('source must be given with removeentry when several sources exist')
    dataset.unwatch(names, source)
    return views.watched_change(0, 0)


def post_intelfeed(request: Request) -> dict[str, Any]:
    dataset = request.dataset
    description = str_param(request, 'description')
    source = str_param(request, 'source')
    if description is not None and len(description) >= 256:
        raise InputError('description must be shorter than 256 characters')
    if source is not None and len(source) >= 64:
        raise InputError('source must be shorter than 64 characters')
    if bool_param(request, 'removeall'):
        dataset.clear_watched()
        return views.watched_change(0, 0)
    remove = str_param(request, 'removeentry')
    if remove:
        return _remove_watched(request, _entry_names(remove), source)
    names = _entry_names(str_param(request, 'addlist') or '') + _entry_names(str_param(request, 'addentry') or '')
    if not names:
        raise InputError('One of addentry, addlist, removeentry or removeall is required')
    expiry = str_param(request, 'expiry')
    if expiry:
        try:
            datetime.fromisoformat(expiry.replace('Z', '+00:00'))
        except ValueError:
            raise InputError('Invalid value for expiry: expected an ISO 8601 UTC time') from None
    strength = int_param(request, 'strength', default=100, minimum=0, maximum=100)
    added = updated = 0
    for name in dict.fromkeys(names):
        if dataset.watch(name, description=description, expiry=expiry or None,
                         strength=strength if strength is not None else 100, iagn=bool_param(request, 'iagn'),
                         source=source or 'default', hostname=bool_param(request, 'hostname')):
            added += 1
        else:
            updated += 1
    return views.watched_change(added, updated)


def _entry_names(text: str) -> list[str]:
    return [part.strip().lower() for part in re.split(r'[,\n\r]+', text) if part.strip()]
