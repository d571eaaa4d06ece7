"""The CVSS v4.0 and metadata heads: fitted on real records, saved, loaded, applied."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from vulntax.errors import ModelError
from vulntax.metadata import RecordMeta


def test_cvss4_scores_come_from_the_cvss_library() -> None:
    from vulntax.taxonomy import cvss4

    # FIRST's v4.0 calculator: 9.3 Critical and 8.5 High
    assert (
        cvss4.score("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N").base_score
        == 9.3
    )
    assert (
        cvss4.score("CVSS:4.0/AV:L/AC:L/AT:N/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N").base_score
        == 8.5
    )
    with pytest.raises(Exception, match=r"not a CVSS v4\.0 vector"):
        cvss4.score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")


def test_rule_translation() -> None:
    from vulntax.taxonomy.cvss4 import from_v3, vector_from_metrics

    v3 = {"AV": "N", "AC": "L", "PR": "N", "UI": "R", "S": "C", "C": "L", "I": "L", "A": "N"}
    assert vector_from_metrics(from_v3(v3)) == (
        "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:P/VC:L/VI:L/VA:N/SC:L/SI:L/SA:N"
    )
    v3.update(S="U", UI="N")
    assert from_v3(v3)["SC"] == "N" and from_v3(v3)["UI"] == "N"


def test_fit_report_has_both_baselines(fit_report) -> None:
    _, report = fit_report
    test = report["cvss4"]["test"]
    assert set(test["learned"]) >= {"AV", "AT", "SA", "mean", "exact_vector"}
    assert 0 <= test["majority"]["mean"] <= 1 and 0 <= test["rule_from_predicted_v3"]["mean"] <= 1
    assert report["cvss4"]["examples"]["test"] > 0
    cvss = report["metadata"]["test_cvss"]["all rows with metadata"]
    assert cvss["rows"] > 0 and set(cvss) == {"rows", "text_only", "with_metadata"}


def _predictor(path: Path):
    from vulntax.predictor import Predictor

    return Predictor(path)


def test_heads_add_cvss4_and_leave_description_only_input_alone(tiny_model, heads_model) -> None:
    from vulntax.taxonomy import cvss4

    plain, stacked = _predictor(tiny_model), _predictor(heads_model)
    texts = [
        (f"d{i}", t)
        for i, t in enumerate(
            [
                "SQL injection in login.php allows remote attackers to run SQL commands.",
                "A use-after-free in the PDF parser allows code execution via a crafted file.",
                "Cross-site scripting in the search page of Acme CMS 2.0.",
            ]
        )
    ]
    for a, b in zip(plain.predict_batch(texts), stacked.predict_batch(texts), strict=True):
        assert "cvss4" not in a and "metadata" not in a
        assert b.pop("metadata") == []
        v4 = b.pop("cvss4")
        assert a == b  # description only: exactly the description-only prediction
        assert cvss4.score(v4["vector"]).base_score == v4["base_score"]
        assert set(v4["metrics"]) == set(cvss4.BASE_METRICS)
        assert all(abs(sum(m["dist"].values()) - 1) < 1e-3 for m in v4["metrics"].values())


def test_metadata_moves_the_answer(heads_model) -> None:
    predictor = _predictor(heads_model)
    text = "An issue in the web interface of Acme Router allows attackers to change settings."
    meta = RecordMeta(
        cna="cna@vuldb.com",
        references=("https://github.com/acme/router/issues/1",),
        cna_cwes=("CWE-352",),
        cna_cvss={
            "AV": "N",
            "AC": "L",
            "PR": "N",
            "UI": "R",
            "S": "U",
            "C": "N",
            "I": "H",
            "A": "N",
        },
    )
    plain = predictor.predict(text)
    aware = predictor.predict(text, metadata=meta)
    assert aware["metadata"] == ["cna", "references", "cna_cwe", "cna_cvss"]
    moved = [
        m
        for m in plain["cvss"]["metrics"]
        if plain["cvss"]["metrics"][m]["p"] != aware["cvss"]["metrics"][m]["p"]
    ]
    assert moved  # the CNA's vector and the references were read
    assert aware["cwe"]["top"][0]["p"] >= 0 and aware["cwe"]["id"]


@pytest.mark.parametrize("name", ["cvss4.safetensors", "metadata.json"])
def test_corrupt_head_is_a_model_error(tmp_path, heads_model, name) -> None:
    copy = tmp_path / "model"
    shutil.copytree(heads_model, copy)
    (copy / name).write_bytes(b"\x00garbage")
    with pytest.raises(ModelError, match="corrupt"):
        _predictor(copy)


def test_model_without_heads_still_loads(tiny_model) -> None:
    prediction = _predictor(tiny_model).predict("Buffer overflow in the PNG decoder.")
    assert "cvss4" not in prediction and prediction["cvss"]["version"] == "3.1"


def test_predictions_with_heads_follow_the_schema(heads_model) -> None:
    import json

    import jsonschema

    from vulntax.metadata import RecordMeta

    schema = json.loads(
        (Path(__file__).resolve().parents[2] / "docs" / "prediction.schema.json").read_text()
    )
    predictor = _predictor(heads_model)
    meta = RecordMeta(cna="security@acme.example", references=("https://acme.example/sa/1",))
    for prediction in (
        predictor.predict("Stored XSS in the comment form."),
        predictor.predict("Stored XSS in the comment form.", metadata=meta),
    ):
        jsonschema.validate(prediction, schema)
