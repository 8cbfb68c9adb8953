"""The page at /ui and the offline /docs in a real headless Chromium, against the deployed app.

Every request the page makes is recorded: all must go to the service itself (127.0.0.1), and the
browser console must stay free of errors. The browser is the system Chromium (`make browser`), or
TOPICSERVE_CHROMIUM; Playwright drives it (never `playwright install`).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.conftest import BASE

pytestmark = pytest.mark.e2e

NOW = datetime.now(UTC)
SCULPTURE = [
    "The sculptor carved a marble statue of a river god for the garden fountain.",
    "A bronze bust of the poet was cast from the artist's clay model.",
    "The workshop finished a life-size marble figure of a saint for the cathedral portal.",
    "Visitors watched the sculptor chisel the last details of the limestone relief.",
    "The foundry poured molten bronze into the mould of the equestrian statue.",
    "A terracotta model for the monument shows the sculptor's first idea.",
    "The marble statue of the goddess was carved from a single block of Carrara stone.",
    "The sculptor's assistants polished the bronze figures before they were mounted.",
]
BACKGROUND = [
    "The architect designed a new wing with a glass roof over the courtyard.",
    "The museum bought a small panel painting at auction in London.",
    "Curators hung the landscape paintings for the autumn exhibition.",
    "Conservators removed yellowed varnish from the altarpiece.",
]
BEES = [
    "The beekeeper checked the hives and found the bees healthy after the winter.",
    "Honey production fell this year because the bees had a wet spring.",
    "A swarm of bees settled in an apple tree and the beekeeper caught it in a box.",
    "Beekeepers are worried about mites that weaken the bees in their hives.",
    "The honey harvest was good: each hive gave about twenty kilos.",
]


def chromium() -> str:
    path = os.environ.get("TOPICSERVE_CHROMIUM") or shutil.which("chromium")
    if not path:
        pytest.fail("no Chromium for the browser tests: run `make browser` (apt-get install chromium) or set "
                    "TOPICSERVE_CHROMIUM to a Chromium binary")  # fmt: skip
    return path


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the Python package playwright is missing: it belongs in requirements.lock")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium())
        yield b
        b.close()


@dataclass
class Seen:
    requests: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        outside = [u for u in self.requests if not u.startswith(f"{BASE}/")]
        assert self.requests and not outside, f"requests that left the service: {outside}"
        assert not self.problems, self.problems


@pytest.fixture
def page(browser, deployed):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    seen = Seen()
    pg.on("request", lambda r: seen.requests.append(r.url))
    pg.on("console", lambda m: seen.problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    pg.on("pageerror", lambda e: seen.problems.append(f"page error: {e}"))
    pg.on("requestfailed", lambda r: seen.problems.append(f"request failed: {r.url} {r.failure}"))
    pg.set_default_timeout(120_000)  # the first search warms the model up on 2 CPU cores
    yield pg, seen
    context.close()


def post(http, path, body):
    resp = http.post(f"{BASE}{path}", json=body, timeout=300)
    assert resp.status_code == 200, resp.text
    return resp.json()


def submit(pg, button: str, section: str) -> None:
    """Click and wait until the page has rendered the answer (the section is busy until then)."""
    pg.click(button)
    pg.wait_for_selector(f"{section}:not(.busy)")


def ingest(http, prefix: str, texts: list[str], ages: list[timedelta]) -> list[dict]:
    docs = [
        {"id": f"{prefix}-{i}", "text": t, "timestamp": (NOW - age).isoformat(), "metadata": {"set": prefix}}
        for i, (t, age) in enumerate(zip(texts, ages, strict=True))
    ]
    return post(http, "/documents", {"documents": docs})["documents"]


def test_page_loads_offline_with_the_service_status(page, http):
    pg, seen = page
    pg.goto(f"{BASE}/ui")
    pg.wait_for_selector("#status-state.ok")
    ready = http.get(f"{BASE}/readyz").json()
    assert pg.text_content("[data-fact=model]") == ready["embedder"]["model"]
    assert pg.text_content("[data-fact=dimension]") == str(ready["embedder"]["dim"])
    assert pg.text_content("[data-fact=backend]") == ready["topics"]["backend"]
    assert int(pg.text_content("[data-fact=documents]")) == ready["state"]["documents"]
    assert {f"{BASE}/ui/static/vendor/uPlot.iife.min.js", f"{BASE}/ui/static/app.js"} <= set(seen.requests)
    seen.assert_clean()


def test_search_shows_what_the_api_returns_and_opens_a_document(page, http):
    pg, seen = page
    ingest(http, "ui-search", SCULPTURE[:4] + BACKGROUND, [timedelta(days=40 + i) for i in range(8)])
    pg.goto(f"{BASE}/ui#search")
    pg.fill("#search-query", "a statue carved in marble")
    pg.fill("#search-k", "5")
    submit(pg, "#search-run", "#tab-search")
    api = post(http, "/search", {"query": "a statue carved in marble", "k": 5})["results"]
    rows = pg.locator("#search-results tbody tr")
    assert [rows.nth(i).get_attribute("data-id") for i in range(rows.count())] == [h["id"] for h in api]
    assert rows.nth(0).locator("td.num").text_content() == f"{api[0]['score']:.3f}"

    pg.fill("#search-topic", "architecture")  # the topic filter: the page sends it, the API applies it
    submit(pg, "#search-run", "#tab-search")
    filtered = post(http, "/search", {"query": "a statue carved in marble", "k": 5, "topic": "architecture"})
    want = [h["id"] for h in filtered["results"]]
    assert want and all(any(t["label"] == "architecture" for t in h["topics"]) for h in filtered["results"])
    assert [rows.nth(i).get_attribute("data-id") for i in range(rows.count())] == want

    first = want[0]
    pg.click(f"#search-results tr[data-id='{first}'] a")
    pg.wait_for_selector("#tab-doc:not([hidden]) #doc-view h2")
    doc = http.get(f"{BASE}/documents/{first}").json()
    assert pg.text_content("#doc-view h2") == first
    assert pg.text_content("#doc-view .doc-text") == doc["text"]
    assert json.loads(pg.text_content("#doc-view pre")) == doc["metadata"]
    seen.assert_clean()


def test_the_page_sends_the_api_key_it_is_given(page):
    pg, seen = page
    pg.goto(f"{BASE}/ui")
    pg.fill("#api-key", "key-from-the-test")
    pg.click("#key-save")
    pg.fill("#search-query", "bronze")
    with pg.expect_request(f"{BASE}/search") as req:
        submit(pg, "#search-run", "#tab-search")
    assert req.value.headers["authorization"] == "Bearer key-from-the-test"
    assert pg.evaluate("sessionStorage.getItem('topicserve.apiKey')") == "key-from-the-test"
    assert pg.locator("#search-results tbody tr").count() > 0
    seen.assert_clean()


def test_trends_chart_renders_and_the_spiking_topic_trends(page, http):
    pg, seen = page
    spike = ingest(http, "ui-spike", SCULPTURE, [timedelta(hours=6 + 8 * i) for i in range(len(SCULPTURE))])
    assert sum(bool(d["topics"]) and d["topics"][0]["label"] == "sculpture" for d in spike) >= 6, spike
    ingest(http, "ui-base", BACKGROUND, [timedelta(days=10 + 5 * i) for i in range(len(BACKGROUND))])
    ingest(http, "ui-bees", BEES, [timedelta(days=1, hours=3 * i) for i in range(len(BEES))])  # no topic fits

    pg.goto(f"{BASE}/ui#trends")
    pg.select_option("#trends-window", "7d")
    pg.select_option("#trends-baseline", "30d")
    submit(pg, "#trends-run", "#tab-trends")
    api = http.get(f"{BASE}/trends", params={"window": "7d", "baseline": "30d"}, timeout=300).json()

    listed = pg.locator("#trending-list li[data-topic]")
    assert [listed.nth(i).get_attribute("data-topic") for i in range(listed.count())] == [
        t["topic"] for t in api["trending"]
    ]
    assert "sculpture" in [t["topic"] for t in api["trending"]]
    assert pg.locator("#trending-list li[data-topic='sculpture']").count() == 1

    chart = pg.locator("#trend-chart")
    assert chart.locator("canvas").count() >= 1 and chart.locator("canvas").first.bounding_box()["width"] > 100
    plotted = json.loads(chart.get_attribute("data-series"))
    assert "sculpture" in plotted and plotted == [t["topic"] for t in api["topics"] if t["series"]]
    assert int(chart.get_attribute("data-points")) == sum(p["count"] for t in api["topics"] for p in t["series"])
    assert "sculpture" in chart.locator(".u-legend").text_content()  # uPlot drew a series for it

    # The bees match no taxonomy topic: discovery makes them a candidate, marked as one on the page.
    assert api["candidates"], api["unmatched_documents"]
    cand = api["candidates"][0]["topic"]
    assert pg.locator(f"#candidate-list li[data-topic='{cand}']").count() == 1
    if cand in [t["topic"] for t in api["trending"]]:
        assert pg.locator(f"#trending-list li.candidate[data-topic='{cand}'] .badge.cand").count() == 1
    seen.assert_clean()


def test_vibe_check_table_fills_from_pasted_and_uploaded_items(page, http, tmp_path):
    pg, seen = page
    pasted = "\n".join(
        [
            "A marble bust of the cardinal. | sculpture, patronage",
            "The architect drew the plans for the new museum wing. | architecture",
            json.dumps({"text": "Restorers removed the varnish from the panel.", "human_topics": ["conservation"]}),
        ]
    )
    pg.goto(f"{BASE}/ui#vibe")
    pg.fill("#vibe-input", pasted)
    submit(pg, "#vibe-run", "#tab-vibe")
    items = [
        {"text": "A marble bust of the cardinal.", "human_topics": ["sculpture", "patronage"]},
        {"text": "The architect drew the plans for the new museum wing.", "human_topics": ["architecture"]},
        {"text": "Restorers removed the varnish from the panel.", "human_topics": ["conservation"]},
    ]
    api = post(http, "/evaluate", {"items": items})
    rows = pg.locator("#vibe-table tbody tr")
    assert rows.count() == 3
    for i, item in enumerate(api["items"]):
        chips = rows.nth(i).locator("td.model-topics .chip")
        labels = [chips.nth(j).evaluate("c => c.firstChild.textContent") for j in range(chips.count())]
        assert labels == [t["label"] for t in item["model_topics"]]
    shown = pg.text_content("[data-metric='mean best-match cosine']")
    assert shown == f"{api['mean_best_match_cosine']:.3f}"

    upload = tmp_path / "vibe.jsonl"
    upload.write_text("".join(json.dumps(i) + "\n" for i in items[:2]))
    pg.set_input_files("#vibe-file", str(upload))
    pg.wait_for_function("() => document.querySelector('#vibe-input').value.includes('architect')")
    submit(pg, "#vibe-run", "#tab-vibe")
    assert rows.count() == 2
    seen.assert_clean()


def test_docs_render_swagger_offline(page):
    pg, seen = page
    pg.goto(f"{BASE}/docs")
    pg.wait_for_selector(".swagger-ui .opblock")
    assert "topicserve" in pg.text_content(".swagger-ui .info .title")
    blocks = pg.locator(".opblock-summary-path[data-path]")
    paths = {blocks.nth(i).get_attribute("data-path") for i in range(blocks.count())}
    assert {"/search", "/documents", "/trends", "/evaluate"} <= paths, paths
    assert f"{BASE}/ui/static/vendor/swagger-ui-bundle.js" in seen.requests
    seen.assert_clean()
