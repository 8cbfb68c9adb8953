"""The Serve application: composition only. `import_path: app:app` in serve_config.yaml."""

from deployments.embedder import Embedder
from deployments.ingress import Ingress
from deployments.state import State
from deployments.topics import Topics

# mypy ignores what a class decorator returns (python/mypy#3135): @serve.deployment makes these
# Deployments, which have .bind() (State also has a method `bind(space)`, which is what mypy sees).
embedder = Embedder.bind()  # type: ignore[attr-defined]
topics = Topics.bind(embedder)  # type: ignore[attr-defined]
# The State re-tags stored documents to the Topics' taxonomy version (topicserve/retag.py); Topics
# reads confirmed feedback and a sample of stored vectors (refine_from_store) from the State by
# name (deployments/topics.py): the bind graph stays a DAG.
app = Ingress.bind(embedder, topics, State.bind(topics))  # type: ignore[attr-defined, call-arg]
