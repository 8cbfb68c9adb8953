"""The interface of an LLM source, its error, and its config (part of the Topics `user_config`)."""

from __future__ import annotations

from typing import Literal, Protocol

from pydantic import BaseModel, Field

from topicserve.errors import UpstreamError


class LLMError(UpstreamError):
    """The LLM did not give a usable answer (timeout, HTTP error, unparseable reply, ...)."""

    code = "llm_error"


class LLMConfig(BaseModel):
    """Where the LLM is and how to call it. The API key is never in here: it is read from the
    environment variable named by ``api_key_env`` (set it in the runtime_env or a Secret)."""

    url: str = Field("http://127.0.0.1:8080/v1", description="Base URL of an OpenAI-compatible API (…/v1).")
    model: str = Field("", description="Model name for the endpoint, or a local path/hub id for transformers.")
    api_key_env: str = Field("TOPICSERVE_LLM_API_KEY", description="Environment variable holding the API key.")
    prompt: str = Field("topics-v1", description="Prompt template in topicserve/prompts/ (name-vN).")
    label_prompt: str = Field("cluster-label-v1", description="Prompt that names discovered clusters.")
    expand_prompt: str = Field(
        "label-expand-v1", description="Prompt that expands a label into paraphrases and examples (expand_labels)."
    )
    expand_max_tokens: int = Field(600, ge=16, le=4096, description="Reply length of one label expansion.")
    timeout_s: float = Field(20.0, gt=0, le=600)
    retries: int = Field(2, ge=0, le=10, description="Extra attempts after a timeout, 429 or 5xx.")
    backoff_s: float = Field(0.5, ge=0, le=30)
    max_tokens: int = Field(64, ge=1, le=4096)
    temperature: float = Field(0.0, ge=0, le=2)
    concurrency: int = Field(4, ge=1, le=64, description="Parallel requests per call.")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="transformers only.")
    snap_threshold: float = Field(
        0.55, ge=-1, le=1, description="Least cosine between a free-form label and a taxonomy topic to map onto it."
    )


class ChatModel(Protocol):
    """One chat turn: messages in, the reply text out; raises LLMError on any failure."""

    name: str

    async def chat(self, messages: list[dict[str, str]], *, max_tokens: int, temperature: float) -> str: ...
