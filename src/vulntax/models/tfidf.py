"""TF-IDF features at prediction time, without importing scikit-learn.

Training fits scikit-learn's ``TfidfVectorizer`` (word 1–2-grams, sublinear tf,
l2 norm). Importing scikit-learn costs about 1.6 s, most of the 2-second
cold-start budget of ``vulntax predict``, so a saved model keeps only the
vocabulary and idf weights and :class:`TfidfFeatures` recomputes exactly the
same vectors with numpy and scipy (tests compare the two on real text).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise, repeat
from typing import Any

import numpy as np

# scikit-learn's default token pattern, lowercase, word n-grams joined by one space
TOKEN_PATTERN = r"(?u)\b\w\w+\b"
_TOKENS = re.compile(TOKEN_PATTERN)


def sklearn_vectorizer(max_features: int, min_df: int, ngram_max: int = 2) -> Any:
    """The scikit-learn vectorizer whose output :class:`TfidfFeatures` reproduces."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(
        lowercase=True,
        token_pattern=TOKEN_PATTERN,
        ngram_range=(1, ngram_max),
        min_df=min_df,
        max_features=max_features,
        sublinear_tf=True,
        norm="l2",
        dtype=np.float32,
    )


@dataclass
class TfidfFeatures:
    vocabulary: dict[str, int]  # term -> column
    idf: np.ndarray  # (F,) float32
    ngram_max: int = 2
    _terms: list[str] | None = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def from_terms(cls, terms: list[str], idf: np.ndarray, ngram_max: int = 2) -> TfidfFeatures:
        """From the terms in column order (as saved), keeping that list for look-ups."""
        vocabulary = dict(zip(terms, range(len(terms)), strict=True))
        if len(vocabulary) != len(terms):
            raise ValueError("the vocabulary repeats a term")
        features = cls(vocabulary, idf, ngram_max)
        features._terms = terms
        return features

    @classmethod
    def from_sklearn(cls, vectorizer: Any) -> TfidfFeatures:
        vocab = {str(term): int(i) for term, i in vectorizer.vocabulary_.items()}
        return cls(vocab, vectorizer.idf_.astype(np.float32), vectorizer.ngram_range[1])

    @property
    def terms(self) -> list[str]:
        """Column index -> term."""
        if self._terms is None:
            out = [""] * len(self.vocabulary)
            for term, i in self.vocabulary.items():
                out[i] = term
            self._terms = out
        return self._terms

    def transform(self, texts: Sequence[str]) -> Any:
        """(len(texts), F) float32 CSR matrix, l2-normalised rows (scikit-learn's output)."""
        from scipy.sparse import csr_matrix

        get = self.vocabulary.get
        unknown = repeat(-1)
        ids: list[int] = []
        lengths = np.empty(len(texts), dtype=np.int64)
        for row, text in enumerate(texts):
            tokens = _TOKENS.findall(text.lower())
            grams = tokens
            if self.ngram_max >= 2:
                grams = tokens + list(map(" ".join, pairwise(tokens)))
            for n in range(3, self.ngram_max + 1):
                grams += [" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
            before = len(ids)
            ids.extend(map(get, grams, unknown))  # -1 for a term not in the vocabulary
            lengths[row] = len(ids) - before
        n_features = len(self.idf)
        # one key per (row, column); unique keys come sorted, i.e. in CSR order
        columns = np.asarray(ids, dtype=np.int64)
        known = columns >= 0
        keys = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)[known] * n_features
        keys += columns[known]
        keys, counts = np.unique(keys, return_counts=True)
        rows, cols = np.divmod(keys, n_features)
        data = (1.0 + np.log(counts)).astype(np.float32) * self.idf[cols]  # sublinear tf × idf
        norms = np.sqrt(np.bincount(rows, weights=data * data, minlength=len(texts)))
        norms[norms == 0] = 1.0  # a text with no known term stays an all-zero row
        data /= norms.astype(np.float32)[rows]
        indptr = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=len(texts)), out=indptr[1:])
        return csr_matrix((data, cols.astype(np.int32), indptr), shape=(len(texts), n_features))
