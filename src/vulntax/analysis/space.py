"""The text feature space of the clustering analysis, and cluster membership in it.

:class:`ClusterSpace` is what the analysis (:mod:`vulntax.analysis.clusters`) and the
LSNet model (:mod:`vulntax.models.lsnet`) share:

* **features**: TF-IDF word 1-grams (sublinear tf, l2 rows), ``max_features`` terms;
* **PCA**: centred projection onto ``components`` principal axes (scikit-learn's ``PCA``
  with the ARPACK solver, which centres the sparse matrix implicitly, so nothing is
  densified); the projection of any text is ``(x - mean) @ axes.T``, computed sparse;
* **K-Means** centroids in that PCA space;
* **membership** of a text: a soft assignment over the clusters,
  ``softmax(-||z - c_k||² / scale)``, where ``scale`` is the mean squared distance of the
  fitting sample to its own centroid. This is the "cluster-association" vector that LSNet
  turns into the bias of its convolutions.

Everything is numpy at prediction time (no scikit-learn import) and saves as plain
arrays plus a term list, so a model carrying a space needs no pickle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vulntax.errors import ModelError
from vulntax.models.tfidf import TfidfFeatures, sklearn_vectorizer


@dataclass
class ClusterSpace:
    features: TfidfFeatures
    mean: np.ndarray  # (F,) float32: the PCA centre
    axes: np.ndarray  # (C, F) float32: principal axes, rows
    centroids: np.ndarray  # (K, C) float32
    scale: float  # membership temperature: mean squared distance to the own centroid
    explained: np.ndarray  # (C,) explained variance ratio of each axis

    @property
    def clusters(self) -> int:
        return int(self.centroids.shape[0])

    @property
    def components(self) -> int:
        return int(self.axes.shape[0])

    # ------------------------------------------------------------------ fitting
    @classmethod
    def fit(
        cls,
        texts: Sequence[str],
        clusters: int,
        components: int = 50,
        max_features: int = 20000,
        min_df: int = 3,
        seed: int = 0,
    ) -> ClusterSpace:
        """Fit TF-IDF, PCA and K-Means(``clusters``) on ``texts``."""
        vectorizer, pca, x = fit_projection(texts, components, max_features, min_df, seed)
        from sklearn.cluster import KMeans

        z = pca.transform(x).astype(np.float32)
        kmeans = KMeans(n_clusters=clusters, n_init=4, random_state=seed).fit(z)
        return cls.from_parts(vectorizer, pca, kmeans.cluster_centers_, z, kmeans.labels_)

    @classmethod
    def from_parts(
        cls, vectorizer: Any, pca: Any, centroids: np.ndarray, z: np.ndarray, labels: np.ndarray
    ) -> ClusterSpace:
        """From fitted scikit-learn parts and the sample's PCA coordinates and clusters."""
        centroids = np.asarray(centroids, dtype=np.float32)
        own = centroids[labels]
        scale = float(np.mean(np.sum((z - own) ** 2, axis=1))) or 1.0
        return cls(
            features=TfidfFeatures.from_sklearn(vectorizer),
            mean=pca.mean_.astype(np.float32),
            axes=pca.components_.astype(np.float32),
            centroids=centroids,
            scale=scale,
            explained=pca.explained_variance_ratio_.astype(np.float32),
        )

    # ------------------------------------------------------------------ using
    def project(self, texts: Sequence[str]) -> np.ndarray:
        """(N, C) float32 PCA coordinates of ``texts``."""
        x = self.features.transform(texts)
        return np.asarray(x @ self.axes.T, dtype=np.float32) - self.mean @ self.axes.T

    def memberships(self, texts: Sequence[str] | None = None, z: np.ndarray | None = None) -> Any:
        """(N, K) float32 soft cluster assignments (rows sum to 1), of texts or coordinates."""
        if z is None:
            z = self.project(texts or [])
        d2 = ((z[:, None, :] - self.centroids[None, :, :]) ** 2).sum(axis=2)  # (N, K)
        logits = -d2 / np.float32(self.scale)
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)

    def assign(self, texts: Sequence[str]) -> np.ndarray:
        """(N,) index of the nearest centroid."""
        return np.asarray(self.memberships(texts).argmax(axis=1))

    # ------------------------------------------------------------------ persistence
    def to_tensors(self, prefix: str = "space.") -> dict[str, np.ndarray]:
        return {
            f"{prefix}idf": self.features.idf.astype(np.float32),
            f"{prefix}mean": self.mean,
            f"{prefix}axes": self.axes,
            f"{prefix}centroids": self.centroids,
            f"{prefix}explained": self.explained,
        }

    def to_json(self) -> dict[str, Any]:
        return {"terms": self.features.terms, "scale": self.scale}

    @classmethod
    def from_saved(
        cls, info: dict[str, Any], tensors: dict[str, np.ndarray], prefix: str = "space."
    ) -> ClusterSpace:
        """From :meth:`to_json` and :meth:`to_tensors`; a mismatch is a :class:`ModelError`."""
        try:
            arrays = {k: np.asarray(tensors[prefix + k], dtype=np.float32)
                      for k in ("idf", "mean", "axes", "centroids", "explained")}  # fmt: skip
            terms = [str(t) for t in info["terms"]]
            scale = float(info["scale"])
            features = TfidfFeatures.from_terms(terms, arrays["idf"], ngram_max=1)
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"the saved cluster space is incomplete or malformed ({exc})") from exc
        axes, centroids = arrays["axes"], arrays["centroids"]
        if not (
            axes.ndim == 2
            and centroids.ndim == 2
            and len(arrays["idf"]) == len(terms) == axes.shape[1] == len(arrays["mean"])
            and centroids.shape[1] == axes.shape[0] == len(arrays["explained"])
            and scale > 0
        ):
            raise ModelError("the saved cluster space's arrays do not fit together")
        return cls(features, arrays["mean"], arrays["axes"], arrays["centroids"], scale,
                   arrays["explained"])  # fmt: skip


def fit_projection(
    texts: Sequence[str], components: int, max_features: int, min_df: int, seed: int
) -> tuple[Any, Any, np.ndarray]:
    """TF-IDF (1-grams) and PCA fitted on ``texts``: (vectorizer, pca, sparse tf-idf matrix)."""
    from sklearn.decomposition import PCA

    if len(texts) < 3:
        raise ModelError(f"the cluster space needs at least 3 texts, not {len(texts)}")
    vectorizer = sklearn_vectorizer(max_features, min(min_df, max(1, len(texts) // 50)), 1)
    x = vectorizer.fit_transform(texts)
    n = min(components, x.shape[1] - 1, len(texts) - 1)
    if n < 2:
        raise ModelError("the texts share too few terms for a cluster space")
    pca = PCA(n_components=n, svd_solver="arpack", random_state=seed).fit(x)
    return vectorizer, pca, x
