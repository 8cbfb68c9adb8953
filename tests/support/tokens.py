"""tiktoken's cl100k_base table from the copy topicserve ships (tiktoken cannot download it here)."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from topicserve import token_ids

TIKTOKEN_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"


@contextmanager
def shipped_tiktoken_table(cache: Path) -> Iterator[None]:
    """While open, tiktoken reads cl100k_base from ``cache`` (its ``TIKTOKEN_CACHE_DIR``), which holds
    the shipped table under the name tiktoken gives its download."""
    shutil.copy(token_ids.TABLE, cache / hashlib.sha1(TIKTOKEN_URL.encode()).hexdigest())
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TIKTOKEN_CACHE_DIR", str(cache))
        yield
