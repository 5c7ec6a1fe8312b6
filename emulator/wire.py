"""Reply values shared by the routes, the fault rules and the HTTP server."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Iterable

LOGIN_PAGE = (
    '<!DOCTYPE html>\n<html><head><title>Log In | Darktrace</title>'
    '<meta charset="utf-8"></head><body><form method="post" action="/login">'
    '<input name="username"><input name="password" type="password">'
    '<button type="submit">Log In</button></form></body></html>\n'
)


@dataclass
class Response:
    """A complete HTTP reply before it is written to the socket.

    A streamed reply (faults only) has ``stream`` set: its body is written piece by piece, ``interval_s``
    apart, and ``body`` stays empty; ``length`` is the Content-Length it announces. With ``trickle_head`` the
    status line and headers go out that way too, a byte at a time.
    """
    status: int
    body: bytes = b''
    content_type: str = 'application/json; charset=utf-8'
    headers: dict[str, str] = field(default_factory=dict)
    stream: Iterable[bytes] | None = None
    length: int = 0
    interval_s: float = 0.0
    trickle_head: bool = False


def status_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return 'Error'


def json_response(payload: Any, status: int = 200) -> Response:
    # Compact separators, like the appliance's Node.js JSON.stringify output.
    body = json.dumps(payload, separators=(',', ':'), ensure_ascii=False).encode('utf-8')
    return Response(status=status, body=body)


def redirect(location: str) -> Response:
    """Express-style redirect: 302, Location, and the plain-text 'Found.' body."""
    return Response(status=302, body=f'Found. Redirecting to {location}'.encode('utf-8'),
                    content_type='text/plain; charset=utf-8', headers={'Location': location})


def html_response(text: str, status: int = 200) -> Response:
    return Response(status=status, body=text.encode('utf-8'), content_type='text/html; charset=utf-8')


def input_error(message: str) -> Response:
    return json_response({'error': message, 'response': 'INPUT ERROR'}, status=400)


def not_found(message: str) -> Response:
    return json_response({'error': message}, status=404)
