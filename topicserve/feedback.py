"""Feedback on the request path, Ray-free: the verdicts' topics checked against the configured
labels, the responses, and the feedback collected so far as an evaluation set (``/evaluate`` with
``source: feedback``). How confirmed examples move the label prototypes: topicserve/topics/examples.py.
"""

from __future__ import annotations

from collections.abc import Sequence

from topicserve import schemas as s
from topicserve.errors import InvalidInput
from topicserve.evaluation import EvalItem
from topicserve.store.feedback import FeedbackItemIn, FeedbackRecord, current


# ---- the request path (called by the gateway) --------------------------------------------------
def resolve_topics(req: s.FeedbackRequest, labels: Sequence[str]) -> list[FeedbackItemIn]:
    """The request's verdicts with each topic as configured (case-insensitive); 422 naming the field."""
    known = {label.lower(): label for label in labels}
    resolved = []
    for n, item in enumerate(req.all_items()):
        label = known.get(item.topic.lower())
        if label is None:
            shown = ", ".join(sorted(known.values())[:20]) + (", ..." if len(known) > 20 else "")
            where = "topic" if req.items is None else f"items.{n}.topic"
            raise InvalidInput(f"{where}: {item.topic!r} is not a configured topic (one of: {shown})", field=where)
        resolved.append(FeedbackItemIn(topic=label, verdict=item.verdict, note=item.note))
    return resolved


def as_response(doc_id: str, records: Sequence[FeedbackRecord], posted: bool) -> s.FeedbackResponse:
    out = [s.FeedbackOut.model_validate(r.model_dump()) for r in records]
    latest = {} if posted else {r.topic: r.verdict for r in current(records)}
    return s.FeedbackResponse(document_id=doc_id, stored=len(out) if posted else 0, feedback=out, current=latest)


def feedback_items(docs: Sequence[dict]) -> list[EvalItem]:
    """Evaluation items from the documents with feedback: gold = their confirmed/added topics."""
    return [EvalItem(text=d["text"], human_topics=d["positive"]) for d in docs if d["positive"]]


def rejected_summary(docs: Sequence[dict], given: Sequence[Sequence[str]]) -> s.FeedbackEvaluation:
    """How many rejected (document, topic) pairs the model still tags, given its topics per document."""
    rejected = still = 0
    for doc, topics in zip(docs, given, strict=True):
        tagged = {t.lower() for t in topics}
        rejected += len(doc["rejected"])
        still += sum(r.lower() in tagged for r in doc["rejected"])
    return s.FeedbackEvaluation(
        documents=len(docs),
        positive_items=sum(bool(d["positive"]) for d in docs),
        rejected=rejected,
        rejected_still_given=still,
        rejected_rate=still / rejected if rejected else None,
    )
