"""The common request answered without the framework: one plain description to predict.

Scanner and SIEM pipelines call ``POST /v1/predict`` once per finding with
``{"description": "...", "id": "..."}``. For that request FastAPI's routing, dependency
resolution, pydantic validation and response class took 17 % of the service's profiled CPU
(the prediction ≈ 40 %; ``docs/api.md``). :class:`FastPredict` is an ASGI
middleware that recognises exactly that request — a JSON object with a string
``description`` of at most ``MAX_TEXT`` characters and an optional string ``id`` of at
most ``MAX_ID``, nothing else — predicts it through the same micro-batcher and sends
the same bytes the route would.

Everything else goes to the FastAPI route unchanged, with the body handed on as it
was read: batches, metadata, any body that is not such an object (so every 4xx keeps
the route's wording), and a description the predictor cannot use (the route answers
the 422). A failure while predicting is handed on too: the route predicts again and
its error handlers answer. So the OpenAPI document, written from the route, stays the
contract, and a test compares both paths byte for byte on real descriptions.

Measured (``docs/api.md``): with ``--predict-in thread`` ≈ 30 % more requests per second
at 8 clients; with the prediction process (the default), where the HTTP process is not
the bottleneck, ≈ 9 % less server CPU per request and the same throughput.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from vulntax.predictor import MAX_TEXT
from vulntax.server.bodylimit import replay
from vulntax.server.schemas import MAX_ID

PATH = "/v1/predict"
_FIELDS = frozenset(("description", "id"))
_HEADERS = [(b"content-type", b"application/json")]


class FastPredict:
    """Answer a single plain ``POST /v1/predict`` directly; hand anything else on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        #: requests answered here (the others went to the route)
        self.answered = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not _candidate(scope):
            await self.app(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        item = _plain_item(body)
        service = getattr(scope["app"].state, "service", None)
        if item is not None and service is not None:
            try:
                [result] = await service.batcher.predict([item])
            except Exception:  # the route predicts again and its handlers answer
                result = None
            if result is not None and not (isinstance(result, dict) and "error" in result):
                payload = orjson.dumps(result)
                headers = [*_HEADERS, (b"content-length", str(len(payload)).encode())]
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                await send({"type": "http.response.body", "body": payload})
                self.answered += 1
                return
        await self.app(scope, replay(body, receive), send)


def _candidate(scope: Scope) -> bool:
    """A POST to the predict path with a JSON content type (the route's other checks follow)."""
    if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != PATH:
        return False
    for name, value in scope["headers"]:
        if name == b"content-type":
            return value.split(b";", 1)[0].strip().lower() == b"application/json"
    return False


def _plain_item(body: bytes) -> tuple[str | None, str, None] | None:
    """``(id, description, None)`` when the body is exactly the plain single request."""
    try:
        data: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if type(data) is not dict or not data.keys() <= _FIELDS:
        return None
    text = data.get("description")
    ident = data.get("id")
    if type(text) is not str or len(text) > MAX_TEXT:
        return None
    if ident is not None and (type(ident) is not str or len(ident) > MAX_ID):
        return None
    return ident, text, None
