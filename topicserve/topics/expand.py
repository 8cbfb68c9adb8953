"""LLM-expanded label prototypes (issue 13 §2), Ray-free.

With ``TopicsConfig.expand_labels`` a configured label that carries few texts of its own (at most
``MAX_OWN_TEXTS``: a one-line label) is sent once to the configured LLM with the prompt
``llm.expand_prompt`` (topicserve/prompts/label-expand-v1.txt), which answers with
``N_DEFINITIONS`` paraphrases of its definition and ``N_EXAMPLES`` short example documents. They are
appended to the label's ``descriptions`` and ``examples`` (the caller's own texts stay first, and
are never replaced), so the prototype builder (prototypes.py) and the taxonomy version
(version.py) see them like any other text of the label. A reply that does not parse, an LLM that
fails or times out gives that label no expansion and a line in ``/readyz`` topics info, never an error.

Cached: one LLM call per (label texts, prompt name, LLM kind and model), ever. In memory, and one
JSON file per expansion under ``TOPICSERVE_LABEL_EXPANSIONS_DIR`` (server configuration), so a
restarted Topics replica applies them at once without calling the LLM. Calls in flight are shared:
two configures at once make one call per label. Why 3 + 5: the examples carry the topic's distinct
sub-areas (the softmax pool rewards nearness to any one of them), the paraphrases move the label's
mean vector; the bench's hand-written AG News labels have that shape (3-4 paraphrases, 6 examples),
and 8 short texts are one reply of a few hundred tokens.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ValidationError

from topicserve.llm.base import LLMConfig, LLMError
from topicserve.llm.parsing import parse_object
from topicserve.llm.prompts import Prompt, load_prompt
from topicserve.redact import redact
from topicserve.space import public_model
from topicserve.taxonomy import Label

if TYPE_CHECKING:
    from topicserve.llm.base import ChatModel
    from topicserve.topics.base import BackendContext
    from topicserve.topics.config import TopicsConfig
    from topicserve.topics.vectors import LabelVectors

log = logging.getLogger(__name__)
N_DEFINITIONS, N_EXAMPLES = 3, 5
MAX_OWN_TEXTS = 3  # a label with more texts of its own already has several wordings: left as it is
MIN_TEXT_CHARS, MAX_TEXT_CHARS = 8, 400
_DEFINITION_KEYS = ("definitions", "paraphrases", "descriptions")
_EXAMPLE_KEYS = ("examples", "documents")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")
RULE = (
    f"labels with at most {MAX_OWN_TEXTS} texts of their own get up to {N_DEFINITIONS} paraphrases and "
    f"{N_EXAMPLES} examples from the LLM, after their own, each kept only when nearer its own label than any "
    "other; in the background (the unexpanded labels serve meanwhile), cached ones at once; per-call labels use "
    "cached expansions only"
)


class Expansion(BaseModel):
    """What one LLM call gave for one label: the cached record."""

    label: str
    prompt: str
    llm: str  # the public name of the LLM (no URL, no local path)
    descriptions: list[str] = []
    examples: list[str] = []
    dropped: list[str] = []  # texts the gate left out: nearer another label of the taxonomy

    def texts(self) -> list[str]:
        return [*self.descriptions, *self.examples]


Gate = Callable[[Label, list[str]], Awaitable[list[bool]]]


def nearest_label_gate(label_vectors: LabelVectors, labels: Sequence[Label]) -> Gate:
    """Keep an LLM text only when it is nearer its own label than any other label of the taxonomy
    (cosine to each label's mean vector of its own texts, before expansion). An LLM that misreads a
    label otherwise drags it onto another: on AG News dev, every label given its neighbour's texts
    fell from 0.821 to 0.151 top-1 (docs/quality.md, Session 7). With one label nothing is left out."""
    own = list(labels)

    async def keep(label: Label, texts: list[str]) -> list[bool]:
        names = [other.label for other in own]
        if len(own) < 2 or not texts or label.label not in names:
            return [True] * len(texts)
        sims = (await label_vectors.vectors(texts)) @ (await label_vectors.matrix(own)).T
        return [bool(best == names.index(label.label)) for best in sims.argmax(axis=1)]

    return keep


@dataclass(frozen=True)
class _Job:
    source: Source
    chat: ChatModel
    sem: asyncio.Semaphore
    gate: Gate | None


@dataclass(frozen=True)
class Source:
    """The LLM and prompt expansions come from."""

    kind: str  # openai | transformers
    llm: LLMConfig
    prompt: Prompt

    @property
    def model_id(self) -> str:
        return f"{self.kind}:{self.llm.model}"

    @property
    def public_name(self) -> str:  # a local model directory by its last component, as /readyz shows models
        return f"{self.kind}:{public_model(self.llm.model) if self.llm.model else 'default'}"

    def key(self, label: Label) -> str:
        material = json.dumps([label.texts(), self.prompt.name, self.model_id], ensure_ascii=False)
        return hashlib.sha256(material.encode()).hexdigest()[:32]


def source_of(config: TopicsConfig) -> Source | None:
    """Where ``config`` expands labels from (None: expansion off). Validates the prompt name."""
    if not config.expand_labels:
        return None
    kind = config.expand_client
    if kind == "auto":
        kind = config.backend if config.backend != "zeroshot" else "openai"
    return Source(kind, config.llm, _prompt(config.llm.expand_prompt))


@cache
def _prompt(name: str) -> Prompt:  # a shipped file: read once (per-call overrides configure a variant each)
    return load_prompt(name)


def wants_expansion(label: Label) -> bool:
    return len(label.texts()) <= MAX_OWN_TEXTS


def expanded(label: Label, found: Expansion) -> Label:
    """``label`` with the expansion's texts after its own (texts it already has are not repeated)."""
    own = {t.lower() for t in label.texts()}
    descriptions = [t for t in found.descriptions if t.lower() not in own]
    examples = [t for t in found.examples if t.lower() not in own]
    return label.model_copy(
        update={"descriptions": [*label.descriptions, *descriptions], "examples": [*label.examples, *examples]}
    )


def _texts(value: object, limit: int) -> list[str]:
    out: dict[str, str] = {}
    for item in value if isinstance(value, list) else []:
        text = " ".join(item.split()) if isinstance(item, str) else ""
        if MIN_TEXT_CHARS <= len(text) <= MAX_TEXT_CHARS:
            out.setdefault(text.lower(), text)
    return list(out.values())[:limit]


def parse_expansion(reply: str) -> tuple[list[str], list[str]]:
    """(definitions, examples) from an LLM reply; `LLMError` when it holds neither."""
    found = parse_object(reply)
    definitions = _texts(next((found[k] for k in _DEFINITION_KEYS if k in found), None), N_DEFINITIONS)
    examples = _texts(next((found[k] for k in _EXAMPLE_KEYS if k in found), None), N_EXAMPLES)
    if not definitions and not examples:
        raise LLMError("LLM reply holds no definitions or examples of the label")
    return definitions, examples


def expansions_directory(configured: str | None, storage_uri: str) -> str:
    """``TOPICSERVE_LABEL_EXPANSIONS_DIR``, or (unset) ``label-expansions`` beside a local store: a
    directory that outlives a redeploy, unlike the Ray working_dir. An object store (s3://) has no
    such sibling here (smart_open's S3 needs boto3, not in the lock): the working dir's .data/."""
    if configured is not None:
        return configured
    if "://" in storage_uri and not storage_uri.startswith("file://"):
        return ".data/label-expansions"
    return str(Path(storage_uri.removeprefix("file://")).expanduser().parent / "label-expansions")


class ExpansionStore:
    """One JSON file per expansion in a local directory (empty: memory only). Files are written to a
    temporary name and renamed, so a reader never sees half a file; an unreadable one is a miss."""

    def __init__(self, directory: str) -> None:
        self.directory = Path(directory) if directory else None

    def load(self, key: str) -> Expansion | None:
        if self.directory is None:
            return None
        try:
            return Expansion.model_validate_json((self.directory / f"{key}.json").read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValidationError) as exc:
            log.warning("label expansion %s unreadable, asking the LLM again: %s", key, type(exc).__name__)
            return None

    def save(self, key: str, expansion: Expansion) -> None:
        if self.directory is None:
            return
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=f".{key}.", suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(expansion.model_dump_json())
            os.replace(tmp, self.directory / f"{key}.json")
        except OSError as exc:  # a read-only or full disk: the expansion stays in memory
            log.warning("label expansion %s not persisted: %s", key, type(exc).__name__)


async def chat_model(source: Source, context: BackendContext) -> ChatModel:
    """The chat model of ``source``, shared with the LLM backend's (same key: one local model loaded)."""
    from topicserve.topics.llm import cached_chat_model  # lazy: the LLM clients load only when asked for

    return await asyncio.to_thread(cached_chat_model, source.kind, source.llm, context.chat_models)


class LabelExpander:
    """The expansions known to this process, the failures of the last tries, the calls in flight."""

    def __init__(self, store: ExpansionStore) -> None:
        self.store = store
        self.memory: dict[str, Expansion] = {}
        self.failures: dict[str, str] = {}
        self.inflight: dict[str, asyncio.Task] = {}

    def known(self, key: str, disk: bool) -> Expansion | None:
        found = self.memory.get(key)
        if found is None and disk and (found := self.store.load(key)) is not None:
            self.memory[key] = found
        return found

    def apply(self, labels: Sequence[Label], source: Source | None, disk: bool) -> tuple[list[Label], list[Label]]:
        """``labels`` with their known expansions, and the labels that want one and have none yet."""
        out, todo = [], []
        for label in labels:
            found = self.known(source.key(label), disk) if source and wants_expansion(label) else None
            out.append(label if found is None or not found.texts() else expanded(label, found))
            if source and wants_expansion(label) and found is None:
                todo.append(label)
        return out, todo

    async def expand(self, labels: Sequence[Label], source: Source, chat: ChatModel, gate: Gate | None = None) -> None:
        """Expand ``labels`` (at most ``llm.concurrency`` calls at once; shared with calls in flight);
        ``gate`` says which of a label's LLM texts to keep (nearest_label_gate)."""
        job = _Job(source, chat, asyncio.Semaphore(source.llm.concurrency), gate)
        await asyncio.gather(*(self._shared(label, job) for label in labels))

    async def _shared(self, label: Label, job: _Job) -> None:
        key = job.source.key(label)
        task = self.inflight.get(key)
        if task is None or task.done() or task.get_loop() is not asyncio.get_running_loop():
            task = asyncio.get_running_loop().create_task(self._call(key, label, job))
            self.inflight[key] = task
            task.add_done_callback(lambda t: self.inflight.pop(key, None) if self.inflight.get(key) is t else None)
        await asyncio.shield(task)

    async def _call(self, key: str, label: Label, job: _Job) -> None:
        source = job.source
        try:
            messages = source.prompt.messages(label=label.label, description=label.description or "(none given)")
            async with job.sem:
                reply = await job.chat.chat(
                    messages, max_tokens=source.llm.expand_max_tokens, temperature=source.llm.temperature
                )
            definitions, examples = parse_expansion(reply)
            texts = [*definitions, *examples]
            keep = await job.gate(label, texts) if job.gate else [True] * len(texts)
        except Exception as exc:  # any failure leaves the label as it is, reported
            reason = exc.message if isinstance(exc, LLMError) else f"{type(exc).__name__}: {exc}"
            self.failures[key] = _URL.sub("(the LLM endpoint)", redact(reason))[:300]  # status output: no URLs
            log.warning("label %r not expanded: %s", label.label, self.failures[key])
            return
        kept = dict(zip([*definitions, *examples], keep, strict=False))
        found = Expansion(label=label.label, prompt=source.prompt.name, llm=source.public_name)
        found.descriptions = [t for t in definitions if kept[t]]
        found.examples = [t for t in examples if kept[t]]
        found.dropped = [t for t, k in kept.items() if not k]
        self.memory[key] = found
        self.failures.pop(key, None)
        await asyncio.to_thread(self.store.save, key, found)

    def report(self, labels: Sequence[Label], applied: set[str], asking: set[str], source: Source) -> dict:
        """Which of the configured ``labels`` are expanded, waiting (``asking``: a model's expansion
        not finished, or a call in flight), failed or left as they are."""
        keys = {label.label: source.key(label) for label in labels}
        waiting = [n for n, k in keys.items() if n not in applied and (n in asking or k in self.inflight)]
        failed = {n: self.failures[k] for n, k in keys.items() if n not in {*applied, *waiting} and k in self.failures}
        records = {n: found for n, k in keys.items() if (found := self.memory.get(k)) is not None}
        for name, found in records.items():
            if not found.texts() and name not in waiting:
                failed[name] = f"all {len(found.dropped)} texts of the LLM were nearer another label (dropped)"
        return {
            "prompt": source.prompt.name,
            "llm": source.public_name,
            "rule": RULE,
            "expanded": [n for n in keys if n in applied],
            "pending": waiting,
            "failed": failed,
            "skipped": [label.label for label in labels if not wants_expansion(label)],
            "dropped": {n: len(found.dropped) for n, found in records.items() if found.dropped},
        }
