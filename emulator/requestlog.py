"""The record of every signed-API request the emulator answered (or dropped)."""
from __future__ import annotations

import threading
from typing import Any

REDACTED = '<redacted>'


class RequestLog:
    """Append-only list of request entries; the DTAPI-Signature header is never kept."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[dict[str, Any]] = []

    def append(self, method: str, path: str, query: str, body: bytes, status: int | None, bytes_sent: int,
               headers: dict[str, str], fault: str | None = None) -> None:
        entry = {
            'method': method, 'path': path, 'query': query,
            'body': body.decode('utf-8', errors='replace'), 'status': status, 'bytes_sent': bytes_sent,
            'headers': {name: (REDACTED if name.lower() == 'dtapi-signature' else value)
                        for name, value in headers.items()},
            'fault': fault,
        }
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(entry, headers=dict(entry['headers'])) for entry in self._entries]

    def cost(self) -> dict[str, int]:
        """What the requests logged so far cost: their number and the reply bytes sent (clear() starts a cycle)."""
        with self._lock:
            return {'requests': len(self._entries), 'bytes': sum(entry['bytes_sent'] or 0 for entry in self._entries)}

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
