"""Test doubles that behave like real remote endpoints (shared by tests/ and reprex/ notebooks)."""
