"""Advanced Search: the base64 JSON query and a small Lucene-like matcher (views_search.py shapes the replies).

The query language understood: ``@type:conn``, ``@fields.<name>:<value>`` (``*`` wildcards,
quotes), bare words matched against every field, ``AND`` (implicit) and ``NOT``.
"""
from __future__ import annotations

import base64
import binascii
import fnmatch
import json
import shlex
from datetime import datetime, timezone
from typing import Any
from urllib.parse import unquote

from emulator.dataset import HOUR_MS, Dataset
from emulator.params import InputError


def decode_query(raw: str) -> dict[str, Any]:
    """The JSON query carried as base64 in the raw path (percent-encoding and padding tolerated)."""
    text = unquote(raw).strip()
    text += '=' * (-len(text) % 4)
    try:
        decoded = base64.b64decode(text.replace('-', '+').replace('_', '/'), validate=True)
        query = json.loads(decoded.decode('utf-8'))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InputError('Invalid query: expected base64-encoded JSON') from None
    if not isinstance(query, dict):
        raise InputError('Invalid query: expected a JSON object')
    return query


def _time_value(value: Any, name: str) -> int:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    try:
        parsed = datetime.fromisoformat(text.replace('Z', '+00:00'))
    except ValueError:
        raise InputError(f'Invalid query: bad time.{name}') from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return int(parsed.timestamp() * 1000)


def search_window(query: dict[str, Any], now_ms: int) -> tuple[int, int]:
    """The [start, end] ms of a query: a custom time pair, a relative timeframe, or the last hour."""
    timeframe = str(query.get('timeframe', 'custom'))
    window: dict[str, Any] = query['time'] if isinstance(query.get('time'), dict) else {}
    if timeframe.isdigit():
        return now_ms - int(timeframe) * 1000, now_ms
    if 'from' in window and 'to' in window:
        start, end = _time_value(window['from'], 'from'), _time_value(window['to'], 'to')
        if start > end:
            raise InputError('Invalid query: time.from is after time.to')
        return start, end
    return now_ms - HOUR_MS, now_ms


def field_value(record: dict[str, Any], name: str) -> Any:
    if name in ('@type', '@timestamp'):
        return record[name]
    return record['@fields'].get(name[len('@fields.'):] if name.startswith('@fields.') else name)


def record_matches(record: dict[str, Any], terms: list[tuple[bool, str | None, str]]) -> bool:
    for negate, name, value in terms:
        if name is None:
            hit = value == '*' or any(value.lower() in str(v).lower() for v in record['@fields'].values())
        else:
            actual = field_value(record, name)
            values = actual if isinstance(actual, list) else [actual]
            hit = any(actual is not None and fnmatch.fnmatchcase(str(v).lower(), value.lower()) for v in values)
        if hit == negate:
            return False
    return True


def parse_search(text: str) -> list[tuple[bool, str | None, str]]:
    try:
        tokens = shlex.split(text)
    except ValueError:
        raise InputError('Invalid query: unbalanced quotes') from None
    terms: list[tuple[bool, str | None, str]] = []
    negate = False
    for token in tokens:
        if token.upper() == 'AND':
            continue
        if token.upper() == 'NOT':
            negate = True
            continue
        name, separator, value = token.partition(':')
        terms.append((negate, name, value) if separator and name else (negate, None, token))
        negate = False
    return terms


def run(dataset: Dataset, query: dict[str, Any], now_ms: int) -> tuple[list[dict[str, Any]], int, int]:
    """The records matching the query's search in its time window (ascending), and the window."""
    start, end = search_window(query, now_ms)
    terms = parse_search(str(query.get('search', '') or ''))
    records = [r for r in dataset.search_records(start, end) if record_matches(r, terms)]
    return records, start, end


def size_and_offset(query: dict[str, Any]) -> tuple[int, int]:
    try:
        size = int(query.get('size', 50))
        offset = int(query.get('offset', 0))
    except (TypeError, ValueError):
        raise InputError('Invalid query: size and offset must be integers') from None
    if not 0 <= size <= 10_000 or offset < 0:
        raise InputError('Invalid query: size must be 0..10000 and offset >= 0')
    return size, offset


def value_counts(values: list[Any]) -> dict[Any, int]:
    counts: dict[Any, int] = {}
    for value in values:
        for item in value if isinstance(value, list) else [value]:
            if item is not None:
                counts[item] = counts.get(item, 0) + 1
    return counts
