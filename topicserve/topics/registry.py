"""The topic backends by name, and the one place a configuration picks one.

``BACKENDS`` maps a backend kind to its factory ``(TopicsConfig, BackendContext) -> TopicBackend``;
``TopicsConfig.backend`` names the kind through ``KINDS`` (``openai`` and ``transformers`` are two
chat-model sources of the one LLM backend). The LLM backend is imported only when a configuration
asks for it, inside its factory: a function-level import, which the import-cycle test still sees.
"""

from __future__ import annotations

from collections.abc import Sequence

from topicserve.taxonomy import Label
from topicserve.topics.base import BackendContext, BackendFactory, TopicBackend
from topicserve.topics.config import TopicsConfig
from topicserve.topics.zeroshot import build_zeroshot_backend


def _llm(config: TopicsConfig, context: BackendContext, labels: Sequence[Label] | None = None) -> TopicBackend:
    from topicserve.topics.llm import build_llm_backend  # lazy: the LLM clients load only when asked for

    return build_llm_backend(config, context, labels)


BACKENDS: dict[str, BackendFactory] = {"zeroshot": build_zeroshot_backend, "llm": _llm}
KINDS: dict[str, str] = {"zeroshot": "zeroshot", "openai": "llm", "transformers": "llm"}


def build_backend(config: TopicsConfig, context: BackendContext, labels: Sequence[Label] | None = None) -> TopicBackend:
    """``labels``: the taxonomy's labels as the model uses them (LLM expansions included)."""
    return BACKENDS[KINDS[config.backend]](config, context, labels)
