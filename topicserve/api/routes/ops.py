"""Probes: /healthz (the process answers) and /readyz (every part of the service answers)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from topicserve.api.errormap import as_error, error_body
from topicserve.errors import NotReady, TopicServeError
from topicserve.gateway import Gateway


def router(gateway: Gateway) -> APIRouter:
    api = APIRouter()

    @api.get("/healthz", tags=["ops"])
    async def healthz() -> dict:
        return {"status": "ok"}

    @api.get("/readyz", tags=["ops"])
    async def readyz() -> JSONResponse:
        try:
            return JSONResponse(await gateway.ready())
        except Exception as exc:  # any failure means not ready; say why, in words of ours only
            err = as_error(exc)
            if type(err) is TopicServeError:  # not one of ours: its text stays in the log
                err = NotReady("not ready: a part of the service is not answering yet")
            return JSONResponse({"status": "not ready", **error_body(err)}, status_code=503)

    return api
