"""The taxonomy version: a stable id of what stored tags mean. Ray-free.

It hashes exactly what decides which topics a text gets: the labels with their descriptions,
paraphrases and examples (promoted candidates and LLM expansions included: topics/expand.py adds
its texts to the labels' paraphrases and examples, so a landed expansion is a new version, and a
restarted replica that reads the same expansions from its cache keeps the version), the decision
rule's knobs, the score scale and pooling, the backend with its model, prompt name and sampling,
the embedding model and the bundled background sentences. It leaves out what does not change a
tag: the taxonomy's name and version string, the order of labels, endpoints, keys, timeouts and
retries. Two configs with the same version tag every text alike; any change of meaning gives a
new version, and the re-tag worker (topicserve/retag.py) brings stored documents up to it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from topicserve.taxonomy import Label
    from topicserve.topics import TopicsConfig

PREFIX = "tx-"
RULE_KNOBS = (
    "rule",
    "min_confidence",
    "margin",
    "second",
    "temperature",
    "none_score",
    "threshold",
    "top_k",
    "calibration",
    "pooling",
)
LLM_KNOBS = ("model", "prompt", "temperature", "snap_threshold")


def meaning(
    config: TopicsConfig,
    labels: Sequence[Label],
    embedding_model: str,
    background: Sequence[str],
    refinement: str | None = None,
) -> dict:
    """Everything the version is a hash of (also handy to see why two versions differ).
    ``refinement``: the refinement id when ``refine_from_store`` is on (topics/refine.py): a
    re-estimated refinement changes tags, so it changes the version."""
    described: dict[str, Any] = {
        "labels": sorted(
            (label.model_dump(include={"label", "description", "descriptions", "examples"}) for label in labels),
            key=lambda d: d["label"].lower(),
        ),
        "rule": config.model_dump(include=set(RULE_KNOBS)),
        "backend": config.backend,
        "embedding_model": embedding_model,
        "background": hashlib.sha256("\n".join(background).encode()).hexdigest(),
    }
    if config.refine_from_store:
        described["refinement"] = refinement
        described["refine_neighbours"] = config.refine_neighbours
    if config.backend != "zeroshot":
        described["llm"] = config.llm.model_dump(include=set(LLM_KNOBS))
    return described


def taxonomy_version(
    config: TopicsConfig, labels: Sequence[Label], embedding_model: str, background=(), refinement: str | None = None
) -> str:
    """``tx-`` and 16 hex digits of the SHA-256 of ``meaning`` (canonical JSON)."""
    described = meaning(config, labels, embedding_model, background, refinement)
    canonical = json.dumps(described, sort_keys=True, ensure_ascii=False)
    return PREFIX + hashlib.sha256(canonical.encode()).hexdigest()[:16]
