"""The LLM topic backend: ask a chat model for labels, snap them to the taxonomy, fall back on failure.
The chat clients, prompts and reply parsing it uses live in topicserve/llm/.

Per text: the prompt (a versioned file, see prompts.py) lists the taxonomy and asks for a JSON
list of at most ``top_k`` topics. Each free-form label is then *snapped*: an exact (case-insensitive)
taxonomy label is kept as is; otherwise the label is embedded and compared with every topic vector,
and it maps onto the best topic when the cosine reaches ``llm.snap_threshold``. Labels that reach
no topic (off-domain or too generic, like "Renaissance" for an art taxonomy) are not topics: they
are returned as *candidates*. A text whose LLM call fails (timeout, HTTP error, unparseable reply)
gets the zero-shot topics instead, and the response says so (``degraded``, ``fallback_reason``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import numpy as np

from topicserve.llm.base import ChatModel, LLMConfig, LLMError
from topicserve.llm.parsing import parse_labels
from topicserve.llm.prompts import Prompt, load_prompt
from topicserve.taxonomy import Label
from topicserve.topics.base import Assignment, BackendContext, EmbedFn, TextTopics, TopicScore
from topicserve.topics.config import TopicsConfig
from topicserve.topics.zeroshot import ZeroShotBackend, build_zeroshot_backend

log = logging.getLogger(__name__)
MAX_PROMPT_CHARS = 6000  # of document text; longer documents are cut in the prompt (not in the vector)


class FailedChatModel:
    """Stands in for a chat model that could not be built: every call fails with the reason."""

    def __init__(self, name: str, reason: str) -> None:
        self.name, self.reason = name, reason

    async def chat(self, messages, *, max_tokens, temperature) -> str:
        raise LLMError(self.reason)


def make_chat_model(backend: str, config: LLMConfig) -> ChatModel:
    try:
        if backend == "openai":
            from topicserve.llm.openai_http import ChatCompletionsClient

            return ChatCompletionsClient(config)
        from topicserve.llm.local_hf import TransformersChatModel

        return TransformersChatModel(config)
    except LLMError as exc:
        log.warning("LLM backend unavailable, topics will come from the taxonomy backend: %s", exc.message)
        return FailedChatModel(f"{backend}:{config.model}", exc.message)


def cached_chat_model(backend: str, config: LLMConfig, cache: dict[str, ChatModel]) -> ChatModel:
    """The chat model for ``backend`` and ``config`` from ``cache`` (a BackendContext's), made once:
    the LLM backend and the label expansion (topics/expand.py) share one loaded model."""
    key = f"{backend}|{config.model_dump_json()}"
    if key not in cache:
        cache[key] = make_chat_model(backend, config)
    return cache[key]


def build_llm_backend(
    config: TopicsConfig, context: BackendContext, labels: Sequence[Label] | None = None
) -> LLMBackend:
    chat = cached_chat_model(config.backend, config.llm, context.chat_models)
    prompt = load_prompt(config.llm.prompt)
    label_prompt = load_prompt(config.llm.label_prompt)
    fallback = build_zeroshot_backend(config, context, labels)
    return LLMBackend(chat, prompt, label_prompt, config.llm, fallback, context.embed)


class LLMBackend:
    def __init__(
        self,
        chat: ChatModel,
        prompt: Prompt,
        label_prompt: Prompt,
        config: LLMConfig,
        fallback: ZeroShotBackend,
        embed: EmbedFn,
    ) -> None:
        self.chat, self.config, self.fallback, self._embed = chat, config, fallback, embed
        self.prompt_template, self.label_prompt = prompt, label_prompt
        self.name = f"llm:{chat.name}"
        self.prompt = prompt.name

    async def _ask(self, prompt: Prompt, limit: int, sem: asyncio.Semaphore, **values) -> list[str]:
        async with sem:
            reply = await self.chat.chat(
                prompt.messages(**values), max_tokens=self.config.max_tokens, temperature=self.config.temperature
            )
        return parse_labels(reply, limit=limit)

    async def snap(self, free: Sequence[str], labels: Sequence[Label]) -> list[tuple[str, float, bool]]:
        """(label, score, in_taxonomy) per free-form label: a taxonomy label when close enough."""
        by_name = {label.label.lower(): label.label for label in labels}
        unknown = [f for f in free if f.lower() not in by_name]
        sims = np.zeros((0, len(labels)), dtype=np.float32)
        if unknown:
            matrix = await self.fallback.scorer.label_vectors.matrix(labels)
            sims = (await self.fallback.scorer.label_vectors.vectors(unknown)) @ matrix.T
        out, row = [], {u: i for i, u in enumerate(unknown)}
        for f in free:
            if f.lower() in by_name:
                out.append((by_name[f.lower()], 1.0, True))
                continue
            s = sims[row[f]]
            j = int(np.argmax(s))
            if s[j] >= self.config.snap_threshold:
                out.append((labels[j].label, round(float(s[j]), 6), True))
            else:
                out.append((f, round(float(s[j]), 6), False))
        return out

    async def _one(self, text: str, labels: Sequence[Label], top_k: int, sem) -> TextTopics:
        listing = "\n".join(
            f"- {label.label}" + (f": {label.description}" if label.description else "") for label in labels
        )
        free = await self._ask(
            self.prompt_template, 2 * top_k, sem, labels=listing, text=text[:MAX_PROMPT_CHARS], top_k=top_k
        )
        topics: dict[str, TopicScore] = {}
        candidates: dict[str, TopicScore] = {}
        for label, score, known in await self.snap(free, labels):
            target = topics if known else candidates
            if label not in target:
                target[label] = TopicScore(label=label, score=score)
        return TextTopics(topics=list(topics.values())[:top_k], candidates=list(candidates.values()), source="llm")

    async def assign(self, texts, vectors, labels, top_k, threshold) -> Assignment:
        sem = asyncio.Semaphore(self.config.concurrency)
        outcomes = await asyncio.gather(*(self._one(t, labels, top_k, sem) for t in texts), return_exceptions=True)
        errors = {i: o for i, o in enumerate(outcomes) if isinstance(o, BaseException)}
        failed = list(errors)
        reasons = []
        for exc in errors.values():
            if not isinstance(exc, LLMError):
                log.exception("unexpected LLM backend error", exc_info=exc)
            reasons.append(exc.message if isinstance(exc, LLMError) else f"{type(exc).__name__}: {exc}")
        results: list[TextTopics] = list(outcomes)  # type: ignore[arg-type]
        if failed:
            idx = np.array(failed)
            backup = await self.fallback.decide(np.asarray(vectors)[idx], labels, top_k, threshold)
            for i, topics in zip(failed, backup, strict=True):
                results[i] = TextTopics(topics=topics, source="zeroshot-fallback")
        reason = None
        if failed:
            reason = f"{len(failed)}/{len(texts)} texts fell back to the taxonomy backend: {reasons[0]}"
        return Assignment(
            results=results,
            backend=self.name,
            rule="llm-snap" + (f"; fallback {self.fallback.rule.name(threshold)}" if failed else ""),
            prompt=self.prompt,
            degraded=bool(failed),
            fallback_reason=reason,
        )

    async def name_clusters(self, clusters: list[dict]) -> list[str | None]:
        """A short LLM name per cluster; None for a cluster whose call failed (keywords stay)."""
        sem = asyncio.Semaphore(self.config.concurrency)

        async def one(cluster: dict) -> str | None:
            examples = "\n".join(f"- {e[:300]}" for e in cluster.get("examples", [])[:5])
            try:
                names = await self._ask(
                    self.label_prompt, 1, sem, keywords=", ".join(cluster.get("keywords", [])), examples=examples
                )
            except LLMError as exc:
                log.warning("cluster naming failed: %s", exc.message)
                return None
            return names[0] if names else None

        return list(await asyncio.gather(*(one(c) for c in clusters)))
