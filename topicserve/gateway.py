"""The request path behind the HTTP API: embed -> topics -> state. Ray-free.

The gateway holds three clients with one async call shape (see clients.py) and knows nothing of
Ray; the Serve ingress gives it deployment handles, tests give it in-process objects.
"""

from __future__ import annotations

import asyncio
import base64
import re
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any

import numpy as np

from topicserve import schemas as s
from topicserve.errors import InvalidInput, NotFound, NotReady
from topicserve.evaluation import EvalItem, EvalReport, run_evaluation
from topicserve.evaluation.report import to_markdown
from topicserve.metrics import NO_METRICS, Metrics
from topicserve.redact import redact
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


class Gateway:
    def __init__(self, embedder: Any, topics: Any, state: Any, metrics: Metrics = NO_METRICS) -> None:
        self.embedder, self.topics, self.state = embedder, topics, state
        self.metrics = metrics
        self.space: EmbeddingSpace | None = None

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
        return public({"status": "ready", "embedder": embedder, "topics": topics, "state": state})

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
        data = [
            s.EmbeddingItem(
                index=i,
                embedding=base64.b64encode(v.astype("<f4").tobytes()).decode()
                if req.encoding_format == "base64"
                else v.tolist(),
            )
            for i, v in enumerate(vectors)
        ]
        tokens = sum(len(t.split()) for t in req.texts)  # whitespace words: a cheap, stable count
        return s.EmbeddingsResponse(
            data=data, model=space.model, dimensions=space.dim, usage=s.Usage(prompt_tokens=tokens, total_tokens=tokens)
        )

    async def ingest(self, req: s.IngestRequest) -> s.IngestResponse:
        space = self._space()
        texts = [d.text for d in req.documents]
        vectors = await self._embed(texts)
        topics = await self.topics.assign(texts, vectors)
        now = datetime.now(UTC)
        docs = [
            StoredDocument(id=d.id, text=d.text, timestamp=d.timestamp or now, metadata=d.metadata, topics=t)
            for d, t in zip(req.documents, topics, strict=True)
        ]
        await self.state.upsert(docs, vectors, space)  # all or nothing, in the single writer
        self.metrics.ingested(len(docs))
        self.metrics.topics_assigned(t.label for d in docs for t in d.topics)
        return s.IngestResponse(
            ingested=len(docs),
            documents=[s.IngestedDocument(id=d.id, topics=d.topics) for d in docs],
            model=space.model,
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

    async def search(self, req: s.SearchRequest) -> s.SearchResponse:
        space = self._space()
        vector = (await self._embed([req.query]))[0] if req.mode != "keyword" else None
        filters = {"topic": req.topic, "since": req.since, "until": req.until}
        if req.mode != "vector":  # only then: the State of an older deployment takes no `mode`
            filters |= {"mode": req.mode, "text": req.query}
        hits = await self.state.search(vector, space, req.k, **filters)
        return s.SearchResponse(
            results=[s.SearchResult(**doc.model_dump(), score=round(score, 6)) for doc, score in hits],
            model=space.model,
        )

    async def assign_topics(self, req: s.TopicsRequest) -> s.TopicsResponse:
        vectors = await self._embed(req.texts)
        override = {"min_confidence": req.min_confidence} if req.min_confidence is not None else None
        assigned, info = await asyncio.gather(
            self.topics.assign_detailed(req.texts, vectors, req.labels, req.top_k, req.threshold, override),
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
        result = await self.state.trends(at, w, b, step, min_count=min_count, discovery=discovery)
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

    async def evaluate(self, req: s.EvaluateRequest) -> s.EvaluateResponse:
        items = [EvalItem(text=i.text, human_topics=i.human_topics, label=i.label) for i in req.items]
        vectors = await self._embed([i.text for i in items])

        async def run(override: dict | None, name: str) -> EvalReport:
            async def assign(texts, vecs):
                return await self.topics.assign_detailed(texts, vecs, None, None, None, override)

            meta = await self.topics.info(override)  # the same description the CLI reports (TopicModel.info)
            return await run_evaluation(items, vectors, assign, self._embed, meta["labels"], name=name, config=meta)

        reports = [await run(None, "current")]
        if req.against is not None:  # a TopicsOverride: the Topics replica applies it to its own config
            reports.append(await run(req.against.model_dump(exclude_none=True), "against"))
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
