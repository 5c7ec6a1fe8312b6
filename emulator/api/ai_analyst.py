"""AI Analyst: incident events, groups, acknowledging and pinning, comments."""
from __future__ import annotations

from typing import Any

from emulator import views
from emulator.dataset import DAY_MS
from emulator.params import (InputError, NotFound, Request, bool_param, comment_message, float_param, id_list,
                             int_param, str_param, time_window)


# ---------------------------------------------------------------------- AI Analyst
def _ai_window(request: Request) -> tuple[int, int]:
    start, end = time_window(request)
    end = request.now_ms if end is None else end
    return (end - 7 * DAY_MS if start is None else start), end


def _pinned_events(request: Request) -> list[dict[str, Any]]:
    """Visible events that are pinned or belong to an incident holding a pinned event (guide 2.5, 2.8)."""
    dataset = request.dataset
    pinned_groups = {e['currentGroup'] for e in dataset.incidents.values() if e['pinned']}
    return [e for event_id, e in dataset.incidents.items()
            if (e['pinned'] or e['currentGroup'] in pinned_groups) and dataset.event_visible(event_id, request.now_ms)]


def _with_pinned(request: Request, window: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """guide 2.5: pinned events come back whatever the window unless includeallpinned=false (default true);
    includeonlypinned=true returns them alone."""
    if bool_param(request, 'includeonlypinned'):
        return _pinned_events(request)
    if not bool_param(request, 'includeallpinned', default=True):
        return window
    known = {e['id'] for e in window}
    return window + [e for e in _pinned_events(request) if e['id'] not in known]


def get_incidentevents(request: Request) -> list[dict[str, Any]]:
    dataset = request.dataset
    uuids = id_list(request.param('uuid'))
    if uuids:
        events = [dataset.incidents[u] for u in uuids if dataset.event_visible(u, request.now_ms)]
    else:
        start, end = _ai_window(request)
        window = dataset.incident_events_between(start, end, on_periods=request.settings.ai_time_filter == 'periods',
                                                 inclusive=request.settings.inclusive_bounds, now_ms=request.now_ms)
        window = _with_pinned(request, window)
        include_acknowledged = bool_param(request, 'includeacknowledged')
        minscore = float_param(request, 'minscore', 0, 100)
        maxscore = float_param(request, 'maxscore', 0, 100)
        mingroupscore = float_param(request, 'mingroupscore', 0, 100)
        did = int_param(request, 'did')
        group_ids = id_list(request.param('groupid'))
        critical_only = bool_param(request, 'groupcritical')
        events = [e for e in window
                  if (include_acknowledged or not e['acknowledged'])
                  and (minscore is None or e['aiaScore'] >= minscore)
                  and (maxscore is None or e['aiaScore'] <= maxscore)
                  and (mingroupscore is None or e['groupScore'] >= mingroupscore)
                  and (did is None or any(d['did'] == did for d in e['breachDevices']))
                  and (not group_ids or e['currentGroup'] in group_ids)
                  and (not critical_only or e['groupCategory'] == 'critical')]
    events = sorted(events, key=lambda e: e['createdAt'], reverse=True)
    include_url = bool_param(request, 'includeincidenteventurl')
    return [views.incident_event(event, include_url, request.base_url) for event in events]


def get_groups(request: Request) -> list[dict[str, Any]]:
    """``groupid`` selects groups by their own id and ``uuid`` the groups holding those incident
    events; with ``group_lookup=lenient`` either parameter takes either kind of id."""
    dataset = request.dataset
    event_ids = id_list(request.param('uuid'))
    group_ids = id_list(request.param('groupid'))
    if request.settings.group_lookup == 'lenient':
        event_ids = group_ids = event_ids + group_ids
    ids = [group_id for group_id, group in dataset.groups.items()
           if group_id in group_ids or any(event_id in group['incidentEvents'] for event_id in event_ids)]
    if (event_ids or group_ids) and not ids:
        return []
    start, end = _ai_window(request)
    include_acknowledged = bool_param(request, 'includeacknowledged')
    minscore = float_param(request, 'minscore', 0, 100)
    # guide 2.6: pinned incidents come back whatever the window unless includeallpinned=false
    only_pinned = bool_param(request, 'includeonlypinned')
    all_pinned = only_pinned or bool_param(request, 'includeallpinned', default=True)
    reply = []
    for group in sorted(dataset.groups.values(), key=lambda g: g['start'], reverse=True):
        events = [dataset.incidents[e] for e in group['incidentEvents']]
        acknowledged = all(e['acknowledged'] for e in events)
        pinned = any(e['pinned'] for e in events)
        outside = group['end'] < start or group['start'] > end
        if ids:
            if group['id'] not in ids:
                continue
        elif ((only_pinned and not pinned) or (outside and not (all_pinned and pinned))
              or (acknowledged and not include_acknowledged)
              or (minscore is not None and group['groupScore'] < minscore)):
            continue
        reply.append(views.incident_group(group, events, acknowledged, pinned))
    return reply


def _set_incident_flag(request: Request, flag: str, value: bool) -> dict[str, str]:
    uuids = id_list(request.param('uuid'))
    if not uuids:
        raise InputError('uuid is required')
    missing = [u for u in uuids if u not in request.dataset.incidents]
    if missing:
        raise NotFound(f'Incident event {missing[0]} not found')
    request.dataset.set_incident_flag(uuids, flag, value, request.now_ms)
    return views.aianalyst_success()


def post_ai_acknowledge(request: Request) -> dict[str, str]:
    return _set_incident_flag(request, 'acknowledged', True)


def post_ai_unacknowledge(request: Request) -> dict[str, str]:
    return _set_incident_flag(request, 'acknowledged', False)


def post_ai_pin(request: Request) -> dict[str, str]:
    return _set_incident_flag(request, 'pinned', True)


def post_ai_unpin(request: Request) -> dict[str, str]:
    return _set_incident_flag(request, 'pinned', False)


def _incident_or_404(request: Request, incident_id: str | None) -> str:
    if not incident_id:
        raise InputError('incident_id is required')
    if incident_id not in request.dataset.incidents:
        raise NotFound(f'Incident event {incident_id} not found')
    return incident_id


def get_incident_comments(request: Request) -> dict[str, Any]:
    incident_id = _incident_or_404(request, str_param(request, 'incident_id'))
    comments = request.dataset.incident_comments.get(incident_id, [])
    return views.incident_comments(incident_id, comments)


def post_incident_comment(request: Request) -> dict[str, str]:
    incident_id = _incident_or_404(request, str_param(request, 'incident_id'))
    message = comment_message(request)
    request.dataset.add_incident_comment(incident_id, message, request.token_pair.username, request.now_ms)
    return views.success()  # guide 2.9: the POST reply is not shown; the model-breach comment's is this one
