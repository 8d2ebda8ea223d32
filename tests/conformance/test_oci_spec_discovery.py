"""Content-discovery checks the Go conformance suite does not make: tag-list pagination with
`Link`, `_catalog` pagination, and the referrers API's descriptor contents and filter.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import pytest
from oci import (
    DUMMY_DIGEST,
    MEDIA_INDEX,
    MEDIA_MANIFEST,
    Manifest,
    artifact_manifest,
    check_error,
    check_status,
    config_blob,
    describe,
    empty_blob,
    image_manifest,
    index_manifest,
    link_params,
    next_link,
    push_blob,
    push_image,
    push_manifest,
    put_manifest,
    random_blob,
    tag_list,
    unique_repo,
)

TAGS = ["alpha", "beta", "gamma", "v1", "v10", "v2", "zeta"]  # lexical order: v1 < v10 < v2


@pytest.fixture(scope="module")
def tagged_repo(client: httpx.Client) -> str:
    repo = unique_repo("tags")
    manifest, _, _ = push_image(client, repo, TAGS[0])
    for tag in TAGS[1:]:
        push_manifest(client, repo, tag, manifest)
    return repo


def test_tags_in_lexical_order(client: httpx.Client, tagged_repo: str) -> None:
    """"If the list is not empty, the tags MUST be in lexical order"."""
    assert tag_list(client.get(f"/v2/{tagged_repo}/tags/list")) == sorted(TAGS)


def test_tags_pagination_with_link(client: httpx.Client, tagged_repo: str) -> None:
    """With `n`, "the response MUST include <int> results" unless fewer remain or a Link header is
    provided; the Link header, "If included, ... MUST be set according to RFC5988 with the Relation Type
    rel="next"". Cargohold (like Distribution) sends Link while more tags remain, and none on the last
    page; following the links yields every tag once, in order."""
    url: str | None = f"/v2/{tagged_repo}/tags/list?n=2"
    seen: list[str] = []
    pages = 0
    while url is not None:
        resp = client.get(url)
        page = tag_list(resp)
        pages += 1
        url = next_link(resp)
        remaining = len(TAGS) - len(seen)
        if remaining > 2:
            assert len(page) == 2, describe(resp)
            assert url is not None, f"more tags remain but no Link header: {describe(resp)}"
            params = link_params(url)
            assert params.get("n") == ["2"] and params.get("last") == [page[-1]], url
            assert urlsplit(url).path == f"/v2/{tagged_repo}/tags/list", url
        else:
            assert page == sorted(TAGS)[len(seen):], describe(resp)
        seen.extend(page)
        assert pages <= len(TAGS), "pagination does not end"
    assert seen == sorted(TAGS)


def test_tags_pagination_with_last(client: httpx.Client, tagged_repo: str) -> None:
    """"A request of this sort will return up to <int> tags, beginning non-inclusively with <tagname>"."""
    ordered = sorted(TAGS)
    for i, last in enumerate(ordered):
        page = tag_list(client.get(f"/v2/{tagged_repo}/tags/list", params={"n": 3, "last": last}))
        assert page == ordered[i + 1:i + 4], (last, page)


def test_tags_last_without_n(client: httpx.Client, tagged_repo: str) -> None:
    """"When using the last query parameter, the n parameter is OPTIONAL"."""
    page = tag_list(client.get(f"/v2/{tagged_repo}/tags/list", params={"last": "gamma"}))
    ordered = sorted(TAGS)
    assert page == ordered[ordered.index("gamma") + 1:]


def test_tags_n_zero(client: httpx.Client, tagged_repo: str) -> None:
    """"When n is zero, this endpoint MUST return an empty list, and MUST NOT include a Link header"."""
    resp = client.get(f"/v2/{tagged_repo}/tags/list", params={"n": 0})
    assert tag_list(resp) == []
    assert "Link" not in resp.headers, describe(resp)


def test_tags_n_larger_than_count(client: httpx.Client, tagged_repo: str) -> None:
    resp = client.get(f"/v2/{tagged_repo}/tags/list", params={"n": 100})
    assert tag_list(resp) == sorted(TAGS)
    assert next_link(resp) is None


def test_tags_list_of_untagged_repository(client: httpx.Client) -> None:
    """"The list of tags MAY be empty if there are no tags on the repository" (200, not 404)."""
    repo = unique_repo("untagged")
    push_image(client, repo)  # by digest only
    resp = client.get(f"/v2/{repo}/tags/list")
    assert tag_list(resp) == []
    assert resp.json().get("name") == repo


# --------------------------------------------------------------------------- _catalog


@pytest.fixture(scope="module")
def catalog_repos(client: httpx.Client) -> tuple[str, list[str]]:
    prefix = unique_repo("catalog")
    repos = [f"{prefix}/{c}" for c in ("a", "b", "c", "d", "e")]
    for repo in repos:
        push_image(client, repo, "latest")
    return prefix, repos


def _repositories(resp: httpx.Response) -> list[str]:
    check_status(resp, 200)
    repos = resp.json().get("repositories")
    assert isinstance(repos, list), describe(resp)
    return repos


def test_catalog_lists_repositories(client: httpx.Client, catalog_repos: tuple[str, list[str]]) -> None:
    """`GET /v2/_catalog` (Docker Registry API, kept by Distribution) lists repositories in lexical order."""
    prefix, repos = catalog_repos
    assert _repositories(client.get("/v2/_catalog", params={"n": 5, "last": prefix})) == repos
    listed: list[str] = []
    url: str | None = "/v2/_catalog"
    for _ in range(10000):
        if url is None:
            break
        resp = client.get(url)
        listed.extend(_repositories(resp))
        url = next_link(resp)
    assert set(repos) <= set(listed)
    assert listed == sorted(listed)
    assert len(listed) == len(set(listed))


def test_catalog_pagination(client: httpx.Client, catalog_repos: tuple[str, list[str]]) -> None:
    """`?n=&last=` pages through repositories (after `last`, non-inclusive), with a `Link: <...>;
    rel="next"` header while more remain."""
    prefix, repos = catalog_repos
    resp = client.get("/v2/_catalog", params={"n": 2, "last": prefix})
    assert _repositories(resp) == repos[:2]
    url = next_link(resp)
    assert url is not None, f"more repositories remain but no Link header: {describe(resp)}"
    params = link_params(url)
    assert params.get("n") == ["2"] and params.get("last") == [repos[1]], url
    assert urlsplit(url).path == "/v2/_catalog", url
    resp = client.get(url)
    assert _repositories(resp) == repos[2:4]
    resp = client.get("/v2/_catalog", params={"n": 2, "last": repos[3]})
    page = _repositories(resp)
    assert page[0] == repos[4], page


def test_catalog_n_zero(client: httpx.Client, catalog_repos: tuple[str, list[str]]) -> None:
    resp = client.get("/v2/_catalog", params={"n": 0})
    assert _repositories(resp) == []
    assert "Link" not in resp.headers


# -------------------------------------------------------------------------- referrers

ARTIFACT_SBOM = "application/vnd.example.sbom.v1"
ARTIFACT_SIG = "application/vnd.example.signature.v1"


@dataclass
class Referrers:
    repo: str
    subject: Manifest
    sbom: Manifest
    sig: Manifest
    config_typed: Manifest
    index: Manifest


@pytest.fixture(scope="module")
def referrers(client: httpx.Client) -> Referrers:
    repo = unique_repo("referrers")
    subject, _, _ = push_image(client, repo, "latest")
    push_blob(client, repo, empty_blob())
    payload = random_blob(40)
    push_blob(client, repo, payload)
    sbom = artifact_manifest(ARTIFACT_SBOM, [payload], subject=subject,
                             annotations={"org.example.sbom.format": "json"})
    sig = artifact_manifest(ARTIFACT_SIG, [], subject=subject)
    cfg = config_blob(media_type="application/vnd.example.config.typed")
    push_blob(client, repo, cfg)
    config_typed = image_manifest(cfg, [empty_blob()], subject=subject, go_style=False)
    for m in (sbom, sig, config_typed):
        resp = put_manifest(client, repo, m.digest, m)
        check_status(resp, 201)
        assert resp.headers.get("OCI-Subject") == subject.digest, describe(resp)
    index = index_manifest([sbom], subject=subject, annotations={"kind": "bundle"})
    resp = put_manifest(client, repo, index.digest, index)
    check_status(resp, 201)
    assert resp.headers.get("OCI-Subject") == subject.digest, describe(resp)
    return Referrers(repo, subject, sbom, sig, config_typed, index)


def _listing(resp: httpx.Response) -> dict[str, dict[str, object]]:
    check_status(resp, 200)
    assert resp.headers.get("Content-Type", "").split(";")[0] == MEDIA_INDEX, describe(resp)
    body = resp.json()
    assert body.get("schemaVersion") == 2, describe(resp)
    assert body.get("mediaType", MEDIA_INDEX) == MEDIA_INDEX
    return {str(d["digest"]): d for d in body["manifests"]}


def test_referrer_descriptors(client: httpx.Client, referrers: Referrers) -> None:
    """"The descriptors MUST include an artifactType field that is set to the value of the artifactType in
    the image manifest or index, if present. If the artifactType is empty or missing in the image
    manifest, the value of artifactType MUST be set to the config descriptor mediaType value. If the
    artifactType is empty or missing in an index, the artifactType MUST be omitted. The descriptors MUST
    include annotations from the image manifest or index." mediaType/size/digest describe the referrer."""
    r = referrers
    got = _listing(client.get(f"/v2/{r.repo}/referrers/{r.subject.digest}"))
    assert set(got) == {r.sbom.digest, r.sig.digest, r.config_typed.digest, r.index.digest}
    for m in (r.sbom, r.sig, r.config_typed, r.index):
        d = got[m.digest]
        assert d.get("mediaType") == m.media_type, d
        assert d.get("size") == m.size, d
        if m.doc.get("annotations"):
            assert d.get("annotations") == m.doc["annotations"], d
    assert got[r.sbom.digest].get("artifactType") == ARTIFACT_SBOM
    assert got[r.sig.digest].get("artifactType") == ARTIFACT_SIG
    assert got[r.config_typed.digest].get("artifactType") == "application/vnd.example.config.typed"
    assert "artifactType" not in got[r.index.digest], got[r.index.digest]


def test_referrers_filter_applied(client: httpx.Client, referrers: Referrers) -> None:
    """"The registry SHOULD support filtering on artifactType ... If filtering is requested and applied,
    the response MUST include a header OCI-Filters-Applied: artifactType". Cargohold filters."""
    r = referrers
    resp = client.get(f"/v2/{r.repo}/referrers/{r.subject.digest}", params={"artifactType": ARTIFACT_SIG})
    got = _listing(resp)
    assert resp.headers.get("OCI-Filters-Applied") == "artifactType", describe(resp)
    assert set(got) == {r.sig.digest}
    resp = client.get(f"/v2/{r.repo}/referrers/{r.subject.digest}",
                      params={"artifactType": "application/vnd.example.none"})
    assert _listing(resp) == {}
    assert resp.headers.get("OCI-Filters-Applied") == "artifactType", describe(resp)


def test_referrers_unfiltered_has_no_filter_header(client: httpx.Client, referrers: Referrers) -> None:
    resp = client.get(f"/v2/{referrers.repo}/referrers/{referrers.subject.digest}")
    _listing(resp)
    assert "OCI-Filters-Applied" not in resp.headers, describe(resp)


def test_referrers_are_per_repository(client: httpx.Client, referrers: Referrers) -> None:
    """"Each descriptor is of an image manifest or index in the same <name> namespace": another
    repository (existing or not) lists none ("MUST NOT return a 404 Not Found")."""
    other = unique_repo("referrers-other")
    push_image(client, other, "latest")
    assert _listing(client.get(f"/v2/{other}/referrers/{referrers.subject.digest}")) == {}
    missing = unique_repo("referrers-missing")
    resp = client.get(f"/v2/{missing}/referrers/{referrers.subject.digest}")
    if resp.status_code != 200:  # "Assuming a repository is found, this request MUST return a 200"
        check_error(resp, 404, "NAME_UNKNOWN")


def test_referrers_invalid_digest_400(client: httpx.Client, referrers: Referrers) -> None:
    """"If the request is invalid, such as a <digest> with an invalid syntax, a 400 Bad Request MUST be
    returned."""
    for bad in ("sha256:totallywrong", "latest", "sha256:" + "a" * 63):
        check_error(client.get(f"/v2/{referrers.repo}/referrers/{bad}"), 400)


def test_deleted_referrer_leaves_the_list(client: httpx.Client) -> None:
    """A referrer deleted from the repository is no longer "an image manifest ... in the same <name>
    namespace", so it leaves the referrers list; pushing one after the subject adds it."""
    repo = unique_repo("referrers-delete")
    subject, _, _ = push_image(client, repo, "latest")
    push_blob(client, repo, empty_blob())
    arts = [artifact_manifest(ARTIFACT_SIG, [], subject=subject, annotations={"n": str(i)}) for i in range(2)]
    for a in arts:
        check_status(put_manifest(client, repo, a.digest, a), 201)
    assert set(_listing(client.get(f"/v2/{repo}/referrers/{subject.digest}"))) == {a.digest for a in arts}
    check_status(client.delete(f"/v2/{repo}/manifests/{arts[0].digest}"), 202)
    assert set(_listing(client.get(f"/v2/{repo}/referrers/{subject.digest}"))) == {arts[1].digest}


def test_referrers_of_unknown_digest_in_known_repository(client: httpx.Client, referrers: Referrers) -> None:
    """"If a query results in no matching referrers, an empty manifest list MUST be returned"."""
    assert _listing(client.get(f"/v2/{referrers.repo}/referrers/{DUMMY_DIGEST}")) == {}


def test_referrer_pushed_by_tag(client: httpx.Client) -> None:
    """A referrer pushed under a tag answers OCI-Subject too and is listed."""
    repo = unique_repo("referrers-tag")
    subject, _, _ = push_image(client, repo, "latest")
    push_blob(client, repo, empty_blob())
    art = artifact_manifest(ARTIFACT_SBOM, [], subject=subject)
    resp = put_manifest(client, repo, "sbom", art)
    check_status(resp, 201)
    assert resp.headers.get("OCI-Subject") == subject.digest, describe(resp)
    assert set(_listing(client.get(f"/v2/{repo}/referrers/{subject.digest}"))) == {art.digest}
    got = client.get(f"/v2/{repo}/manifests/sbom", headers={"Accept": MEDIA_MANIFEST})
    check_status(got, 200)
    assert got.content == art.content
