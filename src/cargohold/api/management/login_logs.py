"""GET /api/logs/login: every authentication attempt, most recent first."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Query

from cargohold.core.login_events import MAX_LOGIN_EVENTS

from . import models
from .deps import Context, reader

router = APIRouter(tags=["logs"])


class LoginEvent(models.Response):
    at: datetime
    identity: str
    identity_kind: str | None
    method: str
    source: str
    outcome: Literal["success", "failure"]
    reason: str


@router.get("/logs/login", response_model=list[LoginEvent], summary="List sign-in attempts, most recent first")
def list_logins(
    identity: str | None = Query(default=None, description="the name presented (it need not exist)"),
    outcome: Literal["success", "failure"] | None = None,
    since: datetime | None = Query(default=None, description="ISO 8601; without a zone, UTC"),
    top: int = Query(default=100, ge=1, le=MAX_LOGIN_EVENTS),
    context: Context = Depends(reader),
) -> list[LoginEvent]:
    return [LoginEvent(at=e.at, identity=e.identity, identity_kind=e.identity_kind, method=e.method,
                       source=e.source, outcome=e.outcome, reason=e.reason)
            for e in context.identities.logins.list(context.registry.id, identity=identity, outcome=outcome,
                                                     since=since, top=top)]
