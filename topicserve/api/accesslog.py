"""The access log: one INFO line per request (written by middleware.RequestContext), and the handler
that routes topicserve's records into a Serve replica's log."""

from __future__ import annotations

import logging

access_log = logging.getLogger("topicserve.access")


class ToServeLogger(logging.Handler):
    """Hands topicserve's records to Serve's replica logger ("ray.serve"): they land in the replica's
    log file in its encoding (JSON with ``logging_config: {encoding: JSON}``), extra fields as keys.
    Serve configures only its own logger (not propagating), so ours would otherwise reach the file
    only as text printed to stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        serve_logger = logging.getLogger("ray.serve")
        if serve_logger.handlers:  # configured: inside a Serve replica
            serve_logger.handle(record)


def access_log_on(behind_serve: bool = False) -> None:
    """One INFO line per request must reach the log also where nobody configured logging (a Serve
    replica configures only Ray's own loggers): behind Serve through Serve's logger, else stderr."""
    access_log.setLevel(logging.INFO)
    ours = logging.getLogger("topicserve")
    if behind_serve:
        if not any(isinstance(h, ToServeLogger) for h in ours.handlers):
            ours.addHandler(ToServeLogger())
        return
    if not access_log.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        access_log.addHandler(handler)
