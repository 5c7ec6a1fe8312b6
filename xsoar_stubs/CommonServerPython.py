"""Stand-in for ``CommonServerPython``, the library Cortex XSOAR prepends to every integration.

Never shipped: on the platform the real library takes its place, and the upload tooling strips
``from CommonServerPython import *``. This module covers only what an integration of this kind
uses, with the platform's names, signatures and behaviour; ``test_data/vectors.json`` records the
real library's outputs and ``tests/test_xsoar_stubs.py`` holds this module to every one of them.

Like the real library it has no ``__all__``, so a star import also brings the standard modules and
typing names imported below, which integrations written against the platform rely on.
"""
from __future__ import annotations

import json
import os
import re
import sys
import traceback
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone  # noqa: F401  (re-exported, as on the platform)
from typing import Any, Callable, Dict, List, Optional, Tuple, Union  # noqa: F401
from urllib.parse import quote_plus, urlencode

import dateparser
import requests
from requests.adapters import HTTPAdapter
from urllib3.util import Retry
from urllib3.util.ssl_ import create_urllib3_context

import demistomock as demisto

STRING_TYPES = (str, bytes)


class EntryType:
    """War-room entry types."""

    NOTE = 1
    DOWNLOAD_AGENT = 2
    FILE = 3
    ERROR = 4
    PINNED = 5
    USER_MANAGEMENT = 6
    IMAGE = 7
    PLAYGROUND_ERROR = 8
    ENTRY_INFO_FILE = 9
    WARNING = 11
    MAP_ENTRY_TYPE = 15
    WIDGET = 17


class EntryFormat:
    """War-room entry content formats."""

    HTML = 'html'
    TABLE = 'table'
    JSON = 'json'
    TEXT = 'text'
    DBOT_RESPONSE = 'dbotCommandResponse'
    MARKDOWN = 'markdown'


# The older dict spellings of the two classes above; many integrations still use them.
entryTypes = {'note': 1, 'downloadAgent': 2, 'file': 3, 'error': 4, 'pinned': 5, 'userManagement': 6,
              'image': 7, 'playgroundError': 8, 'entryInfoFile': 9, 'warning': 11, 'map': 15,
              'widget': 17}
formats = {'html': 'html', 'table': 'table', 'json': 'json', 'text': 'text',
           'dbotResponse': 'dbotCommandResponse', 'markdown': 'markdown'}


class IncidentStatus:
    """Incident status values as the platform stores them."""

    PENDING = 0
    ACTIVE = 1
    DONE = 2
    ARCHIVE = 3


class IncidentSeverity:
    """Incident severity values as the platform stores them."""

    UNKNOWN = 0
    INFO = 0.5
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4


class DemistoException(Exception):
    """The platform's general error; carries the underlying exception and HTTP response, if any."""

    def __init__(self, message: Any, exception: BaseException | None = None,
                 res: requests.Response | None = None, *args: Any) -> None:
        self.res = res
        self.message = message
        self.exception = exception
        super().__init__(message, exception, *args)

    def __str__(self) -> str:
        return str(self.message)


def is_debug_mode() -> bool:
    """True when the command runs with ``debug-mode=true``."""
    return bool(getattr(demisto, 'is_debug', False))


def handle_proxy(proxy_param_name: str = 'proxy', checkbox_default_value: bool = False,
                 handle_insecure: bool = True, insecure_param_name: str | None = None) -> dict[str, str]:
    """The system proxies when the instance's proxy checkbox is set (an ``http://`` prefix added where missing).

    As on the platform, a cleared checkbox **deletes** the proxy variables from the environment (``skip_proxy``),
    for the rest of the process; with ``handle_insecure``, a set insecure checkbox deletes the CA-bundle variables.
    """
    proxies: dict[str, str] = {}
    if demisto.params().get(proxy_param_name, checkbox_default_value):
        ensure_proxy_has_http_prefix()
        proxies = {
            'http': os.environ.get('HTTP_PROXY') or os.environ.get('http_proxy', ''),
            'https': os.environ.get('HTTPS_PROXY') or os.environ.get('https_proxy', ''),
        }
    else:
        skip_proxy()
    if handle_insecure:
        for name in (insecure_param_name,) if insecure_param_name else ('insecure', 'unsecure'):
            if demisto.params().get(name, False):
                skip_cert_verification()
    return proxies


_PROXY_VARIABLES = ('HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy')


def skip_proxy() -> None:
    """Delete the proxy variables from the environment, so no request goes through a proxy."""
    for name in _PROXY_VARIABLES:
        os.environ.pop(name, None)


def ensure_proxy_has_http_prefix() -> None:
    """Give each proxy variable without a scheme an ``http://`` prefix."""
    for name in _PROXY_VARIABLES:
        value = os.environ.get(name)
        if value and not value.startswith(('http://', 'https://')):
            os.environ[name] = 'http://' + value


def skip_cert_verification() -> None:
    """Delete the CA-bundle variables, which would otherwise override a session's ``verify``."""
    for name in ('REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE'):
        os.environ.pop(name, None)


def get_integration_name() -> str:
    """The calling integration's brand, from the calling context."""
    return (getattr(demisto, 'callingContext', None) or {}).get('context', {}).get('IntegrationBrand', '')


def urljoin(url: str, suffix: str = '') -> str:
    """Join a base URL and a path with exactly one slash between them.

    Unlike ``urllib.parse.urljoin`` this never drops the base URL's own path, which is what
    ``BaseClient`` relies on for base URLs such as ``https://host/api``.
    """
    if url[-1:] != '/':
        url = url + '/'
    if suffix.startswith('/'):
        suffix = suffix[1:]
    return url + suffix


# ---------------------------------------------------------------------------------------------
# Markdown tables
# ---------------------------------------------------------------------------------------------

MARKDOWN_CHARS = r'\`*_{}[]()#+-!|'


def stringEscapeMD(st: str, minimal_escaping: bool = False, escape_multiline: bool = False) -> str:
    """Escape ``st`` for a markdown table cell."""
    if escape_multiline:
        st = st.replace('\r\n', '<br>').replace('\r', '<br>').replace('\n', '<br>')
    if minimal_escaping:
        for special in ('|', '`'):
            st = st.replace(special, '\\' + special)
        return st
    return ''.join('\\' + c if c in MARKDOWN_CHARS else c for c in st)


def flattenCell(data: Any, is_pretty: bool = True) -> str:
    """Render a list as one line per item, anything else that is not a string as JSON."""
    if isinstance(data, str):
        return data
    if isinstance(data, bytes):
        return data.decode('utf-8')
    if isinstance(data, list):
        return ',\n'.join(item.decode('utf-8') if isinstance(item, bytes) else str(item)
                          for item in data)
    return json.dumps(data, indent=4 if is_pretty else None, ensure_ascii=False)


class JsonTransformer:
    """How a dict cell is rendered: ``key: value`` lines, or a caller's own ``func``.

    The platform's ``keys``/``is_nested`` path rendering is not stood in for; asking for it
    raises, so that a table never silently differs from what the platform would show.
    """

    def __init__(self, flatten: bool = False, keys: list[str] | None = None,
                 is_nested: bool = False, func: Callable[[Any], str] | None = None) -> None:
        self.flatten = flatten
        self.keys = keys or []
        self.is_nested = is_nested
        self.func = func

    def json_to_str(self, json_input: Any, is_pretty: bool = True) -> str:
        """Render one dict (or JSON text of one) as the content of a table cell."""
        if self.func:
            return self.func(json_input)
        if isinstance(json_input, STRING_TYPES):
            json_input = json.loads(json_input)
        if self.keys or self.is_nested:
            raise NotImplementedError('JsonTransformer keys/is_nested rendering is not available '
                                      'in the local stand-in')
        return '\n'.join('{}: {}'.format(key, flattenCell(value, is_pretty))
                         for key, value in json_input.items())


def formatCell(data: Any, is_pretty: bool = True, json_transform: JsonTransformer | None = None) -> str:
    """Render one table value: strings as they are, dicts as ``key: value`` lines, rest flattened."""
    if json_transform is None:
        json_transform = JsonTransformer(flatten=True)
    if isinstance(data, str):
        return data
    if isinstance(data, dict):
        return json_transform.json_to_str(data, is_pretty)
    return flattenCell(data, is_pretty)


def create_clickable_url(url: Any, text: Any = None) -> Any:
    """Wrap a URL (or each URL of a list) as a markdown link."""
    if not url:
        return None
    if isinstance(url, list):
        if isinstance(text, list):
            return ['[{}]({})'.format(label, link) for link, label in zip(url, text)]
        return ['[{}]({})'.format(link, link) for link in url]
    return '[{}]({})'.format(text or url, url)


def url_to_clickable_markdown(data: Any, url_keys: list[str]) -> Any:
    """Turn the values under ``url_keys``, at any depth, into markdown links."""
    if isinstance(data, list):
        return [url_to_clickable_markdown(item, url_keys) for item in data]
    if isinstance(data, dict):
        return {key: create_clickable_url(value) if key in url_keys
                else url_to_clickable_markdown(value, url_keys)
                for key, value in data.items()}
    return data


def tableToMarkdown(name: str | None, t: Any, headers: str | list[str] | None = None,
                    headerTransform: Callable[[str], str] | None = None, removeNull: bool = False,
                    metadata: str | None = None, url_keys: list[str] | None = None,
                    date_fields: list[str] | None = None,
                    json_transform_mapping: dict[str, JsonTransformer] | None = None,
                    is_auto_json_transform: bool = False, sort_headers: bool = True) -> str:
    """Render a dict or a list of dicts (or of scalars, with one header) as a markdown table."""
    if url_keys:
        t = url_to_clickable_markdown(t, url_keys)

    markdown = '### ' + name + '\n' if name else ''
    if metadata:
        markdown += metadata + '\n'
    if not t:
        return markdown + '**No entries.**\n'

    # A dict with a single key becomes one column, one row per element when its value is a list.
    if not headers and isinstance(t, dict) and len(t) == 1:
        headers = list(t.keys())
        only_value = next(iter(t.values()))
        if isinstance(only_value, list):
            t = only_value

    if not isinstance(t, list):
        t = [t]
    if headers and isinstance(headers, STRING_TYPES):
        headers = [headers]

    if not isinstance(t[0], dict):
        if not headers:
            raise Exception("Missing headers param for tableToMarkdown. Example: headers=['Some Header']")
        column = headers[0]
        t = [{column: item} for item in t]

    if not headers:
        headers = list(t[0].keys())
        if sort_headers:
            headers.sort()

    if removeNull:
        headers = [header for header in headers
                   if not all(row.get(header) in ('', None, [], {}) for row in t)]

    if not json_transform_mapping:
        json_transform_mapping = {header: JsonTransformer(is_nested=is_auto_json_transform)
                                  for header in headers}

    if not headers:
        return markdown + '**No entries.**\n'

    if headerTransform is None:
        def headerTransform(header: str) -> str:
            return stringEscapeMD(header, True, True)

    markdown += '|' + '|'.join(headerTransform(header) for header in headers) + '|\n'
    markdown += '|' + '|'.join(['---'] * len(headers)) + '|\n'
    for row in t:
        row = dict(row)
        for field in date_fields or []:
            # Epoch milliseconds rendered in the machine's local time zone, as the platform does.
            try:
                row[field] = datetime.fromtimestamp(int(row[field]) / 1000).strftime('%Y-%m-%d %H:%M:%S')
            except Exception:
                pass
        cells = [stringEscapeMD(formatCell(row[header], False, json_transform_mapping.get(header))
                                if row.get(header) is not None else '', True, True)
                 for header in headers]
        markdown += '| ' + ' | '.join(cells) + ' |\n'
    return markdown


tblToMd = tableToMarkdown


def string_to_table_header(string: str) -> str:
    """``device_id`` -> ``Device Id``: underscores become spaces, each word capitalised."""
    if not isinstance(string, STRING_TYPES):
        raise Exception('The key is not a string: {}'.format(string))
    return ' '.join(word.capitalize() for word in string.replace('_', ' ').split())


_PASCAL_WORD = re.compile('([A-Z]?[a-z]+)')


def pascalToSpace(s: str) -> str:
    """``deviceId`` -> ``Device Id``: split camel/Pascal case into title-cased words."""
    if not isinstance(s, STRING_TYPES):
        raise TypeError('Expected string, got {}'.format(type(s)))
    for word in _PASCAL_WORD.findall(s):
        # Padding with spaces keeps all-capital runs such as "IP" apart from the next word.
        s = s.replace(word, ' {} '.format(word.title()))
    return ' '.join(s.split())


# ---------------------------------------------------------------------------------------------
# Argument helpers
# ---------------------------------------------------------------------------------------------

def arg_to_number(arg: Any, arg_name: str | None = None, required: bool = False) -> int | None:
    """Convert an argument to an int (decimals are truncated); ``None`` when empty and optional."""
    if arg is None or arg == '':
        if required:
            if arg_name:
                raise ValueError('Missing "{}"'.format(arg_name))
            raise ValueError('Missing required argument')
        return None

    if isinstance(arg, str):
        if arg.isdigit():
            return int(arg)
        try:
            return int(float(arg))
        except Exception:
            pass
    elif isinstance(arg, int):
        return arg

    if arg_name:
        raise ValueError('Invalid number: "{}"="{}"'.format(arg_name, arg))
    raise ValueError('"{}" is not a valid number'.format(arg))


def argToBoolean(value: Any) -> bool:
    """Convert ``true``/``yes``/``false``/``no`` (any case) or a bool to a bool."""
    if isinstance(value, bool):
        return value
    if isinstance(value, STRING_TYPES):
        lowered = value.lower()
        if lowered in ('true', 'yes'):
            return True
        if lowered in ('false', 'no'):
            return False
        raise ValueError('Argument does not contain a valid boolean-like value')
    raise ValueError('Argument is neither a string nor a boolean')


def argToList(arg: Any, separator: str = ',', transform: Callable[[Any], Any] | None = None) -> list[Any]:
    """Convert a separated string, a JSON list string, a list or a scalar to a list."""
    if not arg:
        return []

    result: list[Any] | None = None
    if isinstance(arg, bytes):
        arg = arg.decode('utf-8')
    if isinstance(arg, list):
        result = arg
    elif isinstance(arg, str):
        if arg[0] == '[' and arg[-1] == ']':
            try:
                result = json.loads(arg)
            except Exception:
                demisto.debug('Failed to load {} as JSON, trying to split'.format(arg))
        if result is None:
            result = [item.strip() for item in arg.split(separator)]
    else:
        result = [arg]

    if transform:
        return [transform(item) for item in result]
    return result


def arg_to_datetime(arg: Any, arg_name: str | None = None, is_utc: bool = True,
                    required: bool = False, settings: dict[str, Any] | None = None) -> datetime | None:
    """Convert epoch seconds/milliseconds, an ISO 8601 string or a phrase like ``3 days`` to a datetime.

    Epoch values give an aware UTC datetime (naive local time when ``is_utc`` is False); strings go
    through dateparser, which returns an aware datetime only when the string carries an offset.
    """
    if arg is None:
        if required:
            if arg_name:
                raise ValueError('Missing "{}"'.format(arg_name))
            raise ValueError('Missing required argument')
        return None

    if (isinstance(arg, str) and arg.isdigit()) or isinstance(arg, (int, float)):
        seconds = float(arg)
        # Values past 2033 in seconds can only be milliseconds.
        if seconds > 2000000000.0:
            seconds = seconds / 1000.0
        if is_utc:
            return datetime.fromtimestamp(seconds, tz=timezone.utc)
        return datetime.fromtimestamp(seconds)

    if isinstance(arg, str):
        parsed = dateparser.parse(arg, settings=settings or {'TIMEZONE': 'UTC'})
        if parsed is not None:
            return parsed

    if arg_name:
        raise ValueError('Invalid date: "{}"="{}"'.format(arg_name, arg))
    raise ValueError('"{}" is not a valid date'.format(arg))


def timestamp_to_datestring(timestamp: int | float | str, date_format: str = '%Y-%m-%dT%H:%M:%S.000Z',
                            is_utc: bool = False) -> str:
    """Format epoch milliseconds; in UTC when asked or when the format ends with ``Z``."""
    seconds = int(timestamp) / 1000.0
    if is_utc or date_format.endswith('Z'):
        return datetime.fromtimestamp(seconds, tz=timezone.utc).replace(tzinfo=None).strftime(date_format)
    return datetime.fromtimestamp(seconds).strftime(date_format)


def assign_params(keys_to_ignore: tuple[str, ...] | list[str] | None = None,
                  values_to_ignore: tuple[Any, ...] | list[Any] | None = None,
                  **kwargs: Any) -> dict[str, Any]:
    """Keep the keyword arguments whose value is not empty (``0`` and ``False`` are kept)."""
    if values_to_ignore is None:
        values_to_ignore = (None, '', [], {}, ())
    if keys_to_ignore is None:
        keys_to_ignore = ()
    return {key: value for key, value in kwargs.items()
            if value not in values_to_ignore and key not in keys_to_ignore}


def remove_empty_elements(d: Any) -> Any:
    """Drop ``None``, ``{}`` and ``[]`` at every depth of nested dicts and lists (keep ``''``)."""
    def is_empty(value: Any) -> bool:
        return value is None or value == {} or value == []

    if isinstance(d, list):
        return [value for value in (remove_empty_elements(item) for item in d) if not is_empty(value)]
    if isinstance(d, dict):
        return {key: value for key, value in ((k, remove_empty_elements(v)) for k, v in d.items())
                if not is_empty(value)}
    return d


def get_integration_context(sync: bool = True, with_version: bool = False) -> dict[str, Any]:
    """The instance's persistent key-value store; with ``with_version``, ``{'context': {...}, 'version': n}``
    as the platform's versioned store gives it (``sync`` asks for the stored copy rather than the run's)."""
    versioned = demisto.getIntegrationContextVersioned(sync)
    return versioned if with_version else versioned.get('context', {})


def set_integration_context(context: dict[str, Any], sync: bool = True, version: int = -1) -> None:
    """Replace the instance's persistent key-value store; a ``version`` other than -1 makes the platform refuse
    the write (``ValueError``) when another run has written since that version was read."""
    return demisto.setIntegrationContextVersioned(context, version, sync)


# ---------------------------------------------------------------------------------------------
# Command results
# ---------------------------------------------------------------------------------------------

class CommandResults:
    """What one command hands back: context outputs, a readable table and the raw response."""

    def __init__(self, outputs_prefix: str | None = None, outputs_key_field: str | list[str] | None = None,
                 outputs: Any = None, indicators: list[Any] | None = None,
                 readable_output: str | None = None, raw_response: Any = None,
                 indicators_timeline: Any = None, indicator: Any = None,
                 ignore_auto_extract: bool = False, mark_as_note: bool = False,
                 scheduled_command: Any = None, relationships: list[Any] | None = None,
                 entry_type: int | None = None, content_format: str | None = None,
                 execution_metrics: list[dict[str, Any]] | None = None,
                 replace_existing: bool = False) -> None:
        if raw_response is None:
            raw_response = outputs
        if outputs is not None and not isinstance(outputs, dict) and not outputs_prefix:
            raise ValueError('outputs_prefix is missing')
        if outputs_prefix == '.':
            raise ValueError('outputs_prefix cannot be a period.')
        if outputs_prefix and outputs_prefix.endswith('.'):
            raise ValueError('outputs_prefix field cannot end with a dot.')
        if indicators and indicator:
            raise ValueError('indicators is DEPRECATED, use only indicator')
        if execution_metrics or replace_existing:
            raise NotImplementedError('execution_metrics and replace_existing are not available '
                                      'in the local stand-in')

        self.outputs_prefix = outputs_prefix
        self.outputs_key_field = outputs_key_field
        self.outputs = outputs
        self.indicators = indicators
        self.indicator = indicator
        self.readable_output = readable_output
        self.raw_response = raw_response
        self.indicators_timeline = indicators_timeline
        self.ignore_auto_extract = ignore_auto_extract
        self.mark_as_note = mark_as_note
        self.scheduled_command = scheduled_command
        self.relationships = relationships
        self.entry_type = EntryType.NOTE if entry_type is None else entry_type
        self.content_format = content_format
        self.execution_metrics = execution_metrics
        self.replace_existing = replace_existing

    @property
    def outputs_key_field(self) -> list[str]:
        """The key fields, always as a list."""
        return self._outputs_key_field

    @outputs_key_field.setter
    def outputs_key_field(self, value: str | list[str] | None) -> None:
        if isinstance(value, STRING_TYPES):
            self._outputs_key_field = [value]
        elif isinstance(value, list):
            self._outputs_key_field = value
        elif not value:
            self._outputs_key_field = []
        else:
            raise TypeError('outputs_key_field must be of type str or list')

    def to_context(self) -> dict[str, Any]:
        """The war-room entry the platform stores for these results."""
        outputs: dict[str, Any] = {}
        human_readable = self.readable_output or None

        indicators = [self.indicator] if self.indicator else (self.indicators or [])
        for indicator in indicators:
            for key, value in indicator.to_context().items():
                outputs.setdefault(key, []).append(value)

        if self.outputs is not None and self.outputs != []:
            if not self.readable_output:
                human_readable = tableToMarkdown('Results', self.outputs)
            if self.outputs_prefix and self._outputs_key_field:
                key_match = ' && '.join('val.{0} && val.{0} == obj.{0}'.format(key_field)
                                        for key_field in self._outputs_key_field)
                outputs['{}({})'.format(self.outputs_prefix, key_match)] = self.outputs
            elif self.outputs_prefix:
                outputs[self.outputs_prefix] = self.outputs
            else:
                outputs.update(self.outputs)

        content_format = self.content_format
        if content_format is None:
            content_format = EntryFormat.TEXT if isinstance(self.raw_response, STRING_TYPES) else EntryFormat.JSON

        entry = {
            'Type': self.entry_type,
            'ContentsFormat': content_format,
            'Contents': self.raw_response,
            'HumanReadable': human_readable,
            'EntryContext': outputs,
            'IndicatorTimeline': (self.indicators_timeline.indicators_timeline
                                  if self.indicators_timeline else []),
            'IgnoreAutoExtract': bool(self.ignore_auto_extract),
            'Note': bool(self.mark_as_note),
            'Relationships': [relation.to_context() for relation in self.relationships or []
                              if relation.to_context()],
        }
        if self.scheduled_command:
            entry.update(self.scheduled_command.to_results())
        return entry


# ---------------------------------------------------------------------------------------------
# Mirroring
# ---------------------------------------------------------------------------------------------

class GetRemoteDataArgs:
    """Arguments of ``get-remote-data``."""

    def __init__(self, args: dict[str, Any]) -> None:
        self.remote_incident_id = args['id']
        self.last_update = args['lastUpdate']


class GetModifiedRemoteDataArgs:
    """Arguments of ``get-modified-remote-data``."""

    def __init__(self, args: dict[str, Any]) -> None:
        self.last_update = args['lastUpdate']


class UpdateRemoteSystemArgs:
    """Arguments of ``update-remote-system``."""

    def __init__(self, args: dict[str, Any]) -> None:
        self.data = args.get('data')
        self.entries = args.get('entries')
        self.incident_changed = args.get('incidentChanged')
        self.remote_incident_id = args.get('remoteId')
        self.inc_status = args.get('status')
        self.delta = args.get('delta')


class GetRemoteDataResponse:
    """The reply of ``get-remote-data``: the remote object and new entries for the incident."""

    def __init__(self, mirrored_object: dict[str, Any], entries: list[dict[str, Any]]) -> None:
        self.mirrored_object = mirrored_object
        self.entries = entries

    def extract_for_local(self) -> list[Any] | None:
        """The object followed by the entries, or ``None`` when nothing was mirrored."""
        if self.mirrored_object:
            return [self.mirrored_object] + list(self.entries or [])
        return None


class GetModifiedRemoteDataResponse:
    """The reply of ``get-modified-remote-data``: ids of remote objects changed since last time."""

    def __init__(self, modified_incident_ids: list[str]) -> None:
        self.modified_incident_ids = modified_incident_ids

    def to_entry(self) -> dict[str, Any]:
        """The entry the platform expects back."""
        demisto.info('Modified incidents: {}'.format(self.modified_incident_ids))
        return {'Contents': self.modified_incident_ids, 'Type': EntryType.NOTE,
                'ContentsFormat': EntryFormat.JSON}


class SchemeTypeMapping:
    """The mappable fields of one remote object type."""

    def __init__(self, type_name: str = '', fields: dict[str, str] | None = None) -> None:
        self.type_name = type_name
        self.fields = fields if fields else {}

    def add_field(self, name: str, description: str = '') -> None:
        """Declare one mappable field."""
        self.fields[name] = description

    def extract_mapping(self) -> dict[str, dict[str, str]]:
        """``{type_name: {field: description}}``."""
        return {self.type_name: self.fields}


class GetMappingFieldsResponse:
    """The reply of ``get-mapping-fields``: one ``SchemeTypeMapping`` per remote object type."""

    def __init__(self, scheme_types_mapping: list[SchemeTypeMapping] | None = None) -> None:
        self.scheme_types_mappings = scheme_types_mapping if scheme_types_mapping else []

    def add_scheme_type(self, scheme_type_mapping: SchemeTypeMapping) -> None:
        """Add one remote object type."""
        self.scheme_types_mappings.append(scheme_type_mapping)

    def extract_mapping(self) -> dict[str, dict[str, str]]:
        """One dict merging every remote object type's mapping: ``{type_name: fields, ...}``."""
        all_mappings: dict[str, dict[str, str]] = {}
        for scheme_types_mapping in self.scheme_types_mappings:
            all_mappings.update(scheme_types_mapping.extract_mapping())
        return all_mappings


# ---------------------------------------------------------------------------------------------
# Returning results and errors
# ---------------------------------------------------------------------------------------------

def return_results(results: Any) -> None:
    """Write the results of a command to the war room, whatever form they take."""
    if results is None:
        demisto.results(None)
        return
    if results and isinstance(results, list):
        # Plain entries are sent together after the structured ones, as on the platform.
        plain_entries = []
        for result in results:
            if isinstance(result, (dict, str)):
                plain_entries.append(result)
            else:
                return_results(result)
        if plain_entries:
            demisto.results(plain_entries)
        return
    if isinstance(results, CommandResults):
        demisto.results(results.to_context())
    elif isinstance(results, GetMappingFieldsResponse):
        demisto.results(results.extract_mapping())
    elif isinstance(results, GetModifiedRemoteDataResponse):
        demisto.results(results.to_entry())
    elif isinstance(results, GetRemoteDataResponse):
        demisto.results(results.extract_for_local())
    else:
        demisto.results(results)


def fileResult(filename: str, data: Any, file_type: Any = None) -> dict[str, Any]:
    """A War Room file entry holding `data` (text or bytes) under `filename`.

    Like the real function it writes the file into the working folder, named `<investigation id>_<uniqueFile()>`,
    and returns that name as the FileID; the engine picks the file up from there.
    """
    file_id = demisto.uniqueFile()
    with open(f'{demisto.investigation()["id"]}_{file_id}', 'wb') as file:
        file.write(data.encode('utf-8') if isinstance(data, str) else bytes(data))
    return {'Contents': '', 'ContentsFormat': EntryFormat.TEXT, 'Type': EntryType.FILE if file_type is None
            else file_type, 'File': filename, 'FileID': file_id}


# Commands whose errors the server itself reports; an error entry would be lost for them.
_SERVER_HANDLED_COMMANDS = ('fetch-incidents', 'fetch-credentials', 'long-running-execution', 'fetch-indicators')
MAX_ERROR_MESSAGE_LENGTH = 50000
MASK = '<XX_REPLACED>'


class IntegrationLogger:
    """The platform's integration logger: ``LOG(message)`` buffers a line (with every registered secret masked) and
    ``LOG.print_log()`` writes the buffer as one ``demisto.info('Full Integration Log:\\n...')``.

    Like the platform's, it registers the instance parameters whose names look secret (key, private, password,
    secret, token, credentials) when it is created; ``add_replace_strs`` registers more. A secret is masked wherever
    it occurs, even inside a word.
    """

    SENSITIVE = ('key', 'private', 'password', 'secret', 'token', 'credentials', 'service_account')

    def __init__(self, debug_logging: bool = False) -> None:
        self.messages: list[str] = []
        self.replace_strs: list[str] = []
        self.buffering = True
        self.debug_logging = debug_logging
        if not os.getenv('COMMON_SERVER_NO_AUTO_REPLACE_STRS'):
            self._add_sensitive(demisto.params() or {})

    def _add_sensitive(self, params: dict[str, Any]) -> None:
        for name, value in params.items():
            if isinstance(value, dict):
                self._add_sensitive(value)
            elif isinstance(value, str) and any(part in name.lower() for part in self.SENSITIVE):
                self.add_replace_strs(value)

    def encode(self, message: Any) -> str:
        text = str(message)
        for secret in self.replace_strs:
            text = text.replace(secret, MASK)
        return text

    def __call__(self, message: Any) -> str:
        text = self.encode(message)
        if self.buffering:
            self.messages.append(text)
            if self.debug_logging:
                demisto.debug(text)
        else:
            demisto.info(text)
        return text

    def add_replace_strs(self, *secrets: Any) -> None:
        """Mask these strings (as given, JSON-escaped and URL-encoded) in everything logged from now on."""
        for secret in secrets:
            if secret:
                text = self.encode(secret)
                self.replace_strs.extend({text, json.dumps(text)[1:-1], quote_plus(text)})

    def set_buffering(self, state: bool) -> None:
        self.buffering = state

    def print_log(self, verbose: bool = False) -> None:
        if self.messages:
            text = 'Full Integration Log:\n' + '\n'.join(self.messages)
            if not self.debug_logging:  # in debug mode every line was written as it came
                demisto.info(text)
            self.messages = []


LOG = IntegrationLogger(debug_logging=is_debug_mode())


def return_error(message: Any, error: Any = '', outputs: Any = None) -> None:
    """Log the error through LOG, write an error entry and end the command (``SystemExit(0)``).

    The message (secrets masked) and any traceback go to LOG, then ``LOG.print_log()``: one ``demisto.info``,
    never ``demisto.error``. During fetch-like commands it raises ``Exception(message)`` instead, so that the
    server marks the fetch as failed and keeps the previous lastRun; otherwise a message over
    MAX_ERROR_MESSAGE_LENGTH keeps both ends.
    """
    command = demisto.command()
    is_server_handled = command in _SERVER_HANDLED_COMMANDS
    message = LOG(message)
    if error:
        LOG(str(error))
    if any(sys.exc_info()):
        trace = traceback.format_exc()
        LOG('\n{}'.format(trace))
        if is_debug_mode():
            message = '{}\n\n{}'.format(message, trace)
    LOG.print_log()

    if command == 'get-modified-remote-data':
        # The server reads this prefix as "keep the incidents as they are until the next run".
        if (error and not isinstance(error, NotImplementedError)) or sys.exc_info()[0] is not NotImplementedError:
            message = 'skip update. error: ' + message

    if is_server_handled:
        raise Exception(message)
    if len(message) > MAX_ERROR_MESSAGE_LENGTH:
        half = MAX_ERROR_MESSAGE_LENGTH // 2
        message = message[:half] + '...This error body was truncated...' + message[-half:]
    demisto.results({
        'Type': entryTypes['error'],
        'ContentsFormat': formats['text'],
        'Contents': message,
        'EntryContext': outputs,
    })
    sys.exit(0)


# ---------------------------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------------------------

# Lower security level: older appliances that offer only weaker ciphers or keys still connect.
CIPHERS_STRING = 'DEFAULT@SECLEVEL=1'


class SSLAdapter(HTTPAdapter):
    """The adapter the platform mounts on ``https://`` when "Trust any certificate" is selected.

    Its TLS context accepts the ciphers of ``CIPHERS_STRING`` and, with verification off, does not
    check the host name either.
    """

    def __init__(self, verify: bool = True, **kwargs: Any) -> None:
        self.context = create_urllib3_context(ciphers=CIPHERS_STRING)
        if not verify:
            self.context.check_hostname = False
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs['ssl_context'] = self.context
        super().init_poolmanager(*args, **kwargs)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        proxy_kwargs['ssl_context'] = self.context
        return super().proxy_manager_for(proxy, **proxy_kwargs)


class BaseClient:
    """The HTTP client every integration's ``Client`` extends."""

    def __init__(self, base_url: str, verify: bool | str = True, proxy: bool = False,
                 ok_codes: tuple[int, ...] | list[int] = (), headers: dict[str, str] | None = None,
                 auth: Any = None, timeout: float = 60) -> None:
        self._base_url = base_url
        self._verify = verify
        self._ok_codes = ok_codes
        self._headers = headers
        self._auth = auth
        self._session = requests.Session()
        if not verify:
            self._session.mount('https://', SSLAdapter(verify=verify))
        # As on the platform: proxy=False deletes the proxy variables from the environment (the session still
        # trusts the environment); verify=False deletes the CA-bundle variables and does not silence urllib3's
        # InsecureRequestWarning.
        if proxy:
            ensure_proxy_has_http_prefix()
        else:
            skip_proxy()
        if not verify:
            skip_cert_verification()
        entity_timeout = os.getenv('REQUESTS_TIMEOUT.' + get_integration_name(), '')
        self.timeout = float(entity_timeout or os.getenv('REQUESTS_TIMEOUT', '') or timeout)

    def __del__(self) -> None:
        try:
            self._session.close()
        except AttributeError:
            pass

    def _implement_retry(self, retries: int = 0, status_list_to_retry: list[int] | None = None,
                         backoff_factor: float = 5, raise_on_redirect: bool = False,
                         raise_on_status: bool = False) -> None:
        """Mount a urllib3 ``Retry`` on the session, for ``https://`` only as the platform does.

        With verification off the new adapter is again an ``SSLAdapter``, so the cipher fallback stays.
        """
        retry = Retry(total=retries, read=retries, connect=retries, status=retries,
                      backoff_factor=backoff_factor, status_forcelist=status_list_to_retry,
                      raise_on_status=raise_on_status, raise_on_redirect=raise_on_redirect,
                      # The platform's own retries repeat POSTs too: never use them for changes.
                      allowed_methods=frozenset(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']))
        https_adapter = HTTPAdapter(max_retries=retry) if self._verify else \
            SSLAdapter(verify=self._verify, max_retries=retry)
        self._session.mount('https://', https_adapter)

    def _is_status_code_valid(self, response: requests.Response,
                              ok_codes: tuple[int, ...] | list[int] | None = None) -> bool:
        status_codes = ok_codes if ok_codes else self._ok_codes
        if status_codes:
            return response.status_code in status_codes
        return response.ok

    def _handle_error(self, error_handler: Callable[[requests.Response], Any] | None,
                      res: requests.Response) -> None:
        if error_handler:
            error_handler(res)
            return
        err_msg = 'Error in API call [{}] - {}'.format(res.status_code, res.reason)
        try:
            # A JSON body is re-serialised, so its spacing is json.dumps's, not the server's.
            err_msg += '\n{}'.format(json.dumps(res.json()))
        except ValueError:
            err_msg += '\n{}'.format(res.text)
        raise DemistoException(err_msg, res=res)

    def _handle_success(self, res: requests.Response, resp_type: str,
                        empty_valid_codes: list[int] | None, return_empty_response: bool) -> Any:
        if return_empty_response and res.status_code in (empty_valid_codes or [204]):
            return res
        resp_type = resp_type.lower()
        try:
            if resp_type == 'json':
                return res.json()
            if resp_type == 'text':
                return res.text
            if resp_type == 'content':
                return res.content
            if resp_type == 'xml':
                ET.fromstring(res.text)
            return res
        except ValueError as exception:
            # The body shows as a bytes literal (b'...'), exactly as the platform prints it.
            raise DemistoException('Failed to parse {} object from response: {!r}'
                                   .format(resp_type, res.content), exception, res)

    def _http_request(self, method: str, url_suffix: str = '', full_url: str | None = None,
                      headers: dict[str, str] | None = None, auth: Any = None, json_data: Any = None,
                      params: dict[str, Any] | None = None, data: Any = None, files: Any = None,
                      timeout: float | tuple[float, float] | None = None, resp_type: str = 'json',
                      ok_codes: tuple[int, ...] | list[int] | None = None,
                      return_empty_response: bool = False, retries: int = 0,
                      status_list_to_retry: list[int] | None = None, backoff_factor: float = 5,
                      raise_on_redirect: bool = False, raise_on_status: bool = False,
                      error_handler: Callable[[requests.Response], Any] | None = None,
                      empty_valid_codes: list[int] | None = None,
                      params_parser: Callable[..., str] | None = None, **kwargs: Any) -> Any:
        """Send one request and return the reply as ``resp_type`` asks, or raise as the platform does."""
        try:
            address = full_url if full_url else urljoin(self._base_url, url_suffix)
            headers = headers if headers else self._headers
            auth = auth if auth else self._auth
            if retries:
                self._implement_retry(retries, status_list_to_retry, backoff_factor,
                                      raise_on_redirect, raise_on_status)
            if not timeout:
                timeout = self.timeout
            query: dict[str, Any] | str | None = params
            if params_parser:
                query = urlencode(params or {}, quote_via=params_parser)
            verify = self._verify

            res = self._session.request(method, address, verify=verify, params=query, data=data,
                                        json=json_data, files=files, headers=headers, auth=auth,
                                        timeout=timeout, **kwargs)
            if not self._is_status_code_valid(res, ok_codes):
                self._handle_error(error_handler, res)
            return self._handle_success(res, resp_type, empty_valid_codes, return_empty_response)

        except requests.exceptions.ConnectTimeout as exception:
            raise DemistoException('Connection Timeout Error - potential reasons might be that the Server '
                                   'URL parameter is incorrect or that the Server is not accessible from '
                                   'your host.', exception)
        except requests.exceptions.SSLError as exception:
            # With "Trust any certificate" already selected the hint would mislead.
            if not self._verify:
                raise
            raise DemistoException("SSL Certificate Verification Failed - try selecting 'Trust any "
                                   "certificate' checkbox in the integration configuration.", exception)
        except requests.exceptions.ProxyError as exception:
            raise DemistoException("Proxy Error - if the 'Use system proxy' checkbox in the integration "
                                   "configuration is selected, try clearing the checkbox.", exception)
        except requests.exceptions.ConnectionError as exception:
            error_class = str(exception.__class__)
            error_type = '<' + error_class[error_class.find("'") + 1: error_class.rfind("'")] + '>'
            err_msg = ('Verify that the server URL parameter is correct and that you have access to the '
                       'server from your host.\nError Type: {}'.format(error_type))
            if exception.errno and exception.strerror:
                err_msg += '\nError Number: [{}]\nMessage: {}\n'.format(exception.errno, exception.strerror)
            else:
                err_msg += '\n{}'.format(str(exception))
            raise DemistoException(err_msg, exception)
        except requests.exceptions.RetryError as exception:
            try:
                reason = 'Reason: {}'.format(exception.args[0].reason.args[0])
            except Exception:
                reason = ''
            raise DemistoException('Max Retries Error- Request attempts with {} retries failed. \n{}'
                                   .format(retries, reason), exception)
