"""Human vs model topics: metrics (`metrics`), Markdown/HTML reports (`report`), the CLI (`cli`)."""

from topicserve.evaluation.metrics import (
    EvalItem,
    EvalReport,
    ItemResult,
    Metrics,
    best_match,
    load_items,
    run_evaluation,
    score_items,
)

__all__ = [
    "EvalItem",
    "EvalReport",
    "ItemResult",
    "Metrics",
    "best_match",
    "load_items",
    "run_evaluation",
    "score_items",
]
