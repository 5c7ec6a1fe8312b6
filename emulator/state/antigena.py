"""The dataset's Autonomous Response actions."""
from __future__ import annotations

from typing import Any

from emulator import catalog, respond
from emulator.respond import AntigenaAction
from emulator.state.base import DAY_MS


class RespondState:
    """Autonomous Response (RESPOND) actions; their state rules live in respond.py.

    A part of `Dataset` (dataset.py), which holds the state it reads and changes."""

    # ------------------------------------------------------------------ Autonomous Response
    def _build_antigena(self) -> None:
        def model_for(did: int, start: int) -> tuple[str, str, int]:
            # The device's latest breach in the day before the action, else the first model.
            earlier = self.breaches_between(start - DAY_MS, start, now_ms=self.anchor_ms)
            recent = [b for b in earlier if b.did == did][-1:]
            model = self.models[recent[0].pid] if recent else self.models[min(self.models)]
            return model.spec.name, model.uuid, recent[0].pbid if recent else 0

        self.antigena = respond.seed(respond.SeedContext(
            anchor_ms=self.anchor_ms, dids=sorted(self.devices), device_ip=lambda did: self.devices[did]['ip'],
            endpoints=sorted(self.endpoints), endpoint_ip=lambda name: self.endpoints[name]['ip'],
            model_for=model_for, usernames=tuple(catalog.COMMENT_AUTHORS), catalog_actions=catalog.ANTIGENA_ACTIONS),
            self._rng('antigena'))

    def change_action(self, action: AntigenaAction, now_ms: int, username: str, reason: str, *, activate: bool,
                      clear: bool, duration: int | None, from_start: bool) -> None:
        """One change asked of POST /antigena (guide 2.13), by respond.py's rules; respond.Refused says why not."""
        if activate and clear:
            raise respond.Refused('Give only one of activate or clear')
        if clear:
            respond.clear(action, now_ms, username, reason)
        elif activate and duration is not None:
            respond.reactivate(action, now_ms, duration, username, reason)
        elif activate:
            respond.activate(action, now_ms, username, reason)
        elif duration is not None:
            respond.extend(action, now_ms, duration, username, reason, from_start=from_start)
        else:
            raise respond.Refused('One of activate, clear or duration is required')

    def create_action(self, did: int, kind: str, duration: int, reason: str, username: str,
                      connections: list[dict[str, Any]], now_ms: int) -> AntigenaAction:
        """A manual action (POST /antigena/manual, guide 2.14), by respond.py's rules."""
        return respond.create_manual(self.antigena, did, kind, duration, reason, username, connections, now_ms,
                                     catalog.ANTIGENA_ACTIONS)
