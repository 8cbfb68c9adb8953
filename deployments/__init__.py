"""Thin Ray Serve wrappers around the Ray-free logic in `topicserve/`; one deployment per file."""
