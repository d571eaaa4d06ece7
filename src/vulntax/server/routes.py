"""The HTTP routes: thin layers over :class:`~vulntax.predictor.Predictor` and the catalog.

Predictions go through the :class:`~vulntax.server.batching.MicroBatcher` (a
worker thread, never the event loop); taxonomy look-ups are dictionary reads and
answer inline, with the same dicts as ``vulntax cwe show --json`` and friends.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse

from vulntax import __version__
from vulntax.predictor import MAX_TEXT, Predictor
from vulntax.server import schemas
from vulntax.server.batching import MicroBatcher
from vulntax.taxonomy.cvss import VECTOR_PATTERN


class _FastJSON(JSONResponse):
    """JSON through orjson (several times faster than the standard library on predictions)."""

    def render(self, content: Any) -> bytes:
        import orjson

        return orjson.dumps(content)


@dataclass
class Service:
    """What the routes use; kept on ``app.state.service``."""

    predictor: Predictor
    batcher: MicroBatcher
    limits: schemas.Limits


async def service(request: Request) -> Service:
    # async: FastAPI would run a plain function in its thread pool, a thread hop per request
    found: Service | None = getattr(request.app.state, "service", None)
    if found is None:  # only an app built without a predictor (to write the OpenAPI schema)
        raise HTTPException(503, "this server has no model loaded")
    return found


ServiceDep = Annotated[Service, Depends(service)]

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": schemas.ErrorAnswer, "description": text}
    for status, text in (
        (400, "The body is not valid JSON"),
        (413, "The body is over the size limit"),
        (415, "The body is not sent as application/json"),
        (422, "The JSON does not fit the request schema, or a description is empty or too long"),
    )
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": schemas.ErrorAnswer, "description": "The catalog does not define this id"}
}

router = APIRouter()


@router.get("/healthz", response_model=schemas.Health, tags=["service"], summary="Health")
async def healthz() -> dict[str, str]:
    """The service is up and its model is loaded."""
    return {"status": "ok"}


@router.get(
    "/v1/version", response_model=schemas.Version, tags=["service"], summary="Versions and limits"
)
async def version(svc: ServiceDep) -> dict[str, Any]:
    """Versions of vulntax, the model and the taxonomy catalogs, and the request limits."""
    config = svc.predictor.model.config
    created = config.get("created")
    return {
        "vulntax": __version__,
        "model": {
            **svc.predictor.model_info,
            "kind": str(config["kind"]),
            "created": str(created) if created is not None else None,
        },
        "catalog": svc.predictor.catalog.versions,
        "limits": svc.limits.model_dump(),
    }


@router.post(
    "/v1/predict",
    response_model=schemas.Prediction | schemas.BatchAnswer,
    responses=_ERRORS,
    tags=["prediction"],
    summary="Classify descriptions",
)
async def predict(svc: ServiceDep, body: Annotated[schemas.PredictRequest, Body()]) -> JSONResponse:
    """Classify one description, or a batch of them, into CWE, CVSS v3.1, CAPEC and ATT&CK.

    * `{"description": "...", "id": "..."}` (id optional) answers one prediction
      object; an empty description is a 422.
    * `{"items": [{"id": ..., "description": ...}, ...]}` answers `{"items": [...]}`
      with one object per item, in order; an item whose description is empty or too
      long gets `{"id": ..., "error": "..."}` in its place, and the others are
      predicted as usual.
    """
    if isinstance(body, schemas.PredictOne):
        [result] = await svc.batcher.predict([(body.id, body.description, _meta(body.metadata))])
        if isinstance(result, dict) and "error" in result:  # not an encoded prediction
            return JSONResponse({"error": f"description: {result['error']}"}, status_code=422)
        return _FastJSON(result)
    items = [(item.id, item.description, _meta(item.metadata)) for item in body.items]
    fits = [len(text) <= MAX_TEXT for _, text, _ in items]
    valid = [item for item, ok in zip(items, fits, strict=True) if ok]
    predicted = iter(await svc.batcher.predict(valid) if valid else [])
    answers = [
        next(predicted)
        if ok
        else {"id": item_id, "error": f"description longer than {MAX_TEXT:,} characters"}
        for (item_id, _, _), ok in zip(items, fits, strict=True)
    ]
    return _FastJSON({"items": answers})


def _meta(metadata: schemas.RecordMetadata | None) -> Any:
    """The request's metadata as the predictor reads it (an invalid CVSS vector is a 4xx)."""
    from vulntax.metadata import from_json

    return from_json(metadata.model_dump()) if metadata is not None else None


@router.get("/v1/cwe/{cwe_id}", responses=_NOT_FOUND, tags=["taxonomy"], summary="A CWE entry")
async def cwe(
    svc: ServiceDep, cwe_id: Annotated[str, Path(examples=["CWE-79", "79"])]
) -> dict[str, Any]:
    """A CWE entry: its View-1000 path, relations, mapping usage, CAPEC and ATT&CK links.

    The same object as `vulntax cwe show ID --json`.
    """
    from vulntax.taxonomy.describe import cwe_info

    return cwe_info(svc.predictor.catalog, cwe_id)


@router.get(
    "/v1/capec/{capec_id}", responses=_NOT_FOUND, tags=["taxonomy"], summary="A CAPEC pattern"
)
async def capec(
    svc: ServiceDep, capec_id: Annotated[str, Path(examples=["CAPEC-66", "66"])]
) -> dict[str, Any]:
    """A CAPEC attack pattern: its hierarchy, related CWEs and ATT&CK techniques.

    The same object as `vulntax capec show ID --json`.
    """
    from vulntax.taxonomy.describe import capec_info

    return capec_info(svc.predictor.catalog, capec_id)


@router.get(
    "/v1/attack/{technique_id}",
    responses=_NOT_FOUND,
    tags=["taxonomy"],
    summary="An ATT&CK technique",
)
async def attack(
    svc: ServiceDep, technique_id: Annotated[str, Path(examples=["T1059.007", "T1190"])]
) -> dict[str, Any]:
    """An ATT&CK technique: tactics, parent, revocation, related CAPEC patterns and CWEs.

    The same object as `vulntax attack show ID --json`.
    """
    from vulntax.taxonomy.describe import attack_info

    return attack_info(svc.predictor.catalog, technique_id)


@router.get(
    "/v1/cvss",
    responses={
        400: {"model": schemas.ErrorAnswer, "description": "Not a CVSS v3.x vector"},
        422: {"model": schemas.ErrorAnswer, "description": "No vector given"},
    },
    tags=["taxonomy"],
    summary="Score a CVSS vector",
)
async def cvss(
    vector: Annotated[
        str,
        Query(
            max_length=200,
            examples=["CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N"],
            # the cvss package decides (a 400 names what is wrong); every match is valid
            json_schema_extra={"pattern": VECTOR_PATTERN},
        ),
    ],
) -> dict[str, Any]:
    """Base score, severity and every base metric (spelled out) of a CVSS v3.0/v3.1 vector.

    The same object as `vulntax cvss score VECTOR --json`.
    """
    from vulntax.taxonomy import cvss

    scored = cvss.score(vector)
    answer = scored.to_dict()
    answer["metric_names"] = {
        m: {"name": n, "value": vn} for m, n, _, vn in cvss.describe(scored.vector)
    }
    return answer
