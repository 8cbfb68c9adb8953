"""Token-id inputs of /v1/embeddings, decoded back to text before they are embedded.

OpenAI's API accepts ``input`` as token ids, and OpenAI-style clients use that: LangChain's
``OpenAIEmbeddings`` with its defaults tokenizes with ``tiktoken.encoding_for_model(model)``,
which is ``cl100k_base`` for every embedding model and for any name tiktoken does not know (ours),
and sends ``input: [[ids...], ...]``. Those are cl100k_base ids, not ids of the served model's own
tokenizer (WordPiece, 30,522 entries): decoding them with the model's tokenizer would embed other
words. So they are decoded with the cl100k_base table, shipped in topicserve/data/tiktoken/ (no
download at run time) and checked against tiktoken's published sha256.

Decoding is done here, not with the ``tiktoken`` package: a decode is only the concatenation of
each id's bytes (what tiktoken's ``Encoding.decode`` does), and the server then needs no extra
dependency. Special tokens (``<|endoftext|>``...) are refused: clients encode text without them.
"""

from __future__ import annotations

import base64
import hashlib
from functools import cache
from pathlib import Path

TABLE = Path(__file__).resolve().parent / "data" / "tiktoken" / "cl100k_base.tiktoken"
TABLE_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"  # tiktoken's expected_hash
VOCAB = 100_256  # ordinary cl100k_base tokens: ids 0..100255
MAX_TOKENS_PER_INPUT = 8191  # OpenAI's embedding context, and LangChain's chunk length by default


class TokenTableMissing(RuntimeError):
    """The cl100k_base table is absent or not the published one."""


@cache
def _table() -> tuple[bytes, ...]:
    try:
        raw = TABLE.read_bytes()
    except OSError as exc:
        raise TokenTableMissing(f"the cl100k_base token table is not installed ({exc.strerror})") from None
    if hashlib.sha256(raw).hexdigest() != TABLE_SHA256:
        raise TokenTableMissing("the cl100k_base token table does not match tiktoken's published sha256")
    pairs = (line.split() for line in raw.splitlines() if line)
    by_rank = {int(rank): base64.b64decode(token) for token, rank in pairs}
    if sorted(by_rank) != list(range(VOCAB)):
        raise TokenTableMissing("the cl100k_base token table is incomplete")
    return tuple(by_rank[i] for i in range(VOCAB))


def first_invalid(ids: list[int]) -> int | None:
    """Index of the first id outside the ordinary cl100k_base tokens, or None."""
    return next((i for i, t in enumerate(ids) if not 0 <= t < VOCAB), None)


def decode(ids: list[int]) -> str:
    """The text of cl100k_base token ids (all ordinary tokens: check with ``first_invalid``).

    Bytes that are not valid UTF-8 (a character split across the end of a client's chunk) become
    U+FFFD, as tiktoken's decode does."""
    table = _table()
    return b"".join(table[t] for t in ids).decode("utf-8", errors="replace")
