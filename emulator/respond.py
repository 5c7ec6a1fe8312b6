"""Autonomous Response (RESPOND, formerly Antigena) actions: their state and how it changes.

An action is in one of four states, always derived from its flags and the appliance clock:

- pending: proposed by a model and waiting for a human to confirm it (not active, not cleared,
  not yet expired); left unconfirmed, it lapses at ``expires``;
- active: applied until ``expires``;
- expired: ``expires`` has passed;
- cleared: lifted by a person before it expired.

Changes, as ``POST /antigena`` and ``POST /antigena/manual`` make them:

- activate (``activate: true``, no duration): a pending action becomes active until its planned
  expiry; activating an active action changes nothing. A cleared or expired action needs a
  duration (that is a reactivation).
- reactivate (``activate: true`` with ``duration``): the action runs again from now for
  ``duration`` seconds; its ``start`` moves to now.
- extend (``duration`` alone): the action ends ``duration`` seconds from now (guide 2.13: "if an
  action has 100 seconds remaining, a POST request with duration 110 will extend the length of the
  action by 10 seconds"), so a smaller duration shortens it. The ``extend_from='start'`` setting
  plays the other reading (the new total length counted from ``start``). Only a pending or active
  action can be extended.
- clear (``clear: true``): the action stops now and stays cleared (clearing twice changes nothing).
- a manual action (``/antigena/manual``) gets the next free ``codeid`` and is active at once.

Every change is recorded in the action's ``history`` (shown with ``includehistory=true``) with the
user of the token pair and the reason given. Which of these rules real appliances share is not
documented; they are this emulator's choices, stated so tests and readers know them.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Callable

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
CODEID_BASE = 5_001
MANUAL_ACTIONS = ('connection', 'pol', 'gpol', 'quarantine', 'quarantineOutgoing', 'quarantineIncoming')


class Refused(ValueError):
    """A change the appliance rejects as bad input (400 INPUT ERROR)."""


@dataclass
class AntigenaAction:
    codeid: int
    did: int
    action: str
    label: str
    detail: str
    manual: bool
    triggerer: dict[str, str] | None
    score: float
    pbid: int
    model: str
    model_uuid: str
    start: int
    expires: int
    active: bool
    cleared: bool
    connections: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)


def state(action: AntigenaAction, now_ms: int) -> str:
    if action.cleared:
        return 'cleared'
    if action.expires <= now_ms:
        return 'expired'
    return 'active' if action.active else 'pending'


def _record(action: AntigenaAction, what: str, now_ms: int, username: str, reason: str) -> None:
    action.history.append({'time': now_ms, 'action': what, 'username': username, 'reason': reason,
                           'expires': action.expires})


def activate(action: AntigenaAction, now_ms: int, username: str, reason: str) -> None:
    current = state(action, now_ms)
    if current in ('cleared', 'expired'):
        raise Refused(f'Action {action.codeid} is {current}: give a duration to reactivate it')
    if current == 'pending':
        action.active = True
        _record(action, 'activated', now_ms, username, reason)


def reactivate(action: AntigenaAction, now_ms: int, duration_s: int, username: str, reason: str) -> None:
    action.start = now_ms
    action.expires = now_ms + duration_s * 1000
    action.active = True
    action.cleared = False
    _record(action, 'reactivated', now_ms, username, reason)


def extend(action: AntigenaAction, now_ms: int, duration_s: int, username: str, reason: str,
           from_start: bool = False) -> None:
    current = state(action, now_ms)
    if current in ('cleared', 'expired'):
        raise Refused(f'Action {action.codeid} is {current} and cannot be extended: reactivate it instead')
    # guide 2.13: "100 seconds remaining, duration 110 extends by 10 seconds": the action ends `duration` seconds
    # from now; `from_start` plays the other reading of ambiguity 8 (the total length from its start).
    expires = (action.start if from_start else now_ms) + duration_s * 1000
    if expires <= now_ms:
        raise Refused(f'Invalid value for duration: the action started at {action.start}, so a total of '
                      f'{duration_s} seconds ends in the past')
    action.expires = expires
    _record(action, 'extended', now_ms, username, reason)


def clear(action: AntigenaAction, now_ms: int, username: str, reason: str) -> None:
    if not action.cleared:
        action.cleared = True
        action.active = False
        _record(action, 'cleared', now_ms, username, reason)


def create_manual(actions: dict[int, AntigenaAction], did: int, kind: str, duration_s: int, reason: str,
                  username: str, connections: list[dict[str, Any]], now_ms: int,
                  catalog_actions: tuple[tuple[str, str, str], ...]) -> AntigenaAction:
    if kind not in MANUAL_ACTIONS:
        raise Refused(f'Invalid value for action: {kind}')
    if kind == 'connection' and not connections:
        raise Refused('connections is required for action connection')
    if kind != 'connection' and connections:
        raise Refused(f'connections is only accepted for action connection, not {kind}')
    _, label, detail = next(entry for entry in catalog_actions if entry[0] == kind)
    target = connections[0].get('dst', '') if connections else ''
    port = connections[0].get('port', '') if connections else ''
    action = AntigenaAction(
        codeid=max(actions, default=CODEID_BASE - 1) + 1, did=did, action=kind, label=label,
        detail=detail.format(target=target, port=port), manual=True,
        triggerer={'username': username, 'reason': reason}, score=0.0, pbid=0, model='', model_uuid='',
        start=now_ms, expires=now_ms + duration_s * 1000, active=True, cleared=False, connections=connections)
    _record(action, 'created', now_ms, username, reason)
    actions[action.codeid] = action
    return action


@dataclass(frozen=True)
class SeedContext:
    """What seeding needs from the dataset, passed in so this module does not import it."""
    anchor_ms: int
    dids: list[int]
    device_ip: Callable[[int], str]
    endpoints: list[str]
    endpoint_ip: Callable[[str], str]
    model_for: Callable[[int, int], tuple[str, str, int]]  # (did, time) -> (model name, model uuid, pbid)
    usernames: tuple[str, ...]
    catalog_actions: tuple[tuple[str, str, str], ...]


# The first actions, one per state, so examples and tests can rely on them whatever the seed:
# (codeid offset, action, manual, minutes from the anchor to its start, minutes it runs, active, cleared)
_FIXED = (
    (0, 'quarantineOutgoing', False, -10, 130, False, False),  # pending confirmation, lapses in 2 hours
    (1, 'connection', False, -30, 120, True, False),            # active, model-triggered
    (2, 'quarantine', True, -60, 240, True, False),             # active, started by an analyst
    (3, 'pol', False, -300, 120, True, True),                   # cleared
    (4, 'gpol', False, -1440, 120, True, False),                # expired
)


def seed(context: SeedContext, rng: random.Random, extra: int = 8) -> dict[int, AntigenaAction]:
    """The appliance's actions: the fixed ones above, then `extra` drawn from `rng`."""
    plans = [(CODEID_BASE + offset, kind, manual, context.anchor_ms + start_min * MINUTE_MS, run_min * MINUTE_MS,
              active, cleared) for offset, kind, manual, start_min, run_min, active, cleared in _FIXED]
    for index in range(len(_FIXED), len(_FIXED) + extra):
        kind = rng.choice(context.catalog_actions)[0]
        start = context.anchor_ms - rng.randint(5 * MINUTE_MS, 2 * DAY_MS)
        plans.append((CODEID_BASE + index, kind, rng.random() < 0.25, start,
                      rng.choice((HOUR_MS, 2 * HOUR_MS, 24 * HOUR_MS)), rng.random() >= 0.2, rng.random() < 0.15))
    actions: dict[int, AntigenaAction] = {}
    for codeid, kind, manual, start, run_ms, active, cleared in plans:
        did = rng.choice(context.dids)
        _, label, detail = next(entry for entry in context.catalog_actions if entry[0] == kind)
        model, model_uuid, pbid = context.model_for(did, start)
        endpoint = rng.choice(context.endpoints)
        username = rng.choice(context.usernames)
        action = AntigenaAction(
            codeid=codeid, did=did, action=kind, label=label, detail=detail.format(target=endpoint, port=443),
            manual=manual, triggerer={'username': username, 'reason': 'Containment'} if manual else None,
            score=round(rng.uniform(0.3, 1.0), 3), pbid=pbid, model=model, model_uuid=model_uuid, start=start,
            expires=start + run_ms, active=active, cleared=cleared)
        if kind == 'connection':
            action.connections = [{'src': context.device_ip(did), 'dst': context.endpoint_ip(endpoint), 'port': 443}]
        _record(action, 'created', start, username if manual else 'Darktrace', 'Containment' if manual else model)
        if cleared:
            _record(action, 'cleared', min(start + run_ms // 2, context.anchor_ms), username, 'False positive')
        actions[codeid] = action
    return actions
