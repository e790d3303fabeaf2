"""Authentication and role-based access for the serving routes: API keys and JWTs, five roles, one matrix.

A therapeutic model must know who is asking: clients chat, clinicians chat
and supervise, auditors read the audit log but never talk to the model, and
only admins manage keys. Every serving request passes `authenticate` (who)
and `authorize` (may this role call this route); both raise AuthError with
the HTTP status (401: no or bad credentials, 403: a role that may not) and a
message that names the problem but never echoes a credential.

Credentials, in `Authorization: Bearer <token>` or `X-API-Key: <key>`:

- API keys `emp_<key id>_<secret>`, made by `create_key` (`empathy auth
  create-key --role ROLE [--subject NAME] [--url URL]`), shown once;
  `revoke_key` and `list_keys` for `empathy auth revoke-key KEY_ID` and
  `empathy auth list-keys`. The database keeps the key id, the
  role, the subject and sha256(salt + secret) with a random per-key salt:
  a copy of the table does not give anyone a working key. The key id
  finds the row; revoked keys stop working at once. SQLite by default
  (`sqlite:///runs/serve/auth.db`), PostgreSQL in the cluster; the URL from
  the caller, else EMPATHY_AUTH_URL.
- JWTs (HS256, PyJWT) from an identity provider that shares the signing
  secret. The secret comes from EMPATHY_JWT_SECRET, else the Vault KV v2
  secret named by `JWTSettings.secret_ref` (VAULT_ADDR/VAULT_TOKEN), read
  through empathy.llm.secrets. `exp` and `sub` are required; `iss` and
  `aud` are checked when configured; the `role` claim must be one of ROLES.

Route-by-role matrix (ROUTE_ROLES; a route not listed is denied to everyone):

| route                                   | client | therapist | supervisor | admin | auditor |
| --------------------------------------- | :----: | :-------: | :--------: | :---: | :-----: |
| /openai/v1/chat/completions             |   x    |     x     |     x      |   x   |         |
| /v1/models/{name}:predict               |   x    |     x     |     x      |   x   |         |
| /v2/models/{name}/infer                 |   x    |     x     |     x      |   x   |         |
| /v2/models/{name}/versions/{v}/infer    |   x    |     x     |     x      |   x   |         |
| /openai/v1/models                       |   x    |     x     |     x      |   x   |    x    |
| /v1/models, /v2/models/{name} (metadata)|   x    |     x     |     x      |   x   |    x    |
| /audit/v1/entries (read)                |        |           |     x      |   x   |    x    |
| /audit/v1/verify                        |        |           |            |   x   |    x    |
| /admin/v1/keys, /admin/v1/keys/{key_id} |        |           |            |   x   |         |

Public, no credentials (PUBLIC_ROUTES): /, /v2, /v2/health/live, /v2/health/ready,
/v1/models/{name} (kserve's v1 readiness), /v2/models/{name}/ready, /metrics.

Supervisors read the audit log (reviewing their clinicians' sessions) but do
not verify or manage it; auditors see it all but cannot talk to the model.

Framework-neutral core (`Authenticator`, `authorize`), plus `AuthMiddleware`
(ASGI: guards every route of kserve's FastAPI app, including its own v1/v2
routes, and records denials in the audit log) and `principal_dependency`
(a FastAPI dependency for routes of our own).

    keys = KeyStore("sqlite:///runs/serve/auth.db")
    key = keys.create("client", subject="client-0042")
    auth = Authenticator(keys, JWTSettings(issuer="https://id.example"))
    app.add_middleware(AuthMiddleware, authenticator=auth, audit=AuditLog())
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Mapping

import sqlalchemy as sa

from empathy.config import SERVING_ROLES, SecretRef
from empathy.errors import UserError
from empathy.serve.audit import create_tables, display_url, make_engine

log = logging.getLogger(__name__)

ROLES = SERVING_ROLES
_CHAT = frozenset({"client", "therapist", "supervisor", "admin"})
_ALL = frozenset(ROLES)

ROUTE_ROLES: dict[str, frozenset[str]] = {
    "/openai/v1/chat/completions": _CHAT,
    "/v1/models/{name}:predict": _CHAT,
    "/v2/models/{name}/infer": _CHAT,
    "/v2/models/{name}/versions/{version}/infer": _CHAT,
    "/openai/v1/models": _ALL,
    "/v1/models": _ALL,
    "/v2/models/{name}": _ALL,
    "/audit/v1/entries": frozenset({"supervisor", "admin", "auditor"}),
    "/audit/v1/verify": frozenset({"admin", "auditor"}),
    "/admin/v1/keys": frozenset({"admin"}),
    "/admin/v1/keys/{key_id}": frozenset({"admin"}),
}
# Liveness, readiness and Prometheus scraping: probes and scrapers carry no credentials.
PUBLIC_ROUTES: frozenset[str] = frozenset({
    "/", "/v2", "/v2/health/live", "/v2/health/ready", "/v1/models/{name}", "/v2/models/{name}/ready", "/metrics",
})

DEFAULT_URL = "sqlite:///runs/serve/auth.db"
URL_ENV = "EMPATHY_AUTH_URL"
JWT_SECRET_ENV = "EMPATHY_JWT_SECRET"
KEY_PREFIX = "emp"
_KEY_RE = re.compile(r"^emp_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")
MIN_JWT_SECRET_BYTES = 32  # RFC 7518: an HS256 key at least as long as the hash


def _template_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[a-z_]+\})", template)
    # a path parameter is one segment, and a model name cannot swallow ":predict"
    return re.compile("^" + "".join("[^/:]+" if p.startswith("{") else re.escape(p) for p in parts) + "$")


_ROUTE_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (_template_regex(t), t) for t in (*ROUTE_ROLES, *PUBLIC_ROUTES)
]


def match_route(path: str) -> str | None:
    """The matrix's route template for a request path, or None when the path is not in the matrix."""
    if len(path) > 1:
        path = path.rstrip("/")
    for pattern, template in _ROUTE_PATTERNS:
        if pattern.match(path):
            return template
    return None


def guarded_route(scope: dict) -> tuple[str, str | None] | None:
    """(path, route template) of an HTTP request that needs credentials; None for other scopes and public routes.

    AuthMiddleware and AuditMiddleware both start here, so the two always agree on what is guarded.
    """
    if scope["type"] != "http":
        return None
    path = scope.get("path", "/")
    template = match_route(path)
    return None if template in PUBLIC_ROUTES else (path, template)


class AuthError(Exception):
    """Authentication (401) or authorisation (403) failed; `message` is safe to show the caller."""

    def __init__(self, status: int, message: str, *, subject: str = "anonymous", role: str = "",
                 challenge: str | None = "invalid_token"):
        super().__init__(message)
        self.status = status
        self.message = message
        self.subject = subject
        self.role = role
        self.challenge = challenge  # RFC 6750 error code; None when no credentials were sent at all

    @property
    def type(self) -> str:
        return "authentication_error" if self.status == 401 else "permission_denied"


@dataclass(frozen=True)
class Principal:
    subject: str
    role: str
    method: str  # "api_key" or "jwt"
    key_id: str | None = None


def check_role(role: str) -> str:
    """The role when it is one of ROLES; UserError naming the valid ones otherwise (for the CLI)."""
    if role not in ROLES:
        raise UserError(f"role {role!r} is not a known role: use one of {', '.join(ROLES)}")
    return role


def authorize(principal: Principal, route: str) -> None:
    """Allow `principal` on `route` (a template from ROUTE_ROLES or a request path), else raise AuthError(403)."""
    template = route if route in ROUTE_ROLES or route in PUBLIC_ROUTES else match_route(route)
    if template in PUBLIC_ROUTES:
        return
    if template is None:
        raise AuthError(403, f"route {route} is not in the access matrix: no role may call it",
                        subject=principal.subject, role=principal.role)
    if principal.role not in ROUTE_ROLES[template]:
        allowed = ", ".join(r for r in ROLES if r in ROUTE_ROLES[template])
        raise AuthError(403, f"role {principal.role!r} may not call {template} (allowed: {allowed})",
                        subject=principal.subject, role=principal.role)


# -- API keys ---------------------------------------------------------------

_meta = sa.MetaData()
keys_table = sa.Table(
    "api_keys", _meta,
    sa.Column("key_id", sa.String(16), primary_key=True),
    sa.Column("salt", sa.String(32), nullable=False),
    sa.Column("key_sha256", sa.String(64), nullable=False),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("subject", sa.String(200), nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("revoked_at", sa.String(40)),
)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _key_hash(salt: str, secret: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt) + secret.encode()).hexdigest()


@dataclass(frozen=True)
class KeyInfo:
    key_id: str
    role: str
    subject: str
    created_at: str
    revoked_at: str | None


def auth_url(explicit: str | None = None) -> str:
    return explicit or os.environ.get(URL_ENV) or DEFAULT_URL


def key_id_of(key: str) -> str:
    """The id part of a whole key `emp_<id>_<secret>`; anything else is returned as it is (taken for an id)."""
    match = _KEY_RE.match(key)
    return match.group(1) if match else key


class KeyStore:
    """API keys in a SQLAlchemy table: only a salted hash of each key's secret is stored."""

    def __init__(self, url: str | None = None):
        self.url = auth_url(url)
        self.engine = make_engine(self.url, "auth key store")
        create_tables(_meta, self.engine, "auth key store")

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "KeyStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def create(self, role: str, subject: str | None = None) -> str:
        """A new key for `role`; the returned text is the only copy of it."""
        check_role(role)
        subject = (subject or "").strip()
        if len(subject) > 200:
            raise UserError("key subject: at most 200 characters")
        key_id, secret, salt = secrets.token_hex(8), secrets.token_urlsafe(32), secrets.token_hex(16)
        with self.engine.begin() as conn:
            conn.execute(keys_table.insert().values(
                key_id=key_id, salt=salt, key_sha256=_key_hash(salt, secret), role=role,
                subject=subject or f"key:{key_id}", created_at=_now(), revoked_at=None))
        log.info("API key %s created for role %s", key_id, role)
        return f"{KEY_PREFIX}_{key_id}_{secret}"

    def revoke(self, key_id: str) -> KeyInfo:
        key_id = key_id_of(key_id.strip())  # the whole key as well as its id, but never store or echo the secret
        with self.engine.begin() as conn:
            active = sa.and_(keys_table.c.key_id == key_id, keys_table.c.revoked_at.is_(None))
            result = conn.execute(keys_table.update().where(active).values(revoked_at=_now()))
            if result.rowcount == 0:
                exists = conn.execute(sa.select(keys_table.c.key_id).where(keys_table.c.key_id == key_id)).first()
                if exists is None:
                    raise UserError(f"API key id {key_id!r} not found in {display_url(self.url)}")
        log.info("API key %s revoked", key_id)
        return self.get(key_id)

    def get(self, key_id: str) -> KeyInfo:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(keys_table).where(keys_table.c.key_id == key_id)).mappings().first()
        if row is None:
            raise UserError(f"API key id {key_id!r} not found in {display_url(self.url)}")
        return KeyInfo(row["key_id"], row["role"], row["subject"], row["created_at"], row["revoked_at"])

    def list(self) -> list[KeyInfo]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(keys_table).order_by(keys_table.c.created_at)).mappings().all()
        return [KeyInfo(r["key_id"], r["role"], r["subject"], r["created_at"], r["revoked_at"]) for r in rows]

    def authenticate(self, key: str) -> Principal:
        match = _KEY_RE.match(key)
        if not match:
            raise AuthError(401, "malformed API key (expected emp_<key id>_<secret>)")
        key_id, secret = match.groups()
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(keys_table).where(keys_table.c.key_id == key_id)).mappings().first()
        # the same comparison work whether or not the id exists, so timing does not reveal valid ids
        salt, stored = (row["salt"], row["key_sha256"]) if row else ("00" * 16, "0" * 64)
        if not hmac.compare_digest(_key_hash(salt, secret), stored) or row is None:
            raise AuthError(401, f"invalid API key (key id {key_id})")
        if row["revoked_at"]:
            raise AuthError(401, f"API key {key_id} was revoked at {row['revoked_at']}", subject=row["subject"])
        if row["role"] not in ROLES:
            raise AuthError(403, f"API key {key_id} has unknown role {row['role']!r}", subject=row["subject"])
        return Principal(row["subject"], row["role"], "api_key", key_id)


def create_key(role: str, url: str | None = None, subject: str | None = None) -> str:
    """For `empathy auth create-key --role ROLE`: a new key (returned once, never stored in clear)."""
    with KeyStore(url) as store:
        return store.create(role, subject)


def revoke_key(key_id: str, url: str | None = None) -> KeyInfo:
    """For `empathy auth revoke-key KEY_ID`."""
    with KeyStore(url) as store:
        return store.revoke(key_id)


def list_keys(url: str | None = None) -> list[KeyInfo]:
    """For `empathy auth list-keys`: ids, roles, subjects and dates; never a secret (none is stored)."""
    with KeyStore(url) as store:
        return store.list()


# -- JWT ----------------------------------------------------------------------

@dataclass(frozen=True)
class JWTSettings:
    """How bearer JWTs are checked. The secret: `secret` if given, else EMPATHY_JWT_SECRET, else Vault."""

    issuer: str | None = None
    audience: str | None = None
    role_claim: str = "role"
    leeway_s: int = 30
    secret: str | None = field(default=None, repr=False)
    secret_ref: SecretRef = field(default_factory=lambda: _default_secret_ref())


def _default_secret_ref() -> SecretRef:
    """EMPATHY_JWT_SECRET only; set a vault_path (e.g. empathy/serve/jwt, key jwt_secret) to fall back on Vault."""
    return SecretRef(env=JWT_SECRET_ENV, vault_path=None, vault_key="jwt_secret")


def resolve_jwt_secret(settings: JWTSettings) -> str:
    """The HS256 signing secret; UserError naming where it was looked for when absent, unreadable or too short."""
    from empathy.llm.secrets import resolve_api_key

    value: str | None
    if settings.secret:
        value = settings.secret
    else:
        ref = settings.secret_ref
        try:
            value = resolve_api_key("jwt", ref)
        except UserError as exc:
            # secrets.py words its errors for provider API keys; say what this secret is for instead
            raise UserError(str(exc).replace("provider jwt: API key", "JWT signing secret")
                            .replace("provider jwt: ", "JWT signing secret: ")
                            .replace("provider.api_key.vault_key", "the JWT secret_ref's vault_key")) from None
        if value is None:
            where = f" or Vault secret {ref.vault_mount}/{ref.vault_path} (key '{ref.vault_key}')" if ref.vault_path \
                else " (or configure a Vault KV v2 path)"
            raise UserError(f"JWT signing secret: not found: set environment variable {ref.env or JWT_SECRET_ENV}"
                            f"{where}")
    if len(value.encode()) < MIN_JWT_SECRET_BYTES:
        raise UserError(f"JWT signing secret: {len(value.encode())} bytes is too short for HS256 "
                        f"(at least {MIN_JWT_SECRET_BYTES}; e.g. `python -c 'import secrets; "
                        f"print(secrets.token_urlsafe(48))'`)")
    return value


def create_token(subject: str, role: str, secret: str, *, ttl_s: int = 3600, issuer: str | None = None,
                 audience: str | None = None, role_claim: str = "role", **claims: Any) -> str:
    """An HS256 JWT for `subject` with `role` (for tests and trusted tooling; production tokens come from the IdP)."""
    import jwt

    check_role(role)
    now = int(time.time())
    payload: dict[str, Any] = {"sub": subject, role_claim: role, "iat": now, "exp": now + ttl_s, **claims}
    if issuer:
        payload["iss"] = issuer
    if audience:
        payload["aud"] = audience
    return jwt.encode(payload, secret, algorithm="HS256")


class JWTVerifier:
    def __init__(self, settings: JWTSettings | None = None, secret: str | None = None):
        self.settings = settings or JWTSettings()
        self._secret = secret or resolve_jwt_secret(self.settings)

    def verify(self, token: str) -> Principal:
        import jwt

        s = self.settings
        try:
            claims = jwt.decode(
                token, self._secret, algorithms=["HS256"], issuer=s.issuer, audience=s.audience, leeway=s.leeway_s,
                options={"require": ["exp", "sub"] + (["iss"] if s.issuer else []) + (["aud"] if s.audience else []),
                         "verify_aud": s.audience is not None})
        except jwt.ExpiredSignatureError:
            raise AuthError(401, "token expired") from None
        except jwt.InvalidSignatureError:
            raise AuthError(401, "token signature invalid") from None
        except jwt.InvalidIssuerError:
            raise AuthError(401, f"token issuer is not {s.issuer}") from None
        except jwt.InvalidAudienceError:
            raise AuthError(401, f"token audience is not {s.audience}") from None
        except jwt.MissingRequiredClaimError as exc:
            raise AuthError(401, f"token lacks the '{exc.claim}' claim") from None
        except jwt.InvalidAlgorithmError:
            raise AuthError(401, "token algorithm not allowed (HS256 only)") from None
        except jwt.InvalidTokenError as exc:
            raise AuthError(401, f"invalid token ({type(exc).__name__})") from None
        subject = str(claims["sub"])
        role = claims.get(s.role_claim)
        if role is None:
            raise AuthError(401, f"token lacks the '{s.role_claim}' claim", subject=subject)
        if role not in ROLES:
            shown = role if isinstance(role, str) and len(role) <= 40 else type(role).__name__
            raise AuthError(403, f"token role {shown!r} is not a known role ({', '.join(ROLES)})", subject=subject)
        return Principal(subject, role, "jwt")


# -- both -------------------------------------------------------------------

class Authenticator:
    """Turns request headers into a Principal, trying API keys and (when configured) JWTs."""

    def __init__(self, keys: KeyStore | None = None, jwt: JWTVerifier | None = None):
        if keys is None and jwt is None:
            raise UserError("authentication needs an API key store, a JWT secret, or both")
        self.keys = keys
        self.jwt = jwt

    def authenticate(self, headers: Mapping[str, str]) -> Principal:
        lower = {k.lower(): v for k, v in headers.items()}
        authorization = lower.get("authorization", "").strip()
        api_key = lower.get("x-api-key", "").strip()
        if authorization and api_key:
            raise AuthError(401, "send one credential: Authorization or X-API-Key, not both")
        if authorization:
            scheme, _, credential = authorization.partition(" ")
            if scheme.lower() != "bearer" or not credential.strip():
                raise AuthError(401, "Authorization header must be 'Bearer <API key or JWT>'")
            credential = credential.strip()
        elif api_key:
            credential = api_key
        else:
            raise AuthError(401, "credentials required: Authorization: Bearer <API key or JWT>, or X-API-Key",
                            challenge=None)
        if credential.startswith(f"{KEY_PREFIX}_"):
            if self.keys is None:
                raise AuthError(401, "API keys are not accepted by this server")
            return self.keys.authenticate(credential)
        if credential.count(".") == 2 and not api_key:
            if self.jwt is None:
                raise AuthError(401, "JWTs are not accepted by this server")
            return self.jwt.verify(credential)
        if api_key:
            raise AuthError(401, "X-API-Key takes an API key (emp_...); send a JWT as Authorization: Bearer <JWT>")
        raise AuthError(401, "credential is neither an API key (emp_...) nor a JWT")


def authenticate(headers: Mapping[str, str], authenticator: Authenticator) -> Principal:
    return authenticator.authenticate(headers)


def error_body(err: AuthError) -> dict[str, Any]:
    return {"error": {"type": err.type, "message": err.message}}


def error_headers(err: AuthError) -> dict[str, str]:
    """WWW-Authenticate for a 401 (RFC 6750), none for a 403."""
    if err.status != 401:
        return {}
    if err.challenge is None:
        return {"WWW-Authenticate": 'Bearer realm="empathy"'}
    # a header value must be printable ASCII without quotes; a token's claims could carry anything
    safe = "".join(c if " " <= c <= "~" and c not in '"\\' else "?" for c in err.message)
    return {"WWW-Authenticate": f'Bearer realm="empathy", error="{err.challenge}", error_description="{safe}"'}


def add_auth_error_handler(app) -> None:
    """Answer an AuthError raised in a FastAPI/Starlette route (e.g. by principal_dependency) with the JSON error."""
    from starlette.responses import JSONResponse

    async def handler(_request, err: AuthError):
        return JSONResponse(error_body(err), status_code=err.status, headers=error_headers(err))

    app.add_exception_handler(AuthError, handler)


class AuthMiddleware:
    """ASGI middleware: authenticate and authorise every HTTP request by ROUTE_ROLES before the app sees it.

    The principal is put in `scope["state"]["principal"]` (FastAPI: `request.state.principal`). Denials are
    answered with JSON {"error": {"type", "message"}} (401 with WWW-Authenticate, or 403) and, with `audit`,
    appended to the audit log as action "denied". Request bodies are never read here.
    """

    def __init__(self, app, authenticator: Authenticator, audit=None,
                 on_denied: Callable[[AuthError, str], None] | None = None):
        self.app = app
        self.authenticator = authenticator
        self.audit = audit
        self.on_denied = on_denied

    async def __call__(self, scope, receive, send):
        route = guarded_route(scope)
        if route is None:
            return await self.app(scope, receive, send)
        path, template = route
        import anyio.to_thread

        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
        started = time.perf_counter()
        try:
            # a key lookup is a database query: keep it off the event loop
            principal = await anyio.to_thread.run_sync(self.authenticator.authenticate, headers)
            authorize(principal, template or path)
        except AuthError as err:
            return await self._deny(err, template or path, headers, started, send)
        scope.setdefault("state", {})["principal"] = principal
        return await self.app(scope, receive, send)

    async def _deny(self, err: AuthError, route: str, headers: dict[str, str], started: float, send) -> None:
        import json

        import anyio.to_thread

        request_id = {k.lower(): v for k, v in headers.items()}.get("x-request-id") or uuid.uuid4().hex
        log.info("denied %s on %s: %s (request %s)", err.status, route, err.message, request_id)
        if self.audit is not None:
            latency_ms = (time.perf_counter() - started) * 1000
            await anyio.to_thread.run_sync(lambda: self.audit.append(
                actor=err.subject, role=err.role, route=route[:200], action="denied", status=err.status,
                request_id=request_id[:100], latency_ms=latency_ms))
        if self.on_denied is not None:
            self.on_denied(err, route)
        body = json.dumps(error_body(err)).encode()
        response_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"x-request-id", request_id.encode("latin-1"))]
        response_headers += [(k.lower().encode(), v.encode("latin-1")) for k, v in error_headers(err).items()]
        await send({"type": "http.response.start", "status": err.status, "headers": response_headers})
        await send({"type": "http.response.body", "body": body})


def principal_dependency(authenticator: Authenticator, route: str | None = None):
    """A FastAPI dependency: `Depends(principal_dependency(auth))` gives the route a checked Principal.

    Behind AuthMiddleware it returns the principal the middleware found; on its own it authenticates and
    authorises (against `route`, else the request's path) and raises AuthError, which
    `add_auth_error_handler(app)` turns into the JSON error response.
    """
    from fastapi import Request

    def dependency(request: Request) -> Principal:
        found = getattr(request.state, "principal", None)
        if isinstance(found, Principal):
            return found
        principal = authenticator.authenticate(request.headers)
        authorize(principal, route or request.url.path)
        return principal

    # this module's annotations are strings (postponed evaluation) and Request is not a module global
    dependency.__annotations__ = {"request": Request, "return": Principal}
    return dependency
