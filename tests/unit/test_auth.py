"""Auth and RBAC for serving: API keys (hash-only storage, revocation), JWTs, the route-by-role matrix, FastAPI.

The matrix test walks every route in ROUTE_ROLES with every role, so adding
a route without deciding its roles, or widening one by mistake, fails here.
"""

from __future__ import annotations

import time

import jwt
import pytest
from fastapi import Depends, FastAPI
from starlette.testclient import TestClient

from empathy.errors import UserError
from empathy.serve.audit import AuditLog
from empathy.serve.auth import (PUBLIC_ROUTES, ROLES, ROUTE_ROLES, AuthError, Authenticator, AuthMiddleware,
                                JWTSettings, JWTVerifier, KeyStore, Principal, add_auth_error_handler, authorize,
                                create_key, create_token, list_keys, match_route, principal_dependency,
                                resolve_jwt_secret, revoke_key)

SECRET = "s" * 48
ISSUER = "https://id.example"

# A concrete path for each template, as a client would send it.
SAMPLE_PATHS = {
    "/openai/v1/chat/completions": "/openai/v1/chat/completions",
    "/v1/models/{name}:predict": "/v1/models/empathy-chat:predict",
    "/v2/models/{name}/infer": "/v2/models/empathy-chat/infer",
    "/v2/models/{name}/versions/{version}/infer": "/v2/models/empathy-chat/versions/3/infer",
    "/openai/v1/models": "/openai/v1/models",
    "/v1/models": "/v1/models",
    "/v2/models/{name}": "/v2/models/empathy-chat",
    "/audit/v1/entries": "/audit/v1/entries",
    "/audit/v1/verify": "/audit/v1/verify",
    "/admin/v1/keys": "/admin/v1/keys",
    "/admin/v1/keys/{key_id}": "/admin/v1/keys/0123456789abcdef",
    "/": "/",
    "/v2": "/v2",
    "/v2/health/live": "/v2/health/live",
    "/v2/health/ready": "/v2/health/ready",
    "/v1/models/{name}": "/v1/models/empathy-chat",
    "/v2/models/{name}/ready": "/v2/models/empathy-chat/ready",
    "/metrics": "/metrics",
}
# The intended matrix, written out independently of the module's shorthand sets.
EXPECTED = {
    "/openai/v1/chat/completions": {"client", "therapist", "supervisor", "admin"},
    "/v1/models/{name}:predict": {"client", "therapist", "supervisor", "admin"},
    "/v2/models/{name}/infer": {"client", "therapist", "supervisor", "admin"},
    "/v2/models/{name}/versions/{version}/infer": {"client", "therapist", "supervisor", "admin"},
    "/openai/v1/models": set(ROLES),
    "/v1/models": set(ROLES),
    "/v2/models/{name}": set(ROLES),
    "/audit/v1/entries": {"supervisor", "admin", "auditor"},
    "/audit/v1/verify": {"admin", "auditor"},
    "/admin/v1/keys": {"admin"},
    "/admin/v1/keys/{key_id}": {"admin"},
}
MATRIX = [(route, role) for route in ROUTE_ROLES for role in ROLES]


@pytest.fixture
def store(tmp_path):
    with KeyStore(f"sqlite:///{tmp_path / 'auth.db'}") as keys:
        yield keys


@pytest.fixture
def keys_by_role(store):
    return {role: store.create(role, subject=f"{role}-1") for role in ROLES}


@pytest.fixture
def authenticator(store):
    return Authenticator(store, JWTVerifier(JWTSettings(issuer=ISSUER, audience="empathy-serve"), secret=SECRET))


def token(role: str = "client", **kwargs) -> str:
    return create_token("user-7", role, SECRET, issuer=ISSUER, audience="empathy-serve", **kwargs)


# -- API keys ------------------------------------------------------------------

def test_key_authenticates_as_its_role_and_subject(store, authenticator):
    key = store.create("therapist", subject="dr-okafor")
    assert key.startswith("emp_") and len(key) > 50
    principal = authenticator.authenticate({"Authorization": f"Bearer {key}"})
    assert principal == Principal("dr-okafor", "therapist", "api_key", key.split("_")[1])
    assert authenticator.authenticate({"x-api-key": key}) == principal


def test_keys_are_stored_only_as_salted_hashes(tmp_path):
    url = f"sqlite:///{tmp_path / 'auth.db'}"
    made = [create_key("client", url, subject="c") for _ in range(3)]
    data = (tmp_path / "auth.db").read_bytes()
    for key in made:
        key_id, secret = key.split("_", 2)[1:]
        assert key_id.encode() in data  # the lookup id is stored ...
        assert secret.encode() not in data and key.encode() not in data  # ... the secret is not
    with KeyStore(url) as store:
        rows = store.engine.connect().exec_driver_sql("SELECT salt, key_sha256 FROM api_keys").all()
    assert len({salt for salt, _ in rows}) == 3 and len({h for _, h in rows}) == 3


def test_wrong_secret_for_a_real_key_id_is_401(store, authenticator):
    key = store.create("client")
    forged = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    with pytest.raises(AuthError) as info:
        authenticator.authenticate({"Authorization": f"Bearer {forged}"})
    assert info.value.status == 401 and "invalid API key" in info.value.message
    assert forged.split("_", 2)[2] not in info.value.message


def test_revoked_key_stops_working(store, authenticator, tmp_path):
    key = store.create("admin", subject="ops")
    key_id = key.split("_")[1]
    assert authenticator.authenticate({"X-API-Key": key}).role == "admin"
    info = revoke_key(key_id, store.url)
    assert info.revoked_at is not None
    with pytest.raises(AuthError, match="was revoked") as err:
        authenticator.authenticate({"X-API-Key": key})
    assert err.value.status == 401
    with pytest.raises(UserError, match="not found"):
        store.revoke("ffffffffffffffff")


@pytest.mark.parametrize("role", ["superuser", "Client", "", "admin "])
def test_creating_a_key_for_an_unknown_role_is_refused(store, role):
    with pytest.raises(UserError, match="not a known role: use one of client, therapist, supervisor, admin, auditor"):
        store.create(role)
    assert store.list() == []


@pytest.mark.parametrize("headers, phrase", [
    ({}, "credentials required"),
    ({"Authorization": "Basic dXNlcjpwYXNz"}, "must be 'Bearer"),
    ({"Authorization": "Bearer "}, "must be 'Bearer"),
    ({"Authorization": "Bearer emp_123_short"}, "malformed API key"),
    ({"Authorization": "Bearer hello"}, "neither an API key"),
    ({"X-API-Key": "a.b.c"}, "X-API-Key takes an API key"),
    ({"Authorization": "Bearer a.b.c"}, "invalid token"),
])
def test_bad_credentials_are_401_with_a_reason(authenticator, headers, phrase):
    with pytest.raises(AuthError, match=phrase) as info:
        authenticator.authenticate(headers)
    assert info.value.status == 401


def test_two_credentials_at_once_are_refused(store, authenticator):
    key = store.create("client")
    with pytest.raises(AuthError, match="not both"):
        authenticator.authenticate({"Authorization": f"Bearer {key}", "X-API-Key": key})


# -- JWT ---------------------------------------------------------------------

def test_valid_jwt_gives_its_subject_and_role(authenticator):
    assert authenticator.authenticate({"Authorization": f"Bearer {token('supervisor')}"}) == \
        Principal("user-7", "supervisor", "jwt")


@pytest.mark.parametrize("make, phrase", [
    (lambda: token(ttl_s=-120), "token expired"),
    (lambda: create_token("user-7", "client", "x" * 48, issuer=ISSUER, audience="empathy-serve"),
     "signature invalid"),
    (lambda: create_token("user-7", "client", SECRET, issuer="https://evil.example", audience="empathy-serve"),
     "issuer is not"),
    (lambda: create_token("user-7", "client", SECRET, issuer=ISSUER, audience="other"), "audience is not"),
    (lambda: create_token("user-7", "client", SECRET, audience="empathy-serve"), "lacks the 'iss' claim"),
    (lambda: jwt.encode({"sub": "u", "role": "client", "iss": ISSUER, "aud": "empathy-serve"}, SECRET,
                        algorithm="HS256"), "lacks the 'exp' claim"),
    (lambda: jwt.encode({"sub": "u", "iss": ISSUER, "aud": "empathy-serve", "exp": time.time() + 60}, SECRET,
                        algorithm="HS256"), "lacks the 'role' claim"),
    (lambda: jwt.encode({"sub": "u", "role": "admin", "iss": ISSUER, "aud": "empathy-serve",
                         "exp": time.time() + 60}, SECRET * 2, algorithm="HS512"), "algorithm not allowed"),
    (lambda: jwt.encode({"sub": "u", "role": "admin", "iss": ISSUER, "aud": "empathy-serve",
                         "exp": time.time() + 60}, None, algorithm="none"), "algorithm not allowed"),
])
def test_bad_jwts_are_401(authenticator, make, phrase):
    with pytest.raises(AuthError, match=phrase) as info:
        authenticator.authenticate({"Authorization": f"Bearer {make()}"})
    assert info.value.status == 401


def test_jwt_with_unknown_role_is_403_naming_the_roles(authenticator):
    forged = jwt.encode({"sub": "u", "role": "superuser", "iss": ISSUER, "aud": "empathy-serve",
                         "exp": time.time() + 60}, SECRET, algorithm="HS256")
    with pytest.raises(AuthError) as info:
        authenticator.authenticate({"Authorization": f"Bearer {forged}"})
    assert info.value.status == 403
    assert "token role 'superuser' is not a known role (client, therapist, supervisor, admin, auditor)" == \
        info.value.message


def test_create_token_refuses_unknown_roles():
    with pytest.raises(UserError, match="not a known role"):
        create_token("u", "root", SECRET)


def test_jwt_secret_from_environment_and_its_errors(monkeypatch):
    monkeypatch.setenv("EMPATHY_JWT_SECRET", SECRET)
    assert resolve_jwt_secret(JWTSettings()) == SECRET
    monkeypatch.setenv("EMPATHY_JWT_SECRET", "short")
    with pytest.raises(UserError, match="5 bytes is too short for HS256"):
        resolve_jwt_secret(JWTSettings())
    monkeypatch.delenv("EMPATHY_JWT_SECRET")
    with pytest.raises(UserError, match="JWT signing secret: not found: set environment variable EMPATHY_JWT_SECRET"):
        JWTVerifier(JWTSettings())


def test_authenticator_needs_something_to_check():
    with pytest.raises(UserError):
        Authenticator()


def test_api_keys_only_server_refuses_jwts(store):
    with pytest.raises(AuthError, match="JWTs are not accepted"):
        Authenticator(store).authenticate({"Authorization": f"Bearer {token()}"})


# -- the matrix ----------------------------------------------------------------

def test_matrix_is_the_intended_one():
    assert {route: set(roles) for route, roles in ROUTE_ROLES.items()} == EXPECTED
    assert set(SAMPLE_PATHS) == set(ROUTE_ROLES) | PUBLIC_ROUTES
    assert not set(ROUTE_ROLES) & PUBLIC_ROUTES


@pytest.mark.parametrize("template", sorted(SAMPLE_PATHS))
def test_sample_paths_match_their_template(template):
    assert match_route(SAMPLE_PATHS[template]) == template
    if template != "/":
        assert match_route(SAMPLE_PATHS[template] + "/") == template


@pytest.mark.parametrize("path", ["/v1/models/a/b", "/admin/v1/keys/x/y", "/docs", "/v2/models//infer",
                                  "/openai/v1/chat/completions/extra"])
def test_unlisted_paths_are_denied_to_every_role(path):
    assert match_route(path) is None
    for role in ROLES:
        with pytest.raises(AuthError, match="not in the access matrix") as info:
            authorize(Principal("u", role, "jwt"), path)
        assert info.value.status == 403


@pytest.mark.parametrize("route, role", MATRIX)
def test_authorize_follows_the_matrix(route, role):
    principal = Principal("u", role, "api_key")
    if role in EXPECTED[route]:
        authorize(principal, SAMPLE_PATHS[route])
    else:
        with pytest.raises(AuthError) as info:
            authorize(principal, SAMPLE_PATHS[route])
        assert info.value.status == 403 and f"role {role!r} may not call {route}" in info.value.message


# -- over HTTP: middleware on a FastAPI app with every matrix route --------------

def build_app(authenticator: Authenticator, audit: AuditLog | None = None) -> FastAPI:
    app = FastAPI()
    for template in SAMPLE_PATHS:
        path = template.replace("{name}:predict", "{name_predict}") if ":predict" in template else template

        def handler(template=template):
            return {"route": template}

        app.add_api_route(path, handler, methods=["GET", "POST", "DELETE"])
    app.add_middleware(AuthMiddleware, authenticator=authenticator, audit=audit)
    return app


@pytest.fixture
def client(authenticator, tmp_path):
    audit = AuditLog(f"sqlite:///{tmp_path / 'audit.db'}")
    with TestClient(build_app(authenticator, audit)) as http:
        http.audit = audit
        yield http
    audit.close()


@pytest.mark.parametrize("route", sorted(ROUTE_ROLES))
def test_http_401_without_credentials(client, route):
    response = client.post(SAMPLE_PATHS[route], json={})
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"
    assert response.headers["www-authenticate"] == 'Bearer realm="empathy"'
    entry = client.audit.entries()[-1]
    assert (entry.action, entry.status, entry.actor, entry.route) == ("denied", 401, "anonymous", route)


@pytest.mark.parametrize("route, role", MATRIX)
def test_http_matrix_by_api_key(client, keys_by_role, route, role):
    response = client.post(SAMPLE_PATHS[route], json={}, headers={"X-API-Key": keys_by_role[role]})
    if role in EXPECTED[route]:
        assert response.status_code == 200, response.text
        assert response.json() == {"route": route}
    else:
        assert response.status_code == 403
        assert response.json() == {"error": {"type": "permission_denied",
                                             "message": response.json()["error"]["message"]}}
        assert f"role '{role}' may not call {route}" in response.json()["error"]["message"]
        assert "www-authenticate" not in response.headers
        entry = client.audit.entries()[-1]
        assert (entry.action, entry.status, entry.actor, entry.role) == ("denied", 403, f"{role}-1", role)


@pytest.mark.parametrize("route, role", MATRIX)
def test_http_matrix_by_jwt(client, route, role):
    response = client.get(SAMPLE_PATHS[route], headers={"Authorization": f"Bearer {token(role)}"})
    assert response.status_code == (200 if role in EXPECTED[route] else 403)


@pytest.mark.parametrize("route", sorted(PUBLIC_ROUTES))
def test_http_public_routes_need_no_credentials(client, route):
    assert client.get(SAMPLE_PATHS[route]).status_code == 200


def test_http_expired_jwt_gets_invalid_token_challenge(client):
    response = client.get("/openai/v1/models", headers={"Authorization": f"Bearer {token(ttl_s=-120)}"})
    assert response.status_code == 401
    assert response.json() == {"error": {"type": "authentication_error", "message": "token expired"}}
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_dependency_on_its_own_route(store):
    auth = Authenticator(store)
    app = FastAPI()
    add_auth_error_handler(app)

    @app.get("/audit/v1/entries")
    def entries(principal: Principal = Depends(principal_dependency(auth))):
        return {"subject": principal.subject, "role": principal.role}

    auditor, client_key = store.create("auditor", subject="aud-1"), store.create("client")
    with TestClient(app) as http:
        assert http.get("/audit/v1/entries", headers={"X-API-Key": auditor}).json() == \
            {"subject": "aud-1", "role": "auditor"}
        denied = http.get("/audit/v1/entries", headers={"X-API-Key": client_key})
        assert denied.status_code == 403 and denied.json()["error"]["type"] == "permission_denied"
        missing = http.get("/audit/v1/entries")
        assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")


def test_cli_helpers_create_list_and_revoke(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli' / 'auth.db'}"
    with pytest.raises(UserError, match="role 'root' is not a known role"):
        create_key("root", url)
    key = create_key("supervisor", url, subject="dr-lee")
    listed = list_keys(url)
    assert [(k.key_id, k.role, k.subject, k.revoked_at) for k in listed] == \
        [(key.split("_")[1], "supervisor", "dr-lee", None)]
    assert revoke_key(key, url).revoked_at is not None  # the whole key is accepted as well as its id
    assert list_keys(url)[0].revoked_at is not None
    with pytest.raises(UserError, match="not a database URL"):
        create_key("client", "nonsense")
