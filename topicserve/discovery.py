"""Topic discovery: cluster the documents no taxonomy topic fits, and describe each cluster. Ray-free.

Unmatched documents (no taxonomy topic, or a best topic confidence under ``unmatched_below``) are clustered
by agglomerative clustering on their vectors (cosine distance, average linkage, cut at
``distance_threshold``; the number of clusters follows from the data). Clusters with at least
``min_cluster_size`` documents become *candidate topics*, each described by its c-TF-IDF keywords
(BERTopic's class-based TF-IDF: a term's frequency in the cluster, weighted by
log(1 + mean words per class / the term's frequency over all classes); the matched documents form
one extra background class, so words common to the whole collection do not describe a cluster).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, Field


class DiscoveryParams(BaseModel):
    enabled: bool = True
    unmatched_below: float | None = Field(
        None, ge=0.0, le=1.0, description="Also count documents whose best topic confidence is below this."
    )
    min_cluster_size: int = Field(3, ge=2, le=1000)
    distance_threshold: float = Field(0.75, gt=0, le=2, description="Cosine distance at which clusters stop merging.")
    keywords: int = Field(5, ge=1, le=20)
    max_docs: int = Field(
        2000,
        ge=10,
        le=5000,
        description="Sample bound: most unmatched documents clustered (the newest are kept; clustering is O(n^2)).",
    )


class Cluster(BaseModel):
    label: str
    keywords: list[str]
    size: int
    members: list[int] = Field(description="Indices into the unmatched documents given to `discover`.")
    examples: list[str]


def ctfidf_keywords(class_texts: Sequence[str], top_n: int) -> list[list[str]]:
    """Top ``top_n`` c-TF-IDF terms of each class (one string of concatenated documents per class)."""
    from sklearn.feature_extraction.text import CountVectorizer

    vectorizer = CountVectorizer(stop_words="english", token_pattern=r"(?u)\b[^\W\d_][^\W\d_]{2,}\b", lowercase=True)
    try:
        counts = vectorizer.fit_transform(class_texts).toarray().astype(np.float64)
    except ValueError:  # nothing but stop words
        return [[] for _ in class_texts]
    terms = vectorizer.get_feature_names_out()
    tf = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
    idf = np.log1p(counts.sum(axis=1).mean() / np.maximum(counts.sum(axis=0), 1.0))
    weights = tf * idf
    out = []
    for row, present in zip(weights, counts > 0, strict=True):
        order = [j for j in np.argsort(-row, kind="stable") if present[j]][:top_n]
        out.append([str(terms[j]) for j in order])
    return out


def discover(
    texts: Sequence[str], vectors: np.ndarray, background: Sequence[str], params: DiscoveryParams
) -> list[Cluster]:
    """Candidate topics among ``texts`` (the unmatched documents), largest first."""
    n = len(texts)
    if not params.enabled or n < params.min_cluster_size:
        return []
    from sklearn.cluster import AgglomerativeClustering

    assignment = AgglomerativeClustering(
        n_clusters=None, metric="cosine", linkage="average", distance_threshold=params.distance_threshold
    ).fit_predict(np.asarray(vectors, dtype=np.float32))
    groups = [np.flatnonzero(assignment == c) for c in np.unique(assignment)]
    groups = [g for g in groups if len(g) >= params.min_cluster_size]
    if not groups:
        return []
    groups.sort(key=lambda g: (-len(g), int(g[0])))  # deterministic: size, then first member
    class_texts = [" ".join(texts[int(i)] for i in g) for g in groups] + [" ".join(background)]
    keywords = ctfidf_keywords(class_texts, params.keywords)[: len(groups)]
    clusters: list[Cluster] = []
    for g, words in zip(groups, keywords, strict=True):
        centroid = np.asarray(vectors)[g].mean(axis=0)
        closest = g[np.argsort(-(np.asarray(vectors)[g] @ centroid), kind="stable")]
        label = ", ".join(words[:3]) or f"cluster {len(clusters) + 1}"
        clusters.append(
            Cluster(
                label=label,
                keywords=words,
                size=len(g),
                members=[int(i) for i in g],
                examples=[texts[i] for i in closest[:3]],
            )
        )
    return clusters
