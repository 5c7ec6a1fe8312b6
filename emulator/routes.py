"""The signed API's route table: each route's method, path, permission and handler (emulator/api/, one module
per domain; a handler reads the dataset and asks it for every change).

A handler takes a ``Request`` (params.py) and returns a JSON-serialisable payload (sent with
200) or a ``Response``. Bad parameters raise ``InputError`` (400 ``{"error", "response":
"INPUT ERROR"}``) and missing objects raise ``NotFound`` (404 ``{"error"}``). Each route names
the permission it needs (see auth.py) and how the appliance refuses a token pair lacking it: a
302 to ``/403`` for most routes, a 403 JSON body for a few.

Choices where the API documentation is silent: /details returns events newest first (the
breach record of ``?pbid=`` stays first); /mbcomments and AI Analyst lists are newest first.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from emulator.params import InputError, NotFound, Request
from emulator.settings import Settings
from emulator.wire import Response, json_response
from emulator.api.advanced_search import get_analyze, get_graph, get_search
from emulator.api.ai_analyst import (get_groups, get_incident_comments, get_incidentevents, post_ai_acknowledge,
                                     post_ai_pin, post_ai_unacknowledge, post_ai_unpin, post_incident_comment)
from emulator.api.antigena import get_antigena, post_antigena, post_antigena_manual
from emulator.api.breaches import (get_breach_comments, get_mbcomments, get_modelbreach, get_modelbreaches,
                                   post_acknowledge, post_breach_comment, post_unacknowledge)
from emulator.api.details import get_details
from emulator.api.devices import get_deviceinfo, get_devices, get_devicesearch, get_similardevices
from emulator.api.endpoints import get_endpointdetails
from emulator.api.models import get_component, get_components, get_model, get_models
from emulator.api.status import get_status
from emulator.api.tags import delete_tag_entity, get_tag_entities, get_tags, post_tag_entity
from emulator.api.watched import get_intelfeed, post_intelfeed


Handler = Callable[[Request], Any]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    permission: str
    handler: Handler
    forbidden: str = 'redirect'  # 'redirect' = 302 /403, 'json' = 403 {"error": "403 Forbidden"}


# ---------------------------------------------------------------------- the route table
RESPOND_PERMISSIONS = frozenset({'antigena', 'antigena_write'})  # the routes the `respond` setting governs


def _route(method: str, pattern: str, permission: str, handler: Handler, forbidden: str = 'redirect') -> Route:
    return Route(method, re.compile(f'^{pattern}$'), permission, handler, forbidden)


_PBID = r'/modelbreaches/(?P<pbid>\d+)'

ROUTES: tuple[Route, ...] = (
    _route('GET', '/status', 'status', get_status),
    _route('GET', '/modelbreaches', 'modelbreaches', get_modelbreaches),
    _route('GET', _PBID, 'modelbreaches', get_modelbreach),
    _route('POST', _PBID + '/acknowledge', 'modelbreaches_write', post_acknowledge),
    _route('POST', _PBID + '/unacknowledge', 'modelbreaches_write', post_unacknowledge),
    _route('GET', _PBID + '/comments', 'comments', get_breach_comments),
    _route('POST', _PBID + '/comments', 'comments', post_breach_comment),
    _route('GET', '/mbcomments', 'comments', get_mbcomments),
    _route('GET', '/details', 'details', get_details),
    _route('GET', '/devices', 'devices', get_devices),
    _route('GET', '/devicesearch', 'devicesearch', get_devicesearch),
    _route('GET', '/similardevices', 'similardevices', get_similardevices),
    _route('GET', '/endpointdetails', 'endpointdetails', get_endpointdetails),
    _route('GET', '/deviceinfo', 'deviceinfo', get_deviceinfo),
    _route('GET', '/tags', 'tags', get_tags),
    _route('GET', '/tags/entities', 'tags', get_tag_entities),
    _route('POST', '/tags/entities', 'tags_write', post_tag_entity),
    _route('DELETE', '/tags/entities', 'tags_write', delete_tag_entity),
    _route('GET', '/intelfeed', 'intelfeed', get_intelfeed),
    _route('POST', '/intelfeed', 'intelfeed_write', post_intelfeed, forbidden='json'),
    _route('GET', '/advancedsearch/api/search/(?P<query>.+)', 'advancedsearch', get_search),
    _route('GET', '/advancedsearch/api/analyze/(?P<field>[^/]+)/(?P<analysis>[^/]+)/(?P<query>.+)',
           'advancedsearch', get_analyze),
    _route('GET', '/advancedsearch/api/graph/(?P<mode>[^/]+)/(?P<interval>\\d+)/(?P<query>.+)',
           'advancedsearch', get_graph),
    _route('GET', '/models', 'models', get_models),
    _route('GET', '/models/(?P<pid>\\d+)', 'models', get_model),
    _route('GET', '/components', 'components', get_components),
    _route('GET', '/components/(?P<cid>\\d+)', 'components', get_component),
    _route('GET', '/aianalyst/incidentevents', 'aianalyst', get_incidentevents),
    _route('GET', '/aianalyst/groups', 'aianalyst', get_groups),
    _route('POST', '/aianalyst/acknowledge', 'aianalyst_write', post_ai_acknowledge),
    _route('POST', '/aianalyst/unacknowledge', 'aianalyst_write', post_ai_unacknowledge),
    _route('POST', '/aianalyst/pin', 'aianalyst_write', post_ai_pin),
    _route('POST', '/aianalyst/unpin', 'aianalyst_write', post_ai_unpin),
    _route('GET', '/aianalyst/incident/comments', 'aianalyst', get_incident_comments),
    _route('POST', '/aianalyst/incident/comments', 'aianalyst_write', post_incident_comment),
    _route('GET', '/antigena', 'antigena', get_antigena),
    _route('POST', '/antigena', 'antigena_write', post_antigena, forbidden='json'),
    _route('POST', '/antigena/manual', 'antigena_write', post_antigena_manual, forbidden='json'),
)


def find_route(method: str, raw_path: str, settings: Settings | None = None) -> tuple[Route, dict[str, str]] | None:
    """The route for a method and raw path (a trailing slash is tolerated, as Express does).

    The path route for one breach exists only when the ``breach_path_route`` setting says so.
    """
    path = raw_path.rstrip('/') or '/'
    for route in ROUTES:
        if route.method != method.upper():
            continue
        if route.handler is get_modelbreach and settings is not None and not settings.breach_path_route:
            continue
        match = route.pattern.match(path)
        if match:
            return route, match.groupdict()
    return None


def call(route: Route, request: Request) -> Response:
    """Run a handler; turn its payload or its InputError/NotFound into a Response."""
    try:
        payload = route.handler(request)
    except InputError as error:
        return json_response({'error': str(error), 'response': 'INPUT ERROR'}, status=400)
    except NotFound as error:
        return json_response({'error': str(error)}, status=404)
    if isinstance(payload, Response):
        return payload
    field_name = request.query.get('responsedata')
    if field_name and request.method == 'GET':
        payload = _trim(payload, field_name)
    return json_response(payload)


def _trim(payload: Any, field_name: str) -> Any:
    """``responsedata=<field>``: keep one top-level field of the object or of each item; a comma list keeps each
    field named (guide 0.6: ``responsedata=did,hostname``, ``responsedata=model,percentscore,device``)."""
    if isinstance(payload, list):
        return [_trim(item, field_name) for item in payload]
    if isinstance(payload, dict):
        names = [name for name in field_name.split(',') if name]
        return {name: payload[name] for name in names if name in payload}
    return payload
