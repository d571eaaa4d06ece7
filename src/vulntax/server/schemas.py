"""The shapes of the HTTP API's requests and answers, as pydantic models.

Requests are validated against these models. Answers are built by the library
(:class:`~vulntax.predictor.Predictor`, :mod:`vulntax.taxonomy.describe`) as plain
dicts and sent as they are; the answer models here only *document* them in the
OpenAPI schema. The prediction models mirror ``docs/prediction.schema.json`` (the
contract of ``vulntax predict --json``), and a test fails when the two drift apart.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from vulntax.predictor import MAX_TEXT
from vulntax.taxonomy.cvss import VECTOR_PATTERN
from vulntax.text import USABLE_TEXT_PATTERN

MAX_ITEMS = 256  # descriptions per batch request
MAX_ID = 200  # characters of a record id

_DESCRIPTION = "A vulnerability description in English (CVE and CWE ids in it are ignored)."
_ID = "Your id for the record (e.g. a CVE id); echoed in the answer."


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- requests ------------------------------------------------------------------------------


class RecordMetadata(_Strict):
    """What the record says beside its description (read by a model with the metadata head)."""

    cna: str | None = Field(None, max_length=256, description="the assigning CNA")
    references: list[str] = Field([], max_length=100, description="reference URLs the CNA gave")
    cna_cwe: list[str] = Field([], max_length=20, description="the CNA's own CWE ids")
    cna_cvss: str | None = Field(
        None,
        max_length=200,
        description="the CNA's CVSS v3.0/v3.1 vector (another string is a 422)",
        json_schema_extra={"pattern": VECTOR_PATTERN},  # checked when the metadata is read
    )


_METADATA = "Optional record metadata; without it the description alone is read."


class PredictOne(_Strict):
    """One description; the answer is one prediction object."""

    description: str = Field(
        max_length=MAX_TEXT,
        description=_DESCRIPTION
        + " It must hold something besides whitespace and CVE/CWE ids (else a 422).",
        # checked by the predictor (an empty text is a 422 with a clear message), stated here
        json_schema_extra={"pattern": USABLE_TEXT_PATTERN},
    )
    id: str | None = Field(None, max_length=MAX_ID, description=_ID)
    metadata: RecordMetadata | None = Field(None, description=_METADATA)


class BatchItem(_Strict):
    description: str = Field(
        description=_DESCRIPTION
        + f" An empty one, or one over {MAX_TEXT:,} characters, gets an error object.",
    )
    id: str | None = Field(None, max_length=MAX_ID, description=_ID)
    metadata: RecordMetadata | None = Field(None, description=_METADATA)


class PredictBatch(_Strict):
    """Up to ``MAX_ITEMS`` descriptions; the answer lists one object per item, in order."""

    items: list[BatchItem] = Field(min_length=1, max_length=MAX_ITEMS)


def _request_kind(body: Any) -> str:
    return "batch" if isinstance(body, dict) and "items" in body else "one"


PredictRequest = Annotated[
    Annotated[PredictOne, Tag("one")] | Annotated[PredictBatch, Tag("batch")],
    Discriminator(_request_kind),
]
#: the union tags, which appear in validation error locations and are dropped from messages
REQUEST_TAGS = ("one", "batch")


# -- answers: predictions (mirror docs/prediction.schema.json) -----------------------------


class Scored(_Strict):
    id: str
    name: str
    p: float = Field(ge=0, le=1)


class Term(_Strict):
    term: str = Field(description="a word or word pair of the input that pushed the prediction")
    weight: float = Field(description="its contribution to the predicted label's score")


class Cwe(_Strict):
    id: str = Field(pattern=r"^CWE-[0-9]+$")
    name: str
    path: list[str] = Field(
        min_length=1, description="the display path in CWE View 1000, root first, ending with id"
    )
    usage: str | None = Field(None, description="MITRE's mapping usage of the id")
    confidence: float = Field(ge=0, le=1)
    top: list[Scored]
    abstain: bool = Field(description="true when the confidence is below the model's threshold")


class Metric(_Strict):
    value: str = Field(description="the metric's abbreviated value, e.g. N")
    name: str = Field(description="the value spelled out, e.g. Network")
    p: float = Field(ge=0, le=1)
    dist: dict[str, float] = Field(description="probability of every value of the metric")


class Metrics(_Strict):
    AV: Metric
    AC: Metric
    PR: Metric
    UI: Metric
    S: Metric
    C: Metric
    I: Metric  # noqa: E741 - the CVSS metric's own name
    A: Metric


class Cvss(_Strict):
    version: Literal["3.1"]
    vector: str
    base_score: float = Field(ge=0, le=10)
    severity: Literal["None", "Low", "Medium", "High", "Critical"]
    metrics: Metrics
    abstain: bool = Field(
        False,
        description="true when the text carries too little information for a score; "
        "the vector is still the most probable one",
    )


class TrustWarning(_Strict):
    code: Literal[
        "not_a_vulnerability_description", "not_english", "reserved_or_rejected", "truncated_input"
    ]
    message: str


class Metrics4(_Strict):
    AV: Metric
    AC: Metric
    AT: Metric
    PR: Metric
    UI: Metric
    VC: Metric
    VI: Metric
    VA: Metric
    SC: Metric
    SI: Metric
    SA: Metric


class Cvss4(_Strict):
    version: Literal["4.0"]
    abstain: bool | None = Field(
        None, description="as cvss.abstain (the v4.0 score rests on the v3.1 one)"
    )
    vector: str
    base_score: float = Field(ge=0, le=10)
    severity: Literal["None", "Low", "Medium", "High", "Critical"]
    metrics: Metrics4


class Evidence(_Strict):
    cwe: list[Term] = []
    cvss: dict[str, list[Term]] = {}


class ModelRef(BaseModel):
    name: str
    version: str


class Prediction(_Strict):
    """One prediction object, as ``vulntax predict --json`` prints it."""

    id: str | None
    cwe: Cwe
    cvss: Cvss
    capec: list[Scored]
    attack: list[Scored]
    evidence: Evidence
    model: ModelRef
    warnings: list[TrustWarning] = Field(
        default_factory=list, description="what makes this answer less trustworthy"
    )
    cvss4: Cvss4 | None = Field(None, description="where the model has the CVSS v4.0 head")
    metadata: list[str] | None = Field(
        None, description="the record metadata read (where the model has the metadata head)"
    )


class ItemError(_Strict):
    """A batch item that could not be classified (e.g. an empty description)."""

    id: str | None
    error: str


class BatchAnswer(_Strict):
    items: list[Prediction | ItemError]


# -- answers: everything else --------------------------------------------------------------


class ErrorAnswer(_Strict):
    """Every 4xx and 5xx answer: one line saying what is wrong."""

    error: str = Field(examples=["description: Field required"])


class Health(_Strict):
    status: Literal["ok"]


class Limits(_Strict):
    max_body_bytes: int
    max_items: int
    max_description_chars: int


class ModelInfo(_Strict):
    name: str
    version: str
    kind: str
    created: str | None = None


class Version(_Strict):
    vulntax: str
    model: ModelInfo
    catalog: dict[str, str] = Field(description="CWE, CAPEC and ATT&CK catalog versions")
    limits: Limits
