"""The dataset's Autonomous Response actions."""
from __future__ import annotations


from emulator import catalog, respond
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
