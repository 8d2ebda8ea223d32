"""The OIDC verifier and the workload-identity pieces, in process, against a real issuer on 127.0.0.1.

The end-to-end flow through a running registry is in test_federation_e2e.py; here the clock can be
moved, fetches counted and every refusal reason read.
"""

from __future__ import annotations

import time

import httpx
import jwt
import pytest
from fedtools import Local

from cargohold.adapters.http import HttpxOutbound
from cargohold.core.access import REFRESH_TOKEN_USERNAME
from cargohold.core.errors import Conflict, InvalidArgument, NotFound, Unauthorized
from cargohold.core.federation import (
    INVALID,
    MAX_FEDERATED_CREDENTIALS,
    FederationError,
    FederationService,
    JwksCache,
    validate_issuer,
)
from cargohold.core.permissions import PULL, PUSH
from cargohold.core.ports.records import Identity
from support_oidc import DEFAULT_AUDIENCE, OidcIssuer

LOOPBACK_OUT = HttpxOutbound(["127.0.0.1"])  # the test issuers listen on 127.0.0.1 (SSRF guard allow-list)

SUB = "repo:acme/app:ref:refs/heads/main"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def workload(local: Local, issuer: OidcIssuer, name: str = "ci-app", subject: str = SUB,
             audience: str = DEFAULT_AUDIENCE, role: str | None = "AcrPull", scope: str = "apps/*") -> Identity:
    ids = local.db.identities.workloads
    identity = ids.create(local.db.registry.id, name, "test workload")
    ids.add_federated_credential(identity.id, "main", issuer.url, subject, audience)
    if role:
        local.db.assign(identity.id, role, scope)
    return identity


def service(local: Local, **cache: float) -> tuple[FederationService, Clock]:
    clock = Clock()
    jwks = JwksCache(LOOPBACK_OUT, allow_insecure=True, clock=clock, **cache)  # type: ignore[arg-type]
    return FederationService(local.access, LOOPBACK_OUT, allow_insecure_issuers=True, jwks=jwks), clock


def refused(fed: FederationService, local: Local, token: str, fragment: str, **kw: str) -> None:
    """The token is refused with only INVALID told, and a failure event saying why."""
    with pytest.raises(Unauthorized) as exc:
        fed.exchange(local.db.registry, token, source="test", **kw)
    assert exc.value.message == INVALID
    event = local.db.logins()[0]
    assert (event.outcome, event.method) == ("failure", "federated")
    assert fragment in event.reason, event.reason


# --- issuer URLs -----------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["https://token.actions.githubusercontent.com", "https://login.example.com/t/v2.0/",
                                 "https://oidc.example.com:8443/x"])
def test_https_issuers_are_accepted(url: str) -> None:
    assert validate_issuer(url, allow_insecure=False) == url


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://localhost:1/x", "http://[::1]:9"])
def test_loopback_http_only_when_insecure_issuers_are_allowed(url: str) -> None:
    assert validate_issuer(url, allow_insecure=True) == url
    with pytest.raises(InvalidArgument, match="CARGOHOLD_ALLOW_INSECURE_ISSUERS"):
        validate_issuer(url, allow_insecure=False)


@pytest.mark.parametrize("url", ["http://example.com", "http://10.0.0.1", "ftp://x.example", "https://",
                                 "example.com", "", "https://a b.example", "https://u:p@x.example",
                                 "https://x.example/?q=1", "https://x.example/#f", "https://x.example:99999",
                                 "https://x.example/" + "a" * 600])
def test_bad_issuers_are_refused(url: str) -> None:
    with pytest.raises(InvalidArgument):
        validate_issuer(url, allow_insecure=True)


# --- identity management ---------------------------------------------------------------------------


def test_workload_identity_and_its_federated_credentials(local: Local, issuer: OidcIssuer) -> None:
    ids = local.db.identities.workloads
    reg = local.db.registry.id
    wl = ids.create(reg, "build-agent", "builds")
    assert (wl.kind, wl.name, wl.enabled) == ("workload", "build-agent", True)
    assert local.db.store.credentials_of(wl.id) == []  # no secret of any kind
    with pytest.raises(Conflict):
        ids.create(reg, "build-agent", "")
    for bad in ("ab", "-x1", "a b c", "x" * 129, "ünïcode"):
        with pytest.raises(InvalidArgument):
            ids.create(reg, bad, "")

    cred = ids.add_federated_credential(wl.id, "main", issuer.url, SUB)
    assert cred.audience == DEFAULT_AUDIENCE
    ids.add_federated_credential(wl.id, "tags", issuer.url, "repo:acme/app:ref:refs/tags/v1", "api://cargohold")
    assert [c.name for c in ids.list_federated_credentials(wl.id)] == ["main", "tags"]
    with pytest.raises(Conflict):  # same name
        ids.add_federated_credential(wl.id, "main", issuer.url, "other")
    with pytest.raises(Conflict):  # same issuer and subject
        ids.add_federated_credential(wl.id, "again", issuer.url, SUB)
    with pytest.raises(InvalidArgument):
        ids.add_federated_credential(wl.id, "nosub", issuer.url, "")
    with pytest.raises(InvalidArgument):
        ids.add_federated_credential(wl.id, "spaces", issuer.url, " padded ")
    with pytest.raises(InvalidArgument):
        ids.add_federated_credential(wl.id, "plain", "http://example.com", SUB)
    with pytest.raises(InvalidArgument):
        ids.add_federated_credential(wl.id, "x", issuer.url, "s")  # name too short
    strict = type(ids)(local.db.store)  # http://127.0.0.1 issuers refused unless allowed
    with pytest.raises(InvalidArgument, match="CARGOHOLD_ALLOW_INSECURE_ISSUERS"):
        strict.add_federated_credential(wl.id, "local", issuer.url, "s2")

    for n in range(MAX_FEDERATED_CREDENTIALS - 2):
        ids.add_federated_credential(wl.id, f"cred-{n:02d}", issuer.url, f"subject-{n}")
    with pytest.raises(InvalidArgument, match=str(MAX_FEDERATED_CREDENTIALS)):
        ids.add_federated_credential(wl.id, "one-too-many", issuer.url, "subject-x")

    ids.delete_federated_credential(wl.id, "tags")
    with pytest.raises(NotFound):
        ids.delete_federated_credential(wl.id, "tags")
    assert len(ids.list_federated_credentials(wl.id)) == MAX_FEDERATED_CREDENTIALS - 1
    with pytest.raises(NotFound):
        ids.list_federated_credentials("no-such-identity")
    owner_like = local.db.identities.users.ensure_owner(reg, "pw-for-test")
    assert owner_like is not None
    owner = local.db.store.find_identity(reg, "user", "owner")
    assert owner is not None
    with pytest.raises(NotFound):  # only workload identities take federated credentials
        ids.add_federated_credential(owner.id, "nope", issuer.url, SUB)


# --- the exchange ----------------------------------------------------------------------------------


def test_valid_tokens_give_the_workload_principal(local: Local, issuer: OidcIssuer) -> None:
    wl = workload(local, issuer)
    fed, _ = service(local)
    for kid in ("rsa-1", "ec-1"):  # RS256 and ES256
        principal = fed.exchange(local.db.registry, issuer.mint(SUB, kid=kid), source="10.0.0.7")
        assert (principal.kind, principal.identity_id, principal.name) == ("workload", wl.id, "ci-app")
        assert principal.allows("apps/web", PULL) and not principal.allows("apps/web", PUSH)
        assert not principal.allows("other/web", PULL)
    event = local.db.logins()[0]
    assert (event.identity, event.identity_kind, event.method, event.source, event.outcome) == (
        "ci-app", "workload", "federated", "10.0.0.7", "success")
    # an audience list containing the trusted audience, and a token expired within the leeway
    assert fed.exchange(local.db.registry, issuer.mint(SUB, aud=["other", DEFAULT_AUDIENCE]), source="t")
    assert fed.exchange(local.db.registry, issuer.mint(SUB, exp=time.time() - 20), source="t")


def test_refusals_name_their_reason_in_the_login_event(local: Local, issuer: OidcIssuer) -> None:
    wl = workload(local, issuer)
    fed, _ = service(local)
    now = time.time()
    refused(fed, local, issuer.mint(SUB, aud="api://someone-else"), "audience")
    refused(fed, local, issuer.mint("repo:acme/app:ref:refs/heads/evil"), "no federated credential trusts")
    refused(fed, local, issuer.mint(SUB, exp=now - 120), "expired")
    refused(fed, local, issuer.mint(SUB, nbf=int(now) + 600), "not valid yet")
    refused(fed, local, issuer.mint(SUB, iat=int(now) + 600), "not valid yet")
    refused(fed, local, issuer.mint(SUB, key=issuer.unpublished_key()), "not in the issuer's JWKS")
    refused(fed, local, "not-a-jwt", "not a JWT")
    refused(fed, local, issuer.mint(SUB, kid="ec-1").replace(".", ".x", 1), "not a JWT")
    # a kid naming a key of the wrong type for the algorithm
    forged = jwt.encode(issuer.claims(SUB), issuer.key("rsa-1").private, algorithm="RS256", headers={"kid": "ec-1"})
    refused(fed, local, forged, "cannot verify RS256")
    # no exp
    claims = issuer.claims(SUB)
    del claims["exp"]
    refused(fed, local, jwt.encode(claims, issuer.key("rsa-1").private, algorithm="RS256",
                                   headers={"kid": "rsa-1"}), "exp")
    # disabled identity
    local.db.store.update_identity(wl.id, enabled=False)
    refused(fed, local, issuer.mint(SUB), "disabled")
    events = local.db.logins(outcome="failure")
    assert len(events) == 11
    assert all(e.identity in ("ci-app", SUB, "repo:acme/app:ref:refs/heads/evil", "?") for e in events)


def test_issuer_not_registered_is_never_contacted(local: Local, issuer: OidcIssuer) -> None:
    workload(local, issuer)
    fed, _ = service(local)
    with OidcIssuer() as stranger:
        refused(fed, local, stranger.mint(SUB), "no federated credential trusts")
        assert stranger.requests == []


def test_discovery_must_name_the_issuer_exactly(local: Local) -> None:
    with OidcIssuer(path="/tenant") as real:
        # the credential trusts the issuer with a trailing slash; discovery says it without
        ids = local.db.identities.workloads
        wl = ids.create(local.db.registry.id, "slashy", "")
        ids.add_federated_credential(wl.id, "main", real.url + "/", SUB)
        fed, _ = service(local)
        token = jwt.encode(real.claims(SUB, iss=real.url + "/"), real.key("rsa-1").private, algorithm="RS256",
                           headers={"kid": "rsa-1"})
        refused(fed, local, token, "discovery document names issuer")
        assert real.fetches("openid-configuration") == 1  # <iss minus slash>/.well-known/openid-configuration


def test_several_workloads_trusting_the_same_subject_need_client_id(local: Local, issuer: OidcIssuer) -> None:
    a = workload(local, issuer, "app-a", scope="a/*")
    b = workload(local, issuer, "app-b", scope="b/*")
    fed, _ = service(local)
    refused(fed, local, issuer.mint(SUB), "pass client_id")
    assert fed.exchange(local.db.registry, issuer.mint(SUB), source="t", client_id="app-a").identity_id == a.id
    assert fed.exchange(local.db.registry, issuer.mint(SUB), source="t", client_id=b.id).identity_id == b.id
    refused(fed, local, issuer.mint(SUB), "no federated credential", client_id="app-c")


# --- discovery and key cache -----------------------------------------------------------------------


def test_keys_are_cached_and_refetched_after_the_ttl(local: Local, issuer: OidcIssuer) -> None:
    workload(local, issuer)
    fed, clock = service(local, ttl=600)
    base = issuer.fetches("keys")
    for _ in range(5):
        fed.exchange(local.db.registry, issuer.mint(SUB), source="t")
    assert issuer.fetches("keys") == base + 1
    clock.now += 601
    fed.exchange(local.db.registry, issuer.mint(SUB), source="t")
    assert issuer.fetches("keys") == base + 2


def test_unknown_kid_refetches_once_then_is_rate_limited(local: Local, issuer: OidcIssuer) -> None:
    workload(local, issuer)
    fed, clock = service(local, refetch_interval=30)
    fed.exchange(local.db.registry, issuer.mint(SUB), source="t")
    base = issuer.fetches("keys")
    for n in range(20):  # an attacker presenting ever new key ids
        refused(fed, local, issuer.mint(SUB, key=issuer.unpublished_key(f"attacker-{n}")), "JWKS")
    assert issuer.fetches("keys") == base + 1
    assert "rate-limited" in local.db.logins()[0].reason

    new = issuer.rotate(keep_old=True)  # the issuer rotates within the rate-limit window
    refused(fed, local, issuer.mint(SUB, kid=new.kid), "rate-limited")
    clock.now += 31
    fed.exchange(local.db.registry, issuer.mint(SUB, kid=new.kid), source="t")  # picked up
    assert issuer.fetches("keys") == base + 2
    fed.exchange(local.db.registry, issuer.mint(SUB, kid="rsa-1"), source="t")  # the old key is still published


def test_unreachable_issuer_backs_off_and_stale_keys_keep_serving(local: Local) -> None:
    with OidcIssuer() as flaky:
        workload(local, flaky)
        fed, clock = service(local, ttl=600, failure_backoff=10, stale=3600)
        flaky.fail = True
        refused(fed, local, flaky.mint(SUB), "answered 503")
        refused(fed, local, flaky.mint(SUB), "issuer unavailable")  # within the backoff: not asked again
        assert len(flaky.requests) == 1
        flaky.fail = False
        clock.now += 11
        fed.exchange(local.db.registry, flaky.mint(SUB), source="t")
        flaky.fail = True
        clock.now += 700  # past the TTL, the issuer down: the keys fetched earlier still verify
        fed.exchange(local.db.registry, flaky.mint(SUB), source="t")
        clock.now += 3600  # and past the stale limit they do not
        refused(fed, local, flaky.mint(SUB), "answered 503")


def test_http_issuer_refused_when_insecure_issuers_are_off(local: Local, issuer: OidcIssuer) -> None:
    workload(local, issuer)
    strict = FederationService(local.access, LOOPBACK_OUT)
    base = len(issuer.requests)
    refused(strict, local, issuer.mint(SUB), "CARGOHOLD_ALLOW_INSECURE_ISSUERS")
    assert len(issuer.requests) == base


def test_an_issuer_on_a_refused_address_is_refused_naming_the_setting(local: Local, issuer: OidcIssuer) -> None:
    """The SSRF guard: an issuer on loopback is not contacted unless outbound_allow lists it."""
    workload(local, issuer)
    guarded = FederationService(local.access, HttpxOutbound(), allow_insecure_issuers=True)
    base = len(issuer.requests)
    refused(guarded, local, issuer.mint(SUB), "outbound_allow")
    assert len(issuer.requests) == base


def test_jwks_cache_reports_bad_documents() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("openid-configuration"):
            return httpx.Response(200, json={"issuer": "https://idp.example", "jwks_uri": "http://idp.example/k"})
        return httpx.Response(200, content=b"[]")

    cache = JwksCache(HttpxOutbound(sync_transport=httpx.MockTransport(answer)))
    with pytest.raises(FederationError, match="jwks_uri"):
        cache.key("https://idp.example", "k1")
    big = JwksCache(HttpxOutbound(sync_transport=httpx.MockTransport(
        lambda r: httpx.Response(200, content=b" " * 300_000))))
    with pytest.raises(FederationError, match="larger than"):
        big.key("https://idp2.example", "k1")
    redirect = JwksCache(HttpxOutbound(sync_transport=httpx.MockTransport(
        lambda r: httpx.Response(302, headers={"Location": "https://elsewhere.example/"}))))
    with pytest.raises(FederationError, match="answered 302"):
        redirect.key("https://idp3.example", "k1")


# --- the refresh-token username --------------------------------------------------------------------


def test_refresh_token_as_password_for_the_zero_guid_username(local: Local, issuer: OidcIssuer) -> None:
    wl = workload(local, issuer)
    fed, _ = service(local)
    reg = local.db.registry
    principal = fed.exchange(reg, issuer.mint(SUB), source="t")
    refresh = local.access.issue_refresh_token(reg, principal)
    again = local.access.authenticate(reg, REFRESH_TOKEN_USERNAME, refresh, method="basic", source="t")
    assert again.identity_id == wl.id
    event = local.db.logins()[0]
    assert (event.identity, event.method, event.outcome) == ("ci-app", "refresh_token", "success")
    with pytest.raises(Unauthorized):
        local.access.authenticate(reg, REFRESH_TOKEN_USERNAME, "not-a-token", method="basic", source="t")
    assert (local.db.logins()[0].method, local.db.logins()[0].outcome) == ("refresh_token", "failure")
    access = local.access.issue_access_token(reg, principal, ["repository:apps/x:pull,push"])
    assert not local.access.caller_from_access_token(reg, access["token"]).allows("apps/x", PUSH)
    with pytest.raises(Unauthorized):  # an access token is not a refresh token
        local.access.authenticate(reg, REFRESH_TOKEN_USERNAME, access["token"], method="basic", source="t")
