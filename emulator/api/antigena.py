"""Autonomous Response (RESPOND): /antigena and /antigena/manual. The state rules live in respond.py;
these handlers read parameters, ask the dataset for the change and render replies.
"""
from __future__ import annotations

import json
from typing import Any

from emulator import respond, views
from emulator.dataset import DAY_MS
from emulator.params import InputError, NotFound, Request, bool_param, device_or_404, int_param, str_param, time_window


# ---------------------------------------------------------------------- Autonomous Response
# The state rules live in respond.py; these handlers read parameters and render replies.
def _antigena_window(request: Request) -> tuple[int | None, int | None]:
    """guide 2.13: starttime/endtime and from/to must be paired."""
    for first, second in (('starttime', 'endtime'), ('from', 'to')):
        if (request.param(first) is None) != (request.param(second) is None):
            raise InputError(f'{first} and {second} must be specified in pairs')
    return time_window(request)


def get_antigena(request: Request) -> Any:
    """guide 2.13: with no window, every action expiring in the future or in the last 14 days."""
    dataset = request.dataset
    include_cleared = bool_param(request, 'includecleared')
    need_confirming = bool_param(request, 'needconfirming')
    pbid = int_param(request, 'pbid')
    did = int_param(request, 'did') if request.settings.antigena_did == 'honoured' else None
    start, end = _antigena_window(request)
    now = request.now_ms
    actions = [a for _, a in sorted(dataset.antigena.items())
               if (include_cleared or not a.cleared)
               and (not need_confirming or respond.state(a, now) == 'pending')
               and (pbid is None or a.pbid == pbid) and (did is None or a.did == did)
               and ((start is None and a.expires >= now - 14 * DAY_MS) or (start is not None and a.start >= start))
               and (end is None or a.start <= end) and a.start <= now]
    return views.antigena_reply(dataset, actions, now, include_history=bool_param(request, 'includehistory'),
                                include_connections=bool_param(request, 'includeconnections'),
                                full_devices=bool_param(request, 'fulldevicedetails'))


def _respond_reason(request: Request) -> str:
    reason = str_param(request, 'reason') or ''
    if request.settings.respond_audit and not reason.strip():
        # The guide says only that the POST fails; this emulator answers as for any bad input.
        raise InputError('A reason is required: Audit Antigena is enabled')
    return reason


def post_antigena(request: Request) -> dict[str, str]:
    """guide 2.13: JSON {codeid, activate | clear | duration, reason}."""
    codeid = int_param(request, 'codeid')
    if codeid is None:
        raise InputError('codeid is required')
    action = request.dataset.antigena.get(codeid)
    if action is None:
        raise NotFound(f'Action {codeid} not found')
    activate = bool_param(request, 'activate')
    clear = bool_param(request, 'clear')
    duration = int_param(request, 'duration', minimum=1)
    reason = _respond_reason(request)
    try:
        request.dataset.change_action(action, request.now_ms, request.token_pair.username, reason,
                                      activate=activate, clear=clear, duration=duration,
                                      from_start=request.settings.extend_from == 'start')
    except respond.Refused as refused:
        raise InputError(str(refused)) from None
    return views.success() if request.settings.respond_post_reply == 'success' else views.empty()


def _connections(request: Request) -> list[dict[str, Any]]:
    connections = request.param('connections') or []
    if isinstance(connections, str):
        try:
            connections = json.loads(connections)
        except ValueError:
            raise InputError('Invalid value for connections') from None
    if not isinstance(connections, list) or not all(
            isinstance(c, dict) and isinstance(c.get('src'), str) and isinstance(c.get('dst'), str)
            and (c.get('port') is None or (isinstance(c['port'], int) and 0 < c['port'] < 65536))
            for c in connections):
        raise InputError('Invalid value for connections: expected [{"src", "dst", "port"}]')
    return connections


def post_antigena_manual(request: Request) -> dict[str, int]:
    did = int_param(request, 'did')
    kind = str_param(request, 'action')
    duration = int_param(request, 'duration', minimum=1)
    if did is None or kind is None or duration is None:
        raise InputError('did, action and duration are required')
    device_or_404(request, did)
    try:
        action = request.dataset.create_action(did, kind, duration, _respond_reason(request),
                                               request.token_pair.username, _connections(request), request.now_ms)
    except respond.Refused as refused:
        raise InputError(str(refused)) from None
    return views.manual_action(request.settings.manual_reply_key, action.codeid)
