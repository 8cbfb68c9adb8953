"""Topic assignment, Ray-free: one backend interface, a registry of backends, the model that uses them.

- base.py: the interface (`TopicBackend`) and the result types (`TopicScore`, `TextTopics`, `Assignment`)
- config.py: `TopicsConfig` (the Topics deployment's user_config), `TopicsOverride` (per call)
- zeroshot.py: the default backend (label prototypes, prototypes.py; the confidence rule, rules.py)
- llm.py: the LLM backend (chat clients and prompts in topicserve/llm/), falling back to zero-shot
- registry.py: `BACKENDS` by name; the LLM one is imported only when configured
- vectors.py: label vectors, cached; model.py: `TopicModel`, what the Topics deployment wraps

The public names are re-exported here: ``from topicserve.topics import TopicModel, TopicsConfig``.
"""

from topicserve.topics.base import Assignment, BackendContext, EmbedFn, TextTopics, TopicBackend, TopicScore
from topicserve.topics.config import Calibration, DecisionRule, Rule, TopicsConfig, TopicsOverride
from topicserve.topics.model import TopicModel
from topicserve.topics.registry import BACKENDS, build_backend
from topicserve.topics.vectors import LRU, REFERENCE_PATH, LabelVectors, reference_sentences
from topicserve.topics.zeroshot import ZeroShotBackend, ZeroShotScorer

__all__ = [
    "BACKENDS",
    "LRU",
    "REFERENCE_PATH",
    "Assignment",
    "BackendContext",
    "Calibration",
    "DecisionRule",
    "EmbedFn",
    "LabelVectors",
    "Rule",
    "TextTopics",
    "TopicBackend",
    "TopicModel",
    "TopicScore",
    "TopicsConfig",
    "TopicsOverride",
    "ZeroShotBackend",
    "ZeroShotScorer",
    "build_backend",
    "reference_sentences",
]
