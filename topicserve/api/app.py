"""build_app: the FastAPI app, its middleware, the one error handler, and the routes (routes/)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware

from topicserve import __version__
from topicserve.api.accesslog import access_log_on
from topicserve.api.errormap import as_error, error_response
from topicserve.api.middleware import REQUEST_ID_HEADER, ApiKey, BodyLimit, RequestContext
from topicserve.api.routes import include_routes
from topicserve.errors import TopicServeError
from topicserve.gateway import Gateway
from topicserve.metrics import NO_METRICS, Metrics
from topicserve.settings import Settings, get_settings
from topicserve.ui import mount_ui


def build_app(
    gateway: Gateway, settings: Settings | None = None, *, behind_serve: bool = False, metrics: Metrics = NO_METRICS
) -> FastAPI:
    settings = settings or get_settings()
    access_log_on(behind_serve)
    app = FastAPI(
        title="topicserve",
        version=__version__,
        description="Semantic search, topic tagging and trending topics over a document stream. "
        "Limits, errors, auth and request ids: docs/api.md.",
        docs_url=None,  # /docs is served offline by mount_ui; FastAPI's own loads Swagger UI from a CDN
        redoc_url=None,  # ReDoc too loads from a CDN: blank offline
    )
    mount_ui(app)
    add_middleware(app, settings, behind_serve, metrics)
    add_error_handlers(app)
    include_routes(app, gateway)
    return app


def add_middleware(app: FastAPI, settings: Settings, behind_serve: bool, metrics: Metrics) -> None:
    # add_middleware puts the last one outermost: RequestContext > CORS > ApiKey > BodyLimit > routes.
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    if settings.api_key is not None:
        app.add_middleware(ApiKey, key=settings.api_key.get_secret_value())
    if settings.cors_origin_list:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["authorization", "content-type", REQUEST_ID_HEADER],
            expose_headers=["x-request-id", "retry-after"],
        )
    app.add_middleware(RequestContext, behind_serve=behind_serve, metrics=metrics)


def add_error_handlers(app: FastAPI) -> None:
    """Every error a route raises, ours or FastAPI's/Starlette's, answered through the one mapping."""

    async def _error(_, exc: Exception) -> JSONResponse:
        return error_response(as_error(exc))

    for kind in (RequestValidationError, StarletteHTTPException, TopicServeError):
        app.add_exception_handler(kind, _error)
