"""Seeded, deterministic state of the emulated appliance.

Everything a route reads or changes lives here: subnets, devices, tags and tag links, models
and components, external endpoints, the watched list (intel feed), model breaches and their
comments, AI Analyst incident events and groups, and Autonomous Response actions. Connection
history, notices, Advanced Search logs and hourly graph data are derived on demand from a hash
of (seed, device, hour), so they are deterministic without being stored.

Model breaches are kept in two indexes sorted by ``(time, pbid)`` and ``(creationTime, pbid)``;
a window query is two bisections and a slice, never a scan of every breach. A breach is visible
only once ``creationTime <= now`` on the appliance clock.

AI Analyst incident events are indexed by ``(createdAt, id)`` the same way. An event is visible
once its publication time has passed: usually its ``createdAt``, but a few reach the API late,
after events created later. A backlog of ``incident_events`` more events, spread like the
breaches, holds such late events, events whose activity periods end hours before their creation,
and events sharing a ``createdAt`` millisecond.

The state is kept by domain, in the parts `Dataset` is made of (emulator/state/): devices.py (devices, tags,
endpoints, the watched list, derived traffic), breaches.py (models, breaches, comments), ai_analyst.py (incident
events and groups), antigena.py (RESPOND actions); base.py holds what they share. Handlers change state only
through these methods. The JSON shapes of the replies are not built here: see views.py.
"""
from __future__ import annotations

import random
import threading
from typing import Any

from emulator import catalog, clock
from emulator.respond import AntigenaAction  # noqa: F401 (re-exported for views)
from emulator.state.ai_analyst import AIAnalystState
from emulator.state.antigena import RespondState
from emulator.state.base import DAY_MS, GRAPH_HOURS, HOUR_MS, MINUTE_MS, floor_to  # noqa: F401
from emulator.state.base import format_iso, format_time  # noqa: F401
from emulator.state.breaches import Breach, BreachState, Comment, Model, ModelVersion  # noqa: F401
from emulator.state.devices import DeviceState, TagLink, WatchedEntry  # noqa: F401


class Dataset(DeviceState, BreachState, AIAnalystState, RespondState):
    """The appliance's state, generated from ``seed`` with breaches spread over ``span_days``
    ending at ``anchor_ms`` (default: now, floored to the minute)."""

    def __init__(self, breaches: int = 500, span_days: float = 7, seed: int = 1,
                 anchor_ms: int | None = None, incident_events: int = 0) -> None:
        if breaches < 0:
            raise ValueError('breaches must be >= 0')
        if incident_events < 0:
            raise ValueError('incident_events must be >= 0')
        if span_days <= 0:
            raise ValueError('span_days must be > 0')
        self.seed = seed
        self.span_days = span_days
        self.anchor_ms = floor_to(clock.host_ms(), MINUTE_MS) if anchor_ms is None else int(anchor_ms)
        # One lock for the whole state: handlers are short, and readers must not see half an update.
        self.lock = threading.RLock()
        self.subnets: dict[int, dict[str, Any]] = {int(s['sid']): dict(s) for s in catalog.SUBNETS}
        self.devices: dict[int, dict[str, Any]] = {}
        self.similar: dict[int, list[tuple[int, int]]] = {}
        self.tags: dict[int, dict[str, Any]] = {}
        self.tag_links: dict[int, TagLink] = {}
        self.endpoints: dict[str, dict[str, Any]] = {}
        self.endpoints_by_ip: dict[str, dict[str, Any]] = {}
        self.models: dict[int, Model] = {}
        self.models_by_uuid: dict[str, Model] = {}
        self.components: dict[int, dict[str, Any]] = {}
        self.watched: dict[str, WatchedEntry] = {}
        self.breaches: dict[int, Breach] = {}
        self._time_keys: list[tuple[int, int]] = []
        self._by_time: list[Breach] = []
        self._creation_keys: list[tuple[int, int]] = []
        self._by_creation: list[Breach] = []
        self.comments: dict[int, list[Comment]] = {}
        self._comment_keys: list[tuple[int, int]] = []
        self._comment_timeline: list[Comment] = []
        self._comment_seq = 0
        self.incidents: dict[str, dict[str, Any]] = {}
        self.groups: dict[str, dict[str, Any]] = {}
        self.incident_comments: dict[str, list[dict[str, Any]]] = {}
        # What mirroring works from. The API shows no change time, comment id or deletion (guide 2.31, 2.27, 2.9:
        # no such keys), so these are kept beside the records: for tests and benchmarks to know what truly changed.
        self.changed_at: dict[tuple[str, Any], int] = {}  # ('breach', pbid) or ('event', id) -> last change, ms
        self.deleted: dict[tuple[str, Any], int] = {}  # records removed from the appliance -> when
        self.incident_comment_ids: dict[str, list[int]] = {}  # beside incident_comments, one id per comment
        self._event_keys: list[tuple[int, str]] = []  # (createdAt, id), sorted
        self._event_published: dict[str, int] = {}  # when each event reaches the API
        # How far activity periods reach before (lead) and after (trail) createdAt, to bound period searches.
        self._event_lead_ms = 0
        self._event_trail_ms = 0
        self.antigena: dict[int, AntigenaAction] = {}
        self._build_devices()
        self._build_tags()
        self._build_endpoints()
        self._build_models()
        self._build_watched()
        self._build_breaches(breaches)
        self._build_ai_analyst()
        self._build_incident_backlog(incident_events)
        self._build_antigena()

    def _rng(self, part: str) -> random.Random:
        # A generator per part, so changing the breach count leaves the devices unchanged.
        return random.Random(f'{self.seed}:{part}')

    def mark_changed(self, kind: str, record_id: Any, when: int | None) -> None:
        """Note when a record last changed (``when`` None: a change outside the appliance clock's view)."""
        if when is not None:
            self.changed_at[(kind, record_id)] = when
