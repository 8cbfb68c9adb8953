"""The topic model the Topics deployment wraps: the taxonomy, the live config and a backend from the
registry. Backends sit behind one interface (base.py) and are built on demand (registry.py). A pool
of unlabelled document vectors (`set_pool`: the store's; or a large batch, ``pool_from_batch``)
refines the zero-shot scores (refine.py); ``refinement_id`` in `info` fingerprints it. With
``expand_labels`` the taxonomy's one-line labels get LLM-written paraphrases and examples
(expand.py): cached ones at once, the others in the background, swapped in when they land (the
taxonomy object changes, and with it the version: stored documents are re-tagged)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Sequence

import numpy as np

from topicserve.settings import get_settings
from topicserve.taxonomy import Label, Taxonomy
from topicserve.topics.base import Assignment, BackendContext, EmbedFn, TopicBackend, TopicScore
from topicserve.topics.config import DecisionRule, TopicsConfig, TopicsOverride
from topicserve.topics.expand import (
    ExpansionStore,
    LabelExpander,
    Source,
    chat_model,
    expansions_directory,
    nearest_label_gate,
    source_of,
)
from topicserve.topics.refine import Refiner
from topicserve.topics.registry import build_backend
from topicserve.topics.vectors import LabelVectors
from topicserve.topics.zeroshot import ZeroShotBackend, build_zeroshot_backend

log = logging.getLogger(__name__)
_BACKGROUND: set[asyncio.Task] = set()  # label expansions running (held here until done)


class TopicModel:
    """The taxonomy, the live config and a backend: what the Topics deployment wraps."""

    def __init__(
        self, embed: EmbedFn, config: TopicsConfig | None = None, *, label_vectors=None, feedback=None
    ) -> None:
        # feedback: a topics.examples.FeedbackExamples (the writer's confirmed examples), or None
        settings = get_settings()
        directory = expansions_directory(settings.label_expansions_dir, settings.storage_uri)
        expander = LabelExpander(ExpansionStore(directory))
        self.context = BackendContext(
            embed, label_vectors or LabelVectors(embed), feedback=feedback, refiner=Refiner(), expander=expander
        )
        self.configure(config or TopicsConfig())

    @property
    def refiner(self) -> Refiner:
        assert self.context.refiner is not None
        return self.context.refiner

    def _scorer(self):
        """The zero-shot scorer this model's topics come from (the LLM backend's fallback for LLMs)."""
        return getattr(self.backend, "scorer", None) or getattr(getattr(self.backend, "fallback", None), "scorer", None)

    async def set_pool(self, vectors: np.ndarray, source_count: int | None = None) -> str | None:
        """Refine from these unlabelled vectors (the store's sample); returns the taxonomy's new
        ``refinement_id`` (None: the pool refines nothing)."""
        graph = await asyncio.to_thread(self.refiner.prepare, vectors)  # the costly part, off the event loop
        self.refiner.install(graph, len(vectors) if source_count is None else source_count)
        return await self.refresh_refinement()

    async def refresh_refinement(self) -> str | None:
        """Estimate the taxonomy's refinement now (it is otherwise estimated on first use)."""
        scorer = self._scorer()
        if scorer is None or scorer.refiner is None:
            return None
        topics = self.taxonomy.topics
        found = await scorer.refinement(topics, await scorer.label_vectors.prototypes(topics, scorer.pooling))
        return None if found is None else found.id

    def refinement_id(self) -> str | None:
        scorer = self._scorer()
        if scorer is None or scorer.refiner is None:
            return None
        return scorer.refiner.known_id(scorer.refinement_key(self.taxonomy.topics))

    def with_pool(self, vectors: np.ndarray) -> TopicModel:
        """This configuration refined from ``vectors`` instead of the shared pool (one call's batch)."""
        other = TopicModel.__new__(TopicModel)
        other.context = dataclasses.replace(self.context, refiner=Refiner(self.refiner.params))
        other.refiner.set_pool(vectors)
        other.configure(self.config, expand=False)
        return other

    def _batch_pool(self, vectors: np.ndarray) -> bool:
        """Whether a batch should be its own pool: refinement on, the batch large enough, and larger
        than the shared pool (a small store)."""
        pool = self.refiner.pool
        big = len(vectors) >= self.refiner.params.min_pool
        return self.config.refine_from_store and big and (pool is None or len(pool) < len(vectors))

    @property
    def embed(self) -> EmbedFn:
        return self.context.embed

    @property
    def label_vectors(self) -> LabelVectors:
        return self.context.label_vectors

    @property
    def expander(self) -> LabelExpander:
        assert self.context.expander is not None
        return self.context.expander

    def configure(self, config: TopicsConfig, *, expand: bool = True) -> None:
        """Swap ``config`` in. With ``expand_labels``, the known expansions apply at once (memory, and
        the persisted ones when ``expand``), and (``expand``) the missing ones are asked of the LLM in
        the background; ``expand=False`` (variants, per-call overrides) never calls the LLM."""
        base = config.load_taxonomy()  # validate before swapping anything in
        source = source_of(config)
        labels, todo = self.expander.apply(base.topics, source, disk=expand)
        taxonomy = base.model_copy(update={"topics": labels}) if source else base
        backend: TopicBackend = build_backend(config, self.context, taxonomy.topics)
        self.config, self.taxonomy, self.backend = config, taxonomy, backend
        self._expansion = (source, base, {a.label for a, b in zip(labels, base.topics, strict=True) if a is not b})
        self._expansion_task: asyncio.Task | None = None
        self._expansion_wanted: tuple[TopicsConfig, Taxonomy, Source, list[Label]] | None = None
        self._expansion_todo = todo  # what the expansion asks for (expansion_info)
        if source is not None and todo and expand:
            self._expansion_wanted = (config, base, source, todo)
        self._start_expansion()

    def _start_expansion(self) -> None:
        """Start the wanted expansion on the running event loop (none: the first async call starts it)."""
        wanted = getattr(self, "_expansion_wanted", None)
        if wanted is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._expansion_wanted = None
        self._expansion_task = task = loop.create_task(self._expand(*wanted))
        _BACKGROUND.add(task)  # the loop keeps only a weak reference to a task
        task.add_done_callback(_BACKGROUND.discard)

    async def _expand(self, config: TopicsConfig, base: Taxonomy, source: Source, todo: list[Label]) -> None:
        try:
            gate = nearest_label_gate(self.label_vectors, base.topics)
            await self.expander.expand(todo, source, await chat_model(source, self.context), gate)
        except Exception:  # never let the background task die silently; the labels stay unexpanded
            log.exception("label expansion failed")
        if self.config is not config:  # a newer configuration owns the model now (it expands its own)
            return
        labels, _ = self.expander.apply(base.topics, source, disk=False)
        applied = {a.label for a, b in zip(labels, base.topics, strict=True) if a is not b}
        if applied != self._expansion[2]:  # swap in one step: no await between taxonomy and backend
            taxonomy: Taxonomy = base.model_copy(update={"topics": labels})
            self.taxonomy, self.backend = taxonomy, build_backend(config, self.context, labels)
            self._expansion = (source, base, applied)

    async def expansion_done(self) -> None:
        """Wait until the expansion in progress (if any) has landed or failed."""
        self._start_expansion()
        if self._expansion_task is not None:
            await asyncio.shield(self._expansion_task)

    def expansion_info(self) -> dict | None:
        """Which configured labels are LLM-expanded, pending, failed or left alone (None: off)."""
        source, base, applied = self._expansion
        if source is None:
            return None
        task, todo = self._expansion_task, self._expansion_todo
        asking = todo if self._expansion_wanted or (task and not task.done()) else []
        return self.expander.report(base.topics, applied, {label.label for label in asking}, source)

    def variant(self, config: TopicsConfig) -> TopicModel:
        """Another configuration sharing this one's embeddings and loaded models (for comparisons)."""
        other = TopicModel.__new__(TopicModel)
        other.context = self.context
        other.configure(config, expand=False)
        return other

    def overridden(self, override: TopicsOverride | dict) -> TopicModel:
        """This configuration with a caller's overrides (validated again here: it may come over Ray)."""
        return self.variant(TopicsOverride.model_validate(override).apply(self.config))

    def info(self, override: TopicsOverride | dict | None = None) -> dict:
        """What this model runs (or, given ``override``, what it would run with those overrides)."""
        if override is not None:
            return self.overridden(override).info()
        return {
            "backend": self.backend.name,
            "prompt": self.backend.prompt,
            "taxonomy": self.taxonomy.name,
            "taxonomy_version": self.taxonomy.version,
            "labels": self.taxonomy.labels,
            "threshold": self.config.threshold,
            "top_k": self.config.top_k,
            "calibration": self.config.calibration,
            "pooling": self.config.pooling,
            "rule": DecisionRule.of(self.config).name(self.config.threshold),
            "min_confidence": self.config.min_confidence,
            "use_feedback": self.config.use_feedback,
            "refine_from_store": self.config.refine_from_store,
            "refine_neighbours": self.config.refine_neighbours,
            "refinement_id": self.refinement_id(),
            "refinement_pool": 0 if self.refiner.pool is None else len(self.refiner.pool),
            "expansion": self.expansion_info(),
        }

    async def assign_detailed(
        self,
        texts: Sequence[str],
        vectors: np.ndarray,
        labels: Sequence[Label] | None = None,
        top_k: int | None = None,
        threshold: float | None = None,
        override: TopicsOverride | dict | None = None,
        pool_from_batch: bool = False,
    ) -> Assignment:
        """Topics for each text, with candidates and provenance. Custom ``labels`` replace the
        taxonomy, ``override`` changes what a caller may change (see TopicsOverride), for this call only.
        ``pool_from_batch`` (``/evaluate``): the batch's own vectors refine the scores when the batch
        is at least ``min_pool`` texts and larger than the store's pool (no labels are used)."""
        self._start_expansion()
        if override is not None:
            model = self.overridden(override)
            return await model.assign_detailed(
                texts, vectors, labels, top_k, threshold, pool_from_batch=pool_from_batch
            )
        if pool_from_batch and self._batch_pool(vectors):
            return await self.with_pool(vectors).assign_detailed(texts, vectors, labels, top_k, threshold)
        if len(texts) == 0:
            return Assignment(results=[], backend=self.backend.name, prompt=self.backend.prompt)
        if labels:  # per-call labels: the expansions already made for the same texts, never an LLM call
            labels = self.expander.apply(labels, self._expansion[0], disk=False)[0]
        return await self.backend.assign(
            texts,
            vectors,
            list(labels) if labels else self.taxonomy.topics,
            top_k or self.config.top_k,
            self.config.threshold if threshold is None else threshold,
        )

    async def assign(
        self,
        texts: Sequence[str],
        vectors: np.ndarray,
        labels: Sequence[Label] | None = None,
        top_k: int | None = None,
    ) -> list[list[TopicScore]]:
        """Taxonomy topics for each text (what the store keeps)."""
        return [r.topics for r in (await self.assign_detailed(texts, vectors, labels, top_k)).results]

    async def assign_with_nearest(
        self, texts: Sequence[str], vectors: np.ndarray
    ) -> tuple[list[list[TopicScore]], list[TopicScore | None]]:
        """Taxonomy topics for each text and its nearest taxonomy label (the best zero-shot score,
        kept or not). The zero-shot backend gives both from one scoring; an LLM backend's topics come
        from the LLM and the nearest label from its zero-shot fallback (same feedback, same refinement)."""
        self._start_expansion()
        labels, vectors = self.taxonomy.topics, np.asarray(vectors, np.float32)
        if len(texts) == 0 or not labels:
            return [[] for _ in texts], [None for _ in texts]
        zeroshot = self.backend if isinstance(self.backend, ZeroShotBackend) else None
        if zeroshot is not None:
            topics, nearest = await zeroshot.decide_with_nearest(
                vectors, labels, self.config.top_k, self.config.threshold
            )
            return topics, list(nearest)
        topics = await self.assign(texts, vectors)
        fallback = getattr(self.backend, "fallback", None) or build_zeroshot_backend(self.config, self.context, labels)
        _, nearest = await fallback.decide_with_nearest(vectors, labels, self.config.top_k, self.config.threshold)
        return topics, list(nearest)

    async def name_clusters(self, clusters: list[dict]) -> list[str | None]:
        """An LLM name for each discovered cluster ({"keywords", "examples"}); None without an LLM."""
        namer = getattr(self.backend, "name_clusters", None)
        return await namer(clusters) if namer else [None] * len(clusters)
