"""Authentication failures, unknown paths, malformed requests and the OpenAPI document."""

from __future__ import annotations

import httpx
from mgmttools import Api, check_error

from support import RegistryServer


def test_authentication_required(server: RegistryServer, anonymous: httpx.Client) -> None:
    for method, path in (("GET", "/api/registry"), ("GET", "/api/tokens"), ("POST", "/api/users"),
                         ("DELETE", "/api/users/owner"), ("PATCH", "/api/registry")):
        response = anonymous.request(method, path)
        assert response.status_code == 401, response.text
        assert response.headers["www-authenticate"] == 'Basic realm="cargohold"'
        check_error(response)
    for header in ("Basic !!!", "Basic " + "bm9jb2xvbg==", "Bearer abc"):  # bad base64, no colon, not Basic
        response = anonymous.get("/api/registry", headers={"Authorization": header})
        assert response.status_code == 401, (header, response.text)
        check_error(response)
    with Api(server.url, "owner", "wrong password") as wrong:
        assert wrong.error("GET", "/registry", status=401)["message"]
    with Api(server.url, "nobody", "wrong password") as wrong:
        wrong.error("GET", "/registry", status=401)


def test_refresh_token_as_password(server: RegistryServer, owner: Api) -> None:
    exchanged = httpx.post(server.url + "/oauth2/exchange", data={
        "grant_type": "password", "username": "owner", "password": owner.password}, timeout=30.0)
    assert exchanged.status_code == 200, exchanged.text
    with Api(server.url, "00000000-0000-0000-0000-000000000000", exchanged.json()["refresh_token"]) as api:
        assert api.get("/registry")["name"] == "cargohold"
    with Api(server.url, "00000000-0000-0000-0000-000000000000", "not-a-jwt") as api:
        api.error("GET", "/registry", status=401)


def test_unknown_paths_and_methods(owner: Api) -> None:
    assert owner.error("GET", "/nothing-here", status=404)["message"] == "no such endpoint"
    owner.error("GET", "/tokens/a/b/c", status=404)
    response = owner.call("PUT", "/registry", {}, expect=405)
    assert check_error(response)["code"] == "UNSUPPORTED"
    assert response.headers["allow"] == "GET, PATCH"
    assert owner.call("POST", "/tokens/some-token", {}, expect=405).headers["allow"] == "DELETE, GET, PATCH"
    owner.error("GET", "/scope-maps/a%0Ab/c", status=404)  # a newline in the path is still this API's 404


def test_malformed_requests(owner: Api) -> None:
    for content in (b"{", b"null", b"[]", b'"text"', b"\xff\xfe"):
        response = owner.http.post("/users", content=content, headers={"Content-Type": "application/json"})
        assert response.status_code == 400, (content, response.text)
        error = check_error(response)
        assert isinstance(error["detail"], list) and error["detail"][0]["location"]
    response = owner.http.post("/users", content=b"name=x", headers={"Content-Type": "text/plain"})
    assert response.status_code == 400
    check_error(response)


def test_openapi_document(anonymous: httpx.Client) -> None:
    document = anonymous.get("/api/openapi.json").json()
    paths = document["paths"]
    for path in ("/registry", "/registry/credentials", "/registry/credentials/regenerate", "/scope-maps",
                 "/scope-maps/{name}", "/tokens", "/tokens/{name}", "/tokens/{name}/credentials",
                 "/tokens/{name}/credentials/{password}", "/role-assignments", "/role-assignments/{id}", "/users",
                 "/users/{name}", "/service-principals", "/service-principals/{client_id}",
                 "/service-principals/{client_id}/credentials/reset", "/workload-identities",
                 "/workload-identities/{name}", "/workload-identities/{name}/federated-credentials",
                 "/workload-identities/{name}/federated-credentials/{credential}", "/logs/login"):
        assert path in paths, path
    assert document["servers"] == [{"url": "/api"}]
    assert "422" not in str(document["paths"])
    token_schema = document["components"]["schemas"]["TokenCreate"]["properties"]
    assert {"name", "scopeMapName", "repositories", "actions", "status", "noPasswords", "expiry"} <= set(token_schema)
    assert document["components"]["securitySchemes"]["basic"]["scheme"] == "basic"
    assert anonymous.get("/api/docs").status_code == 200
