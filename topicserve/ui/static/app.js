// topicserve web page: plain JS over the HTTP API, no build step. Relative URLs ("search", not
// "/search") so the page works under any route prefix. Text from documents is always set with
// textContent, never as HTML.
"use strict";

(() => {
  const KEY_STORAGE = "topicserve.apiKey";
  const PALETTE = ["#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];
  const $ = (sel, root = document) => root.querySelector(sel);

  // ---- small DOM helpers -------------------------------------------------------------------
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (name === "class") node.className = value;
      else if (name.startsWith("data-")) node.setAttribute(name, value);
      else node[name] = value;
    }
    for (const child of children.flat()) {
      if (child !== undefined && child !== null) node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  const fmt = (x, digits = 3) => (typeof x === "number" ? x.toFixed(digits) : "–");
  const when = (iso) => (iso ? new Date(iso).toLocaleString() : "");
  const topicChips = (topics) =>
    el("span", { class: "chips" }, (topics || []).map((t) => el("span", { class: "chip", title: String(t.score) },
      t.label, el("small", {}, " ", fmt(t.score, 2)))));

  function showError(section, err) {
    const box = $(".error", section);
    if (!err) {
      box.hidden = true;
      box.textContent = "";
      return;
    }
    const parts = [err.status ? `HTTP ${err.status}` : "", err.code, err.message, err.field ? `(field: ${err.field})` : ""];
    box.textContent = parts.filter(Boolean).join(" · ");
    box.hidden = false;
  }

  // ---- the API -----------------------------------------------------------------------------
  class ApiError extends Error {
    constructor(status, body) {
      const e = (body && body.error) || {};
      super(e.message || `HTTP ${status}`);
      Object.assign(this, { status, code: e.code || e.type || "error", field: e.field || null });
    }
  }

  async function api(path, { method = "GET", body, query } = {}) {
    const headers = { Accept: "application/json" };
    const key = sessionStorage.getItem(KEY_STORAGE);
    if (key) headers.Authorization = `Bearer ${key}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const qs = query ? `?${new URLSearchParams(Object.entries(query).filter(([, v]) => v !== "" && v != null))}` : "";
    let resp;
    try {
      resp = await fetch(path + qs, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (exc) {
      throw Object.assign(new Error(`cannot reach the service: ${exc.message}`), { code: "unreachable" });
    }
    const data = await resp.json().catch(() => null);
    if (!resp.ok) throw new ApiError(resp.status, data);
    return data;
  }

  async function run(section, button, work) {
    showError(section, null);
    if (button) button.disabled = true;
    section.classList.add("busy");
    try {
      await work();
    } catch (err) {
      showError(section, err);
    } finally {
      section.classList.remove("busy");
      if (button) button.disabled = false;
    }
  }

  // ---- API key -----------------------------------------------------------------------------
  function setupKey() {
    const input = $("#api-key");
    const state = $("#key-state");
    const show = () => (state.textContent = sessionStorage.getItem(KEY_STORAGE) ? "key set (this tab only)" : "");
    input.value = sessionStorage.getItem(KEY_STORAGE) || "";
    $("#key-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      if (input.value.trim()) sessionStorage.setItem(KEY_STORAGE, input.value.trim());
      else sessionStorage.removeItem(KEY_STORAGE);
      show();
      loadStatus();
    });
    show();
  }

  // ---- status ------------------------------------------------------------------------------
  async function loadStatus() {
    const badge = $("#status-state");
    const facts = $("#status-facts");
    let ready;
    try {
      ready = await api("readyz");
    } catch (err) {
      badge.textContent = err.status === 503 ? "not ready" : "unreachable";
      badge.className = "badge bad";
      facts.replaceChildren(el("dd", {}, err.message));
      return;
    }
    const { embedder = {}, topics = {}, state = {} } = ready;
    const rows = [
      ["model", embedder.model],
      ["dimension", embedder.dim],
      ["device", embedder.device],
      ["backend", topics.backend],
      ["taxonomy", topics.taxonomy],
      ["documents", state.documents ?? state.count],
    ];
    badge.textContent = ready.status;
    badge.className = "badge ok";
    facts.replaceChildren(...rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", { "data-fact": k }, v ?? "–")]));
    $("#topic-labels").replaceChildren(...(topics.labels || []).map((l) => el("option", { value: l })));
  }

  // ---- search ------------------------------------------------------------------------------
  const isoOrNull = (value) => (value ? new Date(value).toISOString() : null);

  function searchBody() {
    const body = { query: $("#search-query").value, k: Number($("#search-k").value) || 10 };
    const topic = $("#search-topic").value.trim();
    const since = isoOrNull($("#search-since").value);
    const until = isoOrNull($("#search-until").value);
    if (topic) body.topic = topic;
    if (since) body.since = since;
    if (until) body.until = until;
    return body;
  }

  function resultRow(hit) {
    return el("tr", { "data-id": hit.id },
      el("td", { class: "num" }, fmt(hit.score)),
      el("td", { class: "id" }, el("a", { href: `#doc/${encodeURIComponent(hit.id)}` }, hit.id)),
      el("td", { class: "text" }, hit.text),
      el("td", {}, topicChips(hit.topics)),
      el("td", { class: "time" }, when(hit.timestamp)),
      el("td", { class: "meta" }, Object.keys(hit.metadata || {}).length ? JSON.stringify(hit.metadata) : ""));
  }

  function setupSearch() {
    const section = $("#tab-search");
    $("#search-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      run(section, $("#search-run"), async () => {
        const resp = await api("search", { method: "POST", body: searchBody() });
        $("#search-results tbody").replaceChildren(...resp.results.map(resultRow));
        $("#search-summary").textContent = `${resp.results.length} results · model ${resp.model}`;
      });
    });
  }

  // ---- trends ------------------------------------------------------------------------------
  let chart = null;

  function chartData(topics) {
    const xs = [...new Set(topics.flatMap((t) => t.series.map((p) => Date.parse(p.start) / 1000)))].sort((a, b) => a - b);
    const columns = topics.map((t) => {
      const byX = new Map(t.series.map((p) => [Date.parse(p.start) / 1000, p.count]));
      return xs.map((x) => byX.get(x) ?? 0);
    });
    return [xs, ...columns];
  }

  function seriesStyle(topic, trending, index) {
    const hot = trending.has(topic.topic);
    return {
      label: topic.candidate ? `${topic.name || topic.topic} (candidate)` : topic.topic,
      stroke: hot ? PALETTE[index % PALETTE.length] : "#b8b8b8",
      width: hot ? 2.5 : 1,
      dash: topic.candidate ? [6, 4] : undefined,
      points: { show: false },
    };
  }

  function drawChart(resp) {
    const box = $("#trend-chart");
    const topics = resp.topics.filter((t) => t.series && t.series.length);
    if (chart) chart.destroy();
    chart = null;
    box.replaceChildren();
    const data = chartData(topics);
    box.dataset.series = JSON.stringify(topics.map((t) => t.topic));
    box.dataset.points = String(data.slice(1).flat().reduce((a, b) => a + b, 0));
    if (!topics.length) {
      box.append(el("p", { class: "muted" }, "No documents in the window and baseline."));
      return;
    }
    const trending = new Set(resp.trending.map((t) => t.topic));
    let hot = 0;
    const series = [{}, ...topics.map((t) => seriesStyle(t, trending, trending.has(t.topic) ? hot++ : 0))];
    const opts = {
      width: Math.max(320, (box.clientWidth || 816) - 16),
      height: 320,
      series,
      scales: { x: { time: true } },
      axes: [{}, { label: "documents per bin" }],
    };
    chart = new uPlot(opts, data, box);
  }

  window.addEventListener("resize", () => {
    const box = $("#trend-chart");
    if (chart && box.clientWidth) chart.setSize({ width: Math.max(320, box.clientWidth - 16), height: 320 });
  });

  function trendItem(t) {
    return el("li", { "data-topic": t.topic, class: t.candidate ? "candidate" : "" },
      el("strong", {}, t.candidate ? t.name || t.topic : t.topic),
      t.candidate ? el("span", { class: "badge cand" }, "candidate") : null,
      el("span", { class: "muted" },
        ` score ${fmt(t.score, 2)} · recent ${t.recent_count} · baseline ${t.baseline_count}` +
        ` · expected ${fmt(t.expected_count, 1)} · lift ${fmt(t.lift, 2)}`));
  }

  function candidateItem(c) {
    return el("li", { "data-topic": c.topic },
      el("strong", {}, c.name || c.topic), " ",
      el("span", { class: "muted" }, (c.keywords || []).join(", ")),
      (c.examples || []).length ? el("blockquote", {}, c.examples[0]) : null);
  }

  function setupTrends() {
    const section = $("#tab-trends");
    $("#trends-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      run(section, $("#trends-run"), async () => {
        const query = {
          window: $("#trends-window").value,
          baseline: $("#trends-baseline").value,
          bin: $("#trends-bin").value.trim(),
          candidates: $("#trends-candidates").checked,
        };
        const resp = await api("trends", { query });
        drawChart(resp);
        const none = el("li", { class: "muted" }, "nothing trending");
        $("#trending-list").replaceChildren(...(resp.trending.length ? resp.trending.map(trendItem) : [none]));
        const cands = resp.candidates || [];
        $("#candidate-list").replaceChildren(...(cands.length ? cands.map(candidateItem) : [el("li", { class: "muted" }, "none")]));
        $("#trends-summary").textContent =
          `window ${resp.window} · baseline ${resp.baseline} · bin ${resp.bin} · as of ${when(resp.now)} · ` +
          `${resp.unmatched_documents} unmatched documents · ${resp.method}`;
      });
    });
  }

  // ---- vibe check --------------------------------------------------------------------------
  function parseItems(text) {
    const items = [];
    text.split(/\r?\n/).forEach((line, n) => {
      const raw = line.trim();
      if (!raw) return;
      if (raw.startsWith("{")) {
        try {
          items.push(JSON.parse(raw));
        } catch (exc) {
          throw Object.assign(new Error(`line ${n + 1}: not valid JSON (${exc.message})`), { code: "invalid_input" });
        }
        return;
      }
      const [itemText, topics = ""] = raw.split(/\s*\|\s*(?=[^|]*$)/);
      items.push({ text: itemText, human_topics: topics.split(",").map((t) => t.trim()).filter(Boolean) });
    });
    if (!items.length) throw Object.assign(new Error("paste at least one item"), { code: "invalid_input", field: "items" });
    return items;
  }

  function vibeRow(item) {
    const top1 = item.top1_correct === null || item.top1_correct === undefined ? "–" : item.top1_correct ? "✓" : "✗";
    return el("tr", {},
      el("td", { class: "text" }, item.text),
      el("td", {}, item.human_topics.join(", ")),
      el("td", { class: "model-topics" }, topicChips(item.model_topics)),
      el("td", {}, topicChips(item.candidates)),
      el("td", { class: "num" }, fmt(item.best_match_cosine)),
      el("td", { class: "num" }, fmt(item.f1)),
      el("td", { class: "num" }, top1));
  }

  function showMetrics(resp) {
    const m = resp.metrics;
    const rows = [
      ["items", m.items], ["mean best-match cosine", fmt(resp.mean_best_match_cosine)],
      ["best-match precision", fmt(m.best_match_precision)], ["best-match recall", fmt(m.best_match_recall)],
      ["best-match F1", fmt(m.best_match_f1)], ["exact F1", fmt(m.exact_f1)], ["top-1 accuracy", fmt(m.accuracy)],
      ["no-topic rate", fmt(m.no_topic_rate)],
    ];
    if (resp.degraded) rows.push(["degraded", resp.fallback_reason || "yes"]);
    $("#vibe-metrics").replaceChildren(...rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", { "data-metric": k }, v)]));
  }

  function setupVibe() {
    const section = $("#tab-vibe");
    $("#vibe-file").addEventListener("change", async (ev) => {
      const file = ev.target.files[0];
      if (file) $("#vibe-input").value = await file.text();
    });
    $("#vibe-run").addEventListener("click", () =>
      run(section, $("#vibe-run"), async () => {
        const resp = await api("evaluate", { method: "POST", body: { items: parseItems($("#vibe-input").value) } });
        showMetrics(resp);
        $("#vibe-table tbody").replaceChildren(...resp.items.map(vibeRow));
      }));
  }

  // ---- document ----------------------------------------------------------------------------
  async function openDocument(id) {
    const section = $("#tab-doc");
    $("#doc-id").value = id;
    await run(section, $("#doc-run"), async () => {
      const doc = await api(`documents/${encodeURIComponent(id)}`);
      $("#doc-view").replaceChildren(
        el("h2", {}, doc.id),
        el("p", { class: "time" }, when(doc.timestamp), " ", el("code", {}, doc.timestamp)),
        el("p", { class: "doc-text" }, doc.text),
        el("h3", {}, "Topics"), topicChips(doc.topics),
        el("h3", {}, "Metadata"), el("pre", {}, JSON.stringify(doc.metadata, null, 2)));
    });
  }

  function setupDocument() {
    $("#doc-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      location.hash = `#doc/${encodeURIComponent($("#doc-id").value.trim())}`;
    });
  }

  // ---- tabs (the URL hash: #search, #trends, #vibe, #doc/ID) -------------------------------
  function route() {
    const [tab, ...rest] = (location.hash.slice(1) || "search").split("/");
    const name = ["search", "trends", "vibe", "doc"].includes(tab) ? tab : "search";
    document.querySelectorAll(".tab").forEach((s) => (s.hidden = s.id !== `tab-${name}`));
    document.querySelectorAll("#tabs a[data-tab]").forEach((a) => a.classList.toggle("active", a.dataset.tab === name));
    if (name === "doc" && rest.length) openDocument(decodeURIComponent(rest.join("/")));
  }

  function start() {
    setupKey();
    setupSearch();
    setupTrends();
    setupVibe();
    setupDocument();
    $("#status-refresh").addEventListener("click", loadStatus);
    window.addEventListener("hashchange", route);
    route();
    loadStatus();
  }

  document.addEventListener("DOMContentLoaded", start);
})();
