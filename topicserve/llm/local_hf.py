"""A local `transformers` causal LM as a chat model: GPU (fp16) when present, CPU otherwise.

``LLMConfig.model`` is a local directory (or a hub id, loaded offline from the cache). Tokenizers
with a chat template get the messages through it; others get the messages joined as plain text.
Generation is greedy when ``temperature`` is 0 and runs in a thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any

from topicserve.llm.base import LLMConfig, LLMError


class TransformersChatModel:
    def __init__(self, config: LLMConfig) -> None:
        if not config.model:
            raise LLMError("llm.model must name a local model directory for the transformers backend")
        try:  # the torch-free image (requirements-slim.lock) has no torch: one line, not a traceback
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as exc:
            raise LLMError(
                f"the transformers LLM backend needs the Python package {exc.name or 'torch'}, which is not "
                "installed here (the torch-free image?): use llm.backend openai or zeroshot, or an image with torch"
            ) from None

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        self.config = config
        self.name = f"transformers:{os.path.basename(config.model.rstrip('/')) or config.model}"
        self.device = config.device if config.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
        dtype = torch.float16 if self.device.startswith("cuda") else torch.float32
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(config.model)
            model = AutoModelForCausalLM.from_pretrained(config.model, dtype=dtype)
            # transformers types `to` through a decorator that loses the bound self (`_Wrapped`).
            self.model = model.to(self.device).eval()  # type: ignore[arg-type]
        except (OSError, ValueError) as exc:
            raise LLMError(f"cannot load transformers model {config.model!r}: {exc}") from None
        self._lock = threading.Lock()  # one generate at a time per model

    def _render(self, messages: list[dict[str, str]]) -> str:
        if getattr(self.tokenizer, "chat_template", None):
            return str(self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))
        return "\n\n".join(m["content"] for m in messages) + "\n\n"

    def _generate(self, messages: list[dict[str, str]], max_tokens: int, temperature: float) -> str:
        import torch

        prompt = self._render(messages)
        inputs = self.tokenizer(prompt, return_tensors="pt").to(self.device)
        kwargs: dict[str, Any] = {"max_new_tokens": max_tokens, "do_sample": temperature > 0}
        if temperature > 0:
            kwargs["temperature"] = temperature
        if self.tokenizer.pad_token_id is None and self.tokenizer.eos_token_id is not None:
            kwargs["pad_token_id"] = self.tokenizer.eos_token_id
        with self._lock, torch.inference_mode():
            out = self.model.generate(**inputs, **kwargs)
        return str(self.tokenizer.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True))

    async def chat(self, messages: list[dict[str, str]], *, max_tokens: int, temperature: float) -> str:
        try:
            return await asyncio.wait_for(
                asyncio.to_thread(self._generate, messages, max_tokens, temperature), self.config.timeout_s
            )
        except TimeoutError:
            raise LLMError(f"local generation timed out after {self.config.timeout_s:g}s") from None
        except LLMError:
            raise
        except Exception as exc:  # any generation failure degrades, never a 500
            raise LLMError(f"local generation failed: {type(exc).__name__}: {exc}") from None
