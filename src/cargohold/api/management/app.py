"""The FastAPI application of the control plane: routers, error rendering, the OpenAPI document."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from . import (
    admin_credentials,
    errors,
    imports,
    login_logs,
    models,
    registries,
    registry,
    repositories,
    retention,
    role_assignments,
    scope_maps,
    service_principals,
    tag_rules,
    tokens,
    usage,
    users,
    workload_identities,
)
from .deps import Management

DESCRIPTION = """Cargohold's control plane: the registry's switches, the admin user, scope maps and repository
tokens, role assignments, users, service principals, workload identities and the login log.
Authenticate with HTTP Basic. Reads need Reader, Contributor or Owner on the registry; writes
Contributor or Owner; role assignments Owner. Secrets appear only in the response that generated them."""


def create_management_app(management: Management) -> FastAPI:
    app = FastAPI(title="Cargohold management API", version="1", description=DESCRIPTION,
                  openapi_url="/openapi.json", docs_url="/docs", redoc_url=None,
                  responses=models.ERROR_RESPONSES)
    modules = (registry, admin_credentials, scope_maps, tokens, role_assignments, users, service_principals,
               workload_identities, login_logs, retention, registries, usage, imports, repositories, tag_rules)
    for module in modules:
        app.include_router(module.router)
    app.state.route_table = [route for module in modules for route in module.router.routes]  # for 405's Allow
    errors.install(app)
    app.state.management = management
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, less its 422 responses: this API answers invalid requests with 400."""
    if app.openapi_schema is None:
        schema = FastAPI.openapi(app)
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                operation.get("responses", {}).pop("422", None)
        for name in ("HTTPValidationError", "ValidationError"):
            schema.get("components", {}).get("schemas", {}).pop(name, None)
        app.openapi_schema = schema
    return app.openapi_schema
