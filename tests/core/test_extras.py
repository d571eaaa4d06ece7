"""The learnt ATT&CK head, the CAPEC ranker and cross-taxonomy consistency."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from vulntax.errors import ModelError
from vulntax.evaluate.columns import PredictionColumns
from vulntax.evaluate.consistency import CatalogLines, consistency
from vulntax.models import attack_learnt


def test_head_learns_a_text_cue() -> None:
    # descriptions with term 0 are exploited over the network (T1190), term 1 locally (T1068)
    rng = np.random.default_rng(0)
    n = 60
    network = rng.random(n) < 0.5
    x = sp.csr_matrix(np.column_stack([network, ~network, rng.random(n)]).astype(np.float32))
    gold = [["T1190"] if v else ["T1068"] for v in network]
    head = attack_learnt.fit(
        x, np.zeros((n, 2)), np.zeros((n, 3)), gold, attack_learnt.AttackSettings(C=10)
    )
    assert head.techniques == ["T1068", "T1190"]
    p = head.probabilities(x, np.zeros((n, 2)), np.zeros((n, 3)))
    assert (p[network, 1] > p[network, 0]).all() and (p[~network, 0] > p[~network, 1]).all()


def test_head_round_trips_with_its_neighbour_vote(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    x = sp.random(40, 30, density=0.2, random_state=2, format="csr", dtype=np.float32)
    gold = [["T1190"] if rng.random() < 0.5 else ["T1068", "T1059"] for _ in range(40)]
    settings = attack_learnt.AttackSettings(knn_weight=0.5, neighbours=5)
    head = attack_learnt.fit(x, np.zeros((40, 2)), np.zeros((40, 3)), gold, settings)
    votes = head.vote(x[:3])
    assert votes.shape == (3, 3) and ((votes >= 0) & (votes <= 1)).all()
    attack_learnt.save(head, tmp_path, {})
    again = attack_learnt.load(tmp_path, 30, 5)
    assert again is not None and again.settings == settings
    p = head.probabilities(x, np.zeros((40, 2)), np.zeros((40, 3)))
    q = again.probabilities(x, np.zeros((40, 2)), np.zeros((40, 3)))
    np.testing.assert_allclose(p, q, atol=2e-3)  # weights are stored as float16
    with pytest.raises(ModelError, match="does not fit"):
        attack_learnt.load(tmp_path, 30, 6)


def test_no_learnable_technique_is_an_error() -> None:
    x = sp.csr_matrix(np.ones((2, 2), dtype=np.float32))
    with pytest.raises(ModelError, match="enough analyst mappings"):
        attack_learnt.fit(
            x, np.zeros((2, 1)), np.zeros((2, 1)), [["T1190"], []], attack_learnt.AttackSettings()
        )


@pytest.fixture(scope="module")
def extras_model(
    tiny_model: Path,
    mini_dataset: Path,
    mini_data_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    from vulntax.models.extras_fit import fit_extras

    out = tmp_path_factory.mktemp("extras") / "model"
    shutil.copytree(tiny_model, out)
    fit_extras(
        out,
        mini_dataset,
        mini_data_dir,
        log=lambda m: None,
        attack_settings=attack_learnt.AttackSettings(min_positives=1),
    )
    return out


def test_extras_load_and_predict(extras_model: Path, tiny_model: Path, data_dir: Path) -> None:
    from vulntax.models.linear import LinearModel
    from vulntax.predictor import Predictor

    for name in ("attack.safetensors", "attack.json", "capec_rank.safetensors", "capec_rank.json"):
        assert (extras_model / name).is_file()
    assert not (tiny_model / "attack.json").exists()  # fitted into the copy only
    model = LinearModel.load(extras_model)
    assert model.attack_head is not None and model.capec_ranker is not None
    assert model.labels.attack == model.attack_head.techniques
    predictor = Predictor(extras_model, data_dir)
    texts = [
        "SQL injection in the login form of Foo CMS 2.1 allows remote attackers to execute "
        "arbitrary SQL commands via the username parameter.",
        "A buffer overflow in the image parser of Bar Viewer allows remote attackers to execute "
        "arbitrary code via a crafted PNG file.",
        "Cross-site scripting in the comment field lets attackers inject arbitrary web script.",
    ]
    results = predictor.predict_batch([(None, t) for t in texts])
    columns = PredictionColumns.of(results)
    for result in results:
        assert result["attack"], "the learnt head lists techniques"
        ps = [c["p"] for c in result["capec"]]
        assert ps == sorted(ps, reverse=True)
    ranked = [len({c["p"] for c in r["capec"]}) > 1 for r in results if len(r["capec"]) >= 2]
    assert ranked and all(ranked)
    share = consistency(columns, predictor.catalog)["capec"]
    assert share["records"] == 3 and share["share"] == 1.0
    # a model directory without the extra files still loads, with the catalog CAPEC
    plain = LinearModel.load(tiny_model)
    assert plain.attack_head is None and plain.capec_ranker is None


@pytest.mark.parametrize("name", ["attack.safetensors", "capec_rank.safetensors", "attack.json"])
def test_damaged_extra_file_is_a_model_error(extras_model: Path, tmp_path: Path, name: str) -> None:
    from vulntax.models.linear import LinearModel

    broken = tmp_path / "model"
    shutil.copytree(extras_model, broken)
    (broken / name).write_bytes(b"not what it should be")
    with pytest.raises(ModelError, match=name.replace(".", r"\.")):
        LinearModel.load(broken)
    (broken / name).unlink()
    with pytest.raises(ModelError, match="come together"):
        LinearModel.load(broken)


def test_consistency_through_the_catalog(data_dir: Path) -> None:
    from vulntax.taxonomy import load_catalog

    catalog = load_catalog(data_dir)
    cwe_89 = {"id": "CWE-89", "top": [], "path": [], "confidence": 0.9, "abstain": False}

    def prediction(capec: list[tuple[str, float]], attack: list[str]) -> dict[str, object]:
        metrics = {
            m: {"value": "N", "p": 1.0} for m in ("AV", "AC", "PR", "UI", "S", "C", "I", "A")
        }
        return {
            "cwe": cwe_89,
            "cvss": {"metrics": metrics, "base_score": 0.0, "severity": None},
            "capec": [{"id": c, "p": p} for c, p in capec],
            "attack": [{"id": t, "p": 0.5} for t in attack],
        }

    reach = CatalogLines(catalog).attack("CWE-89")  # via its ancestors' patterns
    assert reach and "T1190" not in reach
    catalog_technique = sorted(reach)[0]
    columns = PredictionColumns.of(
        [
            prediction([("CAPEC-66", 0.9), ("CAPEC-7", 0.4)], [catalog_technique]),
            prediction([("CAPEC-100", 0.5), ("CAPEC-66", 0.5)], ["T1190"]),
        ]
    )
    out = consistency(columns, catalog)
    assert out["capec"] == {"share": 0.5, "records": 2}
    assert out["capec_ranked"] == {"share": 0.5, "records": 2}
    assert out["attack"]["share"] == 0.5
