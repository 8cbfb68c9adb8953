"""A client for a running topicserve: the `Client` class (HTTP, retries, API key) and the CLI commands
``python -m topicserve ingest|search|trends|topics`` and ``evaluate --url`` (see cli.py)."""

from topicserve.client.http import ApiError, Client, ClientError

__all__ = ["ApiError", "Client", "ClientError"]
