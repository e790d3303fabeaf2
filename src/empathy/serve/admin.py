"""The audit-log and API-key routes of the server, so that auditors and admins need no shell on the pod.

    GET    /audit/v1/entries?since_seq=0&limit=100&actor=&request_id=   supervisor, admin, auditor
    GET    /audit/v1/verify                                             admin, auditor
    GET    /admin/v1/keys                                               admin
    POST   /admin/v1/keys   {"role": "client", "subject": "client-0042"}  admin   (201; the key is shown once)
    DELETE /admin/v1/keys/{key_id}                                      admin

Roles are enforced by AuthMiddleware (empathy.serve.auth.ROUTE_ROLES); every call is itself audited by
AuditMiddleware, key changes as `key_created` / `key_revoked` and verifications as `verify`. Entries carry the
SHA-256 of message content, never the content. The same operations on the command line: `empathy audit verify`,
`empathy auth create-key|revoke-key|list-keys`.
"""

# no `from __future__ import annotations`: FastAPI reads the handlers' annotations (Request, key_id: str) at
# registration, and Request is imported inside admin_router
import asyncio
import json
from dataclasses import asdict

from empathy.serve.app import ApiError, current_state

MAX_ENTRIES = 1000


def _record(action: str) -> None:
    state = current_state.get()
    if state is not None:
        state["audit"] = {"action": action}


def _int_param(request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "invalid_request_error", f"query parameter {name}: an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise ApiError(400, "invalid_request_error", f"query parameter {name}: from {low} to {high}, got {value}")
    return value


def admin_router(audit, keys):
    """FastAPI routes over the server's AuditLog and KeyStore (blocking calls run in worker threads)."""
    from fastapi import APIRouter, Request
    from starlette.responses import JSONResponse

    from empathy.errors import UserError
    from empathy.serve.auth import key_id_of

    router = APIRouter(tags=["audit and keys"])

    async def audit_entries(request: Request):
        since = _int_param(request, "since_seq", 0, 0, 2**62)
        limit = _int_param(request, "limit", 100, 1, MAX_ENTRIES)
        params = request.query_params
        entries = await asyncio.to_thread(audit.entries, actor=params.get("actor") or None,
                                          request_id=params.get("request_id") or None, since_seq=since, limit=limit)
        _record("list")
        return {"entries": [e.to_dict() for e in entries],
                "next_since_seq": entries[-1].seq if entries else since, "complete": len(entries) < limit}

    async def audit_verify(request: Request):
        ok, message = await asyncio.to_thread(audit.verify)
        seq, head = await asyncio.to_thread(audit.head)
        _record("verify")
        return {"ok": ok, "message": message, "head": {"seq": seq, "hash": head}}

    async def list_keys(request: Request):
        infos = await asyncio.to_thread(keys.list)
        _record("list")
        return {"keys": [asdict(info) for info in infos]}

    async def create_key(request: Request):
        try:
            body = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ApiError(400, "invalid_request_error", f"request body is not valid JSON ({exc})") from None
        if not isinstance(body, dict) or not isinstance(body.get("role"), str):
            raise ApiError(400, "invalid_request_error", 'send {"role": ROLE, "subject": SUBJECT (optional)}')
        subject = body.get("subject")
        if subject is not None and not isinstance(subject, str):
            raise ApiError(400, "invalid_request_error", "subject must be a string")
        try:
            key = await asyncio.to_thread(keys.create, body["role"], subject)
        except UserError as exc:
            raise ApiError(400, "invalid_request_error", str(exc)) from None
        info = await asyncio.to_thread(keys.get, key_id_of(key))
        _record("key_created")
        return JSONResponse({"key": key, **asdict(info)}, status_code=201)

    async def revoke_key(request: Request, key_id: str):
        try:
            info = await asyncio.to_thread(keys.revoke, key_id)
        except UserError as exc:
            raise ApiError(404, "not_found", str(exc)) from None
        _record("key_revoked")
        return asdict(info)

    router.add_api_route("/audit/v1/entries", audit_entries, methods=["GET"])
    router.add_api_route("/audit/v1/verify", audit_verify, methods=["GET"])
    router.add_api_route("/admin/v1/keys", list_keys, methods=["GET"])
    router.add_api_route("/admin/v1/keys", create_key, methods=["POST"])
    router.add_api_route("/admin/v1/keys/{key_id}", revoke_key, methods=["DELETE"])
    return router
