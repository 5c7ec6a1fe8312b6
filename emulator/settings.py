"""Realism switches: where real appliances disagree, the emulator can behave either way.

Each setting picks one of the readings where Darktrace's API guide is ambiguous or silent (the facts
sheet's section 4, cited as "ambiguity N"), or where public evidence conflicts, so tests can run a
client against every one of them. The defaults follow the guide.
"""
from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, fields
from typing import Any

_CHOICES: dict[str, tuple[Any, ...]] = {
    'order': ('desc', 'asc', 'shuffle'),              # /modelbreaches reply order
    'inclusive_bounds': (True, False),                # starttime/endtime both inclusive or both exclusive
    'honour_count': (True, False),                    # /modelbreaches count= obeyed or ignored
    'ack_reply': ('object', 'list'),                  # acknowledge reply, list = Unified View
    'tag_reply': ('tid', 'success'),                  # POST /tags/entities reply
    'comment_reply': ('object', 'list'),              # POST /modelbreaches/{pbid}/comments reply
    'model_uuid_reply': ('list', 'object'),           # GET /models?uuid= reply
    'date_clock': ('appliance', 'host'),              # clock DTAPI-Date skew is checked against
    # /antigena: RESPOND licensed and allowed, absent from the appliance (302 to /login, as for an unknown
    # endpoint), or refused to every token pair's user (302 to /403, or 403 JSON where the route answers so)
    'respond': ('enabled', 'absent', 'no_permission'),
    'signature_form': ('decoded', 'encoded', 'either'),  # query/form signed decoded, as sent, or either way
    'breach_path_route': (False, True),               # GET /modelbreaches/{pbid} exists (else 302 to /login)
    'group_lookup': ('strict', 'lenient'),            # /aianalyst/groups: uuid = event id, groupid = group id, or
                                                      # (lenient) either id in either parameter
    'details_pairs': ('strict', 'lenient'),           # /details refuses unpaired times and count with times
    'ai_time_filter': ('created', 'periods'),         # /aianalyst/incidentevents window: createdAt, or periods overlap
    # guide 2.14 / ambiguity 14: the example reply of /antigena/manual is {"code": n}, its text says "the codeid"
    'manual_reply_key': ('code', 'codeid'),
    # guide 2.13 / ambiguity 8: an extension's duration counts from now (the worked example) or from the action's
    # start (one reading of "the current duration plus the amount the action should be extended for")
    'extend_from': ('now', 'start'),
    # guide 2.13 / ambiguity 13: the reply to POST /antigena is undocumented
    'respond_post_reply': ('success', 'empty'),
    'respond_audit': (False, True),                   # guide 2.13: "Audit Antigena" on: a change without reason fails
    'antigena_did': ('honoured', 'ignored'),          # guide 2.13 / ambiguity 9: did is not in the parameter table
    # guide 2.26: GET /intelfeed without `source` lists the "default" source only ("with no source given, the source
    # is default"), or every source
    'intelfeed_default_source': ('default_only', 'all'),
    # guide 2.31 / ambiguities 1, 2: /modelbreaches defaults when deviceattop and minimal are left out: deviceattop
    # true and minimal false (the notes, programmatic), deviceattop false (the table), or also minimal true (the
    # notes on the UI, "minimal=true by default for multiple breaches")
    'breach_defaults': ('notes', 'table', 'notes_ui'),
    # Darktrace/Email (docs/email.md; email-facts 1, 10): which API prefixes the appliance serves, how it answers a
    # prefix it does not serve, whether Email is licensed, the unit of the search window, the order of search
    # results, the shape of /resources/actions
    'email_paths': ('both', 'ep', 'direct'),
    'email_missing_path': ('not_found', 'login'),
    'email': ('enabled', 'unlicensed'),
    'email_time_unit': ('seconds', 'milliseconds', 'auto'),
    'email_order': ('desc', 'asc', 'shuffle'),
    'email_actions_reply': ('objects', 'names'),
}


@dataclass
class Settings:
    """Current switch values; defaults are the most common behaviour seen on 7.x, or, where nothing was
    seen, what Darktrace's guide and its own clients rely on (decoded signatures, ?pbid=, groups by
    meaning, /details time pairs without count)."""
    order: str = 'desc'
    inclusive_bounds: bool = True
    honour_count: bool = True
    ack_reply: str = 'object'
    tag_reply: str = 'tid'
    comment_reply: str = 'object'
    model_uuid_reply: str = 'list'
    date_clock: str = 'appliance'
    respond: str = 'enabled'
    signature_form: str = 'decoded'
    breach_path_route: bool = False
    group_lookup: str = 'strict'
    details_pairs: str = 'strict'
    ai_time_filter: str = 'created'
    manual_reply_key: str = 'code'
    extend_from: str = 'now'
    respond_post_reply: str = 'success'
    respond_audit: bool = False
    antigena_did: str = 'honoured'
    intelfeed_default_source: str = 'default_only'
    breach_defaults: str = 'notes'
    email_paths: str = 'both'
    email_missing_path: str = 'not_found'
    email: str = 'enabled'
    email_time_unit: str = 'seconds'
    email_order: str = 'desc'
    email_actions_reply: str = 'objects'


class SettingsStore:
    """Thread-safe holder of the Settings, validating every change."""

    def __init__(self, **initial: Any) -> None:
        self._lock = threading.Lock()
        self._settings = Settings()
        self.update(**initial)

    @staticmethod
    def names() -> list[str]:
        return [item.name for item in fields(Settings)]

    def update(self, **changes: Any) -> dict[str, Any]:
        """Apply changes atomically; an unknown name or value raises ValueError and changes nothing."""
        for name, value in changes.items():
            if name not in _CHOICES:
                raise ValueError(f'unknown setting {name!r}; known: {sorted(_CHOICES)}')
            if value not in _CHOICES[name] or type(value) is not type(_CHOICES[name][0]):
                raise ValueError(f'setting {name!r} must be one of {list(_CHOICES[name])}, not {value!r}')
        with self._lock:
            for name, value in changes.items():
                setattr(self._settings, name, value)
            return asdict(self._settings)

    def snapshot(self) -> Settings:
        with self._lock:
            return Settings(**asdict(self._settings))

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            return asdict(self._settings)
