"""topicserve: Ray-free logic of a topic-detection and semantic-search service on Ray Serve."""

__version__ = "0.1.0"
