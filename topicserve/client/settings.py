"""What the client reads from the environment: the service URL and the API key.

Kept apart from ``topicserve.settings`` (the server's settings object): the client runs on a user's
machine, where none of the server's knobs apply. Same ``TOPICSERVE_`` prefix, so the one
``TOPICSERVE_API_KEY`` serves both sides.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ClientSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TOPICSERVE_", extra="ignore")

    url: str = Field("http://127.0.0.1:8000", description="Base URL of the service (TOPICSERVE_URL).")
    api_key: SecretStr | None = Field(None, description="Sent as `Authorization: Bearer` (TOPICSERVE_API_KEY).")
