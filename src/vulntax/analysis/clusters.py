"""How many clusters the descriptions form, and what each one holds.

:func:`analyze` runs the clustering study, in this order:

1. **sample** the texts (``sample`` of them, fixed seed), so that the study of the full
   training split stays within minutes on two cores;
2. **project** them: TF-IDF word 1-grams → PCA (``components`` axes; ARPACK on the sparse
   matrix, see :func:`~vulntax.analysis.space.fit_projection`);
3. **sweep k**: for every k, K-Means (k-means++, 4 restarts) scored by its SSE (inertia;
   the elbow is the k farthest from the chord of the normalised SSE curve), its silhouette
   (on a random sub-sample of ``silhouette_sample`` points: the score is quadratic in the
   points) and its Calinski–Harabasz index; and a Gaussian mixture with **diagonal**
   covariances scored by its BIC;
4. **choose k**: the best silhouette (the smaller k on a tie);
5. **describe** the clusters of that k: pairwise centroid distances (Minkowski p = 1, 2, 3
   and cosine, in the PCA space), and per cluster its size, top TF-IDF terms, dominant CWEs
   and CVSS profile (mean base / impact / exploitability score, share of every value of
   the eight base metrics);
6. keep a :class:`~vulntax.analysis.space.ClusterSpace` of that k, the one LSNet uses.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from vulntax.analysis.space import ClusterSpace, fit_projection
from vulntax.dataset.store import CVSS_COLUMNS
from vulntax.errors import UsageError

CHOICE_RULE = "the k with the highest silhouette (the smaller k on a tie)"
MINKOWSKI_P = (1, 2, 3)
SCATTER_POINTS = 4000  # points kept for the 2-D display
MIN_PER_CLUSTER = 10  # records per cluster the sample must allow at the largest k
TOP_TERMS = 10


@dataclass
class Criteria:
    """The scores of one k."""

    k: int
    sse: float  # K-Means inertia: sum of squared distances to the own centroid
    silhouette: float  # on the silhouette sub-sample
    calinski_harabasz: float
    bic: float  # Gaussian mixture, diagonal covariances
    gmm_converged: bool


@dataclass
class ClusterProfile:
    """One cluster of the chosen k."""

    cluster: int
    size: int
    share: float  # of the sample
    top_terms: list[tuple[str, float]]  # highest mean TF-IDF weight in the cluster
    distinctive_terms: list[tuple[str, float]]  # highest mean weight above the sample's mean
    cwe_labelled: int  # records of the cluster with at least one CWE label
    cwes: list[tuple[str, float]]  # top 3: share of the labelled records that carry the CWE
    cvss_scored: int  # records of the cluster with a full CVSS v3 vector
    scores: dict[str, float | None]  # mean base / impact / exploitability
    metrics: dict[str, dict[str, float]]  # metric -> value -> share of the scored records


@dataclass
class ClusterAnalysis:
    records: int  # texts given
    sample: int  # texts analysed
    components: int
    explained_variance: float  # share of the TF-IDF variance the PCA axes keep
    seed: int
    silhouette_sample: int
    criteria: list[Criteria]
    elbow_k: int
    bic_k: int
    chosen_k: int
    rule: str
    separation: dict[str, Any]  # distance name -> {"matrix", "min", "mean"}; "within"
    clusters: list[ClusterProfile]
    overall: dict[str, Any]  # the sample's own CVSS profile and CWE count, for comparison
    seconds: float
    # for the figures, kept out of to_dict(): (P, 2) PCA coordinates, (P,) cluster, (K, 2)
    points: np.ndarray = field(repr=False, default_factory=lambda: np.zeros((0, 2)))
    point_labels: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, dtype=int))
    centres_2d: np.ndarray = field(repr=False, default_factory=lambda: np.zeros((0, 2)))
    space: ClusterSpace | None = field(repr=False, default=None)

    def criterion(self, k: int) -> Criteria:
        return next(c for c in self.criteria if c.k == k)

    def to_dict(self, digits: int = 4) -> dict[str, Any]:
        """Everything but the arrays for the figures and the space, numbers rounded."""
        out = {
            name: getattr(self, name)
            for name in self.__dataclass_fields__
            if name not in ("points", "point_labels", "centres_2d", "space")
        }
        out["criteria"] = [asdict(c) for c in self.criteria]
        out["clusters"] = [asdict(c) for c in self.clusters]
        out["k_range"] = [c.k for c in self.criteria]
        return _rounded(out, digits)


def analyze(
    texts: Sequence[str],
    cvss: Mapping[str, Sequence[str | None]],
    cwes: Sequence[Sequence[str]],
    *,
    sample: int = 20000,
    components: int = 50,
    k_range: Sequence[int] = range(2, 11),
    seed: int = 0,
    silhouette_sample: int = 5000,
    max_features: int = 20000,
    min_df: int = 3,
    progress: Any = None,
) -> ClusterAnalysis:
    """The clustering study of ``texts``; ``cvss`` holds one list per base metric.

    ``progress`` is a bar from :func:`vulntax.progress.progress` that shows the k sweep;
    none: no bar. Argument errors are :class:`UsageError`.
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import calinski_harabasz_score, silhouette_score
    from sklearn.mixture import GaussianMixture

    from vulntax.progress import progress as progress_bar

    started = time.perf_counter()
    ks = sorted(set(k_range))
    check(len(texts), sample, ks)
    missing = [m for m in CVSS_COLUMNS if m not in cvss]
    if missing:
        raise UsageError(f"the CVSS columns lack {', '.join(missing)}")
    if any(len(cvss[m]) != len(texts) for m in CVSS_COLUMNS) or len(cwes) != len(texts):
        raise UsageError("texts, CVSS columns and CWE labels differ in length")
    rng = np.random.default_rng(seed)
    # 1. sample
    rows = np.sort(rng.choice(len(texts), size=min(sample, len(texts)), replace=False))
    picked = [texts[int(i)] for i in rows]
    n = len(picked)
    # 2. project
    vectorizer, pca, x = fit_projection(picked, components, max_features, min_df, seed)
    z = pca.transform(x).astype(np.float32)  # (n, C)
    sil_rows = rng.choice(n, size=min(silhouette_sample, n), replace=False)
    # 3. sweep k
    criteria: list[Criteria] = []
    models: dict[int, Any] = {}
    with progress_bar(enabled=False) as silent:
        bar = progress if progress is not None else silent
        task = bar.add_task("clustering: k sweep", total=len(ks))
        for k in ks:
            kmeans = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(z)
            labels = kmeans.labels_
            sil_labels = labels[sil_rows]
            silhouette = (
                float(silhouette_score(z[sil_rows], sil_labels, random_state=seed))
                if len(set(sil_labels.tolist())) > 1
                else float("nan")
            )
            gmm = GaussianMixture(
                n_components=k, covariance_type="diag", random_state=seed, reg_covar=1e-5
            ).fit(z)
            criteria.append(
                Criteria(
                    k=k,
                    sse=float(kmeans.inertia_),
                    silhouette=silhouette,
                    calinski_harabasz=float(calinski_harabasz_score(z, labels)),
                    bic=float(gmm.bic(z)),
                    gmm_converged=bool(gmm.converged_),
                )
            )
            models[k] = kmeans
            bar.advance(task)
    # 4. choose k
    silhouettes = np.array([c.silhouette for c in criteria])
    chosen = ks[int(np.nanargmax(silhouettes))] if not np.all(np.isnan(silhouettes)) else ks[0]
    kmeans = models[chosen]
    labels = np.asarray(kmeans.labels_)
    centroids = np.asarray(kmeans.cluster_centers_, dtype=np.float32)  # (K, C)
    # 5. describe
    terms = np.asarray(vectorizer.get_feature_names_out())
    sub_cvss = {m: [cvss[m][int(i)] for i in rows] for m in CVSS_COLUMNS}
    sub_cwes = [list(cwes[int(i)]) for i in rows]
    overall = _cvss_profile(sub_cvss, np.arange(n))
    overall["cwe_labelled"] = sum(1 for c in sub_cwes if c)
    profiles = [
        _profile(c, labels, x, terms, sub_cwes, sub_cvss, n) for c in range(chosen)
    ]  # fmt: skip
    keep = rng.choice(n, size=min(SCATTER_POINTS, n), replace=False)
    return ClusterAnalysis(
        records=len(texts),
        sample=n,
        components=int(pca.n_components_),
        explained_variance=float(np.sum(pca.explained_variance_ratio_)),
        seed=seed,
        silhouette_sample=len(sil_rows),
        criteria=criteria,
        elbow_k=elbow([c.k for c in criteria], [c.sse for c in criteria]),
        bic_k=min(criteria, key=lambda c: c.bic).k,
        chosen_k=chosen,
        rule=CHOICE_RULE,
        separation=separation(z, labels, centroids),
        clusters=profiles,
        overall=overall,
        seconds=round(time.perf_counter() - started, 1),
        points=z[keep, :2],
        point_labels=labels[keep],
        centres_2d=centroids[:, :2],
        space=ClusterSpace.from_parts(vectorizer, pca, centroids, z, labels),
    )


def check(records: int, sample: int, ks: Sequence[int]) -> None:
    """Raise :class:`UsageError` where the study cannot run on ``records`` texts."""
    if not ks or min(ks) < 2:
        raise UsageError("the number of clusters starts at 2 at least")
    if sample < 50:
        raise UsageError(f"a sample of {sample} is too small: take 50 records at least")
    n = min(sample, records)
    if n < MIN_PER_CLUSTER * max(ks):
        raise UsageError(
            f"{n:,} records are too few for k up to {max(ks)} (at least {MIN_PER_CLUSTER} "
            "per cluster): lower --k-max or raise --sample"
        )


def elbow(ks: Sequence[int], sse: Sequence[float]) -> int:
    """The k of the SSE curve farthest from the chord joining its ends (both axes in [0, 1])."""
    if len(ks) < 3:
        return int(ks[0])
    x = (np.asarray(ks, float) - ks[0]) / (ks[-1] - ks[0])
    y = np.asarray(sse, float)
    span = y.max() - y.min()
    y = (y - y.min()) / span if span > 0 else np.zeros_like(y)
    # distance of (x, y) to the line through (0, y0) and (1, y_last)
    dx, dy = 1.0, y[-1] - y[0]
    distance = np.abs(dy * x - dx * (y - y[0])) / np.hypot(dx, dy)
    return int(ks[int(np.argmax(distance))])


def separation(z: np.ndarray, labels: np.ndarray, centroids: np.ndarray) -> dict[str, Any]:
    """Pairwise centroid distances (Minkowski p = 1, 2, 3; cosine) and the spread within.

    ``within`` is each cluster's mean Euclidean distance of its points to its centroid,
    the scale against which the p = 2 distances between centroids read.
    """
    from scipy.spatial.distance import cdist

    out: dict[str, Any] = {}
    k = len(centroids)
    off = ~np.eye(k, dtype=bool)
    metrics: list[tuple[str, dict[str, Any]]] = [
        (f"minkowski_p{p}", {"metric": "minkowski", "p": p}) for p in MINKOWSKI_P
    ]
    metrics.append(("cosine", {"metric": "cosine"}))
    for name, kwargs in metrics:
        matrix = cdist(centroids.astype(np.float64), centroids.astype(np.float64), **kwargs)
        out[name] = {
            "matrix": matrix.tolist(),
            "min": float(matrix[off].min()) if k > 1 else 0.0,
            "mean": float(matrix[off].mean()) if k > 1 else 0.0,
        }
    own = np.linalg.norm(z - centroids[labels], axis=1)
    out["within"] = [float(own[labels == c].mean()) for c in range(k)]
    return out


def _profile(
    cluster: int,
    labels: np.ndarray,
    x: Any,
    terms: np.ndarray,
    cwes: Sequence[Sequence[str]],
    cvss: Mapping[str, Sequence[str | None]],
    n: int,
) -> ClusterProfile:
    members = np.flatnonzero(labels == cluster)
    centre = np.asarray(x[members].mean(axis=0)).ravel()  # (F,) mean TF-IDF row
    lift = centre - np.asarray(x.mean(axis=0)).ravel()
    labelled = [cwes[i] for i in members.tolist() if cwes[i]]
    counts: Counter[str] = Counter(c for labels_ in labelled for c in set(labels_))
    profile = _cvss_profile(cvss, members)
    return ClusterProfile(
        cluster=cluster,
        size=len(members),
        share=len(members) / n,
        top_terms=_top(centre, terms),
        distinctive_terms=_top(lift, terms),
        cwe_labelled=len(labelled),
        cwes=[(c, m / len(labelled)) for c, m in counts.most_common(3)],
        cvss_scored=profile["scored"],
        scores=profile["scores"],
        metrics=profile["metrics"],
    )


def _top(weights: np.ndarray, terms: np.ndarray) -> list[tuple[str, float]]:
    order = np.argsort(-weights)[:TOP_TERMS]
    return [(str(terms[i]), float(weights[i])) for i in order if weights[i] > 0]


_SCORE_CACHE: dict[tuple[str, ...], tuple[float, float, float]] = {}


def _cvss_profile(cvss: Mapping[str, Sequence[str | None]], rows: np.ndarray) -> dict[str, Any]:
    """Mean scores and value shares over the rows with all eight metrics."""
    from vulntax.taxonomy.cvss import metric_values, subscores, vector_from_metrics

    scored: list[tuple[float, float, float]] = []
    values: dict[str, Counter[str]] = {m: Counter() for m in CVSS_COLUMNS}
    for i in rows.tolist():
        key = tuple(cvss[m][i] or "" for m in CVSS_COLUMNS)
        if not all(key):
            continue
        if key not in _SCORE_CACHE:
            metrics = dict(zip(CVSS_COLUMNS, key, strict=True))
            _SCORE_CACHE[key] = subscores(vector_from_metrics(metrics))
        scored.append(_SCORE_CACHE[key])
        for m, v in zip(CVSS_COLUMNS, key, strict=True):
            values[m][v] += 1
    total = len(scored)
    means = np.mean(scored, axis=0) if scored else [None] * 3
    return {
        "scored": total,
        "scores": {
            name: None if mean is None else float(mean)
            for name, mean in zip(("base", "impact", "exploitability"), means, strict=True)
        },
        "metrics": {
            m: {v: (values[m][v] / total if total else 0.0) for v in metric_values(m)}
            for m in CVSS_COLUMNS
        },
    }


def _rounded(value: Any, digits: int) -> Any:
    if isinstance(value, float):
        return None if np.isnan(value) else round(value, digits)
    if isinstance(value, dict):
        return {k: _rounded(v, digits) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v, digits) for v in value]
    return value
