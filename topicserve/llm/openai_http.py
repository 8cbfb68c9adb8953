"""An OpenAI-compatible chat-completions endpoint (vLLM, llamafile, Ollama, Ray Serve LLM, OpenAI).

Plain httpx rather than the `openai` client: the one request shape we need, explicit timeouts, and
retries we control (timeouts, connection errors, 429 and 5xx are retried with exponential backoff;
other 4xx are not, they will not get better). Error messages never contain the API key.
"""

from __future__ import annotations

import asyncio
import os

import httpx

from topicserve.llm.base import LLMConfig, LLMError
from topicserve.redact import redact

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class ChatCompletionsClient:
    def __init__(self, config: LLMConfig, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        self.url = config.url.rstrip("/") + "/chat/completions"
        self.name = f"openai:{config.model or 'default'}"
        self._transport = transport

    def _headers(self) -> tuple[dict[str, str], str]:
        key = os.environ.get(self.config.api_key_env, "") if self.config.api_key_env else ""
        return ({"Authorization": f"Bearer {key}"} if key else {}), key

    async def chat(self, messages: list[dict[str, str]], *, max_tokens: int, temperature: float) -> str:
        headers, key = self._headers()
        body = {"messages": messages, "max_tokens": max_tokens, "temperature": temperature, "stream": False}
        if self.config.model:
            body["model"] = self.config.model
        attempts = 1 + self.config.retries
        last = "no attempt made"
        timeout = httpx.Timeout(self.config.timeout_s)
        async with httpx.AsyncClient(timeout=timeout, transport=self._transport) as client:
            for attempt in range(attempts):
                if attempt:
                    await asyncio.sleep(self.config.backoff_s * 2 ** (attempt - 1))
                try:
                    resp = await client.post(self.url, json=body, headers=headers)
                except httpx.TimeoutException:
                    last = f"timed out after {self.config.timeout_s:g}s"
                    continue
                except httpx.TransportError as exc:
                    last = f"connection failed: {type(exc).__name__}: {exc}"
                    continue
                if resp.status_code in RETRY_STATUS:
                    last = f"HTTP {resp.status_code}"
                    continue
                if resp.status_code >= 400:
                    last = f"HTTP {resp.status_code}: {resp.text[:200]}"
                    break
                return _content(resp)
        raise LLMError(redact(f"chat endpoint {self.url} failed after {attempt + 1} attempt(s): {last}", [key]))


def _content(resp: httpx.Response) -> str:
    try:
        content = resp.json()["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise LLMError(f"chat endpoint answered without choices[0].message.content ({type(exc).__name__})") from None
    if not isinstance(content, str):
        raise LLMError("chat endpoint answered with a non-text message content")
    return content
