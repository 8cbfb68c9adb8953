"""Vector, keyword and hybrid search over the table, filters pushed into the scan.

Vector search is exact (a flat scan) until the table has an ANN index; with one, the index answers
(nprobes / refine_factor / ef from the settings) and rows written since the last index refresh are
scanned exactly and merged in by LanceDB. Filters are SQL pushed into the scan (prefilter, served by
scalar indexes); when at most ``exact_filter_rows`` rows match, the matches are scanned exactly
(complete and fast); a filtered ANN query that still comes back short is answered again exactly.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel

from topicserve.settings import Settings
from topicserve.store.documents import StoredDocument, doc_columns
from topicserve.store.query import hits

Mode = Literal["vector", "keyword", "hybrid"]


class SearchOptions(BaseModel):
    k: int
    mode: Mode = "vector"
    text: str | None = None
    where: str | None = None
    exact: bool = False


def result_columns(table) -> list[str]:
    """The columns a search result needs (schemas.SearchResult): the document without ``nearest``
    (drift reads it elsewhere) and never the vector; only those the table has."""
    return [c for c in doc_columns(table.schema) if c != "nearest"]


def _vector_query(table, vector: np.ndarray, options: SearchOptions, settings: Settings, exact: bool):
    query = table.search(vector, vector_column_name="vector", query_type="vector").distance_type("cosine")
    if options.where:
        query = query.where(options.where, prefilter=True)
    if exact:
        return query.bypass_vector_index()
    # A filter keeps the nearest matches farther out, across more partitions: probe twice as many.
    query = query.nprobes(settings.ann_nprobes * (2 if options.where else 1))
    if settings.ann_refine_factor:
        query = query.refine_factor(settings.ann_refine_factor)
    if settings.ann_ef:
        query = query.ef(settings.ann_ef)
    return query


def vector_search(table, vector, options: SearchOptions, settings: Settings) -> list[tuple[StoredDocument, float]]:
    exact = options.exact or (  # a selective filter: an exact scan of the few matches is fast and complete
        options.where is not None and table.count_rows(options.where) <= settings.exact_filter_rows
    )
    columns = [*result_columns(table), "_distance"]
    query = _vector_query(table, vector, options, settings, exact)
    found = hits(query.select(columns).limit(options.k).to_arrow(), "_distance")
    if options.where and not exact and len(found) < options.k:
        query = _vector_query(table, vector, options, settings, exact=True)
        found = hits(query.select(columns).limit(options.k).to_arrow(), "_distance")
    return found


def keyword_search(table, text: str, options: SearchOptions) -> list[tuple[StoredDocument, float]]:
    query = table.search(text, query_type="fts", fts_columns="text")
    if options.where:
        query = query.where(options.where, prefilter=True)
    return hits(query.select([*result_columns(table), "_score"]).limit(options.k).to_arrow(), "_score")


def hybrid_search(table, vector, text: str, options: SearchOptions, settings: Settings):
    """Reciprocal rank fusion of the vector and keyword rankings (LanceDB's RRFReranker)."""
    from lancedb.rerankers import RRFReranker

    query = (
        table.search(query_type="hybrid", vector_column_name="vector", fts_columns="text")
        .vector(vector)
        .text(text)
        .distance_type("cosine")
        .nprobes(settings.ann_nprobes)
    )
    if options.where:
        query = query.where(options.where, prefilter=True)
    query = query.rerank(RRFReranker()).select(result_columns(table)).limit(options.k)
    return hits(query.to_arrow(), "_relevance_score")


def run_search(table, vector, options: SearchOptions, settings: Settings) -> list[tuple[StoredDocument, float]]:
    if options.mode == "vector":
        return vector_search(table, vector, options, settings)
    if not options.text:
        from topicserve.errors import InvalidInput

        raise InvalidInput(f"{options.mode} search needs a query text", field="query")
    if options.mode == "keyword":
        return keyword_search(table, options.text, options)
    return hybrid_search(table, vector, options.text, options, settings)
