"""Secrets out of everything we print: tokens in URLs, known token shapes, auth headers."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

_PATTERNS = [
    # userinfo in a URL: scheme://user:secret@host or scheme://secret@host
    (re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/\s@:]*(?::[^/\s@]*)?)@"), r"\g<scheme>***@"),
    # GitHub and Hugging Face token shapes, wherever they appear
    (re.compile(r"\b(ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{8,}"), r"\1_***"),
    (re.compile(r"\bgithub_pat_[A-Za-z0-9_]{8,}"), "github_pat_***"),
    (re.compile(r"\bhf_[A-Za-z0-9]{8,}"), "hf_***"),
    # Authorization headers and password-like key/values
    (re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?(?:bearer|basic|token)\s+)[^\s'\"]+"), r"\1***"),
    (re.compile(r"(?i)((?:password|token|secret)['\"]?\s*[:=]\s*['\"]?)[^\s'\",}]+"), r"\1***"),
    # a bare bearer credential (e.g. a header echoed without its name)
    (re.compile(r"(?i)(\bbearer\s+)(?=[A-Za-z0-9._~+/=-]*\d)[A-Za-z0-9._~+/=-]{8,}"), r"\1***"),
    # .netrc bodies: "login <user> password <secret>"
    (re.compile(r"(?i)(\blogin\s+\S+\s+password\s+)(?!\*\*\*)\S+"), r"\1***"),
]


def redact(text: str, secrets: list[str] | tuple[str, ...] = ()) -> str:
    """``text`` with credentials replaced by ``***``; ``secrets`` are also removed verbatim."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    return text


def url_secrets(url: str) -> list[str]:
    """The credentials in a URL's userinfo (``user:password@`` or a bare ``token@``)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    if parts.password:
        return [parts.password]
    return [parts.username] if parts.username else []


def has_userinfo(url: str) -> bool:
    try:
        return "@" in urlsplit(url).netloc
    except ValueError:
        return False


def strip_userinfo(url: str) -> str:
    """``url`` without ``user:password@``; other parts untouched."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
