"""With several workers, a control-plane change reaches every worker within AccessService's 5-second cache
(docs/management-api.md, "When changes take effect")."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from mgmttools import OWNER_PASSWORD, Api, can_sign_in, eventually, granted, password_value

from support import RegistryServer, running_registry


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    data = tmp_path_factory.mktemp("management-workers") / "data"
    with running_registry(data, workers=2, extra_env={"CARGOHOLD_OWNER_PASSWORD": OWNER_PASSWORD}) as s:
        yield s


def _warm(check: Callable[[], bool]) -> None:
    """Make both workers cache the current answer (new connections land on either worker)."""
    for _ in range(8):
        assert check()


def test_changes_reach_every_worker(server: RegistryServer, owner: Api, unique: Callable[[str], str]) -> None:
    name = unique("spread")
    created = owner.post("/tokens", {"name": name, "scopeMapName": "_repositories_pull"}, expect=201)
    old = password_value(created, "password1")
    _warm(lambda: can_sign_in(server.url, name, old))
    new = password_value(owner.post(f"/tokens/{name}/credentials", {"name": "password1"}), "password1")
    assert eventually(lambda: all(not can_sign_in(server.url, name, old) for _ in range(4)))
    assert can_sign_in(server.url, name, new)

    _warm(lambda: granted(server.url, name, new, "any/repo", "pull") == ["pull"])
    owner.patch(f"/tokens/{name}", {"scopeMapName": "_repositories_push"})
    assert eventually(lambda: all(granted(server.url, name, new, "any/repo", "pull,push") == ["pull", "push"]
                                  for _ in range(4)))

    owner.patch(f"/tokens/{name}", {"status": "disabled"})
    assert eventually(lambda: all(not can_sign_in(server.url, name, new) for _ in range(4)))

    user = unique("spread-user")
    password = owner.post("/users", {"name": user}, expect=201)["password"]
    assignment = owner.post("/role-assignments", {"assignee": user, "role": "AcrPush"}, expect=201)
    _warm(lambda: granted(server.url, user, password, "any/repo", "push") == ["push"])
    owner.delete(f"/role-assignments/{assignment['id']}")
    assert eventually(lambda: all(granted(server.url, user, password, "any/repo", "push") == []
                                  for _ in range(4)))
