"""The HTTP API, Ray-free: ``build_app(gateway)`` gives the FastAPI app.

- app.py: build_app (middleware order, the error handler, the routers)
- errormap.py: the one mapping from any exception to an error response
- middleware.py: request ids + access log + metrics, the API key, the body limit
- accesslog.py: the access-log logger, and the handler into a Serve replica's log
- routes/: one APIRouter per tag (ops, embeddings, documents, search, topics)
"""

from topicserve.api.app import build_app
from topicserve.api.errormap import as_error, error_body, error_response

__all__ = ["as_error", "build_app", "error_body", "error_response"]
