"""The Darktrace/Email API under its two prefixes (email-facts 1): search, one email, actions, download, catalogues.

Served on the Threat Visualizer host after the DTAPI check, like every signed route. Every path under a prefix
answers 403 ``{"error": "403 Forbidden"}`` when Email is not licensed or the token's user lacks "Email logs",
before routing (email-facts 5, [MCP-L]). A prefix the ``email_paths`` setting does not serve answers like an
unknown route (``email_missing_path``: a 404 page, or a redirect to the login page). Switches for what the evidence
leaves open (email-facts 10): ``email_time_unit`` (seconds, milliseconds or auto-detected), ``email_order``
(newest first, oldest first, or shuffled in an order that stays the same for every page of one search) and
``email_actions_reply`` (objects or bare names).
"""
from __future__ import annotations

import json
import random
import re
import zlib
from dataclasses import dataclass
from typing import Any, Callable

from emulator import views_email
from emulator.state.email import ACTION_CATALOGUE, FILTER_CATALOGUE, TAG_CATALOGUE, Email, EmailDataset
from emulator.settings import Settings
from emulator.wire import Response, html_response, json_response, redirect

PREFIXES = {'ep': '/agemail/api/ep/api/v1.0', 'direct': '/agemail/api/v1.0'}
EMAIL_ROOT = '/agemail/'
HOLD_CONFLICT = 'Failed to hold email - Previously Held or Released'  # email-facts 3.3, 5
RELEASE_CONFLICT = 'Failed to release email - Not Held'  # not public (email-facts 10, question 4)
TEXT_OPERATORS = ('~*', '=', '!=')
SEVERITY_RANK = {'info': 0, 'warn': 1, 'critical': 2}


class EmailInputError(Exception):
    """A request the Email API refuses with 400."""


@dataclass
class EmailRequest:
    method: str
    body: dict[str, Any]
    query: dict[str, str]
    path_args: dict[str, str]
    emails: EmailDataset
    settings: Settings
    now_ms: int
    permissions: frozenset[str]
    shuffle: random.Random


def is_email_path(raw_path: str) -> bool:
    return raw_path.startswith(EMAIL_ROOT)


def _email_or_404(request: EmailRequest) -> Email:
    email = request.emails.emails.get(request.path_args['uuid'])
    if email is None or email.visible_ms > request.now_ms:
        raise LookupError('Email not found')  # email-facts 3.2: 404 with an error text containing "Email not found"
    return email


def _window_value(value: Any, name: str, unit: str, end: bool = False) -> int:
    """timeFrom/timeTo in ms: epoch seconds (what real clients send, email-facts 3.1), ms, or (auto) by size. An
    end in seconds covers every millisecond of its second."""
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).strip().isdigit():
        raise EmailInputError(f'Invalid {name}: expected an epoch time')
    number = int(str(value).strip())
    if unit == 'milliseconds' or (unit == 'auto' and number >= 10 ** 11):
        return number
    return number * 1000 + (999 if end else 0)


def _matches(email: Email, criterion: dict[str, Any]) -> bool:
    """One criterion {apiFilter, operator, value} (email-facts 3.1), on any recipient where it concerns them."""
    api_filter, operator, value = (str(criterion.get(key, '')) for key in ('apiFilter', 'operator', 'value'))
    if api_filter == 'Email.Antigena Email Anomaly':
        score, limit = email.model_score, float(value)
        return {'>': score > limit, '<': score < limit, '=': score == limit}.get(operator, False)
    texts = {'Header.From.Email': [email.sender], 'Header.Subject.Subject Value': [email.subject],
             'Recipient.Email': [rcpt['rcpt_to'] for rcpt in email.rcpts], 'Connection.Direction': [email.direction],
             'Antigena Tag': [tag for rcpt in email.rcpts for tag in rcpt['tags']],
             'Action.Action Taken': [label.split(' ')[0] for rcpt in email.rcpts
                                     for label in rcpt['rcpt_actions_taken'][-1:]]}
    if api_filter == 'Model Tag Severity':
        texts[api_filter] = [tag['status'] for tag in TAG_CATALOGUE if tag['name'] in texts['Antigena Tag']]
    if api_filter not in texts or operator not in TEXT_OPERATORS:
        raise EmailInputError(f'Unknown filter {api_filter!r} or operator {operator!r}')
    if operator == '~*':
        found = [text for text in texts[api_filter] if value.lower() in text.lower()]
    else:
        found = [text for text in texts[api_filter] if value.lower() == text.lower()]
    return not found if operator == '!=' else bool(found)


def post_search(request: EmailRequest) -> Any:
    """POST /emails/search (email-facts 3.1): a bare list, 0-based pages of itemsPerPage, the window on dtime with
    both ends inclusive, criteria combined with "and" (or "or")."""
    body = request.body
    unit = request.settings.email_time_unit
    start = _window_value(body.get('timeFrom', 0), 'timeFrom', unit)
    end = _window_value(body.get('timeTo', request.now_ms // 1000), 'timeTo', unit, end=True)
    page, per_page = int(body.get('page', 0) or 0), int(body.get('itemsPerPage', 20) or 20)
    if page < 0 or not 1 <= per_page <= 1000:
        raise EmailInputError('Invalid page or itemsPerPage')
    query = body.get('query') or {}
    criteria = query.get('criteriaList') or [] if isinstance(query, dict) else []
    combine = any if isinstance(query, dict) and query.get('mode') == 'or' and criteria else all
    hits = [email for email in request.emails.emails.values()
            if email.visible_ms <= request.now_ms and start <= email.dtime_ms <= end
            and combine(_matches(email, criterion) for criterion in criteria)]
    order = request.settings.email_order
    hits.sort(key=lambda email: (email.dtime_ms, email.uuid), reverse=order == 'desc')
    if order == 'shuffle':  # an order the client cannot know, but the same for every page of one search
        random.Random(zlib.crc32(json.dumps([start, end, criteria], sort_keys=True).encode())).shuffle(hits)
    return [views_email.email_summary(email, request.now_ms)
            for email in hits[page * per_page:(page + 1) * per_page]]


def get_email(request: EmailRequest) -> Any:
    return views_email.email_details(_email_or_404(request), request.now_ms)


def post_action(request: EmailRequest) -> Any:
    """POST /emails/{uuid}/action (email-facts 3.3): the reply is views_email.action_reply's; a hold of a held or
    released recipient is a 409."""
    email = _email_or_404(request)
    action, recipients = request.body.get('action'), request.body.get('recipients')
    if action not in {item['action'] for item in ACTION_CATALOGUE}:
        raise EmailInputError(f'Unknown action {action!r}')
    if not isinstance(recipients, list) or not recipients:
        raise EmailInputError('recipients must be a non-empty list of addresses')
    by_address = {rcpt['rcpt_to'].lower(): rcpt for rcpt in email.rcpts}
    chosen = [by_address.get(str(address).lower()) for address in recipients]
    if None in chosen:
        raise EmailInputError('A recipient did not receive this email')
    if action == 'hold' and any(rcpt['rcpt_status'] in ('held', 'released') for rcpt in chosen):
        return json_response({'error': HOLD_CONFLICT}, status=409)
    if action == 'release' and any(rcpt['rcpt_status'] != 'held' for rcpt in chosen):
        return json_response({'error': RELEASE_CONFLICT}, status=409)
    label = next(item['label'] for item in ACTION_CATALOGUE if item['action'] == action)
    request.emails.take_action(email, chosen, action, label)
    return views_email.action_reply(action)


def get_download(request: EmailRequest) -> Response:
    text = views_email.email_message(_email_or_404(request))
    return Response(status=200, body=text.encode('utf-8'), content_type='message/rfc822')


def get_tags(request: EmailRequest) -> Any:
    return views_email.catalogue(request.emails.tags)  # email-facts 3.4


def get_actions(request: EmailRequest) -> Any:
    if request.settings.email_actions_reply == 'names':
        return [item['action'] for item in ACTION_CATALOGUE]
    return views_email.catalogue(ACTION_CATALOGUE)


def get_filters(request: EmailRequest) -> Any:
    return views_email.catalogue(FILTER_CATALOGUE)


_UUID = r'/emails/(?P<uuid>[0-9A-Fa-f-]{36}(\.[0-9]+)?)'
# (method, path after the prefix, permission beyond "email", handler); email-facts 3 and 6 for the permissions
ROUTES: tuple[tuple[str, re.Pattern[str], str | None, Callable[[EmailRequest], Any]], ...] = tuple(
    (method, re.compile(f'^{pattern}$'), permission, handler) for method, pattern, permission, handler in (
        ('POST', '/emails/search', None, post_search),
        ('GET', _UUID, None, get_email),
        ('POST', _UUID + '/action', 'email_action', post_action),
        ('GET', _UUID + '/download', 'email_download', get_download),
        ('GET', '/resources/tags', None, get_tags),
        ('GET', '/resources/actions', None, get_actions),
        ('GET', '/resources/filters', None, get_filters),
    ))


def answer(method: str, raw_path: str, query: dict[str, str], body: dict[str, Any], emails: EmailDataset,
           settings: Settings, now_ms: int, permissions: frozenset[str], shuffle: random.Random) -> Response:
    """The reply to a signed request under /agemail/."""
    served = [prefix for style, prefix in PREFIXES.items() if settings.email_paths in (style, 'both')]
    prefix = next((prefix for prefix in PREFIXES.values() if raw_path.startswith(prefix + '/')), None)
    if prefix is not None and ('email' not in permissions or settings.email == 'unlicensed'):
        return json_response({'error': '403 Forbidden'}, status=403)
    if prefix not in served:
        return _missing(method, raw_path, settings)
    path = raw_path[len(prefix or ''):].rstrip('/')
    for route_method, pattern, permission, handler in ROUTES:
        match = pattern.match(path)
        if route_method == method.upper() and match:
            if permission is not None and permission not in permissions:
                return json_response({'error': '403 Forbidden'}, status=403)
            request = EmailRequest(method.upper(), body, query, match.groupdict(), emails, settings, now_ms,
                                   permissions, shuffle)
            return _call(handler, request)
    return _missing(method, raw_path, settings)


def _missing(method: str, raw_path: str, settings: Settings) -> Response:
    if settings.email_missing_path == 'login':
        return redirect('/login')
    return html_response(f'<!DOCTYPE html><html><head><title>Error</title></head><body><pre>Cannot {method.upper()} '
                         f'{raw_path}</pre></body></html>', status=404)


def _call(handler: Callable[[EmailRequest], Any], request: EmailRequest) -> Response:
    try:
        payload = handler(request)
    except EmailInputError as error:
        return json_response({'error': str(error)}, status=400)
    except (TypeError, ValueError) as error:
        return json_response({'error': f'Invalid request: {error}'}, status=400)
    except LookupError as error:
        return json_response({'error': str(error)}, status=404)
    return payload if isinstance(payload, Response) else json_response(payload)
