"""`python -m topicserve evaluate FILE.jsonl [--labels TAXONOMY.yaml] [--against CONFIG.yaml] [--out R.md|R.html]`.

Runs in-process (no Ray): the embedder and topic model of topicserve.inprocess, configured like the
Topics deployment (``--config`` takes a TopicsConfig YAML, e.g. the Topics ``user_config`` block;
``--labels`` replaces its taxonomy). ``--against`` evaluates a second TopicsConfig on the same
items and prints both side by side.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import numpy as np
import yaml

from topicserve.client.cli import add_client_options, evaluate_remote
from topicserve.evaluation.metrics import EvalReport, load_items, run_evaluation
from topicserve.evaluation.report import to_html, to_markdown
from topicserve.topics import TopicModel, TopicsConfig


def load_config(path: str | None, labels: str | None = None) -> TopicsConfig:
    data = yaml.safe_load(Path(path).read_text()) if path else {}
    if isinstance(data, dict) and "user_config" in data:  # a deployment block from serve_config.yaml
        data = data["user_config"]
    config = TopicsConfig.model_validate(data or {})
    if labels:
        config = config.model_copy(update={"taxonomy": None, "taxonomy_path": str(Path(labels).resolve())})
    return config


def _default_embedder():
    from topicserve.embedding import Embedder
    from topicserve.settings import get_settings

    return Embedder(get_settings().embedding_model, get_settings().embedding_device)


async def evaluate_configs(items, configs: list[tuple[str, TopicsConfig]], *, embedder=None) -> list[EvalReport]:
    embedder = embedder or _default_embedder()

    async def embed(texts: list[str]) -> np.ndarray:
        return await asyncio.to_thread(embedder.embed, texts)

    vectors = await embed([i.text for i in items])
    base = TopicModel(embed, configs[0][1])
    reports = []
    for name, config in configs:
        model = base.variant(config)
        info = model.info()
        reports.append(
            await run_evaluation(
                items, vectors, model.assign_detailed, embed, model.taxonomy.labels, name=name, config=info
            )
        )
    return reports


def run(args) -> int:
    if args.url:  # against a running service instead of in-process
        return evaluate_remote(args)
    items = load_items(args.file)
    configs = [("current", load_config(args.config, args.labels))]
    if args.against:
        configs.append(("against", load_config(args.against)))
    reports = asyncio.run(evaluate_configs(items, configs))
    title = f"Topic evaluation: {Path(args.file).name}"
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix == ".json":
            out.write_text(json.dumps([r.model_dump() for r in reports], indent=1))
        else:
            out.write_text(to_html(reports, title) if out.suffix in (".html", ".htm") else to_markdown(reports, title))
        print(f"report written to {out}", file=sys.stderr)
    print(to_markdown(reports, title))
    for report in reports:
        if report.degraded:
            print(f"warning: {report.name} degraded: {report.fallback_reason}", file=sys.stderr)
    return 0


def register(sub) -> None:
    p = sub.add_parser("evaluate", help="vibe-check table and metrics of topics against human labels")
    p.add_argument("file", help='JSONL: {"text", "human_topics": [...]} or {"text", "label"} per line')
    p.add_argument("--labels", help="taxonomy YAML to use instead of the configured one")
    p.add_argument("--config", help="TopicsConfig YAML (e.g. the Topics user_config); default: built-in defaults")
    p.add_argument("--against", help="a second TopicsConfig YAML, evaluated side by side")
    p.add_argument("--out", help="write the report to .md, .html or .json")
    add_client_options(p, url_help="evaluate on this running service (its /evaluate) instead of in-process")
    p.set_defaults(func=run)
