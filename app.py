"""The Serve application: composition only. `import_path: app:app` in serve_config.yaml."""

from deployments.embedder import Embedder
from deployments.ingress import Ingress
from deployments.state import State
from deployments.topics import Topics

# mypy ignores what a class decorator returns (python/mypy#3135): @serve.deployment makes these
# Deployments, which have .bind() (State also has a method `bind(space)`, which is what mypy sees).
embedder = Embedder.bind()  # type: ignore[attr-defined]
state = State.bind()  # type: ignore[call-arg]
# Topics reads a bounded sample of the stored vectors from State to refine its scores (refine_from_store).
app = Ingress.bind(embedder, Topics.bind(embedder, state), state)  # type: ignore[attr-defined]
