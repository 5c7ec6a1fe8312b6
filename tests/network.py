"""Client-side network faults outside any HTTP exchange (a test helper, not part of the emulator): a host name
that does not resolve.

Resolution fails in this process, so a DNS failure can be tested without a query leaving the machine.
"""
from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def unresolvable(host: str) -> Iterator[None]:
    """Within the block, resolving `host` fails as an unknown name does; other names resolve as usual."""
    real = socket.getaddrinfo

    def resolve(name: Any, *args: Any, **kwargs: Any) -> Any:
        if name == host:
            raise socket.gaierror(socket.EAI_NONAME, 'Name or service not known')
        return real(name, *args, **kwargs)

    socket.getaddrinfo = resolve  # type: ignore[assignment]
    try:
        yield
    finally:
        socket.getaddrinfo = real  # type: ignore[assignment]
