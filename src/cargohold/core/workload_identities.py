"""Workload identities and their federated credentials: no secret; they sign in with OIDC tokens from a
trusted issuer (core/federation.py verifies them) and get their rights from role assignments."""

from __future__ import annotations

import builtins
import re
import uuid

from cargohold.core.errors import Conflict, InvalidArgument, NotFound
from cargohold.core.federation import DEFAULT_AUDIENCE, MAX_FEDERATED_CREDENTIALS, validate_issuer
from cargohold.core.identity_common import WORKLOAD, OnChange, notifier, now, text
from cargohold.core.ports.access_store import AccessStore
from cargohold.core.ports.records import FederatedCredential, Identity
from cargohold.core.role_assignments import delete_identity

# Azure's rules for user-assigned identity and federated credential names (lengths fit the schema).
_WORKLOAD_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{2,127}")
_FEDERATED_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{2,63}")


class WorkloadIdentityService:
    """`allow_insecure_issuers` (Settings.allow_insecure_issuers): also accept http://127.0.0.1 and
    http://localhost issuers."""

    def __init__(self, store: AccessStore, *, allow_insecure_issuers: bool = False,
                 on_change: OnChange | None = None) -> None:
        self.store = store
        self.allow_insecure_issuers = allow_insecure_issuers
        self._changed = notifier(on_change)

    # --- by name (the control plane) -------------------------------------------------------------

    def list(self, registry_id: int) -> list[tuple[Identity, list[FederatedCredential]]]:
        return [(i, self.store.federated_credentials_of(i.id))
                for i in self.store.list_identities(registry_id, WORKLOAD)]

    def get(self, registry_id: int, name: str) -> Identity:
        found = None
        if len(name) <= 128 and name.isprintable():
            found = self.store.find_identity(registry_id, WORKLOAD, name)
        if found is None:
            raise NotFound(f"workload identity {name[:100]!r} not found", {"name": name[:100]})
        return found

    def create(self, registry_id: int, name: str, description: str = "") -> Identity:
        """A workload identity: no secret; it signs in with federated OIDC tokens, its rights come from roles."""
        if not _WORKLOAD_NAME.fullmatch(name):
            raise InvalidArgument("workload identity names are 3-128 letters, digits, '-' or '_', "
                                  "starting with a letter or digit", {"name": name})
        text(description, "description")
        if self.store.find_identity(registry_id, WORKLOAD, name) is not None:
            raise Conflict(f"workload identity {name} already exists", {"name": name})
        ts = now()
        identity = Identity(str(uuid.uuid4()), registry_id, WORKLOAD, name, description, True, None, ts, ts)
        self.store.create_identity(identity, [])
        return identity

    def delete(self, registry_id: int, name: str) -> None:
        """Delete a workload identity with its federated credentials and role assignments."""
        delete_identity(self.store, self.get(registry_id, name), self._changed)

    def remove_federated_credential(self, registry_id: int, name: str, credential: str) -> None:
        """Delete federated credential `credential` of workload identity `name` (404 when either is absent)."""
        workload = self.get(registry_id, name)
        if len(credential) > 64 or not credential.isprintable():
            raise NotFound(f"federated credential {credential[:100]!r} not found on {name}",
                           {"name": credential[:100]})
        self.delete_federated_credential(workload.id, credential)

    # --- federated credentials, by identity id --------------------------------------------------

    def _workload(self, identity_id: str) -> Identity:
        identity = self.store.get_identity(identity_id)
        if identity is None or identity.kind != WORKLOAD:
            raise NotFound(f"workload identity {identity_id} not found", {"identity": identity_id})
        return identity

    def add_federated_credential(self, identity_id: str, name: str, issuer: str, subject: str,
                                 audience: str = DEFAULT_AUDIENCE) -> FederatedCredential:
        """Trust tokens from `issuer` whose `sub` is `subject` and whose `aud` contains `audience`."""
        identity = self._workload(identity_id)
        if not _FEDERATED_NAME.fullmatch(name):
            raise InvalidArgument("federated credential names are 3-64 letters, digits, '-' or '_', "
                                  "starting with a letter or digit", {"name": name})
        validate_issuer(issuer, allow_insecure=self.allow_insecure_issuers)
        for field, value in (("subject", subject), ("audience", audience)):
            if not value or len(value) > 512 or value != value.strip() or not value.isprintable():
                raise InvalidArgument(f"{field} must be 1-512 printable characters without leading or "
                                      "trailing spaces", {field: value[:600]})
        existing = self.store.federated_credentials_of(identity.id)
        if any(c.name == name for c in existing):
            raise Conflict(f"federated credential {name} already exists on {identity.name}", {"name": name})
        if any(c.issuer == issuer and c.subject == subject for c in existing):
            raise Conflict(f"{identity.name} already trusts issuer {issuer} subject {subject}",
                           {"issuer": issuer, "subject": subject})
        if len(existing) >= MAX_FEDERATED_CREDENTIALS:
            raise InvalidArgument(f"{identity.name} already has {MAX_FEDERATED_CREDENTIALS} federated "
                                  "credentials, the most an identity may have")
        credential = FederatedCredential(identity.id, name, issuer, subject, audience, now())
        self.store.add_federated_credential(identity.registry_id, credential)
        return credential

    def list_federated_credentials(self, identity_id: str) -> builtins.list[FederatedCredential]:
        return self.store.federated_credentials_of(self._workload(identity_id).id)

    def delete_federated_credential(self, identity_id: str, name: str) -> None:
        identity = self._workload(identity_id)
        if not self.store.delete_federated_credential(identity.id, name):
            raise NotFound(f"federated credential {name} not found on {identity.name}", {"name": name})
