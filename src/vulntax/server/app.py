"""The FastAPI application: :func:`create_app` over one loaded :class:`Predictor`.

The app serves the JSON API (:mod:`vulntax.server.routes`), its OpenAPI schema at
``/openapi.json``, and the analyst page at ``/`` with its static files. FastAPI's
own ``/docs`` pages are switched off: they load their scripts from a CDN, and the
service must work offline.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from vulntax import __version__
from vulntax.predictor import MAX_TEXT
from vulntax.server import handlers, schemas
from vulntax.server.batching import MicroBatcher, PredictBatch
from vulntax.server.bodylimit import BodySizeLimit
from vulntax.server.fastpath import FastPredict
from vulntax.server.routes import Service, router

if TYPE_CHECKING:
    from vulntax.predictor import Predictor

MAX_BODY_BYTES = 1024 * 1024
BATCH_ITEMS = 64  # descriptions predicted together at most (requests are never split)
STATIC = Path(str(files("vulntax.server") / "static"))

# the page loads nothing from anywhere but this server
_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}

DESCRIPTION = """\
Classify vulnerability descriptions into CWE (with its View-1000 path), CVSS v3.1 base
metrics (with the computed score), CAPEC and MITRE ATT&CK, and look up taxonomy ids.

Every error answers `{"error": "<one line>"}`: a 4xx status for what a client can cause,
500 only for a bug in vulntax.
"""


def create_app(
    predictor: Predictor | None,
    *,
    max_body_bytes: int = MAX_BODY_BYTES,
    batch_items: int = BATCH_ITEMS,
    predict_batch: PredictBatch | None = None,
    fast_path: bool = True,
) -> FastAPI:
    """The service over ``predictor`` (loaded once, shared by every request).

    ``predictor=None`` builds the app for its OpenAPI schema only: routes that need
    the model answer 503. ``predict_batch`` predicts instead of ``predictor`` (e.g. a
    :class:`~vulntax.server.process.PredictionProcess` over the same model).
    ``fast_path=False`` sends every request through FastAPI, also the plain single
    prediction that :class:`~vulntax.server.fastpath.FastPredict` answers otherwise (the
    same bytes; kept for the test that compares both).
    """
    limits = schemas.Limits(
        max_body_bytes=max_body_bytes,
        max_items=schemas.MAX_ITEMS,
        max_description_chars=MAX_TEXT,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if predictor is None:
            yield
            return
        batcher = MicroBatcher(predict_batch or predictor.predict_batch, max_items=batch_items)
        batcher.start()
        app.state.service = Service(predictor, batcher, limits)
        try:
            yield
        finally:
            await batcher.stop()
            del app.state.service

    app = FastAPI(
        title="vulntax",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        generate_unique_id_function=lambda route: route.name,
    )
    if fast_path:  # inside the size limit: it sees only bodies within it
        app.add_middleware(FastPredict)
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)
    handlers.install(app)
    app.include_router(router)

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers=_PAGE_HEADERS)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _document_errors_as_they_are(app)
    return app


def _document_errors_as_they_are(app: FastAPI) -> None:
    """Drop FastAPI's default 422 ``HTTPValidationError`` from the schema: no route answers it.

    Every route that can answer 422 declares it with :class:`schemas.ErrorAnswer`; the
    others (path parameters are plain strings) never do.
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()  # cached by FastAPI; cleaning it again changes nothing
        for path in schema["paths"].values():
            for operation in path.values():
                answer = operation.get("responses", {}).get("422", {})
                ref = answer.get("content", {}).get("application/json", {}).get("schema", {})
                if ref.get("$ref", "").endswith("/HTTPValidationError"):
                    del operation["responses"]["422"]
        for name in ("HTTPValidationError", "ValidationError"):
            schema["components"]["schemas"].pop(name, None)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
