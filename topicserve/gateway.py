"""The request path behind the HTTP API: embed -> topics -> state. Ray-free.

The gateway holds three clients with one async call shape (see clients.py) and knows nothing of
Ray; the Serve ingress gives it deployment handles, tests give it in-process objects.
"""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime
from typing import Any

import numpy as np

from topicserve import schemas as s
from topicserve.errors import InvalidInput, NotReady
from topicserve.evaluation import best_match
from topicserve.space import EmbeddingSpace
from topicserve.store import StoredDocument
from topicserve.trends import parse_duration


class Gateway:
    def __init__(self, embedder: Any, topics: Any, state: Any) -> None:
        self.embedder, self.topics, self.state = embedder, topics, state
        self.space: EmbeddingSpace | None = None

    async def startup(self) -> None:
        """Learn the embedder's space and bind the store to it; a mismatch fails loudly here."""
        info = await self.embedder.info()
        space = EmbeddingSpace(model=info["model"], dim=info["dim"], normalized=info["normalized"])
        await self.state.bind(space)
        self.space = space

    async def ready(self) -> dict:
        if self.space is None:
            raise NotReady("starting: embedding space not bound to the store yet")
        embedder, topics, state = await asyncio.gather(self.embedder.info(), self.topics.info(), self.state.stats())
        return {"status": "ready", "embedder": embedder, "topics": topics, "state": state}

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
            raise InvalidInput(
                f"model {req.model!r} is not served here; this endpoint serves {space.model!r}", field="model"
            )
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
        return s.IngestResponse(
            ingested=len(docs),
            documents=[s.IngestedDocument(id=d.id, topics=d.topics) for d in docs],
            model=space.model,
        )

    async def get_document(self, doc_id: str) -> s.DocumentOut:
        doc = await self.state.get(doc_id)
        return s.DocumentOut.model_validate(doc.model_dump())

    async def search(self, req: s.SearchRequest) -> s.SearchResponse:
        space = self._space()
        if req.since and req.until and req.since >= req.until:
            raise InvalidInput("since must be before until", field="since")
        vector = (await self._embed([req.query]))[0]
        hits = await self.state.search(vector, space, req.k, topic=req.topic, since=req.since, until=req.until)
        return s.SearchResponse(
            results=[s.SearchResult(**doc.model_dump(), score=round(score, 6)) for doc, score in hits],
            model=space.model,
        )

    async def assign_topics(self, req: s.TopicsRequest) -> s.TopicsResponse:
        vectors = await self._embed(req.texts)
        assigned, info = await asyncio.gather(
            self.topics.assign_detailed(req.texts, vectors, req.labels, req.top_k, req.threshold), self.topics.info()
        )
        return s.TopicsResponse(
            results=[s.TopicsResult(**r.model_dump()) for r in assigned.results],
            backend=assigned.backend,
            taxonomy="request labels" if req.labels else info["taxonomy"],
            prompt=assigned.prompt,
            calibration=info.get("calibration"),
            degraded=assigned.degraded,
            fallback_reason=assigned.fallback_reason,
        )

    async def trends(self, window: str, baseline: str, bin: str | None, now: datetime | None) -> s.TrendsResponse:
        w, b = parse_duration(window, "window"), parse_duration(baseline, "baseline")
        step = parse_duration(bin, "bin") if bin else min(w, b)
        if (w + b) / step > 2000:
            raise InvalidInput("bin is too small for window + baseline (over 2000 bins)", field="bin")
        at = now or datetime.now(UTC)
        at = at.replace(tzinfo=UTC) if at.tzinfo is None else at
        result = await self.state.trends(at, w, b, step)
        return s.TrendsResponse(window=window, baseline=baseline, bin=bin or "auto", now=at, **result)

    async def evaluate(self, req: s.EvaluateRequest) -> s.EvaluateResponse:
        texts = [item.text for item in req.items]
        vectors = await self._embed(texts)
        model_topics = await self.topics.assign(texts, vectors)
        labels = sorted(
            {h for item in req.items for h in item.human_topics} | {t.label for ts in model_topics for t in ts}
        )
        label_vec = dict(zip(labels, await self._embed(labels), strict=True))
        items = []
        for item, predicted in zip(req.items, model_topics, strict=True):
            human = np.stack([label_vec[h] for h in item.human_topics])
            model = np.stack([label_vec[t.label] for t in predicted]) if predicted else np.zeros((0, human.shape[1]))
            scores = best_match(human, model)
            items.append(
                s.EvalItemResult(text=item.text, human_topics=item.human_topics, model_topics=predicted, **scores)
            )
        return s.EvaluateResponse(
            items=items,
            mean_best_match_cosine=float(np.mean([i.best_match_cosine for i in items])),
            mean_f1=float(np.mean([i.f1 for i in items])),
        )
