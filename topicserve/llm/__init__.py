"""LLM sources for topic labels: an OpenAI-compatible chat endpoint or a local transformers model."""
