"""Agreement between human and model topics. Ray-free.

Best-match cosine (BERTScore-style greedy matching): each human label is matched to its most
similar model label (recall side) and each model label to its most similar human label
(precision side); F1 combines them. ``best_match_cosine`` is the recall side: how well the
model's topics cover what the human said.
"""

from __future__ import annotations

import numpy as np


def best_match(human: np.ndarray, model: np.ndarray) -> dict[str, float]:
    """Label-set agreement from two row-normalised matrices (human labels, model labels)."""
    if len(human) == 0 or len(model) == 0:
        return {"best_match_cosine": 0.0, "precision": 0.0, "recall": 0.0, "f1": 0.0}
    sim = np.clip(human @ model.T, -1.0, 1.0)
    recall = float(sim.max(axis=1).mean())
    precision = float(sim.max(axis=0).mean())
    f1 = 0.0 if precision + recall <= 0 else 2 * precision * recall / (precision + recall)
    return {"best_match_cosine": recall, "precision": precision, "recall": recall, "f1": f1}
