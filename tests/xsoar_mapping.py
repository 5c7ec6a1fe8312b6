"""Just enough of XSOAR's classifier and mapper to check the pack's against real records.

XSOAR applies a classifier and an incoming mapper to each fetched incident's rawJSON (and the
mapper again to what get-remote-data returns). This helper does the same for the parts the pack
uses: simple dotted paths (which, as in XSOAR, step into every item of a list), complex mappings
with a root, and the transformers the pack's mapper uses (SetIfEmpty and TimeStampToDate
from Filters And Transformers, XSOAR's built-in toLowerCase and FirstArrayElement). A mapper that uses anything else
makes the helper raise, so a new transformer in the pack cannot pass untested.

Field values are then checked against the field's type the way the platform accepts them: it
sets fields from text too (as `setIncident` does), so a number field takes 5 or "5".
"""
from __future__ import annotations

import math
import re
from datetime import datetime, timezone
from typing import Any

ISO_8601 = re.compile(r'^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$')


class UnsupportedMapping(Exception):
    """The mapper uses a construct this helper does not implement."""


def get_path(record: Any, path: str) -> Any:
    """The value at a dotted path. Through a list, each item's value, flattened (None when nothing is there)."""
    value = record
    for key in path.split('.'):
        if isinstance(value, list):
            found = [item.get(key) for item in value if isinstance(item, dict)]
            value = [leaf for item in found for leaf in (item if isinstance(item, list) else [item])
                     if leaf is not None]
            if not value:
                return None
        elif isinstance(value, dict):
            value = value.get(key)
        else:
            return None
    return value


def _argument(spec: dict[str, Any], record: Any) -> Any:
    simple = (spec.get('value') or {}).get('simple')
    return get_path(record, simple) if spec.get('isContext') else simple


def _is_empty(value: Any, apply_if_empty: bool) -> bool:
    return value is None or (apply_if_empty and value in ('', [], {}))


def set_if_empty(value: Any, default_value: Any, apply_if_empty: Any = 'true') -> Any:
    """SetIfEmpty (Filters And Transformers): the default when the value is missing (or empty, with applyIfEmpty)."""
    return default_value if _is_empty(value, str(apply_if_empty).lower() == 'true') else value


def timestamp_to_date(value: Any) -> Any:
    """TimeStampToDate (Filters And Transformers): epoch seconds or milliseconds to an ISO 8601 UTC time."""
    if value is None:
        return None
    number = float(value)
    seconds = number / 1000 if number > 10 ** 11 else number
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def _transform(value: Any, transformer: dict[str, Any], record: Any) -> Any:
    operator = transformer.get('operator')
    args = {name: _argument(spec, record) for name, spec in (transformer.get('args') or {}).items()}
    if operator == 'SetIfEmpty':
        return set_if_empty(value, args.get('defaultValue'), args.get('applyIfEmpty', 'true'))
    if operator == 'TimeStampToDate' and not args:
        return timestamp_to_date(value)
    if operator == 'toLowerCase' and not args:  # XSOAR built-in: text lower-cased, each item of a list
        return [str(item).lower() for item in value] if isinstance(value, list) else \
            (str(value).lower() if value is not None else None)
    if operator == 'FirstArrayElement' and not args:  # XSOAR built-in: a list's first item, anything else as it is
        return (value[0] if value else None) if isinstance(value, list) else value
    raise UnsupportedMapping(f'transformer {operator!r} with {sorted(args)} is not implemented by the test helper')


def map_value(rule: dict[str, Any], record: Any) -> Any:
    if set(rule) == {'simple'}:
        return get_path(record, rule['simple'])
    if set(rule) == {'complex'}:
        complex_rule = rule['complex']
        if complex_rule.get('filters') or complex_rule.get('accessor'):
            raise UnsupportedMapping(f'filters and accessors are not implemented by the test helper: {rule}')
        value = get_path(record, complex_rule['root'])
        for transformer in complex_rule.get('transformers') or []:
            value = _transform(value, transformer, record)
        return value
    raise UnsupportedMapping(f'mapping rule {rule}')


def apply_mapper(mapper: dict[str, Any], incident_type: str, record: Any) -> dict[str, Any]:
    """{field name: value} for the fields the mapper sets for `incident_type` from `record`."""
    rules = mapper['mapping'][incident_type]['internalMapping']
    return {field: map_value(rule, record) for field, rule in rules.items()}


def classify(classifier: dict[str, Any], record: Any) -> str | None:
    """The incident type the classifier gives a record (its default when the key maps to none)."""
    key = map_value(classifier['transformer'], record)
    return classifier['keyTypeMap'].get(str(key), classifier.get('defaultIncidentType') or None) \
        if key is not None else classifier.get('defaultIncidentType') or None


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return math.isfinite(value)
    try:
        return isinstance(value, str) and math.isfinite(float(value))
    except ValueError:
        return False


def _is_scalar_text(value: Any) -> bool:
    return (isinstance(value, str) and value.strip() != '') or (isinstance(value, (int, float))
                                                                and not isinstance(value, bool))


def type_problem(field: dict[str, Any], value: Any) -> str | None:
    """Why `value` does not fit the incident field (None when it does)."""
    kind = field['type']
    if kind in ('shortText', 'longText', 'markdown'):
        ok = isinstance(value, str) and value.strip() != ''
    elif kind == 'number':
        ok = _is_number(value)
    elif kind == 'boolean':
        ok = isinstance(value, bool) or (isinstance(value, str) and value.lower() in ('true', 'false'))
    elif kind == 'date':
        ok = isinstance(value, str) and bool(ISO_8601.match(value))
    elif kind == 'url':
        ok = isinstance(value, str) and value.startswith(('https://', 'http://'))
    elif kind in ('multiSelect', 'tagsSelect'):
        ok = isinstance(value, list) and bool(value) and all(_is_scalar_text(item) for item in value)
    elif kind == 'grid':
        columns = {column['key']: column['type'] for column in field.get('columns') or []}
        ok = isinstance(value, list) and bool(value) and all(
            isinstance(row, dict) and set(row) & set(columns)
            and all(type_problem({'type': columns[key]}, row[key]) is None for key in columns if key in row)
            for row in value)
    else:
        return f'field type {kind!r} is not checked by the test helper'
    return None if ok else f'{value!r} is not a valid {kind}'
