"""LLM-expanded label prototypes (topics/expand.py): a loopback OpenAI-compatible chat server as the
LLM (real HTTP), the real embedding model, expansions persisted in a temporary directory."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from tests.support.chat import ChatServer
from tests.support.models import embed
from topicserve.llm.openai_http import ChatCompletionsClient
from topicserve.llm.prompts import load_prompt, parse_prompt
from topicserve.tagging import model_version
from topicserve.taxonomy import Label
from topicserve.topics import TopicModel, TopicsConfig
from topicserve.topics.expand import LabelExpander, Source, source_of
from topicserve.topics.prototypes import prototype_texts

HOROLOGY = {"label": "Horology", "description": "Timekeeping."}
ONE_LINE = [HOROLOGY, {"label": "Cooking", "description": "Recipes and food."}]
RICH = {
    "label": "Sports",
    "description": "Games and athletes.",
    "descriptions": ["Football, tennis, golf and racing."],
    "examples": ["The team won the final.", "She set a new world record in the marathon."],
}
DEFINITIONS = [
    "The craft of making and repairing clocks and watches.",
    "Mechanical watches, their movements and complications.",
    "Clockmakers, watch brands and the history of timekeeping instruments.",
]
EXAMPLES = [
    "The watchmaker replaced the mainspring of the antique pocket watch.",
    "A new wristwatch with a tourbillon movement was unveiled in Geneva.",
    "The grandfather clock's pendulum was restored by a specialist.",
    "Collectors paid a record price for a vintage chronograph at auction.",
    "The antique wall clock was wound and set to the right time.",
]
# matches only the LLM's example wording: without the expansion it goes to Sports (measured)
WATCH_TEXT = "The balance wheel and escapement of the movement were serviced."


def expansion_reply(body: dict) -> str:
    """The loopback LLM: a fenced, chatty reply for every label it is asked about."""
    prompt = body["messages"][-1]["content"]
    name = prompt.split("Topic: ", 1)[1].split("\n", 1)[0]
    found = (
        {"definitions": DEFINITIONS, "examples": EXAMPLES}
        if name == "Horology"
        else {
            "definitions": [f"All about {name.lower()}, in other words."],
            "examples": [f"A short news item about {name.lower()} today."],
        }
    )
    return "Sure! Here it is:\n```json\n" + json.dumps(found) + "\n```"


def slow_reply(seconds: float):
    def reply(body: dict) -> str:
        time.sleep(seconds)  # the loopback server's thread: the LLM is slow, the event loop is not
        return expansion_reply(body)

    return reply


@pytest.fixture
def server():
    with ChatServer() as srv:
        srv.script = [expansion_reply]
        yield srv


@pytest.fixture(autouse=True)
def expansions_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TOPICSERVE_LABEL_EXPANSIONS_DIR", str(tmp_path / "expansions"))
    return tmp_path / "expansions"


def config(server, labels=ONE_LINE, expand=True, **llm) -> TopicsConfig:
    llm = {"url": server.url, "model": "loopback-model", "timeout_s": 2, "retries": 0, **llm}
    return TopicsConfig(taxonomy=labels, refine_from_store=False, expand_labels=expand, llm=llm)


async def expanded_model(cfg: TopicsConfig) -> TopicModel:
    model = TopicModel(embed, cfg)
    await model.expansion_done()
    return model


def label(model: TopicModel, name: str) -> Label:
    return next(t for t in model.taxonomy.topics if t.label == name)


def test_an_expanded_label_holds_the_llms_texts_after_the_callers_own(server):
    own = {**HOROLOGY, "examples": ["The clock tower chimed at noon."]}
    model = asyncio.run(expanded_model(config(server, [own, RICH])))
    horology = label(model, "Horology")
    assert horology.description == "Timekeeping."
    assert horology.descriptions == DEFINITIONS
    assert horology.examples == ["The clock tower chimed at noon.", *EXAMPLES]  # the caller's first
    assert set(DEFINITIONS + EXAMPLES) <= set(prototype_texts(horology))
    # Sports already carries 4 texts of its own: left alone, never sent to the LLM
    assert label(model, "Sports") == Label.model_validate(RICH)
    assert len(server.requests) == 1
    sent = server.requests[0]["json"]
    assert sent["model"] == "loopback-model" and sent["max_tokens"] == 600
    assert "Topic: Horology" in sent["messages"][-1]["content"] and "Timekeeping." in sent["messages"][-1]["content"]
    info = model.info()["expansion"]
    assert info["expanded"] == ["Horology"] and info["skipped"] == ["Sports"]
    assert info["prompt"] == "label-expand-v1" and info["llm"] == "openai:loopback-model"
    assert info["failed"] == {} and info["pending"] == [] and info["dropped"] == {}


def test_the_expansion_changes_a_decision(server):
    async def run():
        vectors = await embed([WATCH_TEXT])
        plain = TopicModel(embed, config(server, expand=False))
        without = (await plain.assign_detailed([WATCH_TEXT], vectors)).results[0].topics
        with_llm = (await (await expanded_model(config(server))).assign_detailed([WATCH_TEXT], vectors)).results[0]
        return without, with_llm.topics

    without, with_llm = asyncio.run(run())
    assert "Horology" not in [t.label for t in without]
    assert [t.label for t in with_llm][:1] == ["Horology"]


def test_expansions_are_cached_on_disk_one_call_per_label_prompt_and_model(server, expansions_dir):
    first = asyncio.run(expanded_model(config(server)))
    assert len(server.requests) == 2 and len(list(expansions_dir.glob("*.json"))) == 2
    # a second model (fresh process state: its own memory), same directory: no call, expanded at once
    again = TopicModel(embed, config(server))
    assert label(again, "Horology").examples == EXAMPLES  # before any await: read at configure
    asyncio.run(again.expansion_done())
    assert len(server.requests) == 2
    assert model_version(again) == model_version(first)
    # another LLM model name: asked again
    asyncio.run(expanded_model(config(server, model="other-model")))
    assert len(server.requests) == 4


def test_another_prompt_is_another_expansion(server):
    """The cache key holds the prompt's name: a v2 of the prompt asks the LLM again."""
    llm = config(server).llm
    v1 = load_prompt("label-expand-v1")
    v2 = parse_prompt("label-expand-v2", "[user]\nTopic: $label\nDefinition: $description\nAgain, in JSON.")
    horology = Label.model_validate(HOROLOGY)
    expander = LabelExpander(store=type("NoStore", (), {"load": lambda s, k: None, "save": lambda s, k, e: None})())
    chat = ChatCompletionsClient(llm)

    async def run():
        for prompt in (v1, v1, v2):
            source = Source("openai", llm, prompt)
            if expander.known(source.key(horology), disk=True) is None:
                await expander.expand([horology], source, chat)
        return [expander.known(Source("openai", llm, p).key(horology), disk=False) for p in (v1, v2)]

    found = asyncio.run(run())
    assert len(server.requests) == 2
    assert [f.prompt for f in found] == ["label-expand-v1", "label-expand-v2"]  # type: ignore[union-attr]


def test_concurrent_configures_call_once_per_label(server):
    server.script = [slow_reply(0.5)]

    async def run():
        model = TopicModel(embed, config(server))
        await asyncio.sleep(0.1)  # the first expansion is in flight
        model.configure(config(server))  # a reconfigure with the same labels
        other = TopicModel(embed, config(server))  # another model sharing nothing but the directory...
        other.context.expander = model.expander  # ...and here the process's expansions (one replica)
        other.configure(config(server))
        await asyncio.gather(model.expansion_done(), other.expansion_done())
        return model, other

    model, other = asyncio.run(run())
    assert len(server.requests) == 2
    assert label(model, "Horology").examples == EXAMPLES and label(other, "Horology").examples == EXAMPLES


@pytest.mark.parametrize(
    ("script", "reason"),
    [
        ([("status", 500)], "HTTP 500"),
        ([("reply", "I would describe this topic as being about time.")], "no JSON object"),
        ([("reply", '{"definitions": "not a list", "examples": [3, 4]}')], "no definitions or examples"),
        ([("sleep", 1.5, "{}")], "timed out"),
        ([("raw", "not json at all")], "without choices"),
    ],
)
def test_a_failing_llm_leaves_the_labels_unexpanded_and_the_service_answering(server, script, reason):
    server.script = script

    async def run():
        model = TopicModel(embed, config(server, timeout_s=0.5))
        before = model_version(model)
        vectors = await embed([WATCH_TEXT])
        during = await model.assign_detailed([WATCH_TEXT], vectors)  # answers while the LLM is asked
        await model.expansion_done()
        after = await model.assign_detailed([WATCH_TEXT], vectors)
        return model, before, during, after

    model, before, during, after = asyncio.run(run())
    assert label(model, "Horology").examples == [] and label(model, "Horology").descriptions == []
    assert during.results[0].topics == after.results[0].topics and not after.degraded
    info = model.info()["expansion"]
    assert info["expanded"] == [] and set(info["failed"]) == {"Horology", "Cooking"}
    assert all(reason in why for why in info["failed"].values()), info["failed"]
    assert model_version(model) == before  # nothing landed: stored tags stay as they are


def test_unreachable_llm_is_reported_and_retried_at_the_next_configure(server):
    async def run():
        model = TopicModel(embed, config(server, url="http://127.0.0.1:9/v1"))
        await model.expansion_done()
        failed = model.info()["expansion"]["failed"]
        model.configure(config(server))  # the operator points it at a working LLM
        await model.expansion_done()
        return failed, model

    failed, model = asyncio.run(run())
    assert set(failed) == {"Horology", "Cooking"} and "connection failed" in failed["Horology"]
    assert "127.0.0.1:9" not in json.dumps(model.info()["expansion"])  # the old failure is gone
    assert model.info()["expansion"]["expanded"] == ["Horology", "Cooking"]


def test_the_version_changes_when_the_expansions_land(server):
    server.script = [slow_reply(0.4)]

    async def run():
        unexpanded = model_version(TopicModel(embed, config(server, expand=False)))
        model = TopicModel(embed, config(server))
        pending = model_version(model), model.info()["expansion"]["pending"]
        await model.expansion_done()
        return unexpanded, pending, model_version(model)

    unexpanded, (during, pending), landed = asyncio.run(run())
    assert during == unexpanded and pending == ["Horology", "Cooking"]
    assert landed != unexpanded


def test_per_call_labels_use_cached_expansions_only(server):
    async def run():
        model = await expanded_model(config(server))
        calls = len(server.requests)
        vectors = await embed([WATCH_TEXT])
        same = await model.assign_detailed([WATCH_TEXT], vectors, [Label.model_validate(t) for t in ONE_LINE])
        new = [Label(label="Watches", description="Timepieces."), Label(label="Baking", description="Bread.")]
        other = await model.assign_detailed([WATCH_TEXT], vectors, new)
        configured = await model.assign_detailed([WATCH_TEXT], vectors)
        return calls, same, other, configured

    calls, same, _, configured = asyncio.run(run())
    assert len(server.requests) == calls  # per-call labels never ask the LLM
    assert same.results[0].topics == configured.results[0].topics  # the taxonomy's labels, as expanded


def test_expansion_is_off_by_default_and_validates_its_prompt_name(server):
    assert TopicsConfig().expand_labels is False and source_of(TopicsConfig()) is None
    model = TopicModel(embed, config(server, expand=False))
    assert model.info()["expansion"] is None and server.requests == []
    from topicserve.errors import InvalidInput

    with pytest.raises(InvalidInput):
        TopicModel(embed, config(server, expand_prompt="no-such-prompt-v1"))


def test_through_the_app_a_failing_llm_never_gives_a_5xx_and_readyz_says_why(server, tmp_path):
    from tests.support.app import serve
    from tests.support.models import embedder

    server.script = [("status", 500)]
    with serve(tmp_path / "store", embedder(), topics=config(server)) as (_, http):
        resp = http.post("/topics", json={"texts": [WATCH_TEXT]})
        assert resp.status_code == 200, resp.text
        for _ in range(100):  # the expansion runs in the background: wait until it has given up
            expansion = http.get("/readyz").json()["topics"]["expansion"]
            if not expansion["pending"]:
                break
            time.sleep(0.1)
        assert expansion["expanded"] == [] and "HTTP 500" in expansion["failed"]["Horology"]
        assert server.url.split("//")[1] not in http.get("/readyz").text  # no endpoint in status output
        assert http.post("/topics", json={"texts": [WATCH_TEXT]}).status_code == 200


def test_feedback_examples_keep_moving_an_expanded_label(server):
    """The backend is built on the labels as used (expanded): confirmed feedback still applies to them."""
    from topicserve.topics.examples import FeedbackExamples

    async def run():
        examples = {"horology": await embed(["A vintage wristwatch sold for a record price at auction."])}

        async def generation():
            return 1

        async def fetch(per_label):
            return examples

        with_feedback = await expanded_model_with(config(server), FeedbackExamples(generation, fetch))
        without = await expanded_model_with(config(server).model_copy(update={"use_feedback": False}), None)
        vectors = await embed([WATCH_TEXT])
        return [await m.backend.scorer.scores(vectors, m.taxonomy.topics) for m in (with_feedback, without)]

    moved, unmoved = asyncio.run(run())
    assert moved[0][0] != unmoved[0][0]  # Horology's score moved with its examples
    assert moved[0][1] == unmoved[0][1]  # Cooking has none


async def expanded_model_with(cfg: TopicsConfig, feedback) -> TopicModel:
    model = TopicModel(embed, cfg, feedback=feedback)
    await model.expansion_done()
    assert label(model, "Horology").examples == EXAMPLES
    return model


def test_llm_texts_nearer_another_label_are_dropped(server):
    """An LLM that misreads a label (here: writes about food for Horology) does not drag it onto
    another label: its texts are nearer Cooking than Horology, so none is kept, and the report says so."""
    food = {"definitions": ["Recipes, ingredients and home cooking."], "examples": ["Stir the onions until golden."]}
    server.script = [lambda body: json.dumps(food) if "Topic: Horology" in body["messages"][-1]["content"] else "{}"]

    async def run():
        model = await expanded_model(config(server))
        return model, model_version(model), model_version(TopicModel(embed, config(server, expand=False)))

    model, version, unexpanded = asyncio.run(run())
    assert label(model, "Horology") == Label.model_validate(HOROLOGY)
    info = model.info()["expansion"]
    assert info["expanded"] == [] and info["dropped"] == {"Horology": 2}
    assert "nearer another label" in info["failed"]["Horology"]
    assert version == unexpanded


def test_by_default_expansions_are_kept_beside_a_local_store(server, tmp_path, monkeypatch):
    from topicserve.topics.expand import expansions_directory

    monkeypatch.delenv("TOPICSERVE_LABEL_EXPANSIONS_DIR")
    monkeypatch.setenv("TOPICSERVE_STORAGE_URI", str(tmp_path / "data" / "store"))
    asyncio.run(expanded_model(config(server)))
    assert len(list((tmp_path / "data" / "label-expansions").glob("*.json"))) == 2
    assert expansions_directory(None, "/data/topicserve/store") == "/data/topicserve/label-expansions"
    assert expansions_directory(None, "file:///srv/store") == "/srv/label-expansions"
    assert expansions_directory(None, ".data/store") == ".data/label-expansions"
    assert expansions_directory(None, "s3://bucket/prefix") == ".data/label-expansions"  # working dir
    assert expansions_directory("", "/data/store") == ""  # memory only
