"""The request a route handler sees, and the parsing of its parameters.

Parameters come from the query string, or for a POST from the form or JSON body. A value the
appliance would reject raises ``InputError``; a missing object raises ``NotFound``.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from emulator.auth import TokenPair
from emulator.dataset import Dataset
from emulator.settings import Settings


class InputError(Exception):
    """A parameter the appliance rejects: 400 INPUT ERROR."""


class NotFound(Exception):
    """An object that does not exist: 404."""


@dataclass
class Request:
    """What a handler may look at; ``query`` and ``body`` hold decoded parameters."""
    method: str
    path: str
    query: dict[str, str]
    body: dict[str, Any]
    path_args: dict[str, str]
    dataset: Dataset
    settings: Settings
    now_ms: int
    base_url: str
    token_pair: TokenPair
    shuffle: random.Random = field(default_factory=random.Random)

    def param(self, name: str) -> Any:
        """A query parameter, or for POST a body field; None when absent."""
        if name in self.query:
            return self.query[name]
        return self.body.get(name)


def _text(value: Any) -> str:
    # JSON bodies carry real booleans and numbers: read them as a query string would spell them.
    if isinstance(value, bool):
        return 'true' if value else 'false'
    return value if isinstance(value, str) else str(value)


def _number(request: Request, name: str, convert: type[int] | type[float], expected: str) -> Any:
    """The parameter converted, or None when it is absent or empty."""
    value = request.param(name)
    if value is None or value == '':
        return None
    try:
        return convert(_text(value).strip())
    except ValueError:
        raise InputError(f'Invalid value for {name}: expected {expected}') from None


def int_param(request: Request, name: str, default: int | None = None, minimum: int | None = None,
              maximum: int | None = None) -> int | None:
    number = _number(request, name, int, 'an integer')
    if number is None:
        return default
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise InputError(f'Invalid value for {name}: out of range')
    return number


def float_param(request: Request, name: str, minimum: float, maximum: float) -> float | None:
    number = _number(request, name, float, 'a number')
    if number is not None and (number != number or not minimum <= number <= maximum):
        raise InputError(f'Invalid value for {name}: must be between {minimum:g} and {maximum:g}')
    return number


def bool_param(request: Request, name: str, default: bool = False) -> bool:
    value = request.param(name)
    if value is None or value == '':
        return default
    if isinstance(value, bool):
        return value
    return _text(value).strip().lower() in ('true', '1', 'yes')


def str_param(request: Request, name: str) -> str | None:
    value = request.param(name)
    return None if value is None else _text(value)


def readable_time(text: str, name: str) -> int:
    """Epoch ms of a ``from``/``to`` value (``YYYY-MM-DD HH:MM:SS`` or ``YYYY-MM-DD``, UTC)."""
    for date_format in ('%Y-%m-%d %H:%M:%S', '%Y-%m-%d'):
        try:
            parsed = datetime.strptime(text.strip(), date_format).replace(tzinfo=timezone.utc)
            return int(parsed.timestamp() * 1000)
        except ValueError:
            continue
    raise InputError(f'Invalid value for {name}: expected YYYY-MM-DD HH:MM:SS')


def time_window(request: Request) -> tuple[int | None, int | None]:
    """``starttime``/``endtime`` (ms) or ``from``/``to`` (readable); ms wins when both are sent."""
    start = int_param(request, 'starttime')
    end = int_param(request, 'endtime')
    if start is None and str_param(request, 'from'):
        start = readable_time(str_param(request, 'from') or '', 'from')
    if end is None and str_param(request, 'to'):
        end = readable_time(str_param(request, 'to') or '', 'to')
    if start is not None and end is not None and start > end:
        raise InputError('starttime must not be after endtime')
    return start, end


def id_list(value: Any) -> list[str]:
    """``a,b`` (form) or ``["a", "b"]`` (JSON) as a list of ids."""
    if isinstance(value, list):
        return [str(item).strip() for item in value if str(item).strip()]
    return [part.strip() for part in _text(value).split(',') if part.strip()] if value is not None else []


def device_or_404(request: Request, did: int) -> dict[str, Any]:
    device = request.dataset.devices.get(did)
    if device is None:
        raise NotFound(f'Device {did} not found')
    return device


def comment_message(request: Request) -> str:
    message = request.body.get('message')
    if not isinstance(message, str) or not message.strip():
        raise InputError('message is required')
    return message
