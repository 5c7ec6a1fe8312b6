"""Model breaches: /modelbreaches, acknowledging, their comments and the /mbcomments feed."""
from __future__ import annotations

from typing import Any

from emulator import views
from emulator.dataset import DAY_MS, Breach
from emulator.params import (NotFound, Request, bool_param, comment_message, float_param, int_param, str_param,
                             time_window)
from emulator.wire import Response


YEAR_MS = 365 * DAY_MS


# ---------------------------------------------------------------------- /modelbreaches
def _breach_flags(request: Request) -> dict[str, Any]:
    return {'include_acknowledged': bool_param(request, 'includeacknowledged'),
            'include_url': bool_param(request, 'includebreachurl'), 'base_url': request.base_url,
            # guide ambiguities 1, 2: the defaults of minimal and deviceattop contradict each other in the guide
            'minimal': bool_param(request, 'minimal', default=request.settings.breach_defaults == 'notes_ui'),
            'device_at_top': bool_param(request, 'deviceattop', default=request.settings.breach_defaults != 'table')}


def _render_breach(request: Request, breach: Breach) -> dict[str, Any]:
    return views.breach(request.dataset, breach, **_breach_flags(request))


def visible_breach(request: Request, pbid: int) -> Breach:
    breach = request.dataset.get_breach(pbid, request.now_ms)
    if breach is None:
        raise NotFound(f'Model breach {pbid} not found')
    return breach


def get_modelbreaches(request: Request) -> Any:
    pbid = int_param(request, 'pbid')
    if pbid is not None:
        return _render_breach(request, visible_breach(request, pbid))
    did = int_param(request, 'did')
    pid = int_param(request, 'pid')
    uuid = str_param(request, 'uuid')
    minscore = float_param(request, 'minscore', 0.0, 1.0)
    count = int_param(request, 'count', minimum=0)
    include_acknowledged = bool_param(request, 'includeacknowledged')
    on_creation = bool_param(request, 'creationtime')
    start, end = time_window(request)
    if start is None:
        # Without a start the appliance returns up to one year.
        start = (end if end is not None else request.now_ms) - YEAR_MS
    window = request.dataset.breaches_between(start, end, on_creation=on_creation,
                                              inclusive=request.settings.inclusive_bounds, now_ms=request.now_ms)
    selected = [breach for breach in window
                if (include_acknowledged or not breach.acknowledged)
                and (did is None or breach.did == did)
                and (pid is None or breach.pid == pid)
                and (minscore is None or breach.score >= minscore)]
    if uuid is not None:
        model = request.dataset.models_by_uuid.get(uuid)
        selected = [breach for breach in selected if model is not None and breach.pid == model.pid]
    if request.settings.order == 'desc':
        selected.reverse()
    elif request.settings.order == 'shuffle':
        request.shuffle.shuffle(selected)
    if count is not None and request.settings.honour_count:
        selected = selected[:count]
    if request.query.get('responsedata'):
        return [_render_breach(request, breach) for breach in selected]
    flags = _breach_flags(request)
    text = '[' + ','.join(views.breach_text(request.dataset, breach, **flags) for breach in selected) + ']'
    return Response(status=200, body=text.encode('utf-8'))


def get_modelbreach(request: Request) -> dict[str, Any]:
    return _render_breach(request, visible_breach(request, int(request.path_args['pbid'])))


def _ack_reply(request: Request, pbid: int) -> Any:
    return views.breach_acknowledged_list(pbid) if request.settings.ack_reply == 'list' else views.success()


def _set_acknowledged(request: Request, acknowledged: bool) -> Any:
    breach = visible_breach(request, int(request.path_args['pbid']))
    request.dataset.set_acknowledged(breach.pbid, acknowledged, request.now_ms)
    return _ack_reply(request, breach.pbid)


def post_acknowledge(request: Request) -> Any:
    return _set_acknowledged(request, True)


def post_unacknowledge(request: Request) -> Any:
    return _set_acknowledged(request, False)


def get_breach_comments(request: Request) -> list[dict[str, Any]]:
    breach = visible_breach(request, int(request.path_args['pbid']))
    comments = sorted(request.dataset.comments.get(breach.pbid, []), key=lambda item: (item.time, item.seq))
    return [views.breach_comment(comment, breach.pid) for comment in comments]


def post_breach_comment(request: Request) -> Any:
    breach = visible_breach(request, int(request.path_args['pbid']))
    message = comment_message(request)
    comment = request.dataset.add_comment(breach.pbid, message, request.token_pair.username, request.now_ms)
    if request.settings.comment_reply == 'list':
        return [views.breach_comment(comment, breach.pid)]
    return views.success()


def get_mbcomments(request: Request) -> list[dict[str, Any]]:
    dataset = request.dataset
    pbid = int_param(request, 'pbid')
    count = int_param(request, 'count', default=100, minimum=0)
    start, end = time_window(request)
    if pbid is not None:
        comments = [c for c in dataset.comments.get(pbid, []) if (start is None or c.time >= start)
                    and (end is None or c.time <= end)]
    else:
        comments = dataset.comments_between(start, end)
    visible = [c for c in comments if dataset.get_breach(c.pbid, request.now_ms) is not None]
    visible.sort(key=lambda item: (item.time, item.seq), reverse=True)
    reply = []
    for comment in visible[:count]:
        model = dataset.models.get(dataset.breaches[comment.pbid].pid)
        reply.append(views.mb_comment(comment, model.pid if model else 0, model.spec.name if model else ''))
    return reply
