"""Helpers shared by the tests (unit and e2e): the repository root, the real model once per session
(models.py), an in-process app (app.py), store rows (store.py), a loopback chat server (chat.py),
tiktoken's table from the shipped copy (tokens.py). The bad-input cases are tests/bad_inputs.py."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
