"""Every error the service answers, as ``{"error": "<one line>"}`` with a 4xx/5xx status.

* 400 — the body is not valid JSON (or not UTF-8);
* 404 — an unknown path, or a CWE / CAPEC / ATT&CK id the catalog does not define;
* 405 — a method the path does not take;
* 413 — the body is over the size limit (refused before it is parsed);
* 415 — a body that is not sent as ``Content-Type: application/json``;
* 422 — valid JSON of the wrong shape (a missing or unknown field, a wrong type,
  too many items, an empty or over-long description);
* 503 — an app built without a model (for its OpenAPI schema only);
* any :class:`~vulntax.errors.VulntaxError` — its own ``http_status``;
* 500 — anything else: a bug in vulntax, logged with its traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from vulntax.errors import VulntaxError
from vulntax.server.schemas import REQUEST_TAGS

log = logging.getLogger("vulntax.server")

_MAX_MESSAGES = 5  # validation problems listed in one answer
_WHOLE_BODY = {  # clearer words for a body that is JSON but not an object
    "model_attributes_type": 'expected a JSON object with "description" or "items"',
    "dict_type": 'expected a JSON object with "description" or "items"',
}


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": " ".join(message.split())}, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        status = exc.status_code
        if status == 404 and exc.detail == "Not Found":
            message = f"no such path: {request.url.path} (the API is under /v1; see /openapi.json)"
        elif status == 405:
            message = f"{request.method} is not allowed on {request.url.path}"
        elif status == 400 and exc.__cause__ is not None:  # FastAPI could not decode the body
            message = f"request body is not valid JSON: {exc.__cause__}"
        else:
            message = str(exc.detail)
        return error(status, message, getattr(exc, "headers", None))

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        problems = exc.errors()
        if any(p.get("type") == "json_invalid" for p in problems):
            why = next(p for p in problems if p.get("type") == "json_invalid")
            detail = why.get("ctx", {}).get("error", "malformed")
            where = why["loc"][-1]
            return error(400, f"request body is not valid JSON: {detail} (at character {where})")
        content_type = request.headers.get("content-type", "")
        in_body = any(p.get("loc", ("",))[0] == "body" for p in problems)
        if in_body and "json" not in content_type.lower():
            got = content_type.split(";")[0] or "none"
            return error(415, f"send the body as JSON, Content-Type: application/json (got {got})")
        if [p.get("loc") for p in problems] == [("body",)] and problems[0]["type"] == "missing":
            return error(400, "request body is empty: send a JSON object")
        return error(422, validation_message(problems))

    async def on_vulntax(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, VulntaxError)
        return error(exc.http_status, str(exc))

    async def on_bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return error(
            500, f"internal error: {type(exc).__name__} (a bug in vulntax; see the server log)"
        )

    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(VulntaxError, on_vulntax)
    app.add_exception_handler(Exception, on_bug)


def validation_message(problems: Sequence[dict[str, Any]]) -> str:
    """``items[3].description: Field required; id: ...`` — never echoing the input."""
    lines = []
    for problem in problems[:_MAX_MESSAGES]:
        where = location(problem.get("loc", ()))
        message = str(problem.get("msg", "invalid value"))
        if not where:
            message = _WHOLE_BODY.get(str(problem.get("type")), message)
        lines.append(f"{where}: {message}" if where else f"request body: {message}")
    more = len(problems) - _MAX_MESSAGES
    if more > 0:
        lines.append(f"and {more} more problem{'s' if more > 1 else ''}")
    return "; ".join(lines)


def location(loc: Sequence[Any]) -> str:
    parts = list(loc)
    if len(parts) == 2 and parts[0] in ("query", "path"):
        return f"{parts[0]} parameter {parts[1]}"
    if parts and parts[0] == "body":
        parts = parts[1:]
        if parts and parts[0] in REQUEST_TAGS:
            parts = parts[1:]
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
