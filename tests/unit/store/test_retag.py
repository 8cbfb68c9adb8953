"""Stored topics follow the taxonomy: versions, the background re-tag over a real LanceDB table
(resumable after a crash, never overwriting a newer write), and the column upgrade of old tables.
Real model, real LanceDB in tmp_path."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import lancedb
import numpy as np
import pyarrow as pa
import pytest

from tests.support.models import embed, embed_sync
from topicserve.retag import RetagWorker
from topicserve.space import EmbeddingSpace
from topicserve.store import DocumentStore, StoredDocument
from topicserve.store.documents import ADDED_COLUMNS, table_schema
from topicserve.tagging import ModelTagger, model_version, tag
from topicserve.taxonomy import Label
from topicserve.topics import TopicModel, TopicsConfig
from topicserve.topics.version import taxonomy_version

LABELS = [
    Label(label="beekeeping", description="Bees, beekeepers, hives and honey."),
    Label(label="sailing", description="Boats, sails, harbours and the sea."),
]
NEW = TopicsConfig(taxonomy=LABELS, top_k=1)
TEXTS = [
    "The beekeeper opened the hives and took out frames full of honey.",
    "A swarm of bees settled on the apple tree behind the farmhouse.",
    "We sailed out of the harbour at dawn with the mainsail reefed.",
    "The old wooden boat needs new sails before the summer regatta.",
    "The conservator removed yellowed varnish from the oil painting.",
    "A bronze statue of the founder was unveiled in the sculpture garden.",
]
SPACE_DIM = 384


def space() -> EmbeddingSpace:
    return EmbeddingSpace(model="sentence-transformers/all-MiniLM-L6-v2", dim=SPACE_DIM, normalized=True)


def run(coro):
    return asyncio.run(coro)


# ---- versions -------------------------------------------------------------------------------
def test_version_changes_iff_meaning_changes():
    base = TopicsConfig(taxonomy=LABELS)
    v = taxonomy_version(base, LABELS, "m", ["bg"])
    assert v.startswith("tx-") and v == taxonomy_version(TopicsConfig(taxonomy=LABELS), LABELS, "m", ["bg"])
    assert v == taxonomy_version(base, list(reversed(LABELS)), "m", ["bg"])  # label order means nothing
    renamed = base.model_copy(update={"llm": base.llm.model_copy(update={"url": "http://elsewhere/v1"})})
    assert v == taxonomy_version(renamed, LABELS, "m", ["bg"])  # zero-shot: the LLM settings are not used
    changed_desc = [LABELS[0], Label(label="sailing", description="Yachts and dinghies.")]
    differs = [
        taxonomy_version(base, changed_desc, "m", ["bg"]),
        taxonomy_version(base, [*LABELS, Label(label="knitting")], "m", ["bg"]),  # e.g. a promoted candidate
        taxonomy_version(base.model_copy(update={"min_confidence": 0.3}), LABELS, "m", ["bg"]),
        taxonomy_version(base.model_copy(update={"top_k": 1}), LABELS, "m", ["bg"]),
        taxonomy_version(base.model_copy(update={"calibration": "none"}), LABELS, "m", ["bg"]),
        taxonomy_version(base, LABELS, "another-model", ["bg"]),
        taxonomy_version(base, LABELS, "m", ["other background"]),
    ]
    assert len({v, *differs}) == len(differs) + 1
    llm = base.model_copy(update={"backend": "openai"})
    prompt = llm.model_copy(update={"llm": llm.llm.model_copy(update={"prompt": "topics-v2"})})
    timeout = llm.model_copy(update={"llm": llm.llm.model_copy(update={"timeout_s": 5.0})})
    assert taxonomy_version(llm, LABELS, "m", []) != taxonomy_version(prompt, LABELS, "m", [])
    assert taxonomy_version(llm, LABELS, "m", []) == taxonomy_version(timeout, LABELS, "m", [])


def test_model_version_follows_reconfigure_and_promote():
    model = TopicModel(embed)
    first = model_version(model)
    assert model_version(model) == first
    model.configure(TopicsConfig(promote=[Label(label="street art", description="Murals and graffiti.")]))
    promoted = model_version(model)
    model.configure(TopicsConfig())
    assert promoted != first and model_version(model) == first


# ---- the re-tag worker ----------------------------------------------------------------------
def _fill(store: DocumentStore, model: TopicModel, texts: list[str], prefix: str = "d") -> list[StoredDocument]:
    vectors = embed_sync(texts)
    tagged = run(tag(model, texts, vectors))
    now = datetime.now(UTC)
    docs = [
        StoredDocument(
            id=f"{prefix}{i:03d}", text=t, timestamp=now, topics=topics, taxonomy_version=tagged.version, nearest=near
        )
        for i, (t, topics, near) in enumerate(zip(texts, tagged.topics, tagged.nearest, strict=True))
    ]
    store.upsert(docs, vectors, space())
    return docs


def _corpus(n: int) -> list[str]:
    return [f"{TEXTS[i % len(TEXTS)]} (note {i})" for i in range(n)]


def test_retag_resumes_after_a_crash_and_matches_a_fresh_tagging(tmp_path):
    old = TopicModel(embed)
    store = DocumentStore(str(tmp_path), background=False)
    texts = _corpus(30)
    _fill(store, old, texts)
    store.maintenance.run(force=True)  # optimized (compacted, indexes folded): a partial-column merge panicked here
    new = TopicModel(embed, NEW)
    target = model_version(new)
    assert store.progress(target) == {"version": target, "done": 0, "total": 30}

    first = RetagWorker(store, ModelTagger(new), batch_size=8)
    assert run(first.run(max_batches=2)) == 16  # then the process "dies"
    assert store.progress(target)["done"] == 16
    assert run(first.status(count=False)) == {"version": target, "in_progress": True}  # no count: last step
    store.close()

    reopened = DocumentStore(str(tmp_path), background=False)  # a restart: a new store, a new model
    second = RetagWorker(reopened, ModelTagger(TopicModel(embed, NEW)), batch_size=8)
    assert run(second.status())["version"] is None  # nothing in memory: progress comes from the table
    assert run(second.run()) == 14 and second.batches == 2  # only what was left: 8 + 6
    assert run(second.status()) == {"version": target, "done": 30, "total": 30, "in_progress": False}
    assert run(second.status(count=False)) == {"version": target, "in_progress": False}
    fresh = run(tag(TopicModel(embed, NEW), texts, embed_sync(texts)))
    docs = {d.id: d for d in reopened.documents()}
    for i, (topics, near) in enumerate(zip(fresh.topics, fresh.nearest, strict=True)):
        doc = docs[f"d{i:03d}"]
        assert doc.taxonomy_version == target
        assert [t.label for t in doc.topics] == [t.label for t in topics]
        assert doc.nearest.label == near.label and doc.nearest.score == pytest.approx(near.score, abs=1e-5)
    assert [t.label for t in docs["d000"].topics] == ["beekeeping"]
    keyword = reopened.search(None, space(), 3, mode="keyword", text="beekeeper hives honey")
    assert {d.id for d, _ in keyword} <= {f"d{i:03d}" for i in range(30) if i % 6 == 0} and keyword
    assert keyword[0][0].text.startswith(TEXTS[0]) and keyword[0][0].taxonomy_version == target  # whole rows kept
    sailing, _ = reopened.list(topic="sailing", limit=100)
    assert {d.id for d in sailing} == {f"d{i:03d}" for i in range(30) if i % 6 in (2, 3)}  # filters follow


def test_retag_never_overwrites_a_newer_write_nor_revives_a_deleted_one(tmp_path):
    old = TopicModel(embed)
    store = DocumentStore(str(tmp_path), background=False)
    _fill(store, old, _corpus(6))
    new = TopicModel(embed, NEW)
    batch = store.stale(model_version(new), 6)  # the worker has read its batch ...
    rewritten = "We sailed to the island and anchored in a quiet bay."
    _fill(store, old, [rewritten], prefix="x")  # unrelated new document meanwhile
    newer = _fill(store, old, [rewritten])[0]  # ... d000 is rewritten with a new text (old taxonomy)
    store.delete(["d001"])  # ... and d001 deleted
    tagged = run(tag(new, batch.texts, batch.vectors))
    assert store.retag(batch, tagged.topics, tagged.nearest, tagged.version) == 4
    d000 = store.get("d000")
    assert d000.text == rewritten and d000.taxonomy_version == newer.taxonomy_version != tagged.version
    assert [t.label for t in d000.topics] == [t.label for t in newer.topics]  # not the bees of the old text
    assert store.get_many(["d001"]) == []
    assert run(RetagWorker(store, ModelTagger(new)).run()) == 2  # d000 from its new text, and x000
    assert [t.label for t in store.get("d000").topics] == ["sailing"]
    assert store.progress(tagged.version) == {"version": tagged.version, "done": 6, "total": 6}


def test_a_table_of_the_previous_release_is_upgraded_and_re_tagged(tmp_path):
    schema = table_schema(space())
    old_schema = pa.schema([f for f in schema if f.name not in ADDED_COLUMNS], metadata=schema.metadata)
    vectors = embed_sync(TEXTS[:2])
    rows = {
        "id": ["a", "b"],
        "text": TEXTS[:2],
        "timestamp": [datetime.now(UTC) - timedelta(hours=1)] * 2,
        "metadata": ["{}", "{}"],
        "topics": [[], []],
        "topic_labels": [[], []],
        "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), SPACE_DIM),
    }
    lancedb.connect(str(tmp_path)).create_table("documents", pa.table(rows, schema=old_schema))
    store = DocumentStore(str(tmp_path), background=False)
    assert store.get("a").taxonomy_version is None  # readable before the writer upgrades it
    store.bind(space())
    assert set(ADDED_COLUMNS) <= set(store.table.schema.names) and len(store) == 2
    new = TopicModel(embed, NEW)
    assert store.progress(model_version(new))["done"] == 0  # unknown version: stale
    assert run(RetagWorker(store, ModelTagger(new)).run()) == 2
    assert [t.label for t in store.get("a").topics] == ["beekeeping"]
    assert store.get("a").nearest.label == "beekeeping"
    reopened = DocumentStore(str(tmp_path), background=False)
    reopened.bind(space())  # upgrading twice is a no-op
    assert reopened.get("b").taxonomy_version == model_version(new)
    stale = reopened.stale("tx-other", 5)
    assert sorted(stale.ids) == ["a", "b"] and stale.vectors.shape == (2, SPACE_DIM)
    assert np.allclose(stale.vectors[stale.ids.index("a")], vectors[0])
