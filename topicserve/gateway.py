"""The request path behind the HTTP API: embed -> topics -> state. Ray-free.

The gateway holds three clients with one async call shape (see clients.py) and knows nothing of
Ray; the Serve ingress gives it deployment handles, tests give it in-process objects.
"""

from __future__ import annotations

import asyncio
import base64
import re
import time
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any

import numpy as np

from topicserve import feedback
from topicserve import schemas as s
from topicserve.cache import SearchCache
from topicserve.errors import InvalidInput, NotFound, NotReady
from topicserve.evaluation import EvalItem, EvalReport, run_evaluation
from topicserve.evaluation.report import to_markdown
from topicserve.metrics import NO_METRICS, Metrics
from topicserve.querylog import QueryLog
from topicserve.redact import redact
from topicserve.settings import get_settings
from topicserve.space import EmbeddingSpace
from topicserve.store import StoredDocument
from topicserve.trends import parse_duration

_PRIVATE_KEY = re.compile(r"(?i)(^|_)(uri|url|path|dir|file|key|token|secret|password|credentials?|endpoint)$")


def public(value: Any) -> Any:
    """What /readyz may show: no storage locations, file paths, URLs or secrets, whatever a part reports.

    Keys that name locations or secrets are dropped; a string that looks like a path or URI keeps only
    its last component (a model loaded from a local directory shows its directory's name).
    """
    if isinstance(value, dict):
        return {k: public(v) for k, v in value.items() if not _PRIVATE_KEY.search(str(k))}
    if isinstance(value, (list, tuple)):
        return [public(v) for v in value]
    if isinstance(value, str):
        pathlike = "://" in value or value.startswith(("/", "~", "./", "../", "\\")) or re.match(r"^[A-Za-z]:\\", value)
        if pathlike and not re.search(r"\s", value):
            value = PurePosixPath(value.replace("\\", "/").split("://", 1)[-1].rstrip("/")).name or "(hidden)"
        return redact(value)
    return value


# Decimal places of a float vector in JSON: 5e-9 from the float32 value at most (the float32 step near
# 0.05, a typical component of a unit 384-dim vector), so any cosine moves by < 1e-7; half the bytes
# of a float64's 17 digits, and half the caller's parse time (docs/performance.md, round 3).
JSON_DECIMALS = 8


def json_floats(vectors: np.ndarray) -> list[list[float]]:
    return np.round(vectors.astype(np.float64), JSON_DECIMALS).tolist()


class Gateway:
    def __init__(self, embedder: Any, topics: Any, state: Any, metrics: Metrics = NO_METRICS) -> None:
        self.embedder, self.topics, self.state = embedder, topics, state
        self.metrics = metrics
        self.space: EmbeddingSpace | None = None
        settings = get_settings()
        self.cache: SearchCache[s.SearchResponse] = SearchCache(settings.search_cache_size)
        self.querylog = QueryLog(
            lambda rows: self.state.log_queries(rows),
            enabled=settings.query_log,
            batch=settings.query_log_batch,
            every_s=settings.query_log_flush_s,
        )

    async def startup(self) -> None:
        """Learn the embedder's space and bind the store to it; a mismatch fails loudly here."""
        info = await self.embedder.info()
        space = EmbeddingSpace.from_info(info)
        await self.state.bind(space)
        self.space = space

    async def ready(self) -> dict:
        if self.space is None:
            raise NotReady("starting: embedding space not bound to the store yet")
        embedder, topics, state = await asyncio.gather(self.embedder.info(), self.topics.info(), self.state.stats())
        retag = state.get("retag")  # {version, done, total, in_progress}: the background re-tag
        return public({"status": "ready", "embedder": embedder, "topics": topics, "state": state, "retag": retag})

    async def _embed(self, texts: list[str]) -> np.ndarray:
        return np.asarray(await self.embedder.embed(texts), dtype=np.float32)

    def _space(self) -> EmbeddingSpace:
        if self.space is None:
            raise NotReady("starting: embedding space not bound to the store yet")
        return self.space

    # ---- endpoints ---------------------------------------------------------------------------
    async def embeddings(self, req: s.EmbeddingsRequest) -> s.EmbeddingsResponse:
        space = self._space()
        if req.model not in (None, "", space.model):
            raise InvalidInput(f"that model is not served here; this endpoint serves {space.model!r}", field="model")
        if req.dimensions not in (None, space.dim):
            raise InvalidInput(f"dimensions must be {space.dim} for {space.model}", field="dimensions")
        vectors = await self._embed(req.texts)
        if req.encoding_format == "base64":  # the float32 values exactly, little-endian
            data = [s.EmbeddingItem(index=i, embedding=base64.b64encode(v.astype("<f4").tobytes()).decode())
                    for i, v in enumerate(vectors)]  # fmt: skip
        else:
            data = [s.EmbeddingItem(index=i, embedding=v) for i, v in enumerate(json_floats(vectors))]
        tokens = sum(len(t.split()) for t in req.texts)  # whitespace words: a cheap, stable count
        return s.EmbeddingsResponse(
            data=data, model=space.model, dimensions=space.dim, usage=s.Usage(prompt_tokens=tokens, total_tokens=tokens)
        )

    async def ingest(self, req: s.IngestRequest) -> s.IngestResponse:
        space = self._space()
        texts = [d.text for d in req.documents]
        vectors = await self._embed(texts)
        tagged = await self.topics.tag(texts, vectors)  # topics, nearest labels and their taxonomy version
        now = datetime.now(UTC)
        docs = [
            StoredDocument(
                id=d.id,
                text=d.text,
                timestamp=d.timestamp or now,
                metadata=d.metadata,
                topics=t,
                taxonomy_version=tagged.version,
                nearest=n,
            )
            for d, t, n in zip(req.documents, tagged.topics, tagged.nearest, strict=True)
        ]
        await self.state.upsert(docs, vectors, space)  # all or nothing, in the single writer
        self.metrics.ingested(len(docs))
        self.metrics.topics_assigned(t.label for d in docs for t in d.topics)
        return s.IngestResponse(
            ingested=len(docs),
            documents=[s.IngestedDocument(id=d.id, topics=d.topics) for d in docs],
            model=space.model,
            taxonomy_version=tagged.version,
        )

    async def get_document(self, doc_id: str) -> s.DocumentOut:
        doc = await self.state.get(doc_id)
        return s.DocumentOut.model_validate(doc.model_dump())

    # ---- document management (store issue 10) -------------------------------------------------
    async def delete_document(self, doc_id: str) -> s.DeleteResponse:
        if not await self.state.delete([doc_id]):
            raise NotFound(f"no document with id {doc_id!r}", field="id")
        return s.DeleteResponse(deleted=1)

    async def delete_documents(self, req: s.DeleteRequest) -> s.DeleteResponse:
        if req.ids is not None:
            return s.DeleteResponse(deleted=await self.state.delete(req.ids))
        return s.DeleteResponse(deleted=await self.state.delete_where(req.topic, req.since, req.until))

    async def list_documents(
        self, topic: str | None, since: datetime | None, until: datetime | None, limit: int, cursor: str | None
    ) -> s.DocumentList:
        # since < until is checked by schemas.DocumentsQuery, the route's only way in.
        docs, next_cursor = await self.state.list(topic, since, until, limit, cursor)
        return s.DocumentList(
            documents=[s.DocumentOut.model_validate(d.model_dump()) for d in docs], next_cursor=next_cursor
        )

    async def search(self, req: s.SearchRequest, request_id: str | None = None) -> s.SearchResponse:
        """A search, from the cache when the same request met the same store generation; logged
        (when the query log is on) after the answer is ready, without waiting for the write.

        One State round trip (``search_view``): the generation, the re-tag state and the hits come
        back together. A request the cache holds sends no vector (no embedding) and gets no hits while
        the store is unchanged; only when it changed meanwhile does a vector search take a second trip."""
        started = time.perf_counter()
        key = req.model_dump_json()
        kept = self.cache.lookup(key)  # (generation, answer) of an earlier identical request, or None
        view = await self._search_view(req, known=kept[0] if kept else None)
        found = self.cache.get(view["generation"], key) if self.cache.enabled else None  # hit: still current
        if found is None and view["hits"] is None:  # the kept answer is stale: embed the query, search
            view = await self._search_view(req, known=None)
        if found is None:
            found = s.SearchResponse(
                results=[s.SearchResult(**doc.model_dump(), score=round(score, 6)) for doc, score in view["hits"]],
                model=self._space().model,
                taxonomy_version=view["retag"]["version"],
                mixed=view["retag"]["in_progress"],
            )
            self.cache.put(view["generation"], key, found)
        ms = (time.perf_counter() - started) * 1000
        self.querylog.record(req.query, [r.id for r in found.results], round(ms, 3), request_id)
        return found

    async def _search_view(self, req: s.SearchRequest, known: str | None) -> dict[str, Any]:
        """The State's {generation, retag, hits}; the query is embedded only when no kept answer is known."""
        vector = None
        if known is None and req.mode != "keyword":
            vector = (await self._embed([req.query]))[0]
        filters = {"topic": req.topic, "since": req.since, "until": req.until}
        if req.mode != "vector":  # only then: a State of an older version takes no `mode`
            filters |= {"mode": req.mode, "text": req.query}
        return await self.state.search_view(vector, self._space(), req.k, known, **filters)

    async def assign_topics(self, req: s.TopicsRequest) -> s.TopicsResponse:
        vectors = await self._embed(req.texts)
        knobs = {"min_confidence": req.min_confidence, "margin": req.margin, "second": req.second}
        override = {k: v for k, v in knobs.items() if v is not None}
        assigned, info = await asyncio.gather(
            self.topics.assign_detailed(req.texts, vectors, req.labels, req.top_k, req.threshold, override or None),
            self.topics.info(),
        )
        return s.TopicsResponse(
            results=[s.TopicsResult(**r.model_dump()) for r in assigned.results],
            backend=assigned.backend,
            taxonomy="request labels" if req.labels else info["taxonomy"],
            prompt=assigned.prompt,
            calibration=info.get("calibration"),
            rule=assigned.rule,
            degraded=assigned.degraded,
            fallback_reason=assigned.fallback_reason,
        )

    async def trends(
        self,
        window: str,
        baseline: str,
        bin: str | None,
        now: datetime | None,
        min_count: int = 2,
        candidates: bool = True,
        unmatched_below: float | None = None,
    ) -> s.TrendsResponse:
        w, b = parse_duration(window, "window"), parse_duration(baseline, "baseline")
        step = parse_duration(bin, "bin") if bin else min(w, b)
        if (w + b) / step > 2000:
            raise InvalidInput("bin is too small for window + baseline (over 2000 bins)", field="bin")
        at = now or datetime.now(UTC)  # a request's `now` is already timezone-aware UTC (schemas.Timestamp)
        discovery = {"enabled": candidates, "unmatched_below": unmatched_below}
        settings = get_settings()
        drift = {"k": settings.drift_k, "history": settings.drift_history, "min_docs": settings.drift_min_docs}
        result, retag = await asyncio.gather(
            self.state.trends(at, w, b, step, min_count=min_count, discovery=discovery, drift=drift),
            self.state.retag_status(count=False),
        )
        versions = result.get("taxonomy_versions") or {}
        result["taxonomy_version"] = retag["version"]
        current = retag["version"]
        result["mixed"] = len(versions) > 1 or (current is not None and bool(versions) and current not in versions)
        if result.get("candidates"):
            names = await self.topics.name_clusters(
                [{"keywords": c["keywords"], "examples": c["examples"]} for c in result["candidates"]]
            )
            for cand, name in zip(result["candidates"], names, strict=True):
                if name:  # the dicts are shared with trending/topics (in-process) or copied (Ray): set both
                    cand["name"] = name
                    cand["promote_as"]["label"] = name
            named = {c["topic"]: c for c in result["candidates"]}
            for t in [*result["topics"], *result["trending"]]:
                if t["topic"] in named:
                    t.update(named[t["topic"]])
        return s.TrendsResponse(
            window=window, baseline=baseline, bin=bin or "auto", now=at, min_count=min_count, **result
        )

    # ---- feedback and the query log (issue 13 section 4) ----------------------------------------
    async def post_feedback(self, doc_id: str, req: s.FeedbackRequest, request_id: str | None) -> s.FeedbackResponse:
        items = feedback.resolve_topics(req, (await self.topics.info())["labels"])
        records = await self.state.feedback_add(doc_id, items, request_id)  # 404 unknown doc; one commit
        return feedback.as_response(doc_id, records, posted=True)

    async def list_feedback(self, doc_id: str) -> s.FeedbackResponse:
        return feedback.as_response(doc_id, await self.state.feedback_list(doc_id), posted=False)

    async def top_queries(self, limit: int, since: datetime | None) -> s.TopQueriesResponse:
        await self.querylog.flush()  # this replica's pending rows first
        rows = await self.state.top_queries(limit, since) if self.querylog.enabled else []
        return s.TopQueriesResponse(queries=[s.TopQuery(**r) for r in rows], enabled=self.querylog.enabled)

    async def evaluate(self, req: s.EvaluateRequest) -> s.EvaluateResponse:
        if req.source == "feedback":
            return await self._evaluate_feedback(req)
        assert req.items is not None  # the request model requires items unless source is feedback
        items = [EvalItem(text=i.text, human_topics=i.human_topics, label=i.label) for i in req.items]
        return await self._evaluate(items, req.against)

    async def _evaluate_feedback(self, req: s.EvaluateRequest) -> s.EvaluateResponse:
        """The feedback so far as an evaluation set: gold = confirmed/added topics, rejected = negatives."""
        docs = await self.state.feedback_documents(s.MAX_ITEMS)
        items = feedback.feedback_items(docs)
        if not items:
            raise InvalidInput("no confirmed or added topic has been given as feedback yet", field="source")
        texts = [d["text"] for d in docs]
        given = await self.topics.assign(texts, await self._embed(texts))
        response = await self._evaluate(items, req.against)
        response.feedback = feedback.rejected_summary(docs, [[t.label for t in row] for row in given])
        return response

    async def _evaluate(self, items: list[EvalItem], against: s.EvaluateAgainst | None) -> s.EvaluateResponse:
        vectors = await self._embed([i.text for i in items])

        async def run(override: dict | None, name: str) -> EvalReport:
            async def assign(texts, vecs):
                # the batch refines its own scores when the store is smaller (no gold labels are used)
                return await self.topics.assign_detailed(texts, vecs, None, None, None, override, True)

            meta = await self.topics.info(override)  # the same description the CLI reports (TopicModel.info)
            return await run_evaluation(items, vectors, assign, self._embed, meta["labels"], name=name, config=meta)

        reports = [await run(None, "current")]
        if against is not None:  # a TopicsOverride: the Topics replica applies it to its own config
            reports.append(await run(against.model_dump(exclude_none=True), "against"))
        main = reports[0]
        return s.EvaluateResponse(
            items=main.items,
            mean_best_match_cosine=main.metrics.mean_best_match_cosine,
            mean_f1=main.metrics.best_match_f1,
            metrics=main.metrics,
            config=main.config,
            degraded=main.degraded,
            fallback_reason=main.fallback_reason,
            table=to_markdown(reports),
            against=reports[1] if len(reports) > 1 else None,
        )
