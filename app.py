"""The Serve application: composition only. `import_path: app:app` in serve_config.yaml."""

from deployments.embedder import Embedder
from deployments.ingress import Ingress
from deployments.state import State
from deployments.topics import Topics

embedder = Embedder.bind()
app = Ingress.bind(embedder, Topics.bind(embedder), State.bind())
