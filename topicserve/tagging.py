"""What the store keeps for a text: its topics, its nearest label and the taxonomy version. Ray-free.

``tag`` is the one entry point for stored topics (ingest and the re-tag worker alike), so a row's
topics, ``nearest`` and ``taxonomy_version`` always come from the same configuration.
``nearest`` is the best-scoring taxonomy label whether the rule kept it or not (its score on the
calibration scale, its calibrated confidence): drift (topicserve/drift.py) watches how close
arriving texts are to the taxonomy, including the ones that got no topic.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel

from topicserve.settings import get_settings
from topicserve.topics import TopicModel, TopicScore, reference_sentences
from topicserve.topics.version import taxonomy_version


class Tagged(BaseModel):
    """Stored topics for a batch of texts, the nearest label of each, and the version they belong to."""

    version: str
    topics: list[list[TopicScore]]
    nearest: list[TopicScore | None]


def model_version(model: TopicModel) -> str:
    """The taxonomy version of ``model``'s live configuration (cached per configuration and taxonomy
    object and refinement: with ``refine_from_store`` on, a re-estimated refinement is a new version;
    LLM label expansions landing swap the taxonomy object, topics/expand.py)."""
    refinement = model.refinement_id() if model.config.refine_from_store else None
    key = (model.config, model.taxonomy, refinement)
    cached = getattr(model, "_version_cache", None)
    if cached is not None and cached[0][0] is key[0] and cached[0][1] is key[1] and cached[0][2] == key[2]:
        return cached[1]
    version = taxonomy_version(
        model.config, model.taxonomy.topics, get_settings().embedding_model, reference_sentences(), refinement
    )
    model._version_cache = (key, version)  # type: ignore[attr-defined]
    return version


async def tag(model: TopicModel, texts: Sequence[str], vectors: np.ndarray) -> Tagged:
    """Topics (what ``TopicModel.assign`` gives), nearest labels and the version, from one config."""
    # a reconfigure (or LLM label expansions landing) may swap these while this awaits: version what was used
    config, taxonomy = model.config, model.taxonomy
    topics, nearest = await model.assign_with_nearest(texts, vectors)  # one scoring gives both
    version = model_version(model)  # after scoring: it names the refinement the scores used
    if model.config is not config or model.taxonomy is not taxonomy:  # swapped meanwhile: tag again
        return await tag(model, texts, vectors)
    return Tagged(version=version, topics=topics, nearest=nearest)


class ModelTagger:
    """A local TopicModel with the Topics deployment's extra calls (``tag``, ``version``): what the
    re-tag worker and the in-process gateway talk to. Everything else is the model's own."""

    def __init__(self, model: TopicModel) -> None:
        self.model = model

    def __getattr__(self, name: str):
        return getattr(self.model, name)

    async def version(self) -> str:
        return model_version(self.model)

    async def tag(self, texts: Sequence[str], vectors: np.ndarray) -> Tagged:
        return await tag(self.model, texts, vectors)

    def info(self, override=None) -> dict:
        info = self.model.info(override)
        return info if override is not None else info | {"version": model_version(self.model)}
