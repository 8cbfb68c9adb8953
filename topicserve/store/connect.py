"""Where the table lives: a local directory (default) or s3://bucket/prefix, with object-store options.

Credentials come from the standard AWS_* environment variables (the prod overlay mounts them from
a Secret); ``TOPICSERVE_STORAGE_ENDPOINT`` points at an S3-compatible server (MinIO, moto). The
URI and the options never leave this module in messages: errors name the kind of storage only.
"""

from __future__ import annotations

import os
from pathlib import Path

from topicserve.settings import Settings, get_settings

REMOTE_SCHEMES = ("s3://",)
_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "aws_access_key_id",
    "AWS_SECRET_ACCESS_KEY": "aws_secret_access_key",
    "AWS_SESSION_TOKEN": "aws_session_token",
    "AWS_REGION": "aws_region",
    "AWS_DEFAULT_REGION": "aws_region",
}


def is_remote(uri: str) -> bool:
    return uri.startswith(REMOTE_SCHEMES)


def local_path(uri: str) -> Path:
    return Path(uri.removeprefix("file://")).expanduser().resolve()


def check_scheme(uri: str) -> None:
    if "://" in uri and not uri.startswith(("file://", *REMOTE_SCHEMES)):
        raise ValueError(f"unsupported storage scheme {uri.split('://')[0]!r}: use a local directory or s3://")


def storage_options(uri: str, settings: Settings | None = None) -> dict[str, str]:
    """object_store options for LanceDB: retries always, S3 keys/endpoint from the environment."""
    settings = settings or get_settings()
    options = {
        "client_max_retries": str(settings.storage_retries),
        "client_retry_timeout": str(int(settings.storage_retry_timeout_s)),
    }
    if not is_remote(uri):
        return options
    for env, key in _AWS_ENV.items():
        if os.environ.get(env) and key not in options:
            options[key] = os.environ[env]
    if settings.storage_endpoint:
        options["aws_endpoint"] = settings.storage_endpoint
        options["aws_virtual_hosted_style_request"] = "false"
        if settings.storage_endpoint.startswith("http://"):
            options["allow_http"] = "true"
    return options


def db_uri(uri: str) -> str:
    return uri.rstrip("/") if is_remote(uri) else str(local_path(uri))


def table_uri(uri: str, table: str) -> str:
    """The Lance dataset of one table (what Ray Data's ``read_lance`` reads): ``<db>/<table>.lance``."""
    return f"{db_uri(uri)}/{table}.lance"
