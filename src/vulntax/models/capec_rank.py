"""CAPEC patterns ranked by how well the description fits each one.

The catalog graph gives each pattern p(link) = Σ p(cwe) over the CWE classes
linked to it, so every pattern of one CWE gets the same probability. This
ranker re-scores the patterns linked to the CWE candidates:

* **candidates** — the patterns linked (directly, as in the graph) to one of
  the ``top_cwe`` most probable CWE classes, and those linked to a CWE on the
  top class's View-1000 line;
* **features** per (description, pattern): p(link); log p(link); whether the
  pattern is linked to a CWE on the top class's View-1000 line (the class, its
  ancestors and descendants); cosine similarity of the description's TF-IDF
  row to the pattern's name, description and prerequisites (each put through
  the linear model's own vectorizer);
* **model** — one logistic regression over those features, fitted on
  (record, candidate) pairs of a split the base model was not trained on,
  with target "the pattern is in the record's derived gold" (the patterns of
  its gold CWE). Its output is the probability that the pattern is one of the
  gold CWE's patterns.
* **consistency** — a candidate not linked to the top class's line is never
  ranked above the best one that is (its probability is capped just below),
  so the top pattern stays consistent with the predicted CWE; where that
  line links to no pattern at all, no pattern is listed.

Files (beside a linear model's own): ``capec_rank.safetensors`` (pattern text
rows ``name.*`` / ``description.*`` / ``prerequisites.*`` and the CWE-line links
``line.*`` as CSR, ``coef`` and ``bias``) and ``capec_rank.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vulntax.errors import ModelError
from vulntax.models.persistence import (
    optional_files,
    put_csr,
    read_json,
    read_tensors,
    write_json,
    write_tensors,
)

RANK_WEIGHTS = "capec_rank.safetensors"
RANK_CONFIG = "capec_rank.json"
FORMAT = "vulntax-capec-rank"
FORMAT_VERSION = 1
TEXTS = ("name", "description", "prerequisites")
FEATURES = ("link_p", "log_link_p", "on_line", *(f"sim_{t}" for t in TEXTS))
CAP = 0.999  # an off-line candidate's p is capped at this share of the best on-line one


@dataclass
class CapecRanker:
    texts: dict[str, Any]  # name -> CSR (n_capec, F), L2-normalised rows
    line: Any  # CSR (n_cwe, n_capec) 0/1: pattern linked to a CWE on the class's line
    coef: np.ndarray  # (len(FEATURES),) float32
    bias: float
    top_cwe: int = 3
    _texts_t: Any = None  # CSR (F, len(TEXTS) * n_capec), made at first use

    def features(self, x: Any, cwe: np.ndarray, links: Any) -> tuple[np.ndarray, np.ndarray]:
        """Candidate mask (B, P) and features (B, P, len(FEATURES))."""
        top = np.argsort(-cwe, axis=1)[:, : self.top_cwe]  # (B, k)
        link_p = np.asarray(links.T.dot(cwe.T).T, dtype=np.float32)  # (B, P)
        batch, k = top.shape
        n_capec = link_p.shape[1]
        # one sparse row selection for the k classes of every row (scipy's per-call cost
        # dominates the small batches of the service)
        candidate = (links[top.ravel()].toarray() > 0).reshape(batch, k, n_capec).any(axis=1)
        on_line = self.line[top[:, 0]].toarray().astype(np.float32)  # (B, P)
        candidate |= on_line > 0
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1))).ravel()
        xn = x.multiply(1.0 / np.maximum(norms, 1e-12)[:, None]).tocsr()
        if self._texts_t is None:  # (F, len(TEXTS) * P) CSR, the texts side by side, made once
            from scipy.sparse import hstack

            self._texts_t = hstack([self.texts[t].T for t in TEXTS], format="csr")
        sims = np.asarray((xn @ self._texts_t).toarray(), dtype=np.float32)
        feats = np.concatenate(
            [
                link_p[:, :, None],
                np.log(link_p + 1e-4)[:, :, None],
                on_line[:, :, None],
                sims.reshape(batch, len(TEXTS), n_capec).transpose(0, 2, 1),
            ],
            axis=2,
        )
        return candidate, feats

    def probabilities(self, x: Any, cwe: np.ndarray, links: Any) -> np.ndarray:
        """(B, n_capec): ranked probabilities of the candidates, 0 elsewhere."""
        candidate, feats = self.features(x, cwe, links)
        z = feats @ self.coef + self.bias
        p = np.where(candidate, 1.0 / (1.0 + np.exp(-z)), 0.0).astype(np.float32)
        on_line = feats[:, :, 2] > 0
        best_on = np.where(on_line, p, 0.0).max(axis=1, keepdims=True)  # (B, 1)
        # nothing is listed where the top class's line links to no pattern at all
        capped = np.where(on_line, p, np.minimum(p, CAP * best_on))
        return capped.astype(np.float32)


def line_links(cwe_labels: list[str], capec_labels: list[str], catalog: Any) -> Any:
    """(n_cwe, n_capec) 0/1: the pattern is linked to the class or a CWE on its line."""
    from scipy.sparse import csr_matrix

    index = {c: j for j, c in enumerate(capec_labels)}
    rows, cols = [], []
    for i, cwe in enumerate(cwe_labels):
        line = {cwe}
        if cwe in catalog.cwe:
            line |= catalog.cwe.ancestors(cwe) | catalog.cwe.descendants(cwe)
        linked = {p for c in line for p in catalog.graph.cwe_to_capec(c) if p in index}
        for p in sorted(linked):
            rows.append(i)
            cols.append(index[p])
    data = np.ones(len(rows), dtype=np.float32)
    return csr_matrix((data, (rows, cols)), shape=(len(cwe_labels), len(capec_labels)))


def pattern_texts(bundle: Path, capec_labels: list[str]) -> dict[str, list[str]]:
    """Name, description and prerequisites of each pattern, from MITRE's CAPEC STIX bundle."""
    from vulntax.taxonomy.ids import numbered_id
    from vulntax.taxonomy.stix import external_ids, read_bundle

    found: dict[str, dict[str, str]] = {}
    for obj in read_bundle(bundle):
        if obj.get("type") != "attack-pattern":
            continue
        ids = external_ids(obj, "capec")
        if len(ids) != 1:
            continue
        prereq = obj.get("x_capec_prerequisites") or []
        found[numbered_id(ids[0], "CAPEC")] = {
            "name": str(obj.get("name", "")),
            "description": str(obj.get("description", "")),
            "prerequisites": " ".join(str(p) for p in prereq),
        }
    empty = {t: "" for t in TEXTS}
    return {t: [found.get(c, empty)[t] for c in capec_labels] for t in TEXTS}


def text_rows(features: Any, texts: list[str]) -> Any:
    """The TF-IDF rows of ``texts`` (model's own vectorizer), L2-normalised."""
    from vulntax.text import model_input

    x = features.transform([model_input(t) if t else "" for t in texts]).tocsr()
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1))).ravel()
    return x.multiply(1.0 / np.maximum(norms, 1e-12)[:, None]).tocsr()


def fit(
    base: CapecRanker,
    x: Any,
    cwe: np.ndarray,
    links: Any,
    gold: list[list[str]],
    capec_labels: list[str],
    C: float = 1.0,
) -> CapecRanker:
    """Fit ``coef`` / ``bias`` on (record, candidate) pairs of records with derived gold."""
    from sklearn.linear_model import LogisticRegression

    index = {c: j for j, c in enumerate(capec_labels)}
    rows = [i for i, g in enumerate(gold) if g]
    candidate, feats = base.features(x[rows], cwe[rows], links)
    target = np.zeros(candidate.shape, dtype=bool)
    for r, i in enumerate(rows):
        target[r, [index[c] for c in gold[i] if c in index]] = True
    pairs = feats[candidate]  # (n_pairs, n_features)
    y = target[candidate]
    if y.all() or not y.any():
        raise ModelError("CAPEC ranker: the candidates are all gold or none is; cannot learn")
    clf = LogisticRegression(C=C, max_iter=2000).fit(pairs, y)
    coef = clf.coef_[0].astype(np.float32)
    return CapecRanker(base.texts, base.line, coef, float(clf.intercept_[0]), base.top_cwe)


# ---------------------------------------------------------------------- persistence
def save(ranker: CapecRanker, folder: Path, about: dict[str, Any]) -> None:
    tensors: dict[str, np.ndarray] = {
        "coef": ranker.coef.astype(np.float32),
        "bias": np.array([ranker.bias], dtype=np.float32),
    }
    for name, matrix in ranker.texts.items():
        put_csr(tensors, name, matrix, np.float16)
    put_csr(tensors, "line", ranker.line, np.uint8)
    write_tensors(folder / RANK_WEIGHTS, tensors)
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "features": list(FEATURES),
        "top_cwe": ranker.top_cwe,
        **about,
    }
    write_json(folder / RANK_CONFIG, config, ensure_ascii=True)


def load(folder: Path, n_cwe: int, n_capec: int, n_features: int) -> CapecRanker | None:
    """The ranker of a model directory; None if it has none; ModelError if damaged."""
    weights_file, config_file = folder / RANK_WEIGHTS, folder / RANK_CONFIG
    if not optional_files(folder, RANK_WEIGHTS, RANK_CONFIG):
        return None
    config = read_json(config_file, "CAPEC ranker config")
    try:
        if config.get("format") != FORMAT or config.get("format_version") != FORMAT_VERSION:
            raise ModelError(f"{config_file}: not a {FORMAT} v{FORMAT_VERSION} file")
        if config.get("features") != list(FEATURES):
            raise ModelError(f"{config_file}: features {config.get('features')} are not {FEATURES}")
        top_cwe = int(config["top_cwe"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ModelError(f"{config_file}: not a readable CAPEC ranker config ({exc})") from exc
    t = read_tensors(weights_file)
    what = "this model's labels"
    coef = t.shaped("coef", (len(FEATURES),), "the ranker's features").astype(np.float32)
    bias = float(t.shaped("bias", (1,), "the ranker")[0])
    texts = {name: t.csr(name, (n_capec, n_features), what) for name in TEXTS}
    line = t.csr("line", (n_cwe, n_capec), what)
    return CapecRanker(texts, line, coef, bias, top_cwe)
