"""The login log as the control plane reads it: who signed in (or failed to), how and from where."""

from __future__ import annotations

from datetime import datetime

from cargohold.core.errors import InvalidArgument
from cargohold.core.identity_common import text, utc
from cargohold.core.ports.access_store import AccessStore
from cargohold.core.ports.records import LoginEvent

MAX_LOGIN_EVENTS = 1000
OUTCOMES = ("success", "failure")


class LoginEventService:
    def __init__(self, store: AccessStore) -> None:
        self.store = store

    def list(self, registry_id: int, *, identity: str | None = None, outcome: str | None = None,
             since: datetime | None = None, top: int = 100) -> list[LoginEvent]:
        """Most recent first; `identity` is the name presented (it need not exist)."""
        if outcome is not None and outcome not in OUTCOMES:
            raise InvalidArgument("outcome must be success or failure", {"outcome": outcome[:100]})
        if not 1 <= top <= MAX_LOGIN_EVENTS:
            raise InvalidArgument(f"top must be between 1 and {MAX_LOGIN_EVENTS}", {"top": top})
        if identity is not None:
            text(identity, "identity", 128)
        return self.store.list_logins(registry_id, identity=identity, outcome=outcome,
                                      since=utc(since) if since is not None else None, limit=top)
